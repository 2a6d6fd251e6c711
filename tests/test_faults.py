"""Faults while writing and reading: an output path that is not a folder, a folder
without write permission, a full disk, damaged checkpoints and tuned-weights files.
Each ends with one line naming the path and the cause, its exit code (2: bad input,
3: an output that cannot be written), no traceback and no half-written file; a run
stopped by a full disk resumes once there is room."""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT
from fl_tuning.testing.fixtures import write_clue_fixtures

FRAMEWORKS = ('keras', 'torch')
NO_SPACE = 'No space left on device'


def python_of(framework, modern_python):
    return modern_python if framework == 'torch' else sys.executable


def run_arguments(framework, tiny, data_dir, output_dir, *extra, units=4):
    return ['-m', 'fl_tuning', 'run', '--framework', framework, '--backbone', 'bert', '--task', 'afqmc',
            '--data-dir', data_dir, '--model-dir', tiny.directory, '--output-dir', output_dir,
            '--ffn-prompt-size', str(units), '--epochs', '3', '--no-progress', '--seed', '0'] + list(extra)


def cli(python, args, prefix=()):
    result = subprocess.run(list(prefix) + [python] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    return result.returncode, result.stdout.decode(), result.stderr.decode()


def one_error_line(err):
    assert 'Traceback' not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), err
    return lines[0]


def partial_files(folder):
    return [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names
            if name.endswith('.partial')]


def best_dev(output_dir):
    with open(os.path.join(output_dir, 'records', 'afqmc.jsonl')) as f:
        return json.loads(f.read().splitlines()[-1])['summary']['best_dev']


@pytest.fixture(scope='module')
def clue_data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')))


@pytest.fixture
def modern_or_none(request, framework):
    return request.getfixturevalue('modern_python') if framework == 'torch' else None


@pytest.mark.parametrize('framework', FRAMEWORKS)
def test_full_disk_stops_the_run_cleanly_and_resume_continues(framework, modern_or_none, tiny_models, clue_data,
                                                              tmp_path):
    """A tmpfs of 700 KiB holds the first epoch's files (256 FL units: a 130 KB weights
    file, a 400 KB state) but not the second epoch's new state beside them; it is made
    larger and the run resumed, in a mount namespace of its own."""
    python = python_of(framework, modern_or_none)
    tiny, mount = tiny_models['bert'], str(tmp_path / 'disk')
    os.makedirs(mount)
    uninterrupted = str(tmp_path / 'uninterrupted')
    code, _, err = cli(python, run_arguments(framework, tiny, clue_data, uninterrupted, units=256))
    assert code == 0, err
    output_dir = os.path.join(mount, 'out')
    first = ' '.join(map(shlex.quote, [python] + run_arguments(framework, tiny, clue_data, output_dir, units=256)))
    script = '\n'.join([
        'mount -t tmpfs -o size=700k tmpfs %s || exit 99' % mount,
        '%s > %s/first.out 2> %s/first.err; echo $? > %s/first.code' % ((first,) + (tmp_path,) * 3),
        'find %s -name "*.partial" > %s/partial.txt' % (mount, tmp_path),
        'mount -o remount,size=8m %s' % mount,
        '%s --resume > %s/second.out 2> %s/second.err; echo $? > %s/second.code' % ((first,) + (tmp_path,) * 3),
        'cp -r %s %s/kept' % (output_dir, tmp_path)])
    result = subprocess.run(['unshare', '--user', '--map-root-user', '--mount', 'sh', '-c', script],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=ROOT))
    if result.returncode == 99 or not (tmp_path / 'first.code').exists():
        pytest.skip('cannot mount a tmpfs here (%s)' % result.stdout.decode().strip())

    def read(name):
        return (tmp_path / name).read_text()
    assert read('first.code').strip() == '3', read('first.err')
    line = one_error_line(read('first.err'))
    assert line.startswith('error: cannot write %s/' % output_dir) and line.endswith(NO_SPACE), line
    assert read('partial.txt') == ''
    assert read('second.code').strip() == '0', read('second.err')
    assert 'resuming after epoch' in read('second.out')
    assert best_dev(str(tmp_path / 'kept')) == best_dev(uninterrupted)


@pytest.mark.parametrize('command', ['run', 'predict', 'export', 'report', 'sweep'])
def test_output_path_that_is_a_file(command, tiny_models, clue_data, tuned_afqmc, tmp_path):
    tiny, taken = tiny_models['bert'], str(tmp_path / 'taken')
    with open(taken, 'w') as f:
        f.write('mine')
    args = {
        'run': run_arguments('keras', tiny, clue_data, taken),
        'predict': ['-m', 'fl_tuning', 'predict', '--weights', tuned_afqmc, '--model-dir', tiny.directory,
                    '--data-dir', clue_data, '--output-dir', taken],
        'export': ['-m', 'fl_tuning', 'export', '--weights', tuned_afqmc, '--model-dir', tiny.directory,
                   '--output-dir', os.path.join(taken, 'export')],
        'report': ['-m', 'fl_tuning', 'report', os.path.dirname(os.path.dirname(tuned_afqmc)), '--output-dir', taken],
        'sweep': ['-m', 'fl_tuning', 'sweep', '--backbone', 'bert=%s' % tiny.directory, '--tasks', 'afqmc',
                  '--methods', 'fl', '--seeds', '0', '--data-dir', clue_data, '--output-dir', taken],
    }[command]
    code, _, err = cli(sys.executable, args)
    assert code == 3
    flag = '--output-dir %s' % (os.path.join(taken, 'export') if command == 'export' else taken)
    assert one_error_line(err) == 'error: %s: %s is not a directory' % (flag, taken)
    assert open(taken).read() == 'mine'


