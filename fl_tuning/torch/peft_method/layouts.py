"""Where FL-tuning finds a model's feed-forward layers: its linears by their module
names, each with its side (``in``: gets k more outputs; ``out``: gets k more inputs),
grouped by block. peft's own matching is by name suffix only, which cannot tell BERT's
``layer.0.output.dense`` (feed-forward) from ``layer.0.attention.output.dense``."""
import re
from collections import OrderedDict, namedtuple

Layout = namedtuple('Layout', 'name models block linears width')
LAYOUTS = (
    Layout('BERT family', 'BERT, RoBERTa, XLM-R, ELECTRA, NEZHA, RoFormer', r'layer\.\d+',
           {'intermediate.dense': 'in', 'output.dense': 'out'}, 'intermediate_size'),
    Layout('DistilBERT', 'DistilBERT', r'layer\.\d+', {'ffn.lin1': 'in', 'ffn.lin2': 'out'}, 'hidden_dim'),
    Layout('gated MLP', 'LLaMA, Mistral, Qwen2 and their kin', r'layers\.\d+',
           {'mlp.gate_proj': 'in', 'mlp.up_proj': 'in', 'mlp.down_proj': 'out'}, 'intermediate_size'),
)
SUPPORTED = '; '.join('%s (%s: %s)' % (layout.name, layout.models, ', '.join(layout.linears)) for layout in LAYOUTS)

FeedForwardLinear = namedtuple('FeedForwardLinear', 'layout block index name side')


def _pattern(layout):
    names = '|'.join(re.escape(name) for name in layout.linears)
    return re.compile(r'(?P<block>(?:.*\.)?%s)\.(?P<name>%s)' % (layout.block, names))


PATTERNS = [(layout, _pattern(layout)) for layout in LAYOUTS]


def feed_forward_linear(key):
    """The FeedForwardLinear a module name ``key`` is, or None."""
    for layout, pattern in PATTERNS:
        match = pattern.fullmatch(key)
        if match:
            block = match.group('block')
            return FeedForwardLinear(layout, block, int(block.rsplit('.', 1)[1]), match.group('name'),
                                     layout.linears[match.group('name')])
    return None


def _named(spec, key):
    """peft's rule for target_modules and exclude_modules: a str is a regular expression
    the whole name matches; a list or set holds names or name suffixes."""
    if isinstance(spec, str):
        return re.fullmatch(spec, key) is not None
    return any(key == name or key.endswith('.' + name) for name in spec)


def is_selected(config, key):
    """Whether ``config`` gives module ``key`` added units."""
    linear = feed_forward_linear(key)
    if linear is None:
        return False
    if config.target_modules is not None and not _named(config.target_modules, key):
        return False
    if config.exclude_modules is not None and _named(config.exclude_modules, key):
        return False
    layers = config.layers_to_transform
    return layers is None or linear.index in ([layers] if isinstance(layers, int) else layers)


def blocks(keys):
    """{block: {linear name: key}} of every feed-forward linear among module names ``keys``."""
    found = OrderedDict()
    for key in keys:
        linear = feed_forward_linear(key)
        if linear is not None:
            found.setdefault(linear.block, {})[linear.name] = key
    return found


def check_selection(config, keys):
    """ValueError unless ``config`` selects whole feed-forward layers (every linear of a
    block's layout, or none) and at least one."""
    found = blocks(keys)
    if not found:
        raise ValueError('FL-tuning found no feed-forward layer it knows in this model; supported layouts: %s'
                         % SUPPORTED)
    selected = 0
    for block, linears in found.items():
        layout = feed_forward_linear(next(iter(linears.values()))).layout
        chosen = sorted(name for name, key in linears.items() if is_selected(config, key))
        if chosen and chosen != sorted(layout.linears):
            raise ValueError('FL-tuning adds units to a whole feed-forward layer, but block %s would get them in %s '
                             'and not in %s: target_modules and exclude_modules must name all of %s or none'
                             % (block, ', '.join(chosen), ', '.join(sorted(set(layout.linears) - set(chosen))),
                                ', '.join(layout.linears)))
        selected += bool(chosen)
    if not selected:
        raise ValueError('FL-tuning: target_modules=%r, exclude_modules=%r and layers_to_transform=%r select no '
                         'feed-forward layer; supported layouts: %s' % (config.target_modules, config.exclude_modules,
                                                                       config.layers_to_transform, SUPPORTED))
