"""Every tuning method end to end on tiny data: runs, records, tuned-weights files
holding what the method trained, prediction from them, and the APT probe."""
import json
import os
import shutil
import subprocess
import sys

import h5py
import pytest
from bert4keras.backend import K

from fl_tuning.errors import InputError
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.gates import probe_gates
from fl_tuning.methods import resolve_method_set
from fl_tuning.predict import predict
from fl_tuning.run import Run, RunConfig
from fl_tuning.keras.weights import read_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = {'ffn_prompt_size': 4, 'prompt_size': 2}
SIZE_OF = {'fl': 'ffn_prompt_size', 'ptv2': 'prompt_size', 'prompt': 'prompt_size', 'apt': 'prompt_size'}


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')),
                               tasks=['afqmc', 'cluener', 'c3', 'cmrc2018'], counts=(6, 4, 3))


def run(tiny, data, output_dir, task, method, **options):
    K.clear_session()
    sizes = dict((flag, SIZES[flag]) for name in method.split(',') for flag in [SIZE_OF.get(name)] if flag)
    config = RunConfig(tiny.backbone, task, data, tiny.directory, str(output_dir),
                       method_set=resolve_method_set(method, **sizes), epochs=1, seed=5,
                       progress=False, **options)
    summary = Run(config, log=lambda message: None).execute()
    K.clear_session()
    return summary


def saved_layers(path):
    with h5py.File(path, 'r') as f:
        return sorted(f['weights'])


def backbone_layers_of(tiny):
    """Layers of the tiny BERT that hold weights (its checkpoint's, without the MLM head)."""
    layers = ['Embedding-Token', 'Embedding-Segment', 'Embedding-Position', 'Embedding-Norm']
    for i in range(tiny.config['num_hidden_layers']):
        layers += ['Transformer-%d-%s' % (i, part) for part in (
            'MultiHeadSelfAttention', 'MultiHeadSelfAttention-Norm', 'FeedForward', 'FeedForward-Norm')]
    return layers


def expected_saved_layers(method, tiny, head):
    blocks = range(tiny.config['num_hidden_layers'])
    attention = ['Transformer-%d-MultiHeadSelfAttention' % i for i in blocks]
    prefixes = ['%s-%s-PromptEmbedding' % (a, part) for a in attention for part in ('Key', 'Value')]
    layers = {
        'fl': ['Transformer-%d-FeedForward' % i for i in blocks],
        'ptv2': prefixes,
        'prompt': ['Input-Prompt'],
        'ln': ['%s-Norm' % a for a in attention] + ['Transformer-%d-FeedForward-Norm' % i for i in blocks],
        'pasta': ['%s-Special-Token-Adaptation' % a for a in attention],
        'apt': prefixes + ['%s-Prefix-Gate' % a for a in attention],
        'finetune': backbone_layers_of(tiny),
    }[method]
    return sorted(layers + head)


@pytest.fixture
def afqmc_run(tiny_models, data, computed_once):
    """afqmc_run(method): the summary of the method's BERT run of afqmc, trained once
    per session (the tests only read it)."""
    def summary(method):
        return computed_once('afqmc-' + method,
                             lambda output_dir: run(tiny_models['bert'], data, output_dir, 'afqmc', method))
    return summary


@pytest.mark.parametrize('method', ['fl', 'ptv2', 'prompt', 'ln', 'pasta', 'apt',
                                    pytest.param('finetune', marks=pytest.mark.full)])
def test_every_method_trains_saves_and_predicts_on_a_classification_task(tiny_models, data, afqmc_run,
                                                                         tmp_path, method):
    tiny = tiny_models['bert']
    summary = afqmc_run(method)
    assert summary['method'] == method
    manifest = read_manifest(summary['weights'])
    assert manifest['method'] == method and list(manifest['methods']) == [method]
    assert manifest['method_parameters'] == summary['parameters']['by_method']
    assert summary['parameters']['trainable'] == summary['parameters']['by_method'][method]
    assert saved_layers(summary['weights']) == expected_saved_layers(method, tiny, ['Classifier'])
    with open(os.path.join(os.path.dirname(os.path.dirname(summary['weights'])), 'records', 'afqmc.jsonl')) as f:
        header = json.loads(f.readline())['run']
    assert header['method'] == method and header['methods'] == manifest['methods']

    submission = summary['submissions'][0]
    with open(submission, 'rb') as f:
        expected = f.read()
    K.clear_session()
    written = predict(summary['weights'], tiny.directory, data_dir=data,
                      output_dir=str(tmp_path / 'again'), progress=False, log=lambda m: None)
    with open(written[0], 'rb') as f:
        assert f.read() == expected


# fl and ln leave the sequence as it is: fl is the end-to-end cluener run, fl,ln on
# RoFormer the stack probe's (tests/stack_probe.py), whose submission both stacks write.
@pytest.mark.parametrize('method', ['ptv2', 'prompt', 'pasta', 'apt', 'ptv2,pasta',
                                    pytest.param('finetune', marks=pytest.mark.full)])
def test_every_method_runs_cluener(tiny_models, data, tmp_path, method):
    summary = run(tiny_models['roformer'], data, tmp_path / 'run', 'cluener', method)
    assert summary['method'] == method.replace(',', '+')
    assert 0 <= summary['best_dev']['f1'] <= 1
    with open(summary['submissions'][0], encoding='utf-8') as f:
        assert len(f.readlines()) == 3  # one line per test sentence


