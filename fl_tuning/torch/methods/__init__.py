"""The PyTorch units of the tuning methods, by name (the same names and order as
fl_tuning.methods.REGISTRY)."""
from collections import OrderedDict

from fl_tuning.methods import REGISTRY, create_methods
from fl_tuning.torch.methods.apt import AdaptivePrefixTuning
from fl_tuning.torch.methods.finetune import FineTuning
from fl_tuning.torch.methods.fl import FLTuning
from fl_tuning.torch.methods.ln import LNTuning
from fl_tuning.torch.methods.pasta import PASTA
from fl_tuning.torch.methods.prompt import PromptTuning
from fl_tuning.torch.methods.ptv2 import PTuningV2

TORCH_METHODS = OrderedDict((method.name, method) for method in (
    FLTuning, PTuningV2, PromptTuning, LNTuning, PASTA, AdaptivePrefixTuning, FineTuning))
assert list(TORCH_METHODS) == list(REGISTRY), 'a method lacks its PyTorch unit'


def torch_methods(method_set):
    """The PyTorch units of a method set."""
    return create_methods(method_set, TORCH_METHODS)
