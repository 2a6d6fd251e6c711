"""A tuning method on the Keras side: the parts it adds to the backbone through the
backbone's extension points (fl_tuning.keras.models.TunedTransformer) and which
weights it trains. A unit overrides only the hooks it needs; each hook's default
leaves the backbone as bert4keras builds it.
"""
# The MLM head that application='unilm' builds: on no task's path, never trained.
UNUSED_LAYER_PREFIX = 'MLM-'


class KerasMethod(object):
    """The hooks of a method's Keras unit; mixed into the method's framework-free class
    (fl_tuning.methods), which holds its settings and count."""

    # -- extension points (called while bert4keras builds the model) ---------
    def embedding_output(self, transformer, x):
        """The embedding stage's output, as the first block will see it."""
        return x

    def attention_bias(self, transformer, bias):
        """The attention bias every layer adds to its logits ([B, 1, L, L])."""
        return bias

    def block_input(self, transformer, x, index):
        """The hidden states entering block ``index`` (before its self-attention)."""
        return x

    def key_value_prefixes(self, transformer, x, index):
        """(key prefixes, value prefixes) [B, P, heads, size] for block ``index``, or None."""
        return None

    def feed_forward(self, transformer):
        """(layer class, extra kwargs) replacing every block's feed-forward, or None."""
        return None

    def encoder_output(self, transformer, x):
        """The last block's output as the task heads will see it."""
        return x

    # The layer the task heads read, where ``encoder_output`` adds one (else the last
    # block's final LayerNorm).
    output_layer = None

    # -- what trains ------------------------------------------------------------
    def unfreeze(self, transformer):
        """Make this method's weights trainable (everything else is frozen first)."""
        raise NotImplementedError

    # -- export (fl_tuning.export) ----------------------------------------------
    def fold(self, transformer, config, variables):
        """Put what this method trained into a plain backbone, in place: ``config`` is
        its bert_config.json, ``variables`` its checkpoint {name: array}. Methods
        that train backbone weights in place need do nothing."""

