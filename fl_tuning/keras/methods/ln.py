"""LN-tuning on Keras: the LayerNorm layers it unfreezes, by name."""
import fl_tuning.methods.ln as methods_ln
from fl_tuning.keras.methods.base import KerasMethod
from fl_tuning.layer_names import attention_name, feed_forward_name, norm_name


class LNTuning(methods_ln.LNTuning, KerasMethod):
    def layer_names(self, transformer):
        names = ['Embedding-Norm'] if self.ln_embedding else []
        for index in range(transformer.num_hidden_layers):
            names += [norm_name(attention_name(index)), norm_name(feed_forward_name(index))]
        return names

    def unfreeze(self, transformer):
        for name in self.layer_names(transformer):
            transformer.layers[name].trainable = True
