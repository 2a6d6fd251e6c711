"""The TensorFlow 1.15 and 2.15 stacks compute the same numbers.

Each stack runs tests/stack_probe.py in its own venv (the other stack's venv is built
by scripts/setup.sh); the probes' results are kept in .stack-probes/ under a hash of
the library, the probe and the requirements, so the second stack's suite compares the
same two probes without computing them again.
"""
import concurrent.futures
import fcntl
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fl_tuning.keras.compat import TF2

from conftest import ROOT, built_venv
from stack_probe import CROSSING_RUNS, crossing_dir

# Full tier: builds the other stack's venv and probes both stacks.
pytestmark = pytest.mark.full

TOLERANCE = 1e-5
VENVS = {'tf1': ('.venv', []), 'tf2': ('.venv-tf2', ['--stack', 'tf2'])}
PROBES = os.path.join(ROOT, '.stack-probes')


def source_hash(python):
    digest = hashlib.sha256(os.path.abspath(python).encode('utf-8'))
    paths = sorted(glob.glob(os.path.join(ROOT, 'fl_tuning', '**', '*.py'), recursive=True))
    paths += [os.path.join(ROOT, 'tests', 'stack_probe.py'), os.path.join(ROOT, 'setup.py')]
    paths += sorted(glob.glob(os.path.join(ROOT, 'requirements*.txt')))
    for path in paths:
        with open(path, 'rb') as f:
            digest.update(f.read())
    return digest.hexdigest()[:16]


def probed(stack, python):
    """The folder of the stack's probe (probe.npz, and its work folder), computed once
    per source state."""
    folder = os.path.join(PROBES, '%s-%s' % (stack, source_hash(python)))
    os.makedirs(PROBES, exist_ok=True)
    with open(os.path.join(PROBES, stack + '.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(os.path.join(folder, 'probe.npz')):  # written last, atomically
            for stale in glob.glob(os.path.join(PROBES, stack + '-*')):
                shutil.rmtree(stale)
            result = subprocess.run([python, os.path.join(ROOT, 'tests', 'stack_probe.py'),
                                     os.path.join(folder, 'work'), os.path.join(folder, 'probe.npz')],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
            assert result.returncode == 0, '%s probe failed:\n%s' % (stack, result.stdout.decode()[-3000:])
    return folder


@pytest.fixture(scope='module')
def stacks():
    """{'tf1': (python, probe folder), 'tf2': (...)}."""
    this, other = ('tf2', 'tf1') if TF2 else ('tf1', 'tf2')
    venv, flags = VENVS[other]
    pythons = {this: sys.executable, other: built_venv(venv, ['scripts/setup.sh'] + flags, 'no Python')}
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        folders = dict(zip(pythons, pool.map(probed, pythons, pythons.values())))
    return dict((stack, (pythons[stack], folders[stack])) for stack in pythons)


def results(stacks, stack):
    return np.load(os.path.join(stacks[stack][1], 'probe.npz'))


def compared(stacks, kind):
    tf1, tf2 = results(stacks, 'tf1'), results(stacks, 'tf2')
    assert str(tf1['stack']) == 'tensorflow 1.15.5, keras 2.3.1', tf1['stack']
    assert str(tf2['stack']).startswith('tensorflow 2.15') and str(tf2['stack']).endswith('tf.keras'), tf2['stack']
    keys = sorted(k for k in tf1.files if k.startswith(kind + '/'))
    assert keys == sorted(k for k in tf2.files if k.startswith(kind + '/'))
    return [(key, tf1[key], tf2[key]) for key in keys]


def test_last_layer_outputs_are_equal_for_every_backbone_and_method(stacks):
    outputs = compared(stacks, 'outputs')
    assert len(outputs) == 3 * 7
    for key, tf1, tf2 in outputs:
        assert tf1.shape == tf2.shape and np.abs(tf1).max() > 0.1, key
        assert np.abs(tf1 - tf2).max() <= TOLERANCE, (key, np.abs(tf1 - tf2).max())


def test_seeded_runs_have_the_same_loss_at_every_step(stacks):
    losses = compared(stacks, 'losses')
    assert len(losses) == 7 + 3
    for key, tf1, tf2 in losses:
        assert len(tf1) == len(tf2) >= 3, key
        assert np.abs(tf1 - tf2).max() <= TOLERANCE, (key, tf1, tf2)


def submissions(results_dir):
    found = {}
    for name in sorted(os.listdir(results_dir)):
        with open(os.path.join(results_dir, name), encoding='utf-8') as f:
            found[name] = [json.loads(line) for line in f]
    return found


@pytest.mark.parametrize('backbone,method,task', CROSSING_RUNS)
@pytest.mark.parametrize('source,target', [('tf1', 'tf2'), ('tf2', 'tf1')])
def test_a_tuned_weights_file_predicts_the_same_submission_on_the_other_stack(
        stacks, source, target, backbone, method, task, tmp_path):
    work = os.path.join(stacks[source][1], 'work')
    run_dir = crossing_dir(work, backbone, method, task)
    result = subprocess.run(
        [stacks[target][0], '-m', 'fl_tuning', 'predict', '--no-progress',
         '--weights', os.path.join(run_dir, 'weights', task + '.weights'),
         '--model-dir', os.path.join(work, 'models', backbone),
         '--data-dir', os.path.join(work, 'data'), '--output-dir', str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    assert result.returncode == 0, result.stdout.decode()
    original = submissions(os.path.join(run_dir, 'results'))
    assert original and all(original.values())
    assert submissions(str(tmp_path / 'results')) == original
