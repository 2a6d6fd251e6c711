"""The Keras units of the tuning methods, by name (the same names and order as
fl_tuning.methods.REGISTRY)."""
from fl_tuning.keras.methods.apt import AdaptivePrefixTuning
from fl_tuning.keras.methods.finetune import FineTuning
from fl_tuning.keras.methods.fl import FLTuning
from fl_tuning.keras.methods.ln import LNTuning
from fl_tuning.keras.methods.pasta import PASTA
from fl_tuning.keras.methods.prompt import PromptTuning
from fl_tuning.keras.methods.ptv2 import PTuningV2
from fl_tuning.methods import create_methods, unit_registry

KERAS_METHODS = unit_registry((FLTuning, PTuningV2, PromptTuning, LNTuning, PASTA, AdaptivePrefixTuning, FineTuning),
                              'Keras')


def keras_methods(method_set):
    """The Keras units of a method set."""
    return create_methods(method_set, KERAS_METHODS)