@pytest.mark.parametrize('task', ['c3', 'cmrc2018'])
@pytest.mark.parametrize('method', [pytest.param('finetune', marks=pytest.mark.full), 'prompt', 'pasta'])
def test_methods_that_touch_the_sequence_run_multiple_choice_and_reading_comprehension(
        tiny_models, data, tmp_path, task, method):
    # maxlen 128: the methods' path through the sequence is the same, 512 costs time
    summary = run(tiny_models['nezha'], data, tmp_path / 'run', task, method, maxlen=128)
    assert summary['method'] == method and summary['submissions']
    if method == 'pasta':  # c3: [CLS] passage [SEP] question [SEP] choice [SEP]; cmrc2018 windows: 3
        slots = read_manifest(summary['weights'])['methods']['pasta']['slots']
        assert slots == {'c3': 4, 'cmrc2018': 3}[task]


def test_gates_probe_of_an_apt_run(tiny_models, data, afqmc_run, tmp_path):
    tiny = tiny_models['bert']
    weights = str(tmp_path / 'afqmc.weights')  # a copy: the test rewrites its manifest
    shutil.copy(afqmc_run('apt')['weights'], weights)
    rows = probe_gates(weights, data_dir=data, progress=False, log=lambda m: None)
    with h5py.File(weights, 'r') as f:
        layer_weights = [float(f['weights']['Transformer-%d-MultiHeadSelfAttention-Prefix-Gate' % i]['2'][()])
                         for i in range(tiny.config['num_hidden_layers'])]
    assert [r['layer'] for r in rows] == [0, 1]
    assert [r['layer_weight'] for r in rows] == pytest.approx(layer_weights, abs=1e-7)
    assert all(0 < r['min_gate'] <= r['mean_gate'] <= r['max_gate'] < 1 for r in rows)

    command = [sys.executable, '-m', 'fl_tuning', 'gates', weights, '--data-dir', data,
               '--json', '--no-progress']
    printed = json.loads(subprocess.check_output(command, cwd=ROOT, stderr=subprocess.DEVNULL).decode())
    assert printed == pytest.approx(rows)
    with h5py.File(weights, 'r+') as f:  # as a run of another method set
        manifest = json.loads(f.attrs['manifest'])
        f.attrs['manifest'] = json.dumps(dict(manifest, method='fl', methods={'fl': {'ffn_prompt_size': 4}}))
    with pytest.raises(InputError, match='was tuned with fl, not apt: it has no gates to probe'):
        probe_gates(weights, data_dir=data, progress=False, log=lambda m: None)


def test_gates_probe_averages_over_the_runs_own_dev_file(data, afqmc_run, tmp_path):
    """A FewCLUE run evaluates on dev_0.json (--dev-file): the probe averages there too."""
    weights = str(tmp_path / 'afqmc.weights')
    shutil.copy(afqmc_run('apt')['weights'], weights)
    with h5py.File(weights, 'r+') as f:
        manifest = json.loads(f.attrs['manifest'])
        f.attrs['manifest'] = json.dumps(dict(manifest, data_files=dict(manifest.get('data_files', {}),
                                                                         dev=['dev_0.json'])))
    with open(os.path.join(data, 'afqmc', 'dev.json'), encoding='utf-8') as f:
        first_two = f.readlines()[:2]
    for name, folder in (('dev_0.json', 'fewclue'), ('dev.json', 'reference')):
        os.makedirs(str(tmp_path / folder / 'afqmc'))
        with open(str(tmp_path / folder / 'afqmc' / name), 'w', encoding='utf-8') as f:
            f.writelines(first_two)
    rows = probe_gates(weights, data_dir=str(tmp_path / 'fewclue'), progress=False, log=lambda m: None)
    shutil.copy(afqmc_run('apt')['weights'], str(tmp_path / 'plain.weights'))
    reference = probe_gates(str(tmp_path / 'plain.weights'), data_dir=str(tmp_path / 'reference'),
                            progress=False, log=lambda m: None)
    assert rows == pytest.approx(reference)
    with pytest.raises(InputError, match=r'data file not found: .*dev_0\.json \(the gates are averaged'):
        probe_gates(weights, data_dir=data, progress=False, log=lambda m: None)


def test_run_command_with_method_flags_and_its_errors(tiny_models, data, tmp_path):
    tiny = tiny_models['bert']
    base = [sys.executable, os.path.join(ROOT, 'fl_tuning_bert', 'afqmc.py'), '--data-dir', data,
            '--model-dir', tiny.directory, '--epochs', '1', '--no-progress', '--seed', '1']
    result = subprocess.run(base + ['--output-dir', str(tmp_path / 'bad'), '--method', 'finetune,ln'],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 2
    assert result.stderr.decode().strip() == (
        'error: --method finetune,ln: finetune trains the whole backbone and combines with no other method')
    assert not os.path.exists(str(tmp_path / 'bad'))
    output = subprocess.check_output(base + ['--output-dir', str(tmp_path / 'ok'), '--method', 'ln,pasta',
                                             '--ln-embedding'], stderr=subprocess.DEVNULL).decode()
    assert 'method ln+pasta: 512 trainable parameters (ln 320 + pasta 192)' in output
    assert 'learning rate 0.001 (ours:' in output
    manifest = read_manifest(str(tmp_path / 'ok' / 'weights' / 'afqmc.weights'))
    assert manifest['methods'] == {'ln': {'ln_embedding': True}, 'pasta': {'slots': 3}}
    assert manifest['hyperparameters']['learning_rate'] == 1e-3
