"""One run over several processes: ``torchrun --nproc_per_node 2 -m fl_tuning run
--framework torch`` (gloo on this machine's CPUs) against the same run in one process.
Each process takes its half of every batch, the per-step losses and dev metrics equal the
one-process run's, the submissions are the same files, only rank 0 writes, and a killed
run resumes to the uninterrupted result. The Keras side refuses to be spread."""
import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import ROOT
from fl_tuning.cli import main
from fl_tuning.errors import InputError
from fl_tuning.keras.compat import TF2
from fl_tuning.processes import Processes, run_processes
from fl_tuning.run import Run, RunConfig
from fl_tuning.sweep import Grid, slurm_script
from fl_tuning.testing.fixtures import write_clue_fixtures

STEP_LOSS_TOLERANCE = 1e-5
# The launches run in .venv-modern whatever the tests' stack: once, in the TensorFlow 1.15 tier.
ONCE = pytest.mark.skipif(TF2, reason='independent of the TensorFlow stack: run in the TensorFlow 1.15 tier')
BATCH_SIZE = 4


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    # 13 training examples: batches of 4, 4, 4 and 1, whose single example one process lacks.
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc', 'c3', 'cmrc2018'],
                               counts=(13, 6, 5))


def test_shares_are_contiguous_whole_examples_differing_by_one_at_most():
    assert [Processes(rank, 2, rank).rows(13) for rank in (0, 1)] == [(0, 6), (6, 13)]
    assert [Processes(rank, 2, rank).rows(1) for rank in (0, 1)] == [(0, 0), (0, 1)]
    assert [Processes(rank, 3, rank).rows(20, unit=4) for rank in (0, 1, 2)] == [(0, 4), (4, 12), (12, 20)]
    assert run_processes({}) == Processes(0, 1, 0)
    assert run_processes({'RANK': '1', 'WORLD_SIZE': '2', 'LOCAL_RANK': '1'}) == Processes(1, 2, 1)
    with pytest.raises(InputError, match=r'RANK=2, WORLD_SIZE=2 in the environment'):
        run_processes({'RANK': '2', 'WORLD_SIZE': '2'})


def test_the_keras_side_refuses_to_be_spread(monkeypatch, tmp_path):
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('RANK', '0')
    config = RunConfig('bert', 'afqmc', str(tmp_path), str(tmp_path), str(tmp_path), framework='keras')
    with pytest.raises(InputError, match=r'WORLD_SIZE=2: the keras side runs on one device .* --framework torch'):
        Run(config)


def test_a_slurm_task_with_several_gpus_runs_torchrun(tiny_models, data, tmp_path):
    def runs(*run_args):
        return Grid({'bert': tiny_models['bert'].directory}, ['afqmc'], ['fl'], [1], data_dir=data,
                    output_dir=str(tmp_path / 'runs'), run_args=run_args).runs()
    script = slurm_script(runs('--framework', 'torch'), str(tmp_path / 'grid.sbatch'), gpus_per_run=2)
    assert '-m torch.distributed.run --standalone --nproc_per_node 2 -m fl_tuning run' in open(script).read()
    with pytest.raises(InputError, match=r'--slurm-gpus 2: .* torchrun on the PyTorch side only'):
        slurm_script(runs('--framework', 'keras'), str(tmp_path / 'keras.sbatch'), gpus_per_run=2)
    assert 'torch.distributed' not in open(slurm_script(runs('--framework=torch'), str(tmp_path / 'one.sbatch'),
                                                        gpus_per_run=1)).read()


def run_arguments(tiny, data, task, output, *flags):
    return ['run', '--framework', 'torch', '--backbone', 'bert', '--task', task, '--data-dir', data,
            '--model-dir', tiny.directory, '--output-dir', output, '--epochs', '2',
            '--batch-size', str(BATCH_SIZE), '--seed', '3', '--step-losses', '--no-progress',
            '--method', 'fl', '--ffn-prompt-size', '8'] + list(flags)


def launch(python, processes, arguments, **options):
    """The command line in one process, or under torchrun in ``processes``."""
    torchrun = [python, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(processes)]
    command = (torchrun if processes > 1 else [python]) + arguments
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'), **options)


def finished(process):
    output = process.communicate()[0].decode()
    assert process.returncode == 0, output
    return output


def record(output, task):
    with open(os.path.join(output, 'records', '%s.jsonl' % task)) as f:
        lines = [json.loads(line) for line in f]
    return lines[0]['run'], [line for line in lines if 'epoch' in line], lines[-1].get('summary')


def folder_files(folder):
    return dict((os.path.relpath(os.path.join(here, name), folder), open(os.path.join(here, name), 'rb').read())
                for here, _, names in os.walk(folder) for name in names)


