"""LN-tuning on PyTorch: the LayerNorms it unfreezes."""
import fl_tuning.methods.ln as methods_ln
from fl_tuning.torch.keras_layout import backbone_keras_layers
from fl_tuning.torch.methods.base import TorchMethod


class LNTuning(methods_ln.LNTuning, TorchMethod):
    def keras_layers(self, encoder):
        return [(name, weights) for name, weights in backbone_keras_layers(encoder).items()
                if name.endswith('-Norm') and (self.ln_embedding or name != 'Embedding-Norm')]

    def trainable(self, encoder):
        return [p for _, weights in self.keras_layers(encoder) for p, _ in weights]
