"""Full fine-tuning on PyTorch: every backbone weight on the path trains."""
import fl_tuning.methods.finetune as methods_finetune
from fl_tuning.torch.keras_layout import backbone_keras_layers
from fl_tuning.torch.methods.base import TorchMethod


class FineTuning(methods_finetune.FineTuning, TorchMethod):
    def trainable(self, encoder):
        return encoder.backbone_parameters()

    def keras_layers(self, encoder):
        return list(backbone_keras_layers(encoder).items())
