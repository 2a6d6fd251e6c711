"""The floors of the house: the data layer and everything shared above the frameworks
import no framework (in this venv with importing one refused, and in .venv-modern,
which has no TensorFlow at all)."""
import subprocess
import sys

import pytest

from conftest import ROOT, built_venv

# Reading, checking, encoding, batching, few-shot samples, metrics, dev keys,
# submissions, scoring, method counts, records, tables and reports.
SHARED_MODULES = [
    'fl_tuning', 'fl_tuning.errors', 'fl_tuning.text', 'fl_tuning.vocab', 'fl_tuning.data_files',
    'fl_tuning.backbones', 'fl_tuning.tasks', 'fl_tuning.tasks.classification',
    'fl_tuning.tasks.multiple_choice', 'fl_tuning.tasks.spans', 'fl_tuning.few_shot',
    'fl_tuning.methods', 'fl_tuning.records', 'fl_tuning.summary', 'fl_tuning.report',
    'fl_tuning.sweep', 'fl_tuning.evaluate', 'fl_tuning.pack', 'fl_tuning.hf_layout',
    'fl_tuning.manifests', 'fl_tuning.testing.fixtures', 'fl_tuning.tf_checkpoint', 'fl_tuning.model_files',
    'fl_tuning.optimization', 'fl_tuning.initial_values', 'fl_tuning.framework', 'fl_tuning.run',
]
FRAMEWORKS = ('tensorflow', 'keras', 'bert4keras', 'torch', 'tf_keras')

# Imports each module in a fresh interpreter; prints the framework modules it loaded.
PROBE = '''
import importlib, sys
sys.path.insert(0, %r)
for name in sys.argv[1:]:
    importlib.import_module(name)
print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in %r)))
'''

# The same, with every framework import refused (a framework on disk is not enough
# to pass: the module must not ask for it).
REFUSING = '''
import sys
class Refuse(object):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in %r:
            raise ImportError('refused: ' + name)
sys.meta_path.insert(0, Refuse())
''' % (FRAMEWORKS,)


def imported_frameworks(python, prefix=''):
    result = subprocess.run([python, '-c', prefix + PROBE % (ROOT, FRAMEWORKS)] + SHARED_MODULES,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().strip()


def test_shared_modules_import_with_every_framework_refused():
    assert imported_frameworks(sys.executable, REFUSING) == ''


def test_the_keras_side_does_import_its_framework():
    """The probe sees a framework when one is imported (so the tests above can fail)."""
    result = subprocess.run([sys.executable, '-c', REFUSING + 'import fl_tuning.keras.models'],
                            stderr=subprocess.PIPE, cwd=ROOT)
    assert result.returncode != 0 and b'refused: tensorflow' in result.stderr


@pytest.mark.full
def test_shared_modules_import_in_the_modern_venv_without_tensorflow():
    python = built_venv('.venv-modern', ['scripts/setup_modern.sh'], 'no Python >= 3.9')
    assert subprocess.run([python, '-c', 'import tensorflow'], stderr=subprocess.DEVNULL).returncode != 0
    assert imported_frameworks(python) == ''
