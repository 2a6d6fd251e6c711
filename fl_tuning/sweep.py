"""Grids of runs: every combination of backbones, tasks, method sets, data settings
and seeds, each run in its own process under
``OUTPUT_DIR/<backbone>/<task>/<method>/<setting>/seed<k>/``.

Complete runs are skipped, killed ones resumed (every run is started with the run's
own ``--resume``), and a failing run does not stop the others. The same list of runs
can be printed as commands (``--dry-run``) or written as a SLURM job array.
"""
import itertools
import json
import os
import shlex
import subprocess
import sys
import time

from fl_tuning.backbones import BACKBONES
from fl_tuning.errors import EXIT_RUNNING_ELSEWHERE, InputError
from fl_tuning.few_shot import FULL, few_shot_k
from fl_tuning.framework import default_framework
from fl_tuning.data_files import cannot_write, check_writable_folder, make_folder, write_atomically
from fl_tuning.methods import REGISTRY, flag_name, label, parse_method_names
from fl_tuning.records import read_record, record_path
from fl_tuning.run_lock import holder_elsewhere, lock_path
from fl_tuning.tasks import TASK_NAMES

# The checkout whose code writes a SLURM script: its jobs run this code, wherever they start.
CHECKOUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GRID_KEYS = ('backbones', 'tasks', 'methods', 'seeds', 'settings', 'data_dir', 'output_dir',
             'few_shot_seed', 'run_args')


class Grid(object):
    """What a grid file or the sweep's flags say; ``runs()`` lists its runs."""

    def __init__(self, backbones, tasks, methods, seeds, settings=(FULL,), data_dir='./clue_dataset',
                 output_dir='runs', few_shot_seed=None, run_args=()):
        self.backbones = dict(backbones)
        self.tasks, self.methods, self.seeds = list(tasks), list(methods), [int(s) for s in seeds]
        self.settings = list(settings)
        self.data_dir, self.output_dir = os.path.abspath(data_dir), os.path.abspath(output_dir)
        self.few_shot_seed, self.run_args = few_shot_seed, list(run_args)
        self.check()

    def check(self):
        check_writable_folder(self.output_dir)
        for name, values in (('backbones', self.backbones), ('tasks', self.tasks),
                             ('methods', self.methods), ('seeds', self.seeds), ('settings', self.settings)):
            if not values:
                raise InputError('the grid has no %s' % name)
        for backbone, model_dir in self.backbones.items():
            if backbone not in BACKBONES:
                raise InputError('grid: unknown backbone %r (choose from %s)' % (
                    backbone, ', '.join(BACKBONES)))
            if not os.path.isdir(model_dir):
                raise InputError('grid: model dir of %s not found: %s' % (backbone, model_dir))
        for task in self.tasks:
            if task not in TASK_NAMES:
                raise InputError('grid: unknown task %r (choose from %s)' % (task, ', '.join(TASK_NAMES)))
        for method in self.methods:
            parse_method_names(method.replace('+', ','))
        for setting in self.settings:
            few_shot_k(setting)

    def runs(self):
        return [Run(self, *combination) for combination in itertools.product(
            sorted(self.backbones), self.tasks, self.methods, self.settings, self.seeds)]


def run_args_for(names, run_args):
    """The grid's run flags without the size flags that none of the methods ``names``
    uses (``run`` refuses those): one grid sets --ffn-prompt-size and --prompt-size
    for all its method sets."""
    size_flags = set('--' + flag_name(m.size_flag) for m in REGISTRY.values() if m.size_flag)
    used = set('--' + flag_name(REGISTRY[name].size_flag) for name in names if REGISTRY[name].size_flag)
    kept, skip_value = [], False
    for argument in run_args:
        if skip_value:
            skip_value = False
            continue
        flag = argument.split('=', 1)[0]
        if flag in size_flags and flag not in used:
            skip_value = '=' not in argument
            continue
        kept.append(argument)
    return kept


class Run(object):
    """One run of a grid: its folder, its command and its state on disk."""

    def __init__(self, grid, backbone, task, method, setting, seed):
        self.grid, self.backbone, self.task, self.setting, self.seed = grid, backbone, task, setting, seed
        self.method = method.replace('+', ',')
        self.name = '/'.join([backbone, task, label(dict.fromkeys(parse_method_names(self.method))),
                              setting, 'seed%d' % seed])
        self.directory = os.path.join(grid.output_dir, *self.name.split('/'))
        self.log_path = os.path.join(self.directory, 'run.log')

    def command(self, processes=1):
        """The run's command line; over several processes (one per GPU), under torchrun."""
        launcher = [sys.executable, '-m'] + (['torch.distributed.run', '--standalone', '--nproc_per_node',
                                              str(processes), '-m'] if processes > 1 else [])
        command = launcher + ['fl_tuning', 'run', '--backbone', self.backbone,
                   '--task', self.task, '--method', self.method, '--seed', str(self.seed),
                   '--data-dir', self.grid.data_dir, '--model-dir', self.grid.backbones[self.backbone],
                   '--output-dir', self.directory, '--resume', '--no-progress']
        k = few_shot_k(self.setting)
        if k:
            sample_seed = self.seed if self.grid.few_shot_seed is None else self.grid.few_shot_seed
            command += ['--few-shot', str(k), '--few-shot-seed', str(sample_seed)]
        return command + run_args_for(parse_method_names(self.method), self.grid.run_args)

    def shell_command(self, processes=1):
        return ' '.join(shlex.quote(part) for part in self.command(processes))

    def complete(self):
        """Whether the run's record ends with its summary."""
        record = read_record(record_path(self.directory, self.task))
        return record is not None and record.complete

    def running_elsewhere(self):
        """Who is training this run in another process (its lock's holder), or None."""
        return holder_elsewhere(self.directory, self.task)


