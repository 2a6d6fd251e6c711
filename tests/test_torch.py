"""The PyTorch side against the faithful port: the same run (same seed, dropout off)
on each framework gives the same loss at every step, the same dev metrics every
epoch, the same submissions and the same parameter counts; bad input gets the same
one-line error. Each run is the command line in its own venv (the PyTorch side in
.venv-modern, which has no TensorFlow)."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT
from fl_tuning.summary import collect
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.tf_checkpoint import CheckpointReader
from fl_tuning.keras.compat import tf1

STEP_LOSS_TOLERANCE = 1e-5

# (method flags, backbone, task): every method on BERT with the afqmc head; fl on the
# other backbones and each head kind (c3, chid and cmrc2018 accumulate gradients);
# the prefix rules of NEZHA and RoFormer; prompt vectors at NEZHA's relative positions.
RUNS = [
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'bert', 'afqmc'),
    (['--method', 'ptv2', '--prompt-size', '4'], 'bert', 'afqmc'),
    (['--method', 'prompt', '--prompt-size', '4'], 'bert', 'afqmc'),
    (['--method', 'ln', '--ln-embedding'], 'bert', 'afqmc'),
    (['--method', 'pasta'], 'bert', 'afqmc'),
    (['--method', 'apt', '--prompt-size', '4'], 'bert', 'afqmc'),
    (['--method', 'finetune'], 'bert', 'afqmc'),
    (['--method', 'fl,ptv2', '--ffn-prompt-size', '8', '--prompt-size', '4'], 'bert', 'afqmc'),
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'nezha', 'afqmc'),
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'roformer', 'afqmc'),
    (['--method', 'ptv2', '--prompt-size', '3'], 'nezha', 'afqmc'),
    (['--method', 'ptv2', '--prompt-size', '3'], 'roformer', 'afqmc'),
    (['--method', 'prompt', '--prompt-size', '3'], 'nezha', 'afqmc'),
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'bert', 'tnews'),
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'bert', 'c3'),
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'bert', 'chid'),
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'bert', 'cmrc2018'),
    (['--method', 'fl', '--ffn-prompt-size', '8'], 'bert', 'cluener'),
]
QUICK = {0}  # the quick tier keeps FL-tuning on BERT
# Runs whose tuned-weights files are also loaded by the other framework to predict.
CROSS = {0, 2, 3, 4, 5, 6, 7, 14, 16, 17}


def run_id(run):
    flags, backbone, task = run
    return '%s-%s-%s' % (flags[1], backbone, task)


@pytest.fixture(scope='session')
def clue_data(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('clue'))
    write_clue_fixtures(folder, counts=(40, 16, 8))
    return folder


def command_line(python, framework, run, model_dir, data_dir, output_dir, extra=()):
    flags, backbone, task = run
    return [python, '-m', 'fl_tuning', 'run', '--backbone', backbone, '--task', task,
            '--data-dir', data_dir, '--model-dir', model_dir, '--output-dir', output_dir,
            '--framework', framework, '--epochs', '2', '--batch-size', '4', '--seed', '3',
            '--no-dropout', '--step-losses', '--no-progress'] + flags + list(extra)


def run_cli(arguments):
    result = subprocess.run(arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    return result.returncode, result.stdout.decode()


def record(output_dir, task):
    with open(os.path.join(output_dir, 'records', '%s.jsonl' % task)) as f:
        lines = [json.loads(line) for line in f]
    return lines[0]['run'], [line for line in lines if 'losses' in line], lines[-1].get('summary')


def read_submissions(output_dir):
    folder = os.path.join(output_dir, 'results')
    return dict((name, open(os.path.join(folder, name), encoding='utf-8').read()) for name in os.listdir(folder))


@pytest.mark.parametrize('index', [pytest.param(i, marks=() if i in QUICK else pytest.mark.full, id=run_id(run))
                                   for i, run in enumerate(RUNS)])
def test_both_frameworks_train_the_same_run_step_by_step(index, modern_python, tiny_models, clue_data, tmp_path):
    run = RUNS[index]
    model_dir, task = tiny_models[run[1]].directory, run[2]
    outputs = {}
    for framework, python in (('keras', sys.executable), ('torch', modern_python)):
        outputs[framework] = str(tmp_path / framework)
        code, log = run_cli(command_line(python, framework, run, model_dir, clue_data, outputs[framework]))
        assert code == 0, log
    (keras_header, keras_epochs, keras_summary), (torch_header, torch_epochs, torch_summary) = (
        record(outputs[f], task) for f in ('keras', 'torch'))
    assert (keras_header['framework'], torch_header['framework']) == ('keras', 'torch')
    assert torch_header['stack'].startswith('torch ') and torch_header['precision'] == 'fp32'
    assert len(keras_epochs) == len(torch_epochs) == 2
    for keras_epoch, torch_epoch in zip(keras_epochs, torch_epochs):
        assert len(keras_epoch['losses']) == len(torch_epoch['losses']) > 0
        difference = np.max(np.abs(np.subtract(keras_epoch['losses'], torch_epoch['losses'])))
        assert difference <= STEP_LOSS_TOLERANCE, (keras_epoch['losses'], torch_epoch['losses'])
        assert keras_epoch['dev'].keys() == torch_epoch['dev'].keys()
        for name, value in keras_epoch['dev'].items():
            assert torch_epoch['dev'][name] == pytest.approx(value, abs=1e-6), name
        assert torch_epoch['learning_rate'] == pytest.approx(keras_epoch['learning_rate'], rel=1e-6)
    for key in ('trainable', 'head', 'total', 'by_method', 'expected_trainable'):
        assert torch_summary['parameters'][key] == keras_summary['parameters'][key], key
    assert read_submissions(outputs['torch']) == read_submissions(outputs['keras'])
    if index == 0:  # tables and reports put both frameworks' runs side by side
        assert sorted(row['method'] for row in collect(str(tmp_path))) == ['fl', 'fl (torch)']
    if index in CROSS:
        for framework, python, other in (('torch', modern_python, 'keras'), ('keras', sys.executable, 'torch')):
            predicted = str(tmp_path / ('%s-from-%s' % (framework, other)))
            code, log = run_cli([python, '-m', 'fl_tuning', 'predict', '--framework', framework, '--weights',
                                 os.path.join(outputs[other], 'weights', '%s.weights' % task), '--model-dir',
                                 model_dir, '--data-dir', clue_data, '--output-dir', predicted, '--no-progress'])
            assert code == 0, log
            assert read_submissions(predicted) == read_submissions(outputs[other]), (framework, other)


@pytest.mark.full
@pytest.mark.parametrize('backbone', ['bert', 'nezha', 'roformer'])
def test_the_peft_route_merges_into_what_export_writes(backbone, modern_python, tiny_models, clue_data, tmp_path):
    """FL-tuning trained on each side (same seed, dropout off); the PyTorch side's units
    through get_peft_model + merge_and_unload equal the faithful port's export."""
    run = (['--method', 'fl', '--ffn-prompt-size', '8'], backbone, 'afqmc')
    model_dir = tiny_models[backbone].directory
    for framework, python in (('keras', sys.executable), ('torch', modern_python)):
        code, log = run_cli(command_line(python, framework, run, model_dir, clue_data, str(tmp_path / framework)))
        assert code == 0, log
    export_dir = str(tmp_path / 'export')
    code, log = run_cli([sys.executable, '-m', 'fl_tuning', 'export', '--weights',
                         str(tmp_path / 'keras' / 'weights' / 'afqmc.weights'), '--model-dir', model_dir,
                         '--data-dir', clue_data, '--output-dir', export_dir])
    assert code == 0, log
    code, log = run_cli([modern_python, os.path.join(ROOT, 'tools', 'check_peft_merge.py'), export_dir,
                         str(tmp_path / 'torch' / 'weights' / 'afqmc.weights'), model_dir])
    assert code == 0, log
    result = json.loads([line for line in log.splitlines() if line.startswith('{')][-1])
    assert result['intermediate_size'] == tiny_models[backbone].config['intermediate_size'] + 8
    assert max(result['weights_vs_export'], result['last_layer_vs_export'], result['last_layer_vs_keras']) <= 1e-5


