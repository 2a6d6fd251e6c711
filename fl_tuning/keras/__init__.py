"""The Keras side: bert4keras backbones, the methods' Keras units, the task heads, the
optimizer and the trainer, on TensorFlow 1.15 or 2.15 (chosen in compat)."""
import contextlib
import io
import os

# Hide TensorFlow's C++ logs unless the user asked for them (TensorFlow 2 logs CUDA
# plug-in registration 'errors' at every start, even on a CPU).
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

# The stack is chosen before anything imports bert4keras. Keras 2.3 announces 'Using
# TensorFlow backend.' on stderr at import, before every message of the command line:
# imported here once, quietly.
with contextlib.redirect_stderr(io.StringIO()):
    from fl_tuning.keras.compat import tf1  # noqa: E402

tf1.logging.set_verbosity(tf1.logging.ERROR)
