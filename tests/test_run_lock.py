"""One process per run (fl_tuning.run_lock): a second process on a run in progress stops
at once with exit code 4 and one line naming the holder, writes nothing, and a sweep
counts such runs as running elsewhere instead of starting them."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from fl_tuning.errors import EXIT_RUNNING_ELSEWHERE, RunInProgress
from fl_tuning.run_lock import RunLock, holder_elsewhere
from fl_tuning.testing.fixtures import write_clue_fixtures


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc'], counts=(6, 4, 3))


def run_command(tiny, data, output, *flags):
    return [sys.executable, '-m', 'fl_tuning', 'run', '--backbone', 'bert', '--task', 'afqmc', '--data-dir', data,
            '--model-dir', tiny.directory, '--output-dir', str(output), '--ffn-prompt-size', '4', '--seed', '1',
            '--no-progress'] + list(flags)


def files_below(folder):
    return sorted(os.path.relpath(os.path.join(root, name), folder)
                  for root, _, names in os.walk(folder) for name in names)


def test_a_lock_is_held_once_and_let_go(tmp_path):
    first, second = RunLock(str(tmp_path), 'afqmc'), RunLock(str(tmp_path), 'afqmc')
    first.acquire()
    assert holder_elsewhere(str(tmp_path), 'afqmc').startswith('pid %d on ' % os.getpid())
    with pytest.raises(RunInProgress, match=r'afqmc.lock: this run is in progress in pid \d+ on '):
        second.acquire()
    first.release()
    assert holder_elsewhere(str(tmp_path), 'afqmc') is None
    second.acquire()
    second.release()


def test_a_second_process_on_a_run_in_progress_stops_and_writes_nothing(tiny_models, data, tmp_path):
    output = tmp_path / 'run'
    lock = RunLock(str(output), 'afqmc')
    lock.acquire()  # this process stands for a run in progress
    before = files_below(str(output))
    result = subprocess.run(run_command(tiny_models['bert'], data, output, '--resume'), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors = result.stderr.decode().strip().splitlines()
    assert result.returncode == EXIT_RUNNING_ELSEWHERE == 4 and len(errors) == 1, result.stderr.decode()
    assert errors[0].startswith('error: %s: this run is in progress in pid %d on ' % (
        os.path.join(str(output), 'records', 'afqmc.lock'), os.getpid()))
    assert files_below(str(output)) == before
    lock.release()
    result = subprocess.run(run_command(tiny_models['bert'], data, output, '--epochs', '1'), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 0, result.stderr.decode()


@pytest.mark.full
def test_a_resume_beside_a_running_run_is_refused_and_the_record_stays_one_run(tiny_models, data, tmp_path):
    output = tmp_path / 'run'
    first = subprocess.Popen(run_command(tiny_models['bert'], data, output, '--epochs', '1000'), cwd=ROOT,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    state = os.path.join(str(output), 'state', 'afqmc.state')
    deadline = time.time() + 240
    while not os.path.exists(state) and time.time() < deadline and first.poll() is None:
        time.sleep(0.02)
    second = subprocess.run(run_command(tiny_models['bert'], data, output, '--epochs', '1000', '--resume'),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    still_running = first.poll() is None
    first.kill()
    first.wait()
    assert still_running and second.returncode == 4, second.stderr.decode()
    with open(os.path.join(str(output), 'records', 'afqmc.jsonl')) as f:
        lines = [json.loads(line) for line in f]
    assert 'run' in lines[0] and not any('run' in line for line in lines[1:])
    epochs = [line['epoch'] for line in lines[1:]]
    assert epochs == list(range(1, len(epochs) + 1)) and epochs  # one process's epochs, in order


@pytest.mark.full
def test_a_sweep_counts_a_run_held_elsewhere_and_does_not_start_it(tiny_models, data, tmp_path):
    output = tmp_path / 'runs'
    held = RunLock(str(output / 'bert' / 'afqmc' / 'fl' / 'full' / 'seed1'), 'afqmc')
    held.acquire()
    result = subprocess.run([sys.executable, '-m', 'fl_tuning', 'sweep', '--backbone',
                             'bert=%s' % tiny_models['bert'].directory, '--tasks', 'afqmc', '--methods', 'fl',
                             '--seeds', '1,2', '--data-dir', data, '--output-dir', str(output),
                             '--run-args', '--epochs 1 --ffn-prompt-size 4'],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    held.release()
    log = result.stderr.decode()
    assert result.returncode == 0, log
    assert 'grid: 1/2 done (0 skipped as complete), 0 running, 1 running elsewhere, 0 failed' in log
    assert 'running elsewhere, not started here: bert/afqmc/fl/full/seed1' in log
    assert not os.path.exists(str(output / 'bert' / 'afqmc' / 'fl' / 'full' / 'seed1' / 'run.log'))
    assert os.path.isfile(str(output / 'bert' / 'afqmc' / 'fl' / 'full' / 'seed2' / 'records' / 'afqmc.jsonl'))