@pytest.fixture(scope='module')
def tuned_afqmc(tiny_models, clue_data, tmp_path_factory):
    output_dir = str(tmp_path_factory.mktemp('tuned'))
    code, _, err = cli(sys.executable, run_arguments('keras', tiny_models['bert'], clue_data, output_dir,
                                                     '--epochs', '1'))
    assert code == 0, err
    return os.path.join(output_dir, 'weights', 'afqmc.weights')


def unprivileged():
    """A command prefix that runs as a user without root's right to write anywhere."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(['unshare', '--user', '--map-user=1000', '--map-group=1000', 'true'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if probe.returncode != 0:
        pytest.skip('root, and no user namespace to drop the right to write anywhere: %s' % probe.stdout.decode())
    return ['unshare', '--user', '--map-user=1000', '--map-group=1000']


def test_folder_without_write_permission(tiny_models, clue_data, tuned_afqmc, tmp_path):
    locked = str(tmp_path / 'locked')
    os.makedirs(os.path.join(locked, 'records'))
    with open(os.path.join(locked, 'records', 'afqmc.jsonl'), 'w') as f:
        f.write('before\n')
    os.chmod(locked, 0o555)
    os.chmod(os.path.join(locked, 'records'), 0o555)
    try:
        code, _, err = cli(sys.executable, run_arguments('keras', tiny_models['bert'], clue_data,
                                                         os.path.join(locked, 'out')), unprivileged())
        assert code == 3
        assert one_error_line(err) == 'error: --output-dir %s: no permission to write in %s' % (
            os.path.join(locked, 'out'), locked)
        # a folder that can be entered but not written, met while writing
        runs_dir = os.path.dirname(os.path.dirname(tuned_afqmc))
        code, _, err = cli(sys.executable, ['-m', 'fl_tuning', 'summarize', runs_dir, '--csv',
                                            os.path.join(locked, 'summary.csv')], unprivileged())
        assert code == 3
        assert one_error_line(err).startswith('error: cannot write %s: Permission denied'
                                              % os.path.join(locked, 'summary.csv'))
    finally:
        os.chmod(os.path.join(locked, 'records'), 0o755)
        os.chmod(locked, 0o755)
    assert open(os.path.join(locked, 'records', 'afqmc.jsonl')).read() == 'before\n'
    assert partial_files(locked) == []


def damaged_copy(tiny, tmp_path, damage):
    model_dir = str(tmp_path / 'model')
    shutil.copytree(tiny.directory, model_dir)
    data = os.path.join(model_dir, 'bert_model.ckpt.data-00000-of-00001')
    with open(data, 'rb') as f:
        content = bytearray(f.read())
    with open(data, 'wb') as f:
        f.write(damage(content))
    return model_dir, data


def flipped(content):
    for i in range(1000, 1100):
        content[i] ^= 0xff
    return bytes(content)


@pytest.mark.parametrize('framework', FRAMEWORKS)
def test_truncated_checkpoint_names_the_file_and_variable(framework, modern_or_none, tiny_models, clue_data,
                                                          tmp_path):
    model_dir, data = damaged_copy(tiny_models['bert'], tmp_path, lambda content: bytes(content[:-100]))
    args = run_arguments(framework, tiny_models['bert'], clue_data, str(tmp_path / 'out'))
    args[args.index('--model-dir') + 1] = model_dir
    code, _, err = cli(python_of(framework, modern_or_none), args)
    assert code == 2
    line = one_error_line(err)
    assert line.startswith("error: checkpoint data %s is truncated: variable '" % data), line
    assert not os.path.exists(str(tmp_path / 'out'))


def test_corrupt_checkpoint_bytes_give_one_line_on_both_frameworks(modern_python, tiny_models, clue_data, tmp_path):
    # Both readers check each variable's CRC32C: TensorFlow's, and the PyTorch side's
    # NumPy reader, in TensorFlow's words.
    model_dir, data = damaged_copy(tiny_models['bert'], tmp_path, flipped)
    lines = []
    for framework in FRAMEWORKS:
        args = run_arguments(framework, tiny_models['bert'], clue_data, str(tmp_path / framework))
        args[args.index('--model-dir') + 1] = model_dir
        code, _, err = cli(python_of(framework, modern_python), args)
        assert code == 2
        lines.append(one_error_line(err))
    assert lines[0] == lines[1]
    assert re.fullmatch(r"error: checkpoint data %s: variable 'bert/embeddings/position_embeddings' cannot be "
                        r"read \(Checksum does not match: stored \d+ vs\. calculated on the restored bytes "
                        r"\d+\)" % re.escape(data), lines[0]), lines[0]


@pytest.mark.parametrize('damage', ['random bytes', 'truncated'])
def test_damaged_tuned_weights_file(damage, tiny_models, clue_data, tuned_afqmc, tmp_path):
    path = str(tmp_path / 'afqmc.weights')
    with open(tuned_afqmc, 'rb') as f:
        content = f.read()
    with open(path, 'wb') as f:
        f.write(os.urandom(3000) if damage == 'random bytes' else content[:len(content) // 2])
    code, _, err = cli(sys.executable, ['-m', 'fl_tuning', 'predict', '--weights', path, '--model-dir',
                                        tiny_models['bert'].directory, '--data-dir', clue_data,
                                        '--output-dir', str(tmp_path / 'out')])
    assert code == 2
    assert one_error_line(err) == ('error: cannot read tuned-weights file %s: neither HDF5 nor safetensors, '
                                   'or damaged' % path)
    assert not os.path.exists(str(tmp_path / 'out' / 'results'))
