"""A run option is declared once (fl_tuning.run_options): its flag, RunConfig's attribute,
the hyperparameter overrides and what the record keeps all follow from its line."""
import pytest

from fl_tuning.arguments import positive_number
from fl_tuning.cli import build_parser, run_config
from fl_tuning.run import RunConfig
from fl_tuning.run_options import OVERRIDABLE, RUN_OPTIONS, recorded


def given(option):
    """(command-line words, the value the config must hold) for a value other than the default."""
    kind = option.argparse.get('action')
    if kind == 'store_true':
        return [option.flag], True
    if kind == 'store_false':
        return [option.flag], False
    if 'choices' in option.argparse:
        return [option.flag, option.argparse['choices'][-1]], option.argparse['choices'][-1]
    parse = option.argparse.get('type')
    if parse is None:
        return [option.flag, 'given-%s' % option.name], 'given-%s' % option.name
    if parse is positive_number:
        return [option.flag, '0.5'], 0.5
    if parse.__name__ == 'file_names':
        return [option.flag, 'a.json,b.json'], ['a.json', 'b.json']
    return [option.flag, '9'], 9


def test_every_option_goes_from_its_flag_into_the_run_config():
    words, expected = ['run', '--backbone', 'bert', '--task', 'afqmc'], {}
    for option in RUN_OPTIONS:
        flag_words, expected[option.name] = given(option)
        assert expected[option.name] != option.default, option.name
        words += flag_words
    config = run_config(build_parser().parse_args(words), 'bert', 'afqmc')
    assert dict((name, getattr(config, name)) for name in expected) == expected
    assert config.overrides == dict((name, expected[name]) for name in OVERRIDABLE)
    assert recorded(config) == dict((o.name, expected[o.name]) for o in RUN_OPTIONS if o.recorded)
    assert set(recorded(config)) == {'fused_feed_forward', 'skip_bad_lines', 'framework', 'precision',
                                     'deterministic_ops', 'dropout'}


def test_defaults_are_the_table_s_and_unknown_options_are_refused():
    config = RunConfig('bert', 'afqmc', 'data', 'model', 'out')
    assert all(getattr(config, o.name) == o.default for o in RUN_OPTIONS
               if o.name not in ('data_dir', 'model_dir', 'output_dir'))
    assert config.overrides == {} and list(config.method_set) == ['fl']
    with pytest.raises(ValueError, match='unknown run option.*epoch'):
        RunConfig('bert', 'afqmc', 'data', 'model', 'out', epoch=3)