@pytest.mark.full
@ONCE
def test_each_process_trains_and_predicts_its_half_of_every_batch(modern_python, tiny_models, data, tmp_path):
    passes = {}
    for processes in (1, 2):
        folder = tmp_path / str(processes)
        folder.mkdir()
        finished(launch(modern_python, processes, ['tests/torchrun_probe.py', str(folder)] + run_arguments(
            tiny_models['bert'], data, 'afqmc', str(folder / 'run'))))
        passes[processes] = [json.load(open(str(folder / ('rows-%d.json' % rank)))) for rank in range(processes)]
    one, (first, second) = passes[1][0], passes[2]
    train = [rows for kind, rows in one if kind == 'train']
    assert train == [4, 4, 4, 1] * 2
    # the last batch's one example: the second process's; the first has no forward pass
    assert [rows for kind, rows in first if kind == 'train'] == [2, 2, 2] * 2
    assert [rows for kind, rows in second if kind == 'train'] == [2, 2, 2, 1] * 2
    predicted = [rows for kind, rows in one if kind == 'predict']
    assert [rows for kind, rows in first if kind == 'predict'] == [n // 2 for n in predicted]
    assert [rows for kind, rows in second if kind == 'predict'] == [n - n // 2 for n in predicted]


@pytest.mark.full
@ONCE
@pytest.mark.parametrize('task, flags', [('afqmc', ()), ('c3', ('--no-dropout',)), ('cmrc2018', ('--no-dropout',))])
def test_two_processes_train_the_one_process_run_step_by_step(task, flags, modern_python, tiny_models, data,
                                                              tmp_path):
    """With dropout off, and on (on a CPU the processes take their rows of the one-process masks)."""
    outputs, logs = {}, {}
    for processes in (1, 2):
        outputs[processes] = str(tmp_path / str(processes))
        logs[processes] = finished(launch(modern_python, processes, ['-m', 'fl_tuning'] + run_arguments(
            tiny_models['bert'], data, task, outputs[processes], *flags)))
    (header, epochs, summary), (header_2, epochs_2, summary_2) = record(outputs[1], task), record(outputs[2], task)
    assert (header['world_size'], header_2['world_size']) == (1, 2)
    assert logs[2].splitlines()[0].endswith('; 2 processes (torchrun)') and logs[2].count('best dev ') == 1
    for epoch, epoch_2 in zip(epochs, epochs_2):
        assert len(epoch['losses']) == len(epoch_2['losses']) > 0
        assert np.max(np.abs(np.subtract(epoch['losses'], epoch_2['losses']))) <= STEP_LOSS_TOLERANCE
        assert epoch_2['dev'] == pytest.approx(epoch['dev'], abs=1e-6)
    assert summary_2['best_epoch'] == summary['best_epoch']
    files, files_2 = folder_files(outputs[1]), folder_files(outputs[2])
    assert sorted(files) == sorted(files_2)
    results = [name for name in files if name.startswith('results' + os.sep)]
    assert results and all(files[name] == files_2[name] for name in results)


@pytest.mark.full
@ONCE
def test_a_killed_two_process_run_resumes_to_the_uninterrupted_result(modern_python, tiny_models, data, tmp_path):
    epochs = ['--epochs', '12']
    uninterrupted, resumed = str(tmp_path / 'uninterrupted'), str(tmp_path / 'resumed')
    finished(launch(modern_python, 1, ['-m', 'fl_tuning'] + run_arguments(
        tiny_models['bert'], data, 'afqmc', uninterrupted, *epochs)))
    arguments = ['-m', 'fl_tuning'] + run_arguments(tiny_models['bert'], data, 'afqmc', resumed, '--resume', *epochs)
    process = launch(modern_python, 2, arguments)
    records, deadline = os.path.join(resumed, 'records', 'afqmc.jsonl'), time.time() + 300
    while time.time() < deadline and not (os.path.exists(records) and len(record(resumed, 'afqmc')[1]) >= 3):
        time.sleep(0.05)
    # both processes and torchrun at once, as on a lost node (torchrun's workers have sessions of their own)
    workers = subprocess.check_output(['pgrep', '-P', str(process.pid)]).split()
    for pid in [int(worker) for worker in workers] + [process.pid]:
        os.kill(pid, signal.SIGKILL)
    process.wait()
    done = len(record(resumed, 'afqmc')[1])
    assert 3 <= done < 12
    log = finished(launch(modern_python, 2, arguments))
    resumed_after = int(re.search(r'resuming after epoch (\d+) of 12', log).group(1))
    assert done <= resumed_after <= done + 1  # the state is saved before the record
    (_, expected, summary), (header, got, summary_2) = record(uninterrupted, 'afqmc'), record(resumed, 'afqmc')
    assert header['world_size'] == 2 and [e['epoch'] for e in got] == list(range(1, 13))
    for epoch, epoch_2 in zip(expected, got):
        assert np.max(np.abs(np.subtract(epoch['losses'], epoch_2['losses']))) <= STEP_LOSS_TOLERANCE
    assert summary_2['best_dev'] == pytest.approx(summary['best_dev'], abs=1e-6)
    assert open(os.path.join(resumed, 'results', 'afqmc_predict.json')).read() == open(
        os.path.join(uninterrupted, 'results', 'afqmc_predict.json')).read()
    refused = launch(modern_python, 2, arguments[:-1] + ['13'])  # other settings: the same bad input for both
    output = refused.communicate()[0].decode()
    assert refused.returncode != 0 and output.count('error: ') == 1 and 'other settings (hyperparameters)' in output


def test_commands_other_than_run_refuse_to_be_spread(monkeypatch, capsys, tiny_models):
    monkeypatch.setenv('WORLD_SIZE', '2')
    monkeypatch.setenv('RANK', '0')
    assert main(['params', '--backbone', 'bert', '--config', tiny_models['bert'].config_path]) == 2
    assert capsys.readouterr().err == ('error: WORLD_SIZE=2: only the run command spreads over processes '
                                       '(torchrun); start params as one process\n')
