"""peft's own common tests (PeftCommonTester, as its test_seq_classifier.py and
test_decoder_models.py run it for every tuner) made to run FLTuningConfig on tiny local
models: the tests of the installed peft release are taken from its source
distribution on PyPI (cached under .cache/peft-tests/), and in a copy of them the
configuration and model lists are replaced by FL-tuning's and local folders. diffusers
and datasets, which they import for other tuners' tests, are stubbed: a test that needs
a data set from the hub is skipped, saying so.

    python peft_tests/peft_suite.py [pytest arguments]     # prepares, then runs pytest on the copy
"""
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

import peft

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SUITES = ('test_seq_classifier.py', 'test_decoder_models.py')
# The lists each suite file's tests are parametrized over, and what replaces them.
REPLACEMENTS = {
    'test_seq_classifier.py': (
        'PEFT_SEQ_CLS_MODELS_TO_TEST = fl_suite_models.folders("SEQ_CLS")\n'
        'ALL_CONFIGS = [(FLTuningConfig, {"task_type": "SEQ_CLS", "extra_units": 8})]\n'),
    'test_decoder_models.py': (
        'PEFT_DECODER_MODELS_TO_TEST = fl_suite_models.folders("CAUSAL_LM")\n'
        'SMALL_GRID_MODELS = PEFT_DECODER_MODELS_TO_TEST\n'
        'ALL_CONFIGS = [(FLTuningConfig, {"task_type": "CAUSAL_LM", "extra_units": 8})]\n'),
}
HEADER = ('import fl_suite_models\n'
          'from fl_tuning.torch.peft_method import PEFT_TYPE as FL_TUNING_TYPE, FLTuningConfig\n')
# Checks that peft's tests give only to the methods they list, where FL-tuning does what
# they check (merging several adapters, deleting adapters, merging and generating in
# half precision, layers_to_transform, device maps): it joins those lists. Lists of
# what it does not have (mixed adapter batches, weighted combinations of adapters, a
# trainable bias, prompt learning) stay as they are. (method or None, old, new)
JOINS = [
    (None, 'supported_peft_types = [', 'supported_peft_types = [FL_TUNING_TYPE, '),
    ('def _test_unload_adapter', 'if config.peft_type not in (', 'if config.peft_type not in (FL_TUNING_TYPE, '),
    (None, 'if config_cls not in (LoraConfig, IA3Config, AdaLoraConfig, LoHaConfig, LoKrConfig, VBLoRAConfig):',
     'if config_cls not in (FLTuningConfig, LoraConfig, IA3Config, AdaLoraConfig, LoHaConfig, LoKrConfig, '
     'VBLoRAConfig):'),
    (None, 'if config_cls not in (IA3Config, LoraConfig, PrefixTuningConfig):',
     'if config_cls not in (FLTuningConfig, IA3Config, LoraConfig, PrefixTuningConfig):'),
    (None, 'if config_cls not in (LoraConfig, VBLoRAConfig):', 'if config_cls not in (FLTuningConfig, LoraConfig, '
     'VBLoRAConfig):'),
    ('def _test_training_layer_indexing', 'if config_cls not in (LoraConfig,):',
     'if config_cls not in (FLTuningConfig, LoraConfig):'),
]
CONFTEST = '''"""Written by peft_tests/peft_suite.py: stubs for what peft's tests import for other tuners."""
import importlib.machinery
import sys
import types

import pytest
import transformers  # noqa: F401 (before the stubs: it looks its optional packages up once, on import)

sys.path.insert(0, %(root)r)
sys.path.insert(0, %(here)r)


def _needs_the_hub(*args, **kwargs):
    pytest.skip("needs a data set from the Hugging Face hub (offline here)")


class _NoDiffusers(object):
    pass


def _stub(name, **attributes):
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.__dict__.update(attributes)
    sys.modules.setdefault(name, module)


_stub("diffusers", StableDiffusionPipeline=_NoDiffusers)
_stub("datasets", load_dataset=_needs_the_hub)
'''
MODELS = '''"""Written by peft_tests/peft_suite.py: the tiny local models the suites run on."""
import os

from tiny_models import write_tiny_model

ARCHITECTURES = {"SEQ_CLS": ("bert", "roberta", "llama"), "CAUSAL_LM": ("llama", "qwen2")}
MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "models")


def folders(task_type):
    found = []
    for architecture in ARCHITECTURES[task_type]:
        folder = os.path.join(MODELS, "%s-%s" % (architecture, task_type))
        if not os.path.isdir(folder):
            write_tiny_model(architecture, task_type, folder)
        found.append(folder)
    return found
'''


def source_tests(version):
    """The folder of peft ``version``'s tests, from its source distribution."""
    cache = os.path.join(ROOT, '.cache', 'peft-tests', version)
    if os.path.isfile(os.path.join(cache, 'testing_common.py')):
        return cache
    download = tempfile.mkdtemp()
    subprocess.check_call([sys.executable, '-m', 'pip', 'download', '--quiet', '--no-deps', '--no-binary', ':all:',
                           '--disable-pip-version-check', 'peft==%s' % version, '-d', download])
    archive = glob.glob(os.path.join(download, 'peft-*.tar.gz'))[0]
    partial = cache + '.partial'
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    with tarfile.open(archive) as sdist:
        for member in sdist.getmembers():
            parts = member.name.split('/')
            if len(parts) == 3 and parts[1] == 'tests' and parts[2].endswith('.py'):
                member.name = parts[2]
                sdist.extract(member, partial)
    shutil.rmtree(download)
    os.replace(partial, cache)
    return cache


def prepare(destination):
    """A runnable copy of the suites in ``destination`` (a package, so that their
    relative imports work); returns the suite files' paths."""
    suite = os.path.join(destination, 'peft_suite')
    shutil.copytree(source_tests(peft.__version__), suite)
    open(os.path.join(suite, '__init__.py'), 'w').close()
    with open(os.path.join(destination, 'conftest.py'), 'w') as f:
        f.write(CONFTEST % {'root': ROOT, 'here': HERE})
    with open(os.path.join(destination, 'fl_suite_models.py'), 'w') as f:
        f.write(MODELS)
    with open(os.path.join(destination, 'pytest.ini'), 'w') as f:
        f.write('[pytest]\naddopts = -p no:cacheprovider\n')
    common = os.path.join(suite, 'testing_common.py')
    with open(common) as f:
        text = f.read()
    for method, old, new in JOINS:
        if method is None:
            text = text.replace(old, new)
        elif method in text:
            start = text.index(method)
            text = text[:start] + text[start:].replace(old, new, 1)
    with open(common, 'w') as f:
        f.write(HEADER + text)
    paths = []
    for name in SUITES:
        path = os.path.join(suite, name)
        with open(path) as f:
            text = f.read()
        position = text.index('\nclass Test')
        with open(path, 'w') as f:
            f.write(HEADER + text[:position] + '\n' + REPLACEMENTS[name] + text[position:])
        paths.append(path)
    return paths


def run(destination, arguments=(), **subprocess_options):
    """Prepare the suites in ``destination`` and run the tests parametrized with
    FL-tuning's configuration (the others test other methods, or models on the hub)."""
    paths = prepare(destination)
    environment = dict(os.environ, HF_HUB_OFFLINE='1')
    return subprocess.run([sys.executable, '-m', 'pytest', '-q', '-rfEs', '-k', 'FLTuningConfig'] + paths
                          + list(arguments), cwd=destination, env=environment, **subprocess_options)


if __name__ == '__main__':
    sys.exit(run(tempfile.mkdtemp(prefix='peft-suite-'), sys.argv[1:]).returncode)
