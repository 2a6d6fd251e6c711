"""The original's optimizer: Keras 2.3.1 Adam with decoupled weight decay, a
piecewise-linear schedule and, for accumulation > 1, bert4keras' gradient
accumulation, composed from the same bert4keras 0.10.8 wrappers so that their
quirks (ORIGINAL_SPEC §8) carry over unchanged.
"""
from fl_tuning.keras.compat import Adam, K, extend_with_ordered_step_reads  # noqa: I100 (the stack first)
from fl_tuning.optimization import (
    EXCLUDE_FROM_WEIGHT_DECAY, WEIGHT_DECAY_RATE, learning_rate_schedule, multiplier,
)
from bert4keras.optimizers import (
    extend_with_gradient_accumulation,
    extend_with_piecewise_linear_lr,
    extend_with_weight_decay,
)

AdamW = extend_with_weight_decay(Adam, name='AdamW')
AdamWLR = extend_with_piecewise_linear_lr(AdamW, name='AdamWLR')
AdamWLRG = extend_with_gradient_accumulation(AdamWLR, name='AdamWG')
OrderedAdamWLR = extend_with_ordered_step_reads(AdamWLR)
OrderedAdamWLRG = extend_with_ordered_step_reads(AdamWLRG)
OrderedAdamWLR.__name__, OrderedAdamWLRG.__name__ = 'AdamWLR', 'AdamWG'  # the original's names


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
    """The effective learning rate at micro-step ``step``."""
    return float(K.get_value(optimizer.learning_rate)) * multiplier(optimizer.lr_schedule, step)


def loss_scaled(optimizer):
    """float16 training: the loss scaled up dynamically so that small gradients survive."""
    from fl_tuning.keras.compat import keras
    return keras.mixed_precision.LossScaleOptimizer(optimizer)
