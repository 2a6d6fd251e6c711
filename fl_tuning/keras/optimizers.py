"""The original's optimizer: Keras 2.3.1 Adam with decoupled weight decay, a
piecewise-linear schedule and, for accumulation > 1, bert4keras' gradient
accumulation, composed from the same bert4keras 0.10.8 wrappers so that their
quirks (ORIGINAL_SPEC §8) carry over unchanged.
"""
import numpy as np

from fl_tuning.keras.compat import Adam, K, extend_with_ordered_step_reads  # noqa: I100 (the stack first)
from bert4keras.optimizers import (
    extend_with_gradient_accumulation,
    extend_with_piecewise_linear_lr,
    extend_with_weight_decay,
)

WEIGHT_DECAY_RATE = 0.01
EXCLUDE_FROM_WEIGHT_DECAY = ['Norm', 'bias']



AdamW = extend_with_weight_decay(Adam, name='AdamW')
AdamWLR = extend_with_piecewise_linear_lr(AdamW, name='AdamWLR')
AdamWLRG = extend_with_gradient_accumulation(AdamWLR, name='AdamWG')
OrderedAdamWLR = extend_with_ordered_step_reads(AdamWLR)
OrderedAdamWLRG = extend_with_ordered_step_reads(AdamWLRG)
OrderedAdamWLR.__name__, OrderedAdamWLRG.__name__ = 'AdamWLR', 'AdamWG'  # the original's names


def learning_rate_schedule(num_warmup_steps, num_train_steps, grad_accum_steps=1):
    """The original multiplies both points by the accumulation steps although
    ``num_train_steps`` already counts micro-batches, so with accumulation the
    rate only decays to ``1 - 1/grad_accum_steps`` of its peak (kept on purpose)."""
    return {
        num_warmup_steps * grad_accum_steps: 1.0,
        num_train_steps * grad_accum_steps: 0.0,
    }


def get_optimizer(learning_rate, num_warmup_steps, num_train_steps,
                  weight_decay_rate=WEIGHT_DECAY_RATE,
                  exclude_from_weight_decay=EXCLUDE_FROM_WEIGHT_DECAY,
                  grad_accum_steps=1):
    """The original ``get_optimizer``; ``num_train_steps`` counts micro-batches."""
    kwargs = dict(
        learning_rate=learning_rate,
        lr_schedule=learning_rate_schedule(num_warmup_steps, num_train_steps, grad_accum_steps),
        weight_decay_rate=weight_decay_rate,
        exclude_from_weight_decay=list(exclude_from_weight_decay),
    )
    if grad_accum_steps > 1:
        return OrderedAdamWLRG(grad_accum_steps=grad_accum_steps, **kwargs)
    return OrderedAdamWLR(**kwargs)


def learning_rate_at(optimizer, step):
    """The effective learning rate at micro-step ``step``: the base rate times
    bert4keras' piecewise-linear multiplier (which starts from (0, 0))."""
    points = sorted(optimizer.lr_schedule.items())
    if points[0][0] != 0:
        points = [(0, 0.0)] + points
    steps, multipliers = zip(*points)
    return float(K.get_value(optimizer.learning_rate)) * float(np.interp(step, steps, multipliers))
