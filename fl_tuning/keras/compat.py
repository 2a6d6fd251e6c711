"""The TensorFlow stack, chosen once, in one place.

The reproduction stack is TensorFlow 1.15 with standalone Keras 2.3.1. On TensorFlow
2.x the library runs on tf.keras in graph mode, the way bert4keras runs there
(``TF_KERAS=1``, read when bert4keras is first imported, so this module is imported
before it). Every module takes Keras, its backend and the TF1 graph API (sessions,
savers, graph seeds: ``tf1``, the same names on both stacks) from here.
"""
import os
import re

import tensorflow as tf

TF2 = int(tf.__version__.split('.')[0]) >= 2
# Set either way: a TF1 process started by a TF2 one inherits TF_KERAS=1 and the
# TF2_BEHAVIOR=1 that importing TensorFlow 2 sets (TF 1.15 then runs eagerly).
os.environ['TF_KERAS'] = '1' if TF2 else '0'
if TF2:
    tf.compat.v1.disable_eager_execution()
elif os.environ.pop('TF2_BEHAVIOR', '0') != '0':
    tf.compat.v1.disable_v2_behavior()

from bert4keras.backend import K, keras  # noqa: E402,F401

if TF2:
    # bert4keras' Adam and its wrappers are written against the optimizer API that
    # tf.keras 2.11+ keeps as 'legacy'; they subclass keras.optimizers.Optimizer when
    # bert4keras.optimizers is imported.
    keras.optimizers.Optimizer = keras.optimizers.legacy.Optimizer
    from fl_tuning.keras.stack_tf2 import Adam, dropout_replaced, extend_with_ordered_step_reads  # noqa: E402,F401
else:
    from fl_tuning.keras.stack_tf1 import Adam, dropout_replaced, extend_with_ordered_step_reads  # noqa: E402,F401

tf1 = tf.compat.v1
KERAS_VERSION = getattr(keras, '__version__', None) or 'tf.keras of tensorflow ' + tf.__version__


def device_name():
    """'CPU', or 'GPU <name>' of the first GPU TensorFlow sees (what ran, for the log
    and the record)."""
    from tensorflow.python.client import device_lib
    for device in device_lib.list_local_devices():
        if device.device_type == 'GPU':
            name = re.search(r'name: ([^,]+)', device.physical_device_desc or '')
            return 'GPU %s' % (name.group(1) if name else device.name)
    return 'CPU'


STACK = 'tensorflow %s, %s' % (tf.__version__, 'tf.keras' if TF2 else 'keras %s' % KERAS_VERSION)
