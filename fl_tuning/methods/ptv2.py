"""P-tuning v2 (deep prefix tuning), the paper's baseline: ``prompt_size`` learned
key and value prefixes in every attention layer; only they train."""
from fl_tuning.layers import PromptEmbedding
from fl_tuning.methods.base import DEFAULT_SIZE, TuningMethod, attention_name, sized


class PTuningV2(TuningMethod):
    name = 'ptv2'
    title = 'P-tuning v2'
    source = 'Liu et al. 2022, ACL (arXiv 2110.07602)'
    size_flag = 'prompt_size'
    why_not_foldable = 'its key and value prefixes enter every attention layer'

    def __init__(self, prompt_size=DEFAULT_SIZE):
        self.size = sized(prompt_size, '--prompt-size')

    def settings(self):
        return {'prompt_size': self.size}

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

    def parameter_count(self, transformer):
        heads = transformer.num_attention_heads
        per_position = heads * (transformer.attention_key_size + transformer.attention_head_size)
        return transformer.num_hidden_layers * self.size * per_position


def prefix_name(index, part):
    return '%s-%s-PromptEmbedding' % (attention_name(index), part)
