"""The optimizer pieces of the TensorFlow 2.x / tf.keras stack, and where its dropout
is drawn (chosen by fl_tuning.keras.compat), made to compute what the TensorFlow 1.15 stack
computes.

bert4keras' tf.keras optimizers are the (legacy) OptimizerV2 code path: updates are
built per variable and the step counter is incremented after them. Keras 2.3.1's Adam,
which the original uses, and the TF1 stack's ordered reads see the counter after its
increment; here the same is had by reading ``iterations + 1`` while updates are built.
"""
import contextlib

import bert4keras.optimizers
import tensorflow as tf
from bert4keras.backend import K, keras


class Adam(bert4keras.optimizers.Adam):
    """Keras 2.3.1's Adam (epsilon 1e-7, bias correction folded into the rate):
    ``p - lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)`` with Keras
    2.3.1's ``t = iterations + 1``, ``iterations`` read after its increment (so t is 2
    in the first step, as on the TF1 stack; ORIGINAL_SPEC §8.3 (c))."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=None, **kwargs):
        super(Adam, self).__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                                   epsilon=epsilon or K.epsilon(), **kwargs)

    def _resource_apply(self, grad, var, indices=None):
        if indices is not None:  # an embedding's rows: made dense, as Keras 2.3.1 does
            grad = tf.math.unsorted_segment_sum(grad, indices, tf.shape(var)[0])
        dtype = var.dtype.base_dtype
        t = K.cast(self.iterations, dtype) + 1
        beta_1, beta_2 = self._get_hyper('beta_1', dtype), self._get_hyper('beta_2', dtype)
        lr_t = self._decayed_lr(dtype) * (K.sqrt(1. - K.pow(beta_2, t)) / (1. - K.pow(beta_1, t)))
        m, v = self.get_slot(var, 'm'), self.get_slot(var, 'v')
        m_t = (beta_1 * m) + (1. - beta_1) * grad
        v_t = (beta_2 * v) + (1. - beta_2) * K.square(grad)
        p_t = var - lr_t * m_t / (K.sqrt(v_t) + self.epsilon)
        return tf.group(K.update(m, m_t), K.update(v, v_t), K.update(var, p_t))


def extend_with_ordered_step_reads(BaseOptimizer):
    """While the updates are built, ``iterations`` reads as the incremented counter
    (Adam's t, the schedule, the accumulation condition), as on the TF1 stack."""
    class NewOptimizer(BaseOptimizer):
        _building_updates = False

        @property
        def iterations(self):
            counter = super(NewOptimizer, self).iterations
            return counter + 1 if self._building_updates else counter

        @iterations.setter
        def iterations(self, variable):
            BaseOptimizer.iterations.fset(self, variable)

        def _resource_apply_dense(self, grad, var, *args, **kwargs):
            return self._building(super(NewOptimizer, self)._resource_apply_dense, grad, var, *args, **kwargs)

        def _resource_apply_sparse(self, grad, var, *args, **kwargs):
            return self._building(super(NewOptimizer, self)._resource_apply_sparse, grad, var, *args, **kwargs)

        def _building(self, apply, *args, **kwargs):
            self._building_updates = True
            try:
                return apply(*args, **kwargs)
            finally:
                self._building_updates = False

    return NewOptimizer


@contextlib.contextmanager
def dropout_replaced(dropout):
    """Every dropout built in the block calls ``dropout(x, rate, noise_shape)``: tf.keras'
    Dropout layer draws through its RandomGenerator, K.dropout through the backend."""
    generator = type(keras.layers.Dropout(0.5)._random_generator)
    originals = keras.backend.dropout, generator.dropout
    keras.backend.dropout = lambda x, level, noise_shape=None, seed=None: dropout(x, level, noise_shape)
    generator.dropout = lambda self, inputs, rate, noise_shape=None: dropout(inputs, rate, noise_shape)
    try:
        yield
    finally:
        keras.backend.dropout, generator.dropout = originals
