import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fl_tuning.keras.compat import K, keras  # noqa: E402 (chooses the stack before bert4keras)

from fl_tuning.keras.models import last_layer_name  # noqa: E402

from fl_tuning.testing.tiny import write_tiny_model  # noqa: E402

BACKBONES = ['bert', 'nezha', 'roformer']


def pytest_addoption(parser):
    parser.addoption('--full', action='store_true',
                     help='the full tier: also the tests marked full (both TF stacks, the stack probe, '
                          'export and the modern checks, crash-and-resume, every backbone end to end)')


# Written by tests/test_slurm.py when it starts the one-node SLURM cluster; the session
# (not a test worker) stops the cluster at its end.
SLURM_STARTED = os.path.join(tempfile.gettempdir(), 'fl_tuning_slurm_started_by_tests')


def pytest_sessionfinish(session):
    if not hasattr(session.config, 'workerinput') and os.path.exists(SLURM_STARTED):
        subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'slurm_cluster.sh'), 'stop'])
        os.remove(SLURM_STARTED)


def pytest_collection_modifyitems(config, items):
    """Without --full, the tests marked full are deselected (the quick tier)."""
    if config.getoption('--full'):
        return
    quick = [item for item in items if 'full' not in item.keywords]
    config.hook.pytest_deselected(items=[item for item in items if 'full' in item.keywords])
    items[:] = quick
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def built_venv(venv, setup_command, no_python_message):
    """VENV's Python, built by the project's own set-up script (once for all test
    workers: the script waits on the venv's lock); the test is skipped when the
    script finds no Python for it (its message contains ``no_python_message``)."""
    result = subprocess.run(['bash'] + setup_command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=ROOT)
    output = result.stdout.decode()
    if result.returncode != 0 and no_python_message in output:
        pytest.skip('no Python for %s on this machine: %s' % (venv, output.strip().splitlines()[-1]))
    assert result.returncode == 0, output
    return os.path.join(ROOT, venv, 'bin', 'python')


@pytest.fixture(scope='session')
def modern_python():
    """The PyTorch side's Python (.venv-modern)."""
    return built_venv('.venv-modern', ['scripts/setup_modern.sh'], 'no Python >= 3.9')


class TinyModel(object):
    """Paths of a tiny checkpoint written by fl_tuning.testing.tiny."""

    def __init__(self, backbone, directory):
        self.backbone = backbone
        self.directory = directory
        self.config_path, self.checkpoint_path, self.vocab_path = write_tiny_model(backbone, directory)
        with open(self.config_path) as f:
            self.config = json.load(f)


@pytest.fixture(scope='session')
def tiny_models(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny_models')
    return {b: TinyModel(b, str(root / b)) for b in BACKBONES}


@pytest.fixture(scope='session')
def computed_once(tmp_path_factory):
    """computed_once(name, compute): the JSON result of ``compute(folder)``, computed
    by the first test worker that asks and read by the others, which wait on its lock
    (a run that several tests only read is trained once per session)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'):
        shared = shared.parent  # the session's folder, above each worker's own
    shared = os.path.join(str(shared), 'computed_once')
    os.makedirs(shared, exist_ok=True)

    def once(name, compute):
        folder = os.path.join(shared, name)
        result_path = os.path.join(shared, name + '.json')
        with open(folder + '.lock', 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not os.path.isfile(result_path):
                shutil.rmtree(folder, ignore_errors=True)  # a computation that failed
                os.makedirs(folder)
                K.clear_session()
                result = json.dumps(compute(folder))
                K.clear_session()
                with open(result_path + '.partial', 'w') as f:
                    f.write(result)
                os.replace(result_path + '.partial', result_path)
        with open(result_path) as f:
            return json.load(f)
    return once


@pytest.fixture(autouse=True)
def fresh_keras_session():
    K.clear_session()
    np.random.seed(1234)
    yield
    K.clear_session()


def padded_batch():
    """Three sequences of lengths 7, 5 and 3 padded to 7, and non-zero segments."""
    token_ids = np.array([
        [2, 120, 130, 140, 150, 160, 3],
        [2, 121, 131, 141, 3, 0, 0],
        [2, 122, 3, 0, 0, 0, 0],
    ])
    segment_ids = np.array([
        [0, 0, 0, 0, 1, 1, 1],
        [0, 0, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0],
    ])
    return token_ids, segment_ids


def classifier(transformer):
    """A two-class head on [CLS], as the classification tasks build it."""
    cls = keras.layers.Lambda(lambda x: x[:, 0])(transformer.model.get_layer(last_layer_name(transformer)).output)
    output = keras.layers.Dense(2, activation='softmax', kernel_initializer=transformer.initializer,
                   name='head')(cls)
    return keras.models.Model(transformer.model.input, output)
