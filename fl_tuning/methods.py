"""Tuning methods: each is one small unit that says which layers it adds to a
Transformer block, which weights train, and how many parameters that is.

The backbone (models.py) asks every enabled method for its part of each block;
adding a method means adding a class here and passing it in ``build_model``.
"""
from fl_tuning.layers import PromptEmbedding, WidenedFeedForward


class TuningMethod(object):
    """Base of the tuning methods; ``size`` 0 disables a method."""

    size_flag = None  # the original's argument name, kept as the user-facing option

    def __init__(self, size):
        if size < 0:
            raise ValueError('%s must be >= 0, got %r' % (self.size_flag, size))
        self.size = int(size)

    @property
    def enabled(self):
        return self.size > 0

    def feed_forward(self, transformer):
        """(layer class, extra kwargs) for every block's feed-forward, or None."""
        return None

    def key_value_prefixes(self, transformer, x, index):
        """(key prefixes, value prefixes) for block ``index``, or None."""
        return None

    def unfreeze(self, transformer):
        """Make this method's own weights trainable after the backbone is frozen."""
        raise NotImplementedError

    def parameter_count(self, transformer):
        """Closed-form number of parameters this method trains."""
        raise NotImplementedError

    def __repr__(self):
        return '%s(%s=%d)' % (type(self).__name__, self.size_flag, self.size)


class FLTuning(TuningMethod):
    """FL-tuning: ``size`` extra hidden units in every feed-forward layer."""

    size_flag = 'ffn_prompt_size'

    def __init__(self, size, fused=False):
        super(FLTuning, self).__init__(size)
        self.fused = fused

    def feed_forward(self, transformer):
        return WidenedFeedForward, {'extra_units': self.size, 'fused': self.fused}

    def unfreeze(self, transformer):
        for index in range(transformer.num_hidden_layers):
            transformer.layers[feed_forward_name(index)].freeze_pretrained()

    def parameter_count(self, transformer):
        d, k = transformer.hidden_size, self.size
        return transformer.num_hidden_layers * (d * k + k + k * d + d)


class PTuningV2(TuningMethod):
    """P-tuning v2: ``size`` learned key and value prefixes in every attention layer."""

    size_flag = 'prompt_size'

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


def attention_name(index):
    return 'Transformer-%d-MultiHeadSelfAttention' % index


def feed_forward_name(index):
    return 'Transformer-%d-FeedForward' % index


def prefix_name(index, part):
    return '%s-%s-PromptEmbedding' % (attention_name(index), part)
