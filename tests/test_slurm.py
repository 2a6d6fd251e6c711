"""Grids under a real SLURM scheduler: a one-node cluster started on this machine
(scripts/slurm_cluster.sh: Debian's slurmctld, slurmd and munge, two fake GPUs as gres)
runs the job arrays ``sweep --slurm`` writes; a cancelled task resumes when resubmitted, a
second submission of a running array is refused by the run lock, a dependency job
summarizes and reports, and sizes no node has are refused before sbatch."""
import fcntl
import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SLURM_STARTED
from fl_tuning.sweep import check_cluster_fits, gres_gpus
from fl_tuning.testing.fixtures import write_clue_fixtures


def test_gpus_are_counted_from_sinfo_s_gres():
    assert gres_gpus('gpu:2') == 2 and gres_gpus('gpu:a100:4(S:0-1)') == 4 and gres_gpus('(null)') == 0
    assert gres_gpus('gpu:1,gpu:t4:2,mps:100') == 3


def test_sizes_are_checked_against_the_largest_node(tmp_path):
    sinfo = tmp_path / 'sinfo'
    sinfo.write_text('#!/bin/sh\necho "2 gpu:1"\necho "8+ (null)"\n')
    sinfo.chmod(0o755)
    assert check_cluster_fits(8, 1, sinfo=[str(sinfo)]) is None
    with pytest.raises(Exception, match=r'--slurm-cpus 9: the largest node of this cluster has 8 CPUs'):
        check_cluster_fits(9, 0, sinfo=[str(sinfo)])
    with pytest.raises(Exception, match=r'--slurm-gpus 2: no node of this cluster has more than 1 GPUs'):
        check_cluster_fits(1, 2, sinfo=[str(sinfo)])
    assert 'not checked' in check_cluster_fits(1, 1, sinfo=[str(tmp_path / 'no-sinfo')])


@pytest.fixture(scope='session')
def cluster():
    """SLURM_CONF of a one-node cluster with 2 fake GPUs (skipped, saying why, without root),
    started by the first test worker that asks and shared by the others (the tests'
    session stops it: conftest.py)."""
    if os.geteuid() != 0:
        pytest.skip('starting the SLURM daemons needs root (CI runs as root)')
    with open(SLURM_STARTED + '.lock', 'a') as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        result = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'slurm_cluster.sh'), 'start', '--gpus', '2'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if b'could not install' in result.stderr:  # no package registry here: say so, do not fail
            pytest.skip(result.stderr.decode().strip())
        assert result.returncode == 0, result.stderr.decode()
        open(SLURM_STARTED, 'w').close()
    return dict(os.environ, SLURM_CONF=result.stdout.decode().strip().split('=', 1)[1], PYTHONPATH='')


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc'], counts=(6, 4, 3))


def call(command, environment, cwd=ROOT, timeout=600):
    result = subprocess.run(command, cwd=cwd, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            timeout=timeout)
    return result.returncode, result.stdout.decode()


def write_array(tiny, data, output, environment, methods, seeds, epochs, *flags, python=sys.executable,
                run_args=''):
    """sweep --slurm (run from another folder, with no PYTHONPATH: the script must find its code)."""
    script = os.path.join(str(output), 'grid.sbatch')
    code, log = call([python, '-m', 'fl_tuning', 'sweep', '--backbone', 'bert=%s' % tiny.directory,
                      '--tasks', 'afqmc', '--methods', methods, '--seeds', seeds, '--data-dir', data,
                      '--output-dir', str(output),
                      '--run-args', '--epochs %d --ffn-prompt-size 4 %s' % (epochs, run_args),
                      '--slurm', script, '--slurm-cpus', '1'] + list(flags),
                     dict(environment, PYTHONPATH=ROOT))
    return code, log, script


def submit(script, environment, *flags):
    code, log = call(['sbatch', '--parsable'] + list(flags) + [script], environment, cwd='/')
    assert code == 0, log
    return log.strip().split(';')[0]


def wait_gone(job, environment, timeout=600):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not call(['squeue', '--noheader', '--job', job], environment)[1].strip():
            return
        time.sleep(0.5)
    raise AssertionError('job %s still queued after %d s' % (job, timeout))


def epochs_of(run_dir):
    with open(os.path.join(run_dir, 'records', 'afqmc.jsonl')) as f:
        lines = [json.loads(line) for line in f]
    assert sum('run' in line for line in lines) == 1
    return [line['epoch'] for line in lines if 'epoch' in line], 'summary' in lines[-1]


