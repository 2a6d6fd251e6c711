"""The floors of the house: every module of the package outside the two framework folders
(fl_tuning/keras, fl_tuning/torch) imports no framework, in this venv with importing one
refused and in .venv-modern, which has no TensorFlow at all. The modules are found by
walking the package, so a new module is checked without being listed."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT, built_venv

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


FRAMEWORK_FOLDERS = ('fl_tuning.keras', 'fl_tuning.torch')


def shared_modules():
    """Every module of fl_tuning (by its files) but those in the framework folders."""
    modules = []
    for folder, _, files in os.walk(os.path.join(ROOT, 'fl_tuning')):
        package = os.path.relpath(folder, ROOT).replace(os.sep, '.')
        if package.startswith(FRAMEWORK_FOLDERS) or not os.path.isfile(os.path.join(folder, '__init__.py')):
            continue
        modules += [package if name == '__init__.py' else '%s.%s' % (package, name[:-3])
                    for name in sorted(files) if name.endswith('.py') and name != '__main__.py']
    return modules


def test_the_walk_finds_the_modules_the_commands_use():
    modules = shared_modules()
    assert {'fl_tuning.export', 'fl_tuning.gates', 'fl_tuning.demo', 'fl_tuning.cli', 'fl_tuning.testing.tiny',
            'fl_tuning.tasks.spans', 'fl_tuning.framework'} <= set(modules)
    assert not [m for m in modules if m.startswith(FRAMEWORK_FOLDERS)] and len(modules) > 40


def imported_frameworks(python, prefix=''):
    result = subprocess.run([python, '-c', prefix + PROBE % (ROOT, FRAMEWORKS)] + shared_modules(),
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
