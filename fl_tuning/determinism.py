"""Seeded dropout whose masks depend only on (run seed, call site, training step).

TensorFlow's stateful random ops continue a hidden sequence, which a resumed run
cannot restore. Here every dropout mask is a stateless function of the seed, the
place in the graph and the step counter, so a run resumed after a crash draws
exactly the masks an uninterrupted run draws. The distribution is the original's:
inverted dropout, each unit kept with probability 1 - rate.
"""
import contextlib

import tensorflow as tf

from fl_tuning.compat import K, dropout_replaced


class SeededDropout(object):

    def __init__(self, seed):
        self.seed = int(seed)
        self.step = K.variable(0, dtype='int64', name='dropout_step')
        self.sites = 0

    def dropout(self, x, level, noise_shape=None):
        """Every dropout of the model, with the stack's ``dropout_replaced``."""
        self.sites += 1
        shape = tf.shape(x) if noise_shape is None else noise_shape
        op_seed = tf.constant(self.seed * 4096 + self.sites, dtype='int64')
        uniform = tf.random.stateless_uniform(shape, tf.stack([op_seed, self.step]), dtype=x.dtype)
        keep = K.cast(uniform >= level, x.dtype)
        return x * keep / (1.0 - level)

    @contextlib.contextmanager
    def installed(self):
        """Build the model inside this block: every dropout it creates is seeded."""
        with dropout_replaced(self.dropout):
            yield self

    def set_step(self, step):
        K.set_value(self.step, step)