def read_grid_file(path):
    """A grid from a JSON or YAML file with the keys of ``Grid``."""
    if not os.path.isfile(path):
        raise InputError('grid file not found: %s' % path)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    try:
        if path.endswith(('.yaml', '.yml')):
            import yaml
            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except Exception as error:  # the parsers' own errors say where
        raise InputError('%s: not a valid grid file (%s)' % (path, str(error).splitlines()[0]))
    if not isinstance(values, dict):
        raise InputError('%s: expected a mapping of %s' % (path, ', '.join(GRID_KEYS)))
    unknown = sorted(set(values) - set(GRID_KEYS))
    if unknown:
        raise InputError('%s: unknown key(s) %s (known: %s)' % (path, ', '.join(unknown), ', '.join(GRID_KEYS)))
    base = os.path.dirname(os.path.abspath(path))
    for key in ('data_dir', 'output_dir'):  # relative to the grid file
        if key in values:
            values[key] = os.path.join(base, values[key])
    values['backbones'] = dict((b, os.path.join(base, d)) for b, d in (values.get('backbones') or {}).items())
    return Grid(**values)


def run_framework(run_args):
    """The framework of a grid's runs: their --framework flag, else this Python's default."""
    for i, argument in enumerate(run_args):
        if argument.startswith('--framework='):
            return argument.split('=', 1)[1]
        if argument == '--framework' and i + 1 < len(run_args):
            return run_args[i + 1]
    return default_framework()


def slurm_script(runs, path, gpus_per_run=1, cpus_per_run=4, time_limit='24:00:00', parallel=None):
    """A SLURM job array: array task i runs command i (with --resume) and logs to its run.log;
    with several GPUs per task, the run is spread over as many processes by torchrun."""
    if not runs:
        raise InputError('every run of the grid is complete: no SLURM script to write')
    processes = max(gpus_per_run, 1)
    if processes > 1 and run_framework(runs[0].grid.run_args) != 'torch':
        raise InputError('--slurm-gpus %d: a run spreads over several GPUs with torchrun on the PyTorch side only '
                         '(the Keras side, the faithful port, uses one device): add --framework torch to '
                         '--run-args, or give --slurm-gpus 1' % gpus_per_run)
    array = '0-%d' % (len(runs) - 1) + ('%%%d' % parallel if parallel else '')
    lines = [
        '#!/bin/bash',
        '# %d runs of an fl_tuning grid; submit with: sbatch %s' % (len(runs), os.path.basename(path)),
        '# rerun only some (e.g. failed ones): sbatch --array=3,7 %s' % os.path.basename(path),
        '#SBATCH --job-name=fl-tuning',
        '#SBATCH --array=%s' % array,
        '#SBATCH --cpus-per-task=%d' % cpus_per_run,
        '#SBATCH --time=%s' % time_limit,
        '#SBATCH --output=%s' % os.path.join(runs[0].grid.output_dir, 'slurm-%A_%a.out'),
    ]
    if gpus_per_run:
        lines.append('#SBATCH --gres=gpu:%d' % gpus_per_run)
    lines += ['set -euo pipefail',
              '# this checkout\'s code, whatever folder sbatch was called from and however it is installed',
              'cd %s' % shlex.quote(CHECKOUT),
              'export PYTHONPATH=%s${PYTHONPATH:+:$PYTHONPATH}' % shlex.quote(CHECKOUT),
              'runs=(']
    lines += ['  %s' % shlex.quote(run.directory) for run in runs]
    lines += [')', 'commands=(']
    lines += ['  %s' % shlex.quote(run.shell_command(processes)) for run in runs]
    lines += [')',
              'i=${SLURM_ARRAY_TASK_ID:?run this script with sbatch, or set SLURM_ARRAY_TASK_ID}',
              'mkdir -p "${runs[$i]}"',
              'echo "run $i on $(hostname), GPUs: ${CUDA_VISIBLE_DEVICES:-none}: ${commands[$i]}"',
              'eval "${commands[$i]}" >> "${runs[$i]}/run.log" 2>&1']
    make_folder(runs[0].grid.output_dir, path)  # SLURM writes its logs there
    write_atomically(path, '\n'.join(lines) + '\n')
    os.chmod(path, 0o755)
    return path