@pytest.mark.full
def test_a_grid_runs_as_an_array_and_a_dependency_job_reports_it(cluster, tiny_models, data, tmp_path):
    output = tmp_path / 'runs'
    code, log, script = write_array(tiny_models['bert'], data, output, cluster, 'fl,ln', '1,2', 1)
    assert code == 0 and '4 of 4 runs' in log, log
    text = open(script).read()
    assert 'cd %s' % ROOT in text and '#SBATCH --gres=gpu:1' in text and '#SBATCH --cpus-per-task=1' in text
    array = submit(script, cluster)
    wrap = '%s -m fl_tuning summarize %s && %s -m fl_tuning report %s --output-dir %s' % (
        sys.executable, output, sys.executable, output, tmp_path / 'report')
    report = submit_wrapped(wrap, cluster, tmp_path, '--dependency=afterany:%s' % array)
    wait_gone(report, cluster)
    for method in ('fl', 'ln'):
        for seed in (1, 2):
            run_dir = os.path.join(str(output), 'bert', 'afqmc', method, 'full', 'seed%d' % seed)
            assert epochs_of(run_dir) == ([1], True), open(os.path.join(run_dir, 'run.log')).read()
    logs = [open(os.path.join(str(output), name)).read() for name in os.listdir(str(output))
            if name.startswith('slurm-')]
    assert len(logs) == 4 and all('GPUs: 0' in log or 'GPUs: 1' in log for log in logs), logs
    assert os.path.isfile(str(output / 'summary.csv')) and os.path.isfile(str(tmp_path / 'report' / 'report.md'))
    assert len(open(str(output / 'summary.csv')).read().splitlines()) == 5
    code, log, _ = write_array(tiny_models['bert'], data, output, cluster, 'fl,ln', '1,2', 1)
    assert code == 2 and 'every run of the grid is complete' in log


def submit_wrapped(command, environment, folder, *flags):
    code, log = call(['sbatch', '--parsable', '--output', os.path.join(str(folder), 'wrapped-%j.out'),
                      '--cpus-per-task', '1'] + list(flags) + ['--wrap', command], environment, cwd=str(folder))
    assert code == 0, log
    return log.strip().split(';')[0]


@pytest.mark.full
def test_a_second_submission_is_refused_and_a_cancelled_task_resumes(cluster, tiny_models, data, tmp_path):
    output = tmp_path / 'runs'
    code, log, script = write_array(tiny_models['bert'], data, output, cluster, 'fl', '1', 200, '--slurm-gpus', '0')
    assert code == 0, log
    run_dir = os.path.join(str(output), 'bert', 'afqmc', 'fl', 'full', 'seed1')
    jobs = [submit(script, cluster), submit(script, cluster)]  # the same array twice: both start at once
    state, deadline = os.path.join(run_dir, 'state', 'afqmc.state'), time.time() + 300
    while time.time() < deadline and not (os.path.exists(state) and 'this run is in progress in pid' in read(
            os.path.join(run_dir, 'run.log'))):
        time.sleep(0.1)
    assert call(['scancel'] + jobs, cluster)[0] == 0  # the one that runs, mid-way
    for job in jobs:
        wait_gone(job, cluster)
    log = read(os.path.join(run_dir, 'run.log'))
    assert log.count('this run is in progress in pid') == 1, log
    done, complete = epochs_of(run_dir)
    assert not complete and done == list(range(1, len(done) + 1)), log

    code, log, script = write_array(tiny_models['bert'], data, output, cluster, 'fl', '1', 200, '--slurm-gpus', '0')
    assert code == 0 and '1 of 1 runs' in log, log
    wait_gone(submit(script, cluster), cluster)
    assert epochs_of(run_dir) == (list(range(1, 201)), True)
    resumed_after = re.search(r'resuming after epoch (\d+) of 200', read(os.path.join(run_dir, 'run.log')))
    assert resumed_after and len(done) <= int(resumed_after.group(1)) <= len(done) + 1  # the state is saved first


def read(path):
    if not os.path.exists(path):
        return ''
    with open(path) as f:
        return f.read()


@pytest.mark.full
def test_sizes_no_node_has_are_refused_before_sbatch(cluster, tiny_models, data, tmp_path):
    cpus = len(os.sched_getaffinity(0))  # the node's CPUs (nproc)
    for flags, message in ((['--slurm-cpus', str(cpus + 1)], 'has %d CPUs' % cpus),
                           (['--slurm-gpus', '3'], 'more than 2 GPUs')):
        code, log, script = write_array(tiny_models['bert'], data, tmp_path / 'runs', cluster, 'fl', '1', 1, *flags)
        assert code == 2 and message in log and not os.path.exists(script), log


@pytest.mark.full
def test_a_task_with_two_gpus_spreads_its_run_over_two_processes(cluster, modern_python, tiny_models, data,
                                                                 tmp_path):
    """--slurm-gpus 2 on the PyTorch side: torchrun in the array task, a process per GPU (on
    this machine's CPUs: gloo), one record that says so."""
    output = tmp_path / 'runs'
    code, log, script = write_array(tiny_models['bert'], data, output, cluster, 'fl', '1', 2, '--slurm-gpus', '2',
                                    python=modern_python, run_args='--framework torch')
    assert code == 0 and 'torch.distributed.run --standalone --nproc_per_node 2' in open(script).read(), log
    wait_gone(submit(script, cluster), cluster)
    run_dir = os.path.join(str(output), 'bert', 'afqmc', 'fl', 'full', 'seed1')
    log = read(os.path.join(run_dir, 'run.log'))
    assert epochs_of(run_dir) == ([1, 2], True), log
    with open(os.path.join(run_dir, 'records', 'afqmc.jsonl')) as f:
        assert json.loads(f.readline())['run']['world_size'] == 2
    assert '; 2 processes (torchrun)' in log and log.count('best dev ') == 1, log
    outs = [read(os.path.join(str(output), name)) for name in os.listdir(str(output)) if name.startswith('slurm-')]
    assert len(outs) == 1 and 'GPUs: 0,1' in outs[0], outs
