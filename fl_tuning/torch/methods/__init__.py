"""The PyTorch units of the tuning methods, by name (the same names and order as
fl_tuning.methods.REGISTRY)."""
from fl_tuning.methods import create_methods, unit_registry
from fl_tuning.torch.methods.apt import AdaptivePrefixTuning
from fl_tuning.torch.methods.finetune import FineTuning
from fl_tuning.torch.methods.fl import FLTuning
from fl_tuning.torch.methods.ln import LNTuning
from fl_tuning.torch.methods.pasta import PASTA
from fl_tuning.torch.methods.prompt import PromptTuning
from fl_tuning.torch.methods.ptv2 import PTuningV2

TORCH_METHODS = unit_registry((FLTuning, PTuningV2, PromptTuning, LNTuning, PASTA, AdaptivePrefixTuning, FineTuning),
                              'PyTorch')


def torch_methods(method_set):
    """The PyTorch units of a method set."""
    return create_methods(method_set, TORCH_METHODS)
