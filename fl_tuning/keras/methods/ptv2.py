"""P-tuning v2 on Keras: a key and a value PromptEmbedding per attention layer."""
import fl_tuning.methods.ptv2 as methods_ptv2
from fl_tuning.keras.layers import PromptEmbedding
from fl_tuning.keras.methods.base import KerasMethod
from fl_tuning.layer_names import prefix_name


class PTuningV2(methods_ptv2.PTuningV2, KerasMethod):
    def key_value_prefixes(self, transformer, x, index):
        return tuple(
            transformer.apply(
                inputs=x,
                layer=PromptEmbedding,
                prompt_size=self.size,
                heads=transformer.num_attention_heads,
                head_size=size,
                embeddings_initializer=transformer.initializer,
                name=prefix_name(index, part),
            )
            for part, size in (('Key', transformer.attention_key_size),
                               ('Value', transformer.attention_head_size))
        )

    def unfreeze(self, transformer):
        for index in range(transformer.num_hidden_layers):
            for part in ('Key', 'Value'):
                transformer.layers[prefix_name(index, part)].trainable = True
