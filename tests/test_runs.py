"""Runs a researcher can trust: tuned-weights files, predict, seeds, resume,
atomic writes, run records and the summary table."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
from bert4keras.backend import K

from fl_tuning.errors import InputError
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.data_files import atomic_path, remove_partial_files, write_atomically
from fl_tuning.methods import method_set_from_sizes
from fl_tuning.keras.heads import build_task_model
from fl_tuning.keras.models import build_model
from fl_tuning.predict import predict
from fl_tuning.run import Run, RunConfig
from fl_tuning.summary import summarize
from fl_tuning.tasks import get_task
from fl_tuning.testing.tiny import BERT_BASE_CONFIG, write_config, write_tiny_model
from fl_tuning.keras.weights import load_tuned_weights, read_manifest, save_tuned_weights

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUIET = dict(progress=False)


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc', 'cluener', 'c3'])


def run(tiny, data, output_dir, task='cluener', **options):
    K.clear_session()
    settings = dict(ffn_prompt_size=8, prompt_size=2, epochs=2, seed=11, **QUIET)
    settings.update(options)
    return Run(RunConfig(tiny.backbone, task, data, tiny.directory, str(output_dir), **settings),
               log=lambda message: None).execute()


def read_bytes(path):
    with open(path, 'rb') as f:
        return f.read()


def epochs_of(record_path):
    """The epoch lines of a record without the timing fields."""
    with open(record_path, encoding='utf-8') as f:
        lines = [json.loads(line) for line in f]
    timing = ('seconds', 'examples_per_second')
    return [dict((k, v) for k, v in line.items() if k not in timing) for line in lines if 'epoch' in line]


# -- tuned-weights files and predict ------------------------------------------------

def test_predict_from_tuned_weights_reproduces_the_submission(tiny_models, data, tmp_path):
    summary = run(tiny_models['nezha'], data, tmp_path / 'run')
    manifest = read_manifest(summary['weights'])
    assert (manifest['backbone'], manifest['task'], manifest['ffn_prompt_size'],
            manifest['prompt_size'], manifest['seed']) == ('nezha', 'cluener', 8, 2, 11)
    assert manifest['hyperparameters']['epochs'] == 2 and manifest['epoch'] == summary['best_epoch']
    assert manifest['checkpoint_fingerprint'].startswith('sha256:')
    assert manifest['task_state']['categories'] == get_cluener_categories(data)
    assert set(manifest['versions']) >= {'tensorflow', 'keras', 'bert4keras', 'fl_tuning'}
    K.clear_session()
    written = predict(summary['weights'], tiny_models['nezha'].directory, data_dir=data,
                      output_dir=str(tmp_path / 'predicted'), progress=False, log=lambda m: None)
    assert len(written) == 1
    assert read_bytes(written[0]) == read_bytes(summary['submissions'][0])
    K.clear_session()
    single = str(tmp_path / 'one.json')
    predict(summary['weights'], tiny_models['nezha'].directory, progress=False, log=lambda m: None,
            test_file=os.path.join(data, 'cluener', 'test.json'), output=single)
    assert read_bytes(single) == read_bytes(summary['submissions'][0])


def get_cluener_categories(data):
    categories = set()
    for split in ('train', 'dev'):
        with open(os.path.join(data, 'cluener', split + '.json'), encoding='utf-8') as f:
            for line in f:
                categories.update(json.loads(line)['label'])
    return sorted(categories)


@pytest.fixture
def one_epoch_of_afqmc(tiny_models, data, computed_once):
    """The summary of a one-epoch BERT run of afqmc, which the tests only read."""
    return computed_once('one-epoch-afqmc', lambda output_dir: run(
        tiny_models['bert'], data, output_dir, task='afqmc', epochs=1))


def test_tuned_weights_are_refused_on_another_checkpoint_or_other_sizes(tiny_models, data, one_epoch_of_afqmc,
                                                                        tmp_path):
    summary = one_epoch_of_afqmc
    other = str(tmp_path / 'other')
    write_tiny_model('bert', other, seed=99)  # same shapes, other values
    K.clear_session()
    with pytest.raises(InputError, match='was tuned with checkpoint_fingerprint = sha256:'):
        predict(summary['weights'], other, data_dir=data, output_dir=str(tmp_path / 'p'),
                progress=False, log=lambda m: None)
    assert not os.path.exists(str(tmp_path / 'p'))
    K.clear_session()
    tiny = tiny_models['bert']
    transformer = build_model('bert', tiny.config_path, None, ffn_prompt_size=4, prompt_size=2)
    model, _ = build_task_model(get_task('afqmc'), transformer)
    with pytest.raises(InputError, match=re.escape(
            'was tuned with methods = fl(ffn_prompt_size=8), ptv2(prompt_size=2), but this model '
            'has fl(ffn_prompt_size=4), ptv2(prompt_size=2)')):
        load_tuned_weights(model, summary['weights'], {'methods': method_set_from_sizes(4, 2)})
    with pytest.raises(InputError, match=re.escape(
            'was tuned with methods = fl(ffn_prompt_size=8), ptv2(prompt_size=2), but this model has '
            'ln(ln_embedding=False)')):
        load_tuned_weights(model, summary['weights'], {'methods': {'ln': {'ln_embedding': False}}})
    with pytest.raises(InputError, match='weight 0 has shape'):
        load_tuned_weights(model, summary['weights'], {})


def test_bert_base_tuned_weights_are_under_4_percent_of_all_weights(tmp_path):
    config_path = write_config(str(tmp_path / 'bert_config.json'), BERT_BASE_CONFIG)
    transformer = build_model('bert', config_path, None, ffn_prompt_size=160)
    model, _ = build_task_model(get_task('afqmc'), transformer)
    path = str(tmp_path / 'afqmc.weights')
    save_tuned_weights(model, path, {'task': 'afqmc'})
    all_weights_bytes = 4 * sum(K.count_params(w) for w in model.weights)  # float32, no overhead
    size = os.path.getsize(path)
    assert size < 0.04 * all_weights_bytes
    assert size >= 4 * (2960256 + 768 * 2 + 2)  # FL units and the classifier, float32


# -- seeds ------------------------------------------------------------------------------

def test_same_seed_gives_identical_runs(tiny_models, data, tmp_path):
    c3 = dict(task='c3', maxlen=128)  # c3's 512 costs time and seeds do not depend on it
    first = run(tiny_models['roformer'], data, tmp_path / 'a', **c3)
    second = run(tiny_models['roformer'], data, tmp_path / 'b', **c3)
    third = run(tiny_models['roformer'], data, tmp_path / 'c', seed=12, **c3)
    records = [epochs_of(os.path.join(str(tmp_path), d, 'records', 'c3.jsonl')) for d in 'abc']
    assert records[0] == records[1]
    assert [e['train_loss'] for e in records[0]] != [e['train_loss'] for e in records[2]]
    for a, b in zip(first['submissions'], second['submissions']):
        assert read_bytes(a) == read_bytes(b)
    assert read_manifest(first['weights'])['seed'] == 11 and third['seed'] == 12


# -- resume -------------------------------------------------------------------------------

def cli_run(args):
    return subprocess.Popen([sys.executable, '-m', 'fl_tuning', 'run'] + args, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def epochs_done(record_path):
    try:
        return len(epochs_of(record_path))
    except (IOError, OSError, ValueError):
        return 0


@pytest.mark.full
def test_killed_runs_resume_to_the_uninterrupted_result(tiny_models, tmp_path):
    data = write_clue_fixtures(str(tmp_path / 'data'), tasks=['afqmc'], counts=(300, 40, 10))
    args = ['--backbone', 'bert', '--task', 'afqmc', '--data-dir', data,
            '--model-dir', tiny_models['bert'].directory, '--epochs', '4', '--batch-size', '8',
            '--seed', '5', '--ffn-prompt-size', '8', '--prompt-size', '2', '--no-progress']
    whole = str(tmp_path / 'whole')  # uninterrupted, run in this process
    run(tiny_models['bert'], data, whole, task='afqmc', epochs=4, batch_size=8, seed=5)
    broken = str(tmp_path / 'broken')
    record = os.path.join(broken, 'records', 'afqmc.jsonl')
    # Kill during start-up (once the run has logged its first line), then as soon as
    # epoch 1 and epoch 2 are in the record (in the next epoch or its writes),
    # resuming each time. No fixed delays: each kill waits for what the run wrote.
    for after_epochs in (None, 1, 2):
        process = cli_run(args + ['--output-dir', broken, '--resume'])
        if after_epochs is None:
            assert process.stdout.readline().startswith(b'device:')
        while process.poll() is None and after_epochs is not None and epochs_done(record) < after_epochs:
            time.sleep(0.02)
        assert process.poll() is None, 'the run ended before it could be killed'
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert epochs_done(record) < 4
    finish = cli_run(args + ['--output-dir', broken, '--resume'])
    output = finish.communicate()[0].decode('utf-8')
    assert finish.returncode == 0, output
    assert 'resuming after epoch' in output
    assert epochs_of(record) == epochs_of(os.path.join(whole, 'records', 'afqmc.jsonl'))
    for name in ('results/afqmc_predict.json',):
        assert read_bytes(os.path.join(broken, name)) == read_bytes(os.path.join(whole, name))
    with h5py.File(os.path.join(broken, 'weights', 'afqmc.weights'), 'r') as a, \
            h5py.File(os.path.join(whole, 'weights', 'afqmc.weights'), 'r') as b:
        for layer in b['weights']:
            for i in b['weights'][layer]:
                np.testing.assert_array_equal(a['weights'][layer][i][()], b['weights'][layer][i][()])
    leftovers = [n for _, _, names in os.walk(broken) for n in names if n.endswith('.partial')]
    assert leftovers == [] and not os.path.exists(os.path.join(broken, 'state'))


def test_resume_refuses_other_settings_and_changes_nothing(tiny_models, data, one_epoch_of_afqmc, tmp_path):
    output_dir = str(tmp_path / 'run')
    shutil.copytree(os.path.dirname(os.path.dirname(one_epoch_of_afqmc['weights'])), output_dir)
    record = os.path.join(output_dir, 'records', 'afqmc.jsonl')
    written = read_bytes(record)
    with pytest.raises(InputError, match=r'other settings \(hyperparameters\)'):
        run(tiny_models['bert'], data, output_dir, task='afqmc', epochs=2, resume=True)
    assert read_bytes(record) == written


# -- atomic writes -------------------------------------------------------------------------

def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = str(tmp_path / 'out' / 'afqmc_predict.json')
    write_atomically(path, 'old\n')
    with pytest.raises(RuntimeError):
        with atomic_path(path) as temporary:
            with open(temporary, 'w') as f:
                f.write('half of the new')
            raise RuntimeError('killed')
    assert open(path).read() == 'old\n'
    assert os.listdir(str(tmp_path / 'out')) == ['afqmc_predict.json']


def test_leftovers_of_a_killed_write_are_removed(tmp_path):
    folder = tmp_path / 'results'
    folder.mkdir()
    (folder / '.afqmc_predict.json.x1y2.partial').write_text('half')
    (folder / 'afqmc_predict.json').write_text('whole')
    remove_partial_files(str(folder))
    assert os.listdir(str(folder)) == ['afqmc_predict.json']


# -- records and the summary table -------------------------------------------------------

def test_record_has_every_epoch_and_a_summary(tiny_models, data, tmp_path):
    summary = run(tiny_models['bert'], data, tmp_path, task='afqmc', epochs=3, learning_rate=1e-3)
    with open(os.path.join(str(tmp_path), 'records', 'afqmc.jsonl')) as f:
        lines = [json.loads(line) for line in f]
    header, epochs, final = lines[0]['run'], lines[1:-1], lines[-1]['summary']
    assert header['seed'] == 11 and header['hyperparameters']['learning_rate'] == 1e-3
    assert [e['epoch'] for e in epochs] == [1, 2, 3]
    for e in epochs:
        assert set(e) == {'epoch', 'train_loss', 'dev', 'improved', 'learning_rate', 'seconds',
                          'examples_per_second'}
        assert e['seconds'] > 0 and e['examples_per_second'] > 0
    # one batch of 8 examples per epoch, linear decay over 3 steps, post-increment read
    assert [round(e['learning_rate'] / 1e-3, 6) for e in epochs] == [round(1 - s / 3.0, 6) for s in (1, 2, 3)]
    assert final == json.loads(json.dumps(summary))


@pytest.mark.full
def test_summary_table_over_several_runs(tiny_models, data, tmp_path):
    runs = tmp_path / 'runs'
    run(tiny_models['bert'], data, runs / 'bert-fl-seed1', task='afqmc', epochs=1, seed=1, prompt_size=0)
    run(tiny_models['bert'], data, runs / 'bert-fl-few2', task='afqmc', epochs=1, seed=1, prompt_size=0, few_shot=2)
    run(tiny_models['nezha'], data, runs / 'nezha-both-seed2', task='c3', epochs=1, seed=2, maxlen=128)
    run(tiny_models['roformer'], data, runs / 'roformer-ptv2', task='cluener', epochs=1, seed=3,
        ffn_prompt_size=0)
    unfinished = runs / 'unfinished' / 'records' / 'afqmc.jsonl'
    unfinished.parent.mkdir(parents=True)
    with open(str(runs / 'bert-fl-seed1' / 'records' / 'afqmc.jsonl')) as f:
        unfinished.write_text(''.join(f.readlines()[:-1]))  # killed before its summary
    rows, text, csv_path, markdown_path = summarize(str(runs))
    assert [(r['task'], r['backbone'], r['method'], r['setting'], r['seed'], r['status']) for r in rows] == [
        ('afqmc', 'bert', 'fl', 'few2', 1, 'complete'),  # the same task, method and seed, told apart
        ('afqmc', 'bert', 'fl', 'full', 1, 'complete'),
        ('afqmc', 'bert', 'fl', 'full', 1, 'incomplete'),
        ('c3', 'nezha', 'fl+ptv2', 'full', 2, 'complete'),
        ('cluener', 'roformer', 'ptv2', 'full', 3, 'complete'),
    ]
    assert rows[1]['trainable_parameters'] == 2 * (32 * 8 + 8 + 8 * 32 + 32) + 32 * 2 + 2
    with open(csv_path) as f:
        csv_lines = f.read().splitlines()
    assert csv_lines[0].startswith('task,backbone,method,setting,ffn_prompt_size,prompt_size,seed,metric,best_dev')
    assert len(csv_lines) == 6
    with open(markdown_path) as f:
        assert len(f.read().splitlines()) == 7
    assert 'cluener  roformer  ptv2     full' in text


class Crash(Exception):
    """Stands for the process dying at a chosen point."""


def crash_on_call(module, name, number, monkeypatch, when=lambda *args: True):
    """Make ``module.name`` raise Crash on its ``number``-th matching call."""
    original = getattr(module, name)
    calls = []

    def wrapper(*args, **kwargs):
        if when(*args):
            calls.append(1)
            if len(calls) == number:
                raise Crash(name)
        return original(*args, **kwargs)
    monkeypatch.setattr(module, name, wrapper)


# c3's 512 costs time and resuming does not depend on it
CRASHING = dict(task='c3', epochs=3, learning_rate=1e-2, maxlen=128)


@pytest.fixture
def uncrashed(tiny_models, data, computed_once):
    """The run the crashed ones must resume to: its epochs and summary."""
    def compute(output_dir):
        summary = run(tiny_models['bert'], data, output_dir, **CRASHING)
        return epochs_of(os.path.join(output_dir, 'records', 'c3.jsonl')), summary
    return computed_once('uncrashed-c3', compute)


@pytest.mark.full
@pytest.mark.parametrize('point', ['evaluation', 'saving state', 'saving weights', 'writing submission'])
def test_crash_at_any_point_resumes_to_the_same_result(tiny_models, data, uncrashed, tmp_path, monkeypatch,
                                                        point):
    import fl_tuning.data_files
    from fl_tuning.prediction import PredictionBatches
    tiny = tiny_models['bert']
    whole_epochs, whole = uncrashed
    with monkeypatch.context() as patch:
        if point == 'evaluation':
            crash_on_call(PredictionBatches, 'results', 2, patch)  # epoch 2's dev evaluation
        else:
            suffix = {'saving state': '.state', 'saving weights': '.weights',
                      'writing submission': '_predict.json'}[point]
            number = 2 if suffix == '.state' else 1  # the epoch-2 state; the first best weights
            crash_on_call(fl_tuning.data_files.os, 'replace', number, patch,
                          when=lambda source, target: target.endswith(suffix))
        with pytest.raises(Crash):
            run(tiny, data, tmp_path / 'broken', **CRASHING)
    resumed = run(tiny, data, tmp_path / 'broken', resume=True, **CRASHING)
    assert epochs_of(os.path.join(str(tmp_path), 'broken', 'records', 'c3.jsonl')) == whole_epochs
    for a, b in zip(whole['submissions'], resumed['submissions']):
        assert read_bytes(a) == read_bytes(b)
    assert resumed['best_epoch'] == whole['best_epoch']
