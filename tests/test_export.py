"""Exporting tuned runs as plain backbones: the Google-format checkpoint rebuilds the
tuned model with plain bert4keras, the Hugging Face files give the same outputs in
PyTorch (tools/compare_transformers.py in .venv-modern), and what cannot be exported
is refused by name."""
import json
import shutil
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from bert4keras.backend import K
from bert4keras.models import build_transformer_model

from fl_tuning.errors import InputError
from fl_tuning.export import GOLDEN_SIZE, export, refuse_unfoldable
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.methods import REGISTRY, resolve_method_set
from fl_tuning.run import Run, RunConfig
from fl_tuning.testing.tiny import write_tiny_model

from conftest import ROOT, built_venv

# Full tier: the checks run in .venv-modern (built on first use) and export every backbone.
pytestmark = pytest.mark.full
# Every method the export folds, each on a task with another head, two per backbone:
# every backbone and every head is exported in two combinations.
RUNS = {
    'bert': [('fl', 'afqmc'), ('ln', 'cluener')],
    'nezha': [('finetune', 'c3'), ('fl,ln', 'cmrc2018')],
    'roformer': [('fl,ln', 'cmrc2018'), ('ln', 'cluener')],
}
EXACT = 1e-5


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')),
                               tasks=['afqmc', 'cluener', 'c3', 'cmrc2018'], counts=(6, 4, 3))


@pytest.fixture
def tuned_weights(tiny_models, data, computed_once):
    """tuned_weights(backbone, method, task): the weights file of a one-epoch run,
    trained once per session (the tests only read it). maxlen 128: cmrc2018's 512
    costs time and the export does not depend on it."""
    def tuned(backbone, method, task):
        sizes = {'ffn_prompt_size': 4} if 'fl' in method.split(',') else {}

        def compute(output_dir):
            config = RunConfig(backbone, task, data, tiny_models[backbone].directory, output_dir,
                               epochs=1, seed=3, maxlen=128, progress=False,
                               method_set=resolve_method_set(method, **sizes))
            return Run(config, log=lambda message: None).execute()['weights']
        return computed_once('export-%s-%s-%s' % (backbone, method, task), compute)
    return tuned


@pytest.fixture(scope='session')
def modern_python():
    return built_venv('.venv-modern', ['scripts/setup_modern.sh'], 'no Python >= 3.9 found')


