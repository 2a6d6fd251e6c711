"""LN-tuning on PyTorch: the LayerNorms it unfreezes."""
import fl_tuning.methods.ln as methods_ln
from fl_tuning.torch.methods.base import TorchMethod


class LNTuning(methods_ln.LNTuning, TorchMethod):
    def norm_modules(self, encoder):
        model = encoder.model
        norms = [model.embeddings.LayerNorm] if self.ln_embedding else []
        for layer in model.encoder.layer:
            norms += [layer.attention.output.LayerNorm, layer.output.LayerNorm]
        return norms

    def trainable(self, encoder):
        return [p for norm in self.norm_modules(encoder) for p in norm.parameters()]
