"""A run's random numbers as functions of its seed alone, the same on every stack.

Dropout: TensorFlow's stateful random ops continue a hidden sequence, which a
resumed run cannot restore. Here every dropout mask is a stateless function of the
seed, the place in the graph and the step counter, so a run resumed after a crash
draws exactly the masks an uninterrupted run draws. The distribution is the
original's: inverted dropout, each unit kept with probability 1 - rate.

Initial values: TF1 Keras and tf.keras draw a weight's initial values with
different random ops, so one seed would start the two stacks from different
weights. Here NumPy draws them (fl_tuning.initial_values) from (seed, the weight's
place in the order the model creates its weights: the same on both stacks, unlike
auto-generated layer names), from the distribution the weight's initializer names.
"""
import contextlib
import inspect

import tensorflow as tf

from fl_tuning.initial_values import generator, truncated_normal, variance_scaling
from fl_tuning.keras.compat import K, dropout_replaced, keras


class SeededDropout(object):
    """``enabled=False`` turns every dropout of the model off (the switch for
    step-by-step comparisons with the PyTorch side)."""

    def __init__(self, seed, enabled=True):
        self.seed, self.enabled = int(seed), enabled
        self.step = K.variable(0, dtype='int64', name='dropout_step')
        self.sites = 0

    def dropout(self, x, level, noise_shape=None):
        """Every dropout of the model, with the stack's ``dropout_replaced``."""
        if not self.enabled:
            return x
        self.sites += 1
        shape = tf.shape(x) if noise_shape is None else noise_shape
        op_seed = tf.constant(self.seed * 4096 + self.sites, dtype='int64')
        # drawn in float32 whatever x computes in: the same masks under mixed precision
        uniform = tf.random.stateless_uniform(shape, tf.stack([op_seed, self.step]), dtype='float32')
        keep = K.cast(uniform >= level, x.dtype)
        return x * keep / (1.0 - level)

    @contextlib.contextmanager
    def installed(self):
        """Build the model inside this block: every dropout it creates is seeded."""
        with dropout_replaced(self.dropout):
            yield self

    def set_step(self, step):
        K.set_value(self.step, step)


class SeededInitialValues(object):
    """Records the weights created inside ``recorded()`` with their initializers, then
    ``assign`` gives the random ones values drawn from (seed, place). Weights
    with fixed initial values (zeros, ones, NEZHA's sinusoid table) keep them."""

    def __init__(self, seed):
        self.seed = int(seed)
        self.created = []

    @contextlib.contextmanager
    def recorded(self):
        # The classes that define add_weight (on tf.keras in graph mode, layers are
        # swapped onto its v1 Layer, which defines its own).
        owners = [c for c in type(keras.layers.Dense(1)).__mro__ if 'add_weight' in vars(c)]
        originals = [c.add_weight for c in owners]
        seen = set()

        def recording(original):
            signature = inspect.signature(original)

            def add_weight(layer, *args, **kwargs):
                weight = original(layer, *args, **kwargs)
                if id(weight) not in seen:
                    seen.add(id(weight))
                    initializer = signature.bind(layer, *args, **kwargs).arguments.get('initializer')
                    self.created.append((weight, keras.initializers.get(initializer)))
                return weight
            return add_weight

        for owner, original in zip(owners, originals):
            owner.add_weight = recording(original)
        try:
            yield self
        finally:
            for owner, original in zip(owners, originals):
                owner.add_weight = original

    def assign(self, keep=()):
        """Draw every recorded random weight but those in ``keep`` (e.g. loaded from a
        checkpoint)."""
        kept = set(id(w) for w in keep)
        pairs = []
        for place, (weight, initializer) in enumerate(self.created):
            if id(weight) in kept:
                continue
            rng = generator(self.seed, place)
            value = initial_value(initializer, K.int_shape(weight), rng)
            if value is not None:
                pairs.append((weight, value.astype(K.dtype(weight))))
        K.batch_set_value(pairs)


def initial_value(initializer, shape, rng):
    """A draw from the initializer's distribution, or None for a non-random initializer."""
    kind = type(initializer).__name__
    if kind == 'TruncatedNormal':
        return truncated_normal(rng, shape, initializer.mean, initializer.stddev)
    if kind == 'RandomNormal':
        return rng.normal(initializer.mean, initializer.stddev, size=shape)
    if kind == 'RandomUniform':
        return rng.uniform(initializer.minval, initializer.maxval, size=shape)
    if isinstance(initializer, keras.initializers.VarianceScaling):
        return variance_scaling(rng, shape, initializer.scale, initializer.mode, initializer.distribution)
    return None
