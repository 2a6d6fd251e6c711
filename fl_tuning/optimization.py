"""The original's optimizer settings (ORIGINAL_SPEC section 8), for every framework:
Keras 2.3.1 Adam's constants, bert4keras' decoupled weight decay and which weights it
skips, the piecewise-linear schedule of the base rate, by micro-step."""
import re

import numpy as np

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7  # Keras 2.3.1 Adam; epsilon = K.epsilon()
WEIGHT_DECAY_RATE = 0.01
EXCLUDE_FROM_WEIGHT_DECAY = ['Norm', 'bias']


def decays(name, exclude=EXCLUDE_FROM_WEIGHT_DECAY):
    """bert4keras' rule: a weight decays unless its name matches an excluded pattern."""
    return not any(re.search(pattern, name) for pattern in exclude)


def learning_rate_schedule(num_warmup_steps, num_train_steps, grad_accum_steps=1):
    """The original multiplies both points by the accumulation steps although
    ``num_train_steps`` already counts micro-batches, so with accumulation the
    rate only decays to ``1 - 1/grad_accum_steps`` of its peak (kept on purpose)."""
    return {
        num_warmup_steps * grad_accum_steps: 1.0,
        num_train_steps * grad_accum_steps: 0.0,
    }


def multiplier(schedule, step):
    """The schedule's multiplier at micro-step ``step``: linear between its points,
    from (0, 0) when the first point is later, constant after the last."""
    points = sorted(schedule.items())
    if points[0][0] != 0:
        points = [(0, 0.0)] + points
    steps, values = zip(*points)
    return float(np.interp(step, steps, values))
