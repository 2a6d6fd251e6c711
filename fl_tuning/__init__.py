"""FL-Tuning (arXiv 2206.15312) on TensorFlow 1.15 / Keras 2.3.1 / bert4keras 0.10.8."""
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
    import fl_tuning.compat  # noqa: F401,E402

from fl_tuning.models import build_model, last_layer_name, parameter_report  # noqa: F401,E402
from fl_tuning.vocab import build_tokenizer, load_vocabulary  # noqa: F401,E402

__version__ = '0.1.0'