def gres_gpus(gres):
    """The GPUs in a node's gres as sinfo prints it ('gpu:2', 'gpu:a100:4(S:0-1)', '(null)')."""
    counts = [item.split('(')[0].split(':')[-1] for item in gres.split(',') if item.startswith('gpu')]
    return sum(int(count) for count in counts if count.isdigit())


def check_cluster_fits(cpus, gpus, sinfo=('sinfo', '--noheader', '--format=%c %G')):
    """Refuse sizes no node of the cluster has (sbatch accepts such an array and leaves it
    pending for ever, Reason=PartitionConfig); None, or why nothing was checked."""
    try:
        result = subprocess.run(list(sinfo), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as error:
        return 'the sizes were not checked against a cluster (sinfo: %s)' % (getattr(error, 'strerror', None) or
                                                                             error)
    nodes = [line.split() for line in result.stdout.decode().splitlines() if line.strip()]
    if result.returncode != 0 or not nodes:
        return 'the sizes were not checked against a cluster (sinfo: %s)' % (
            result.stderr.decode().strip().splitlines() or ['no nodes'])[0]
    most_cpus = max(int(node[0].rstrip('+')) for node in nodes)
    most_gpus = max(gres_gpus(node[1]) if len(node) > 1 else 0 for node in nodes)
    if cpus > most_cpus:
        raise InputError('--slurm-cpus %d: the largest node of this cluster has %d CPUs (sinfo), so the array '
                         'would wait for ever (Reason=PartitionConfig): give --slurm-cpus %d or fewer'
                         % (cpus, most_cpus, most_cpus))
    if gpus > most_gpus:
        raise InputError('--slurm-gpus %d: no node of this cluster has more than %d GPUs (sinfo), so the array '
                         'would wait for ever: give --slurm-gpus %d or fewer (0: CPUs only)'
                         % (gpus, most_gpus, most_gpus))
    return None


def clock(seconds):
    seconds = int(seconds)
    return '%d:%02d:%02d' % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


class Sweep(object):
    """Runs a grid's incomplete runs, ``workers`` at a time (or one per GPU)."""

    def __init__(self, runs, workers=1, gpus=None, stream=sys.stderr, poll_seconds=0.5):
        self.runs, self.gpus = runs, list(gpus or [])
        self.workers = len(self.gpus) if self.gpus else workers
        self.stream, self.poll_seconds = stream, poll_seconds
        self.done, self.failed, self.skipped, self.elsewhere = [], [], [], []

    def progress(self, running, started):
        line = 'grid: %d/%d done (%d skipped as complete), %d running, %d running elsewhere, %d failed, %s' % (
            len(self.done) + len(self.skipped), len(self.runs), len(self.skipped), len(running),
            len(self.elsewhere), len(self.failed), clock(time.time() - started))
        if self.stream.isatty():
            self.stream.write('\r' + line + ' ' * 8)
        else:
            self.stream.write(line + '\n')
        self.stream.flush()

    def start(self, run, gpu):
        make_folder(run.directory, run.log_path)
        environment = dict(os.environ)
        if gpu is not None:
            environment['CUDA_VISIBLE_DEVICES'] = str(gpu)
        try:
            log = open(run.log_path, 'ab')
            log.write(('$ %s\n' % run.shell_command()).encode('utf-8'))
            log.flush()
        except OSError as error:
            raise cannot_write(run.log_path, error)
        process = subprocess.Popen(run.command(), stdout=log, stderr=subprocess.STDOUT, env=environment)
        log.close()
        return process

    def execute(self):
        started = time.time()
        pending = []
        for run in self.runs:
            (self.skipped if run.complete() else self.elsewhere if run.running_elsewhere() else pending).append(run)
        free = list(self.gpus) if self.gpus else [None] * self.workers
        running = {}
        self.progress(running, started)
        while pending or running:
            while pending and free:
                run, gpu = pending.pop(0), free.pop(0)
                running[run] = (self.start(run, gpu), gpu)
            time.sleep(self.poll_seconds)
            for run, (process, gpu) in list(running.items()):
                if process.poll() is not None:
                    del running[run]
                    free.append(gpu)
                    outcome = {0: self.done, EXIT_RUNNING_ELSEWHERE: self.elsewhere}.get(process.returncode)
                    (self.failed if outcome is None else outcome).append(run)
                    self.progress(running, started)
        if self.stream.isatty():
            self.stream.write('\n')
        for run in self.elsewhere:
            self.stream.write('running elsewhere, not started here: %s (%s)\n' % (run.name, lock_path(
                run.directory, run.task)))
        for run in self.failed:
            self.stream.write('failed: %s (log: %s)\n' % (run.name, run.log_path))
        return not self.failed
