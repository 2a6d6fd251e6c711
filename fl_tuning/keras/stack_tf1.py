"""The stack-specific pieces of the TensorFlow 1.15 / Keras 2.3.1 stack (chosen by
fl_tuning.keras.compat): Keras' own Adam, as bert4keras uses it there, the rule that
every read of the step counter sees its incremented value, and where dropout is drawn."""
import contextlib

import tensorflow as tf
from bert4keras.backend import K, keras

Adam = keras.optimizers.Adam


def extend_with_ordered_step_reads(BaseOptimizer):
    """Reads of the step counter see its incremented value, always.

    Keras' Adam increments ``iterations`` in the training step, and the bias
    correction, bert4keras' schedule and its accumulation condition read it in the
    same step without an order: TensorFlow's scheduling decides which value they
    see, so CPU runs differed in the last bits run to run (and a resumed run from
    an uninterrupted one). The original's behaviour as probed (ORIGINAL_SPEC §8.3:
    post-increment reads everywhere) is made the rule: the counter is incremented
    first and every read in the step uses that value.
    """
    class NewOptimizer(BaseOptimizer):
        @K.symbolic
        def get_updates(self, loss, params):
            counter = self.iterations
            step = tf.identity(K.update_add(counter, 1))
            keras_update_add = keras.backend.update_add

            def update_add(x, increment):
                # Adam's own increment of the counter: done above already.
                return step if x is step else keras_update_add(x, increment)

            self.iterations = step
            keras.backend.update_add = update_add
            try:
                updates = super(NewOptimizer, self).get_updates(loss, params)
            finally:
                keras.backend.update_add = keras_update_add
                self.iterations = counter
            self.weights = [counter if w is step else w for w in self.weights]
            return updates

    return NewOptimizer


@contextlib.contextmanager
def dropout_replaced(dropout):
    """Every dropout built in the block calls ``dropout(x, rate, noise_shape)``: Keras
    2.3.1's Dropout layer and K.dropout both go through keras.backend.dropout."""
    original = keras.backend.dropout
    keras.backend.dropout = lambda x, level, noise_shape=None, seed=None: dropout(x, level, noise_shape)
    try:
        yield
    finally:
        keras.backend.dropout = original
