"""Initial values of the weights a run adds, as functions of (seed, place) alone, on every
framework: NumPy draws from the generator seeded with ``[seed, place]``, where ``place``
is the weight's index in the order the Keras model creates its weights (the same on
both TensorFlow stacks; the PyTorch side computes the same places), from the
distribution its Keras initializer names (truncation at two standard deviations)."""
import numpy as np


def generator(seed, place):
    return np.random.RandomState([int(seed), int(place)])


def truncated_standard_normal(rng, shape):
    values = rng.standard_normal(size=shape)
    outside = np.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(size=int(outside.sum()))
        outside = np.abs(values) > 2
    return values


def truncated_normal(rng, shape, mean=0.0, stddev=0.05):
    return mean + stddev * truncated_standard_normal(rng, shape)


def variance_scaling(rng, shape, scale, mode, distribution):
    """Keras' VarianceScaling (glorot_uniform is scale 1, fan_avg, uniform)."""
    if len(shape) == 0:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    else:
        receptive_field = int(np.prod(shape[:-2]))
        fan_in, fan_out = shape[-2] * receptive_field, shape[-1] * receptive_field
    fan = {'fan_in': fan_in, 'fan_out': fan_out, 'fan_avg': (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, fan)
    if distribution == 'uniform':
        limit = np.sqrt(3.0 * scale)
        return rng.uniform(-limit, limit, size=shape)
    if distribution == 'untruncated_normal':
        return rng.normal(0.0, np.sqrt(scale), size=shape)
    # 'truncated_normal' (Keras 2.3.1 also calls it 'normal'): the truncated spread restored
    return np.sqrt(scale) / .87962566103423978 * truncated_standard_normal(rng, shape)
