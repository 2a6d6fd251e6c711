"""What every tuning method is, apart from any framework: its name, its settings, its
options and rules for combining, and how many parameters it trains in closed form.
A framework's unit of a method (fl_tuning/keras/methods) subclasses it and adds the
parts the method puts into that framework's model.

A count takes the backbone's sizes (``Dimensions``, or a framework's model object with
the same attributes), so both frameworks report the same numbers by one formula.
"""
from fl_tuning.vocab import REQUIRED_TOKENS

# The size the paper uses for FL units and prefixes when a named method's size is not given.
DEFAULT_SIZE = 160
CLS_ID, SEP_ID = REQUIRED_TOKENS.index('[CLS]'), REQUIRED_TOKENS.index('[SEP]')


class Dimensions(object):
    """The sizes of a backbone that the counts read (bert_config.json's, plus how the
    backbone places positions)."""

    def __init__(self, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size,
                 vocab_size, segment_vocab_size, max_position, absolute_positions,
                 attention_key_size=None, attention_head_size=None):
        self.hidden_size, self.num_hidden_layers = hidden_size, num_hidden_layers
        self.num_attention_heads, self.intermediate_size = num_attention_heads, intermediate_size
        self.vocab_size, self.segment_vocab_size = vocab_size, segment_vocab_size
        self.max_position, self.absolute_positions = max_position, absolute_positions
        self.attention_head_size = attention_head_size or hidden_size // num_attention_heads
        self.attention_key_size = attention_key_size or self.attention_head_size

    @classmethod
    def of_config(cls, config, backbone, vocab_size):
        """From a bert_config.json's dict, as bert4keras reads it; ``vocab_size``: the
        embedding rows the model keeps (the simplified vocabulary's size)."""
        return cls(config['hidden_size'], config['num_hidden_layers'], config['num_attention_heads'],
                   config['intermediate_size'], vocab_size, config.get('type_vocab_size', 2),
                   config.get('max_position_embeddings', 512), absolute_positions=backbone == 'bert')


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
    # Whether a plain backbone can hold what this method trained (export); if not, why.
    folds = False
    why_not_foldable = 'a plain backbone has no place for the parts it adds'

    def settings(self):
        """What identifies this method's model (for records and tuned-weights files)."""
        return {}

    def prepare(self, sequences):
        """Learn what the data defines from every encoded token-id row; default: nothing."""

    def parameter_count(self, dimensions):
        """Closed-form number of parameters this method trains."""
        raise NotImplementedError

    def __repr__(self):
        settings = ', '.join('%s=%s' % item for item in sorted(self.settings().items()))
        return '%s(%s)' % (self.name, settings)


def sized(size, flag):
    size = int(size)
    if size < 1:
        raise ValueError('%s must be at least 1, got %d' % (flag, size))
    return size
