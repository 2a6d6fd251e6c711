"""The arithmetic a Keras-side run computes in (--precision), set once before a model
is built. TensorFlow 1.15 computes float32 only. TensorFlow 2.15 computes float32
matrix products in TF32 on Ampere and newer GPUs unless told otherwise: ``fp32``
turns TF32 off (float32 as the original on a V100 and as on a CPU), ``tf32`` leaves it
on, and the mixed policies compute the backbone in bfloat16 or float16 with float32
weights, the head and the loss kept in float32 (float16 with dynamic loss scaling, and
masks of -1e4 where bert4keras uses -1e12)."""
import tensorflow as tf

from fl_tuning.errors import InputError
from fl_tuning.keras.compat import TF2, K, keras

ORIGINAL_INFINITY, FLOAT16_INFINITY = 1e12, 1e4
PRECISIONS = ('fp32', 'tf32', 'mixed_bf16', 'mixed_fp16')
POLICIES = {'fp32': 'float32', 'tf32': 'float32', 'mixed_bf16': 'mixed_bfloat16', 'mixed_fp16': 'mixed_float16'}
TF1_ONLY_FP32 = ('--precision %s needs the TensorFlow 2.15 stack (bash scripts/setup.sh --stack tf2): '
                 'TensorFlow 1.15 computes float32 only (NVIDIA\'s TF1 builds use TF32 on Ampere and '
                 'newer GPUs unless NVIDIA_TF32_OVERRIDE=0)')


def check_precision(precision):
    if precision not in PRECISIONS:
        raise InputError('--precision %s is for --framework torch; the Keras side computes in %s'
                         % (precision, ', '.join(PRECISIONS)))
    if not TF2 and precision != 'fp32':
        raise InputError(TF1_ONLY_FP32 % precision)


def set_precision(precision):
    """TF32 on or off, and the mixed-precision policy of the layers built next."""
    check_precision(precision)
    if TF2:
        tf.config.experimental.enable_tensor_float_32_execution(precision == 'tf32')
        keras.mixed_precision.set_global_policy(POLICIES[precision])
        # bert4keras masks with -1e12, which float16 cannot hold (-inf, then nan)
        K.set_infinity(FLOAT16_INFINITY if precision == 'mixed_fp16' else ORIGINAL_INFINITY)


def float32_layers():
    """The policy for layers that stay float32 (the head): the global one reset."""
    if TF2:
        keras.mixed_precision.set_global_policy('float32')
