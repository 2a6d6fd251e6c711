"""The faithful port's layer names (bert4keras' and the tuning methods'): tuned-weights
files name what trained by them on both frameworks (fl_tuning.weight_files), and the
names an exported head's weights get."""
from collections import namedtuple


def attention_name(index):
    return 'Transformer-%d-MultiHeadSelfAttention' % index


def feed_forward_name(index):
    return 'Transformer-%d-FeedForward' % index


def norm_name(layer):
    """The LayerNorm after ``layer`` (a block's attention or feed-forward layer)."""
    return '%s-Norm' % layer


def prefix_name(index, part):
    """P-tuning v2's 'Key' or 'Value' prefixes of block ``index``."""
    return '%s-%s-PromptEmbedding' % (attention_name(index), part)


def gate_name(index):
    """APT's prefix gate and layer weight of block ``index``."""
    return '%s-Prefix-Gate' % attention_name(index)


def adaptation_name(index):
    """PASTA's special-token vectors of block ``index``."""
    return '%s-Special-Token-Adaptation' % attention_name(index)


# Each head kind's layer (in tuned-weights files) and its weights' name in an export.
HeadNames = namedtuple('HeadNames', 'layer exported')
HEAD_NAMES = {'classifier': HeadNames('Classifier', 'classifier'),
              'choice_logit': HeadNames('Choice-Logit', 'choice_logit'),
              'entity_pointer': HeadNames('GlobalPointer', 'global_pointer'),
              'span_pointer': HeadNames('GlobalPointer', 'global_pointer')}
