"""What every tuning method is: the parts it adds to the backbone through the
backbone's extension points (fl_tuning.models.TunedTransformer), which weights it
trains, and how many parameters that is in closed form.

A method overrides only the hooks it needs; each hook's default leaves the
backbone as bert4keras builds it.
"""
from fl_tuning.vocab import SPECIAL_TOKENS

# The size the paper uses for FL units and prefixes when a named method's size is not given.
DEFAULT_SIZE = 160
# The MLM head that application='unilm' builds: on no task's path, never trained.
UNUSED_LAYER_PREFIX = 'MLM-'
CLS_ID, SEP_ID = SPECIAL_TOKENS.index('[CLS]'), SPECIAL_TOKENS.index('[SEP]')


class TuningMethod(object):
    name = None
    title = None
    source = None
    # The flag that sets this method's size (prefixes, units, vectors), if any.
    size_flag = None
    # Its own on/off options, named as their flags (e.g. 'ln_embedding' for --ln-embedding).
    options = ()
    # None: the task's rate from the original's table (ORIGINAL_SPEC section 1).
    default_learning_rate = None
    learning_rate_source = "the original's per-task table"
    # True: trains the whole backbone, so it combines with no other method.
    exclusive = False
    # Methods this one cannot be combined with, and why.
    conflicts = {}

    def settings(self):
        """What identifies this method's model (for records and tuned-weights files)."""
        return {}

    def prepare(self, sequences):
        """Learn what the data defines from every encoded token-id row; default: nothing."""

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

    # -- what trains ------------------------------------------------------------
    def unfreeze(self, transformer):
        """Make this method's weights trainable (everything else is frozen first)."""
        raise NotImplementedError

    def parameter_count(self, transformer):
        """Closed-form number of parameters this method trains."""
        raise NotImplementedError

    # -- export (fl_tuning.export) ----------------------------------------------
    # Whether a plain backbone can hold what this method trained; if not, why.
    folds = False
    why_not_foldable = 'a plain backbone has no place for the parts it adds'

    def fold(self, transformer, config, variables):
        """Put what this method trained into a plain backbone, in place: ``config`` is
        its bert_config.json, ``variables`` its checkpoint {name: array}. Methods
        that train backbone weights in place need do nothing."""

    def __repr__(self):
        settings = ', '.join('%s=%s' % item for item in sorted(self.settings().items()))
        return '%s(%s)' % (self.name, settings)


def attention_name(index):
    return 'Transformer-%d-MultiHeadSelfAttention' % index


def feed_forward_name(index):
    return 'Transformer-%d-FeedForward' % index


def sized(size, flag):
    size = int(size)
    if size < 1:
        raise ValueError('%s must be at least 1, got %d' % (flag, size))
    return size