@pytest.mark.parametrize('backbone', ['bert', 'nezha', 'roformer'])
def test_checkpoints_read_with_numpy_equal_tensorflow_s_reader(backbone, tiny_models):
    prefix = tiny_models[backbone].checkpoint_path
    ours, theirs = CheckpointReader(prefix), tf1.train.load_checkpoint(prefix)
    assert ours.shapes() == theirs.get_variable_to_shape_map()
    for name in ours.shapes():
        assert np.array_equal(ours.read(name), theirs.get_tensor(name)), name


def test_a_truncated_checkpoint_data_file_is_named(tiny_models, tmp_path):
    prefix = str(tmp_path / 'bert_model.ckpt')
    source = tiny_models['bert'].checkpoint_path
    for suffix in ('.index', '.data-00000-of-00001'):
        with open(source + suffix, 'rb') as f:
            data = f.read()
        with open(prefix + suffix, 'wb') as f:
            f.write(data if suffix == '.index' else data[:len(data) // 2])
    reader = CheckpointReader(prefix)
    with pytest.raises(Exception) as raised:
        for name in sorted(reader.shapes()):
            reader.read(name)
    assert 'checkpoint data %s.data-00000-of-00001 is truncated: variable' % prefix in str(raised.value)


@pytest.mark.full
def test_bad_input_gets_the_same_one_line_error_on_both_frameworks(modern_python, tiny_models, clue_data, tmp_path):
    run = RUNS[0]
    errors = {}
    for framework, python in (('keras', sys.executable), ('torch', modern_python)):
        for case, model_dir in (('no model dir', str(tmp_path / 'missing')),
                                ('no data', tiny_models['bert'].directory)):
            data_dir = clue_data if case == 'no model dir' else str(tmp_path / 'no-data')
            code, log = run_cli(command_line(python, framework, run, model_dir, data_dir,
                                             str(tmp_path / framework / case)))
            errors[framework, case] = (code, [line for line in log.splitlines() if line.startswith('error:')])
    for case in ('no model dir', 'no data'):
        code, lines = errors['torch', case]
        assert code != 0 and len(lines) == 1, errors
        assert errors['keras', case] == (code, lines)


@pytest.mark.full
def test_task_scripts_and_sweeps_run_on_the_framework_their_venv_has(modern_python, tiny_models, clue_data, tmp_path):
    """In .venv-modern (no TensorFlow) the per-task scripts and sweeps train on PyTorch."""
    model_dir = tiny_models['nezha'].directory
    code, log = run_cli([modern_python, os.path.join(ROOT, 'fl_tuning_nezha', 'afqmc.py'), '--data-dir', clue_data,
                         '--model-dir', model_dir, '--output-dir', str(tmp_path / 'script'), '--epochs', '1',
                         '--batch-size', '8', '--ffn-prompt-size', '4', '--no-progress'])
    assert code == 0, log
    assert log.splitlines()[0].startswith('device: CPU (torch ')
    header = record(str(tmp_path / 'script'), 'afqmc')[0]
    assert (header['framework'], header['backbone'], header['precision']) == ('torch', 'nezha', 'fp32')
    code, log = run_cli([modern_python, '-m', 'fl_tuning', 'sweep', '--backbone', 'bert=%s' % tiny_models['bert'].directory,
                         '--tasks', 'afqmc', '--methods', 'fl,ln', '--seeds', '1', '--data-dir', clue_data,
                         '--output-dir', str(tmp_path / 'sweep'), '--run-args', '--epochs 1 --batch-size 8'])
    assert code == 0, log
    rows = collect(str(tmp_path / 'sweep'))
    assert sorted(row['method'] for row in rows) == ['fl (torch)', 'ln (torch)']
    assert all(row['status'] == 'complete' for row in rows)


SAVE_AS_HUGGING_FACE = '''
import shutil, sys
from fl_tuning.model_files import ModelFiles, read_config
from fl_tuning.tf_checkpoint import CheckpointReader
from fl_tuning.torch.backbones import hf_config, hf_model, load_google_checkpoint
backbone, source, target = sys.argv[1:]
files = ModelFiles(source, None, backbone, print)
config = read_config(files.config)
model = hf_model(backbone, hf_config(backbone, config, config['vocab_size']))
load_google_checkpoint(model, backbone, CheckpointReader(files.checkpoint))
model.save_pretrained(target)
shutil.copy(files.vocab, target)
'''


@pytest.mark.full
@pytest.mark.parametrize('backbone', ['bert', 'roformer'])
def test_a_hugging_face_folder_trains_as_its_google_format_original(backbone, modern_python, tiny_models, clue_data,
                                                                    tmp_path):
    hf_dir = str(tmp_path / 'hf')
    code, log = run_cli([modern_python, '-c', SAVE_AS_HUGGING_FACE, backbone, tiny_models[backbone].directory, hf_dir])
    assert code == 0, log
    run = (['--method', 'fl', '--ffn-prompt-size', '8'], backbone, 'afqmc')
    losses = []
    for name, model_dir in (('google', tiny_models[backbone].directory), ('hf', hf_dir)):
        code, log = run_cli(command_line(modern_python, 'torch', run, model_dir, clue_data, str(tmp_path / name)))
        assert code == 0, log
        losses.append([x for epoch in record(str(tmp_path / name), 'afqmc')[1] for x in epoch['losses']])
    assert losses[0] == losses[1]
    os.remove(os.path.join(hf_dir, 'vocab.txt'))
    code, log = run_cli(command_line(modern_python, 'torch', run, hf_dir, clue_data, str(tmp_path / 'broken')))
    assert code == 2 and 'error: vocabulary not found: %s' % os.path.join(hf_dir, 'vocab.txt') in log, log


BF16_LOSS_TOLERANCE = 5e-3


@pytest.mark.full
def test_bf16_autocast_trains_close_to_fp32_and_says_so(modern_python, tiny_models, clue_data, tmp_path):
    run = (['--method', 'fl', '--ffn-prompt-size', '8'], 'bert', 'afqmc')
    losses = {}
    for precision in ('fp32', 'bf16'):
        output_dir = str(tmp_path / precision)
        code, log = run_cli(command_line(modern_python, 'torch', run, tiny_models['bert'].directory, clue_data,
                                         output_dir, extra=['--precision', precision]))
        assert code == 0, log
        header, epochs, _ = record(output_dir, 'afqmc')
        assert header['precision'] == precision
        losses[precision] = [x for epoch in epochs for x in epoch['losses']]
    difference = np.max(np.abs(np.subtract(losses['fp32'], losses['bf16'])))
    assert 0 < difference <= BF16_LOSS_TOLERANCE
    code, log = run_cli(command_line(sys.executable, 'keras', run, tiny_models['bert'].directory, clue_data,
                                     str(tmp_path / 'keras'), extra=['--precision', 'bf16']))
    assert code == 2 and 'error: --precision bf16 is for --framework torch' in log, log


def epochs_without_timing(output_dir, task):
    timing = ('seconds', 'examples_per_second')
    return [dict((k, v) for k, v in epoch.items() if k not in timing) for epoch in record(output_dir, task)[1]]


@pytest.mark.full
def test_a_killed_pytorch_run_resumes_to_the_uninterrupted_result(modern_python, tiny_models, tmp_path):
    """With dropout on: the masks are a function of (seed, step), the optimizer's state
    is in the state file, so a run killed after epochs 1 and 2 ends as an uninterrupted one."""
    data = write_clue_fixtures(str(tmp_path / 'data'), tasks=['afqmc'], counts=(200, 40, 10))
    arguments = [modern_python, '-m', 'fl_tuning', 'run', '--framework', 'torch', '--backbone', 'bert',
                 '--task', 'afqmc', '--data-dir', data, '--model-dir', tiny_models['bert'].directory,
                 '--epochs', '4', '--batch-size', '8', '--seed', '5', '--method', 'fl,ptv2', '--ffn-prompt-size', '8',
                 '--prompt-size', '2', '--step-losses', '--no-progress', '--resume']
    whole, broken = str(tmp_path / 'whole'), str(tmp_path / 'broken')
    code, log = run_cli(arguments + ['--output-dir', whole])
    assert code == 0, log
    record_path = os.path.join(broken, 'records', 'afqmc.jsonl')
    for after_epochs in (1, 2):
        process = subprocess.Popen(arguments + ['--output-dir', broken], cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=ROOT))
        while process.poll() is None and (not os.path.isfile(record_path)
                                          or len(epochs_without_timing(broken, 'afqmc')) < after_epochs):
            time.sleep(0.02)
        assert process.poll() is None, 'the run ended before it could be killed'
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert len(epochs_without_timing(broken, 'afqmc')) < 4
    code, log = run_cli(arguments + ['--output-dir', broken])
    assert code == 0 and 'resuming after epoch' in log, log
    assert epochs_without_timing(broken, 'afqmc') == epochs_without_timing(whole, 'afqmc')
    assert read_submissions(broken) == read_submissions(whole)
    assert not os.path.exists(os.path.join(broken, 'state'))
