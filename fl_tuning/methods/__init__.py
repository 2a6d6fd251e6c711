"""The tuning methods by name (framework-free: settings, rules, counts), and the method
sets the command line and saved runs describe. A method set is an ordered dict
``{name: settings}`` in registry order; adding a method means adding its module here,
its unit in each framework's ``methods`` folder, and one line in each registry.
"""
from collections import OrderedDict

from fl_tuning.errors import InputError
from fl_tuning.methods.apt import AdaptivePrefixTuning
from fl_tuning.methods.base import DEFAULT_SIZE
from fl_tuning.methods.finetune import FineTuning
from fl_tuning.methods.fl import FLTuning
from fl_tuning.methods.ln import LNTuning
from fl_tuning.methods.pasta import PASTA
from fl_tuning.methods.prompt import PromptTuning
from fl_tuning.methods.ptv2 import PTuningV2

REGISTRY = OrderedDict((method.name, method) for method in (
    FLTuning, PTuningV2, PromptTuning, LNTuning, PASTA, AdaptivePrefixTuning, FineTuning))
METHOD_NAMES = list(REGISTRY)
HEAD_ONLY = 'head-only'


def unit_registry(units, framework):
    """A framework's units of the methods, by name; every method must have one, in
    REGISTRY's order."""
    registry = OrderedDict((unit.name, unit) for unit in units)
    assert list(registry) == list(REGISTRY), 'a method lacks its %s unit' % framework
    return registry


def create_methods(method_set, registry=REGISTRY):
    """Method objects of a method set: the framework-free ones, or a framework's units
    when ``registry`` is that framework's."""
    return [registry[name](**settings) for name, settings in method_set.items()]


def method_set_of(methods):
    return OrderedDict((method.name, method.settings()) for method in methods)


def method_set_from_sizes(ffn_prompt_size, prompt_size):
    """The original's switches: FL units and/or P-tuning v2 prefixes, 0 = off."""
    method_set = OrderedDict()
    if ffn_prompt_size:
        method_set['fl'] = {'ffn_prompt_size': int(ffn_prompt_size)}
    if prompt_size:
        method_set['ptv2'] = {'prompt_size': int(prompt_size)}
    return method_set


def label(method_set):
    """'fl', 'ptv2', 'fl+ln', ... ('head-only' for none)."""
    return '+'.join(method_set) or HEAD_ONLY


def parameter_report(methods, by_method, trainable, total):
    """The counts a run records and ``params`` prints: per method (closed form), trainable
    and total (counted in the framework's model, heads left out), the trainable share."""
    return {'methods': [repr(m) for m in methods], 'by_method': by_method, 'trainable': trainable,
            'expected_trainable': sum(by_method.values()), 'total': total,
            'trainable_percent': 100.0 * trainable / total}


def describe(method_set):
    return ', '.join(repr(method) for method in create_methods(method_set)) or HEAD_ONLY


def sizes(method_set):
    """(ffn_prompt_size, prompt_size) of a method set, 0 where no method has one."""
    sizes = dict((REGISTRY[name].size_flag, settings[REGISTRY[name].size_flag])
                 for name, settings in method_set.items() if REGISTRY[name].size_flag)
    return sizes.get('ffn_prompt_size', 0), sizes.get('prompt_size', 0)


def parse_method_names(text):
    names = [name.strip() for name in text.split(',') if name.strip()]
    unknown = [name for name in names if name not in REGISTRY]
    if unknown or not names:
        raise InputError('--method %r: unknown method %s (choose from %s)' % (
            text, ', '.join(unknown) or '(none given)', ', '.join(METHOD_NAMES)))
    if len(set(names)) != len(names):
        raise InputError('--method %r names a method twice' % text)
    for name in names:
        if REGISTRY[name].exclusive and len(names) > 1:
            raise InputError('--method %s: %s trains the whole backbone and combines with no other '
                             'method' % (text, name))
        for other, why in REGISTRY[name].conflicts.items():
            if other in names:
                raise InputError('--method %s: %s and %s do not combine (%s)' % (text, name, other, why))
    return [name for name in METHOD_NAMES if name in names]


def resolve_method_set(method=None, ffn_prompt_size=None, prompt_size=None, **options):
    """The method set the command line asks for.

    Without ``method`` the sizes decide as in the original (FL 160 unless
    ``--ffn-prompt-size 0``; P-tuning v2 when ``--prompt-size`` > 0). With it, each
    named method takes its size flag or the paper's 160, and its options; a size flag
    or option that no named method uses is an error rather than silently ignored.
    ``options`` are the methods' own flags (e.g. ``ln_embedding``), falsy when not given.
    """
    sizes_given = {'ffn_prompt_size': ffn_prompt_size, 'prompt_size': prompt_size}
    if method is None:
        for option, value in options.items():
            if value:
                owner = next(n for n, m in REGISTRY.items() if option in m.options)
                raise InputError('--%s is an option of %s: add --method %s' % (
                    flag_name(option), REGISTRY[owner].title, owner))
        return method_set_from_sizes(DEFAULT_SIZE if ffn_prompt_size is None else ffn_prompt_size,
                                     prompt_size or 0)
    names = parse_method_names(method)
    used = set(REGISTRY[name].size_flag for name in names)
    used.update(option for name in names for option in REGISTRY[name].options)
    unused = [flag for flag, value in list(sizes_given.items()) + list(options.items())
              if value not in (None, False) and flag not in used]
    if unused:
        raise InputError('--%s is not used by --method %s' % (flag_name(unused[0]), method))
    method_set = OrderedDict()
    for name in names:
        flag = REGISTRY[name].size_flag
        settings = dict((option, bool(options.get(option))) for option in REGISTRY[name].options)
        if flag:
            if sizes_given[flag] == 0:
                raise InputError('--%s 0 turns %s off: leave it out of --method instead' % (
                    flag_name(flag), name))
            settings[flag] = DEFAULT_SIZE if sizes_given[flag] is None else sizes_given[flag]
        method_set[name] = settings
    return method_set


def flag_name(option):
    return option.replace('_', '-')


def default_learning_rate(method_set):
    """(rate, source) for a method set, or (None, source) for the task's table rate: the
    table when any method of the set follows it, else the first method's own rate."""
    methods = [REGISTRY[name] for name in method_set] or [FLTuning]
    for method in methods:
        if method.default_learning_rate is None:
            return None, method.learning_rate_source
    return methods[0].default_learning_rate, methods[0].learning_rate_source