@pytest.mark.parametrize('backbone', ['bert', 'nezha', 'roformer'])
def test_exports_rebuild_the_tuned_model_in_bert4keras_and_in_transformers(
        backbone, tiny_models, tuned_weights, data, tmp_path, modern_python):
    tiny = tiny_models[backbone]
    exports = []
    for method, task in RUNS[backbone]:
        exports.append(export(tuned_weights(backbone, method, task), tiny.directory,
                              str(tmp_path / method / 'export'), data_dir=data, log=lambda message: None))
        K.clear_session()
    for (method, task), export_dir in zip(RUNS[backbone], exports):
        golden = np.load(os.path.join(export_dir, 'golden.npz'))
        with open(os.path.join(export_dir, 'tf', 'bert_config.json')) as f:
            config = json.load(f)
        assert config['intermediate_size'] == tiny.config['intermediate_size'] + (4 if 'fl' in method else 0)
        plain = build_transformer_model(os.path.join(export_dir, 'tf', 'bert_config.json'),
                                        os.path.join(export_dir, 'tf', 'bert_model.ckpt'), model=backbone)
        last_layer = plain.predict([golden['token_ids'], golden['segment_ids']])
        real = golden['token_ids'] > 0
        assert np.abs(last_layer - golden['last_layer'])[real].max() <= EXACT, (method, task)
        K.clear_session()

    result = subprocess.run([modern_python, os.path.join(ROOT, 'tools', 'compare_transformers.py'), '--json',
                             '--tolerance', str(EXACT)] + exports, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    for (method, task), line in zip(RUNS[backbone], result.stdout.decode().splitlines()):
        compared = json.loads(line)
        assert compared['task'] == task and compared['passed'], compared
        assert compared['last_layer_max_abs_difference'] <= EXACT
        assert compared['head_max_abs_difference'] <= EXACT


def test_the_checker_fails_on_a_changed_weight(tiny_models, tuned_weights, data, tmp_path, modern_python):
    tiny = tiny_models['bert']
    export_dir = export(tuned_weights('bert', 'fl', 'afqmc'), tiny.directory, str(tmp_path / 'export'), data_dir=data, log=lambda m: None)
    from safetensors.numpy import load_file, save_file
    path = os.path.join(export_dir, 'hf', 'model.safetensors')
    tensors = load_file(path)
    tensors['encoder.layer.0.intermediate.dense.weight'][-1] += 0.5  # one added FL unit
    save_file(tensors, path, metadata={'format': 'pt'})
    result = subprocess.run([modern_python, os.path.join(ROOT, 'tools', 'compare_transformers.py'),
                             export_dir], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert result.returncode == 1 and b'FAILED' in result.stdout


@pytest.mark.parametrize('method', [name for name, m in REGISTRY.items() if not m.folds])
def test_methods_a_plain_backbone_cannot_hold_are_refused_by_name(method):
    with pytest.raises(InputError) as error:
        refuse_unfoldable(resolve_method_set(method))
    assert str(error.value).startswith('cannot export %s: ' % method)
    assert REGISTRY[method].why_not_foldable in str(error.value)


def test_export_is_refused_on_another_checkpoint_and_leaves_no_output(tiny_models, tuned_weights, data, tmp_path):
    tiny = tiny_models['bert']
    weights = tuned_weights('bert', 'ln', 'afqmc')
    other = str(tmp_path / 'other')
    write_tiny_model('bert', other, seed=1)
    with pytest.raises(InputError, match='checkpoint_fingerprint'):
        export(weights, other, str(tmp_path / 'export'), data_dir=data, log=lambda m: None)
    assert not os.path.exists(str(tmp_path / 'export'))
    assert not [n for n in os.listdir(str(tmp_path)) if n.endswith('.partial')]
    (tmp_path / 'busy').mkdir()
    (tmp_path / 'busy' / 'notes.txt').write_text('mine')
    with pytest.raises(InputError, match='holds no export'):
        export(weights, tiny.directory, str(tmp_path / 'busy'), data_dir=data, log=lambda m: None)
    assert (tmp_path / 'busy' / 'notes.txt').read_text() == 'mine'


def test_export_without_golden_inputs_uses_the_runs_dev_files_or_writes_the_rest(
        tiny_models, tuned_weights, data, tmp_path):
    tiny = tiny_models['bert']
    weights = tuned_weights('bert', 'ln', 'afqmc')
    messages = []
    export(weights, tiny.directory, str(tmp_path / 'recorded'), log=messages.append)
    dev = os.path.abspath(os.path.join(data, 'afqmc', 'dev.json'))
    with open(str(tmp_path / 'recorded' / 'export.json')) as f:
        assert json.load(f)['golden_source'] == dev
    with open(dev, encoding='utf-8') as f:
        dev_records = len(f.read().splitlines())
    assert np.load(str(tmp_path / 'recorded' / 'golden.npz'))['token_ids'].shape[0] == min(dev_records, GOLDEN_SIZE)
    # the run's dev files gone (here: recorded elsewhere): everything else is exported
    moved = str(tmp_path / 'moved.weights')
    shutil.copy(weights, moved)
    with h5py.File(moved, 'a') as f:
        manifest = json.loads(f.attrs['manifest'])
        manifest['dev_paths'] = [str(tmp_path / 'gone' / 'dev.json')]
        f.attrs['manifest'] = json.dumps(manifest, sort_keys=True)
    export(moved, tiny.directory, str(tmp_path / 'bare'), log=messages.append)
    assert not os.path.exists(str(tmp_path / 'bare' / 'golden.npz'))
    assert os.path.isfile(str(tmp_path / 'bare' / 'hf' / 'model.safetensors'))
    with open(str(tmp_path / 'bare' / 'export.json')) as f:
        record = json.load(f)
    assert record['golden_examples'] == 0 and record['golden_source'] is None
    assert messages[-1].endswith("no golden outputs (the run's dev files are not where it read them: add "
                                 'them with --data-dir DIR or --texts FILE)')


def test_export_command_takes_golden_inputs_from_a_test_format_file(tiny_models, tuned_weights, data, tmp_path):
    tiny = tiny_models['bert']
    weights = tuned_weights('bert', 'ln', 'afqmc')
    texts = os.path.join(data, 'afqmc', 'test.json')
    result = subprocess.run([sys.executable, '-m', 'fl_tuning', 'export', '--weights', weights,
                             '--model-dir', tiny.directory, '--texts', texts, '--golden-size', '2',
                             '--output-dir', str(tmp_path / 'export')], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr.decode()
    golden = np.load(str(tmp_path / 'export' / 'golden.npz'))
    assert golden['token_ids'].shape[0] == 2 and golden['head'].shape == (2, 2)
    assert np.allclose(golden['head'].sum(1), 1.0)  # the classifier's softmax
    with open(str(tmp_path / 'export' / 'export.json')) as f:
        record = json.load(f)
    assert record['golden_source'] == os.path.abspath(texts) and record['method'] == 'ln(ln_embedding=False)'
    with open(str(tmp_path / 'export' / 'hf' / 'config.json')) as f:
        assert json.load(f)['architectures'] == ['BertModel']
