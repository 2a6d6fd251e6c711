"""Grids of runs: every combination in its own process and folder, complete runs
skipped, killed ones resumed, failures listed, and the same runs as commands or a
SLURM job array."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fl_tuning.testing.fixtures import write_clue_fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc', 'tnews'], counts=(6, 4, 3))


def sweep_command(tiny, data, output, *flags):
    return [sys.executable, '-m', 'fl_tuning', 'sweep', '--backbone', 'bert=%s' % tiny.directory,
            '--data-dir', data, '--output-dir', str(output)] + list(flags)


def sweep(*command):
    return subprocess.run(list(command), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def record(output, name, task):
    with open(os.path.join(str(output), name, 'records', '%s.jsonl' % task)) as f:
        return [json.loads(line) for line in f]


def without_timings(lines):
    return [dict((k, v) for k, v in line.items() if k not in ('seconds', 'examples_per_second'))
            for line in lines[1:-1]]


@pytest.mark.full
def test_a_grid_of_four_runs_on_two_workers(tiny_models, data, tmp_path):
    output = tmp_path / 'runs'
    result = sweep(*sweep_command(tiny_models['bert'], data, output, '--tasks', 'afqmc,tnews',
                                  '--methods', 'fl,ln+pasta', '--seeds', '1', '--workers', '2',
                                  '--run-args', '--epochs 1'))
    assert result.returncode == 0, result.stderr.decode()
    names = ['bert/afqmc/fl/full/seed1', 'bert/afqmc/ln+pasta/full/seed1',
             'bert/tnews/fl/full/seed1', 'bert/tnews/ln+pasta/full/seed1']
    for name in names:
        task = name.split('/')[1]
        lines = record(output, name, task)
        assert lines[0]['run']['method'] == name.split('/')[2] and 'summary' in lines[-1]
        assert os.path.isfile(os.path.join(str(output), name, 'run.log'))
    progress = result.stderr.decode().splitlines()
    assert progress[-1].startswith('grid: 4/4 done (0 skipped as complete), 0 running, 0 running elsewhere, 0 failed')

    again = sweep(*sweep_command(tiny_models['bert'], data, output, '--tasks', 'afqmc,tnews',
                                 '--methods', 'fl,ln+pasta', '--seeds', '1', '--run-args', '--epochs 1'))
    assert again.returncode == 0
    assert 'grid: 4/4 done (4 skipped as complete)' in again.stderr.decode()


@pytest.mark.full
def test_a_killed_sweep_skips_finished_runs_and_resumes_the_killed_one(tiny_models, data, tmp_path):
    tiny = tiny_models['bert']
    # 20 epochs: seed 2's state file lives from its first epoch to its last, long
    # enough to be seen (at 3 epochs of this tiny data it can come and go between polls)
    flags = ['--tasks', 'afqmc', '--methods', 'fl', '--seeds', '1,2', '--run-args', '--epochs 20']
    output = tmp_path / 'runs'
    process = subprocess.Popen(sweep_command(tiny, data, output, *flags), cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    second_state = os.path.join(str(output), 'bert/afqmc/fl/full/seed2/state/afqmc.state')
    deadline = time.time() + 240
    while not os.path.exists(second_state) and time.time() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the sweep and its run, mid-way through seed 2
    process.wait()
    assert os.path.exists(second_state)
    finished = os.path.join(str(output), 'bert/afqmc/fl/full/seed1/records/afqmc.jsonl')
    before = os.path.getmtime(finished)

    result = sweep(*sweep_command(tiny, data, output, *flags))
    assert result.returncode == 0, result.stderr.decode()
    assert 'grid: 2/2 done (1 skipped as complete)' in result.stderr.decode()
    assert os.path.getmtime(finished) == before
    with open(os.path.join(str(output), 'bert/afqmc/fl/full/seed2/run.log')) as f:
        assert 'resuming after epoch' in f.read()

    reference = tmp_path / 'reference'
    assert sweep(*sweep_command(tiny, data, reference, '--tasks', 'afqmc', '--methods', 'fl', '--seeds', '2',
                                '--run-args', '--epochs 20')).returncode == 0
    name = 'bert/afqmc/fl/full/seed2'
    assert without_timings(record(output, name, 'afqmc')) == without_timings(record(reference, name, 'afqmc'))


@pytest.mark.full
def test_a_failing_run_does_not_stop_the_others(tiny_models, data, tmp_path):
    output = tmp_path / 'runs'
    result = sweep(*sweep_command(tiny_models['bert'], data, output, '--tasks', 'csl,afqmc',
                                  '--methods', 'fl', '--seeds', '1', '--run-args', '--epochs 1'))
    assert result.returncode == 2
    errors = result.stderr.decode().splitlines()
    log = os.path.join(str(output), 'bert/csl/fl/full/seed1/run.log')
    assert 'failed: bert/csl/fl/full/seed1 (log: %s)' % log in errors
    assert errors[-1] == 'error: 1 of 2 runs failed (their logs are listed above)'
    with open(log) as f:
        assert 'error: data file not found' in f.read()
    assert 'summary' in record(output, 'bert/afqmc/fl/full/seed1', 'afqmc')[-1]


def test_dry_run_and_slurm_give_every_run_as_a_runnable_command(tiny_models, data, tmp_path):
    tiny = tiny_models['bert']
    grid = tmp_path / 'grid.yaml'
    grid.write_text('backbones: {bert: %s}\ntasks: [afqmc, tnews]\nmethods: [fl, ptv2]\nseeds: [1, 2]\n'
                    'settings: [full, few2]\ndata_dir: %s\noutput_dir: runs\nrun_args: [--epochs, "1"]\n'
                    % (tiny.directory, data))
    result = sweep(sys.executable, '-m', 'fl_tuning', 'sweep', '--grid', str(grid), '--dry-run')
    assert result.returncode == 0, result.stderr.decode()
    commands = result.stdout.decode().splitlines()
    assert len(commands) == 16 and len(set(commands)) == 16
    few = [c for c in commands if '/few2/' in c]
    assert len(few) == 8 and all('--few-shot 2 --few-shot-seed' in c for c in few)
    assert all(' --resume ' in c and str(tmp_path / 'runs') in c for c in commands)
    for command in commands:
        assert subprocess.run(['bash', '-n', '-c', command]).returncode == 0

    script = tmp_path / 'grid.sbatch'
    result = sweep(sys.executable, '-m', 'fl_tuning', 'sweep', '--grid', str(grid), '--slurm', str(script),
                   '--slurm-parallel', '4')
    assert result.returncode == 0, result.stderr.decode()
    text = script.read_text()
    assert '#SBATCH --array=0-15%4' in text and '#SBATCH --gres=gpu:1' in text
    assert subprocess.run(['bash', '-n', str(script)]).returncode == 0
    environment = dict(os.environ, SLURM_ARRAY_TASK_ID='0')
    assert subprocess.run(['bash', str(script)], env=environment, cwd=str(tmp_path)).returncode == 0
    first = commands[0].split("--output-dir ")[1].split(' ')[0]
    assert os.path.isfile(os.path.join(first, 'records', 'afqmc.jsonl'))
    with open(os.path.join(first, 'run.log')) as f:
        assert 'best dev accuracy' in f.read()


def test_each_run_gets_only_the_size_flags_its_methods_use():
    from fl_tuning.sweep import run_args_for
    grid_args = ['--ffn-prompt-size', '8', '--prompt-size=4', '--epochs', '3']
    assert run_args_for(['fl'], grid_args) == ['--ffn-prompt-size', '8', '--epochs', '3']
    assert run_args_for(['ptv2'], grid_args) == ['--prompt-size=4', '--epochs', '3']
    assert run_args_for(['fl', 'ptv2'], grid_args) == grid_args
    assert run_args_for(['ln'], grid_args) == ['--epochs', '3']
