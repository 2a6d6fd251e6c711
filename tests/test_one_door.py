"""One door per framework (fl_tuning.framework): every command runs on PyTorch in
.venv-modern, which has no TensorFlow; a run exported through either framework gives the
same files; the NumPy checkpoint writer's files are what TensorFlow's own reader loads."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from bert4keras.models import build_transformer_model

from conftest import ROOT
from fl_tuning.checkpoint_layout import google_variables
from fl_tuning.export import export
from fl_tuning.keras.checkpoints import checkpoint_pairs
from fl_tuning.keras.models import BACKBONE_CLASSES
from fl_tuning.methods import resolve_method_set
from fl_tuning.run import Run, RunConfig
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.testing.tiny import write_config
from fl_tuning.tf_checkpoint import CheckpointReader, write_checkpoint
from test_torch import run_cli

DEMO_DATA = os.path.join(ROOT, 'fl_tuning', 'demo_data')
EXACT = 1e-5


def test_tensorflow_reads_the_numpy_checkpoint_writer_s_files(tmp_path):
    rng = np.random.RandomState(0)
    variables = {'bert/embeddings/word_embeddings': rng.randn(7, 3).astype('float32'),
                 'bert/encoder/layer_0/output/dense/bias': rng.randn(3).astype('float32'),
                 'global_step': np.int64(12), 'scalar': np.float32(0.5), 'counts': np.arange(5, dtype='int32'),
                 'half': rng.randn(2, 2).astype('float16'), u'名字/kernel': rng.randn(2).astype('float64')}
    variables.update(('bert/encoder/layer_%d/attention/self/query/kernel' % i, rng.randn(3, 3).astype('float32'))
                     for i in range(30))  # more entries than one restart interval of TensorFlow's own writer
    prefix = str(tmp_path / 'model.ckpt')
    write_checkpoint(prefix, variables)
    reader = tf.train.load_checkpoint(prefix)
    assert sorted(reader.get_variable_to_shape_map()) == sorted(variables)
    for name, value in variables.items():
        read = reader.get_tensor(name)
        assert read.dtype == np.asarray(value).dtype and np.array_equal(read, value), name
    assert tf.train.latest_checkpoint(str(tmp_path)) == prefix  # the folder's checkpoint file names it
    ours = CheckpointReader(prefix)
    assert all(np.array_equal(ours.read(name), value) for name, value in variables.items())


@pytest.mark.parametrize('backbone, overrides', [('bert', {}), ('nezha', {}), ('roformer', {}),
                                                 ('roformer', {'embedding_size': 16})])
def test_google_variables_are_what_bert4keras_loads(backbone, overrides, tmp_path):
    """The tiny checkpoints are written from this list: it must hold every variable a
    bert4keras model of the config loads, with its shape, and nothing else."""
    config = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2,
                  vocab_size=50, hidden_act='gelu', max_position_embeddings=64, **overrides)
    path = write_config(str(tmp_path / 'config.json'), config)
    with tf.Graph().as_default():
        transformer = build_transformer_model(path, model=BACKBONE_CLASSES[backbone], application='unilm',
                                              return_keras_model=False)
        loaded = dict((name, tuple(int(d) for d in weight.shape))
                      for _, weight, name in checkpoint_pairs(transformer, transformer.variable_mapping()))
    assert dict(google_variables(backbone, config)) == loaded


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc', 'cluener', 'cmrc2018'],
                               counts=(6, 4, 3))


def arrays_differ(first, second):
    assert sorted(first) == sorted(second)
    return max(float(np.abs(np.asarray(first[k], 'float64') - np.asarray(second[k], 'float64')).max())
               for k in first)


def exported(folder):
    from safetensors.numpy import load_file
    reader = CheckpointReader(os.path.join(folder, 'tf', 'bert_model.ckpt'))
    files = dict((name, json.load(open(os.path.join(folder, name), encoding='utf-8')))
                 for name in ('head.json', 'tf/bert_config.json', 'hf/config.json'))
    return {'tf': dict((name, reader.read(name)) for name in reader.shapes()),
            'hf': load_file(os.path.join(folder, 'hf', 'model.safetensors')),
            'head': load_file(os.path.join(folder, 'head.safetensors')),
            'golden': dict(np.load(os.path.join(folder, 'golden.npz'))), 'json': files}


@pytest.mark.full
@pytest.mark.parametrize('backbone, method, task', [('bert', 'fl', 'afqmc'), ('nezha', 'fl,ln', 'cmrc2018'),
                                                    ('roformer', 'fl', 'cluener')])
def test_a_run_exported_on_pytorch_equals_its_export_on_keras(backbone, method, task, tiny_models, data,
                                                              modern_python, tmp_path):
    sizes = {'ffn_prompt_size': 4} if 'fl' in method else {}
    config = RunConfig(backbone, task, data, tiny_models[backbone].directory, str(tmp_path / 'run'), epochs=1,
                       seed=3, maxlen=64, progress=False, method_set=resolve_method_set(method, **sizes))
    weights = Run(config, log=lambda line: None).execute()['weights']
    export(weights, tiny_models[backbone].directory, str(tmp_path / 'keras'), data_dir=data, log=lambda line: None)
    code, log = run_cli([modern_python, '-m', 'fl_tuning', 'export', '--framework', 'torch', '--weights', weights,
                         '--model-dir', tiny_models[backbone].directory, '--data-dir', data,
                         '--output-dir', str(tmp_path / 'torch')])
    assert code == 0, log
    keras, torch = exported(str(tmp_path / 'keras')), exported(str(tmp_path / 'torch'))
    assert keras['json'] == torch['json']
    for part in ('tf', 'hf', 'head', 'golden'):
        assert arrays_differ(keras[part], torch[part]) <= EXACT, part
    record = json.load(open(str(tmp_path / 'torch' / 'export.json')))
    assert record['framework'] == 'torch' and record['intermediate_size'] == keras['json']['tf/bert_config.json'][
        'intermediate_size']


@pytest.mark.full
def test_every_command_runs_on_pytorch_without_tensorflow(modern_python, tmp_path):
    assert run_cli([modern_python, '-c', 'import tensorflow'])[0] != 0
    out = str(tmp_path / 'demo')
    commands = [
        ['demo', '--output-dir', out, '--no-progress'],
        ['params', '--config', os.path.join(out, 'tiny_bert', 'bert_config.json'), '--method', 'fl,ln', '--json'],
        ['predict', '--weights', os.path.join(out, 'weights', 'tnews.weights'), '--model-dir',
         os.path.join(out, 'tiny_bert'), '--data-dir', DEMO_DATA, '--output-dir', str(tmp_path / 'predict'),
         '--no-progress'],
        ['export', '--weights', os.path.join(out, 'weights', 'tnews.weights'), '--model-dir',
         os.path.join(out, 'tiny_bert'), '--output-dir', str(tmp_path / 'export')],
        ['run', '--backbone', 'bert', '--task', 'tnews', '--method', 'apt', '--prompt-size', '4', '--epochs', '1',
         '--data-dir', DEMO_DATA, '--model-dir', os.path.join(out, 'tiny_bert'), '--output-dir',
         str(tmp_path / 'apt'), '--no-progress'],
        ['gates', str(tmp_path / 'apt' / 'weights' / 'tnews.weights'), '--data-dir', DEMO_DATA, '--json',
         '--no-progress'],
        ['summarize', out],
        ['report', out, '--output-dir', str(tmp_path / 'report')],
    ]
    logs = {}
    for command in commands:
        code, logs[command[0]] = run_cli([modern_python, '-m', 'fl_tuning'] + command)
        assert code == 0, (command, logs[command[0]])
    header = [json.loads(line) for line in open(os.path.join(out, 'records', 'tnews.jsonl'))][0]['run']
    assert header['framework'] == 'torch'
    assert sorted(os.listdir(str(tmp_path / 'predict' / 'results'))) == sorted(os.listdir(os.path.join(out, 'results')))
    params = json.loads(logs['params'].splitlines()[-1])
    assert params['trainable'] == sum(params['methods'].values()) > 0
    assert json.load(open(str(tmp_path / 'export' / 'export.json')))['framework'] == 'torch'
    gates = json.loads(logs['gates'][logs['gates'].index('['):])
    assert [row['layer'] for row in gates] == [0, 1] and all(0 < row['mean_gate'] < 1 for row in gates)


@pytest.mark.full
def test_a_framework_that_is_not_installed_is_one_line_and_exit_2(modern_python, tiny_models):
    code, log = run_cli([modern_python, '-m', 'fl_tuning', 'params', '--framework', 'keras',
                         '--config', tiny_models['bert'].config_path])
    assert code == 2 and log.strip().count('\n') == 0, log
    assert 'needs tensorflow' in log and 'bash scripts/setup.sh' in log
