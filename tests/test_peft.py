"""The peft method (fl_tuning.torch.peft_method) through its own tests, peft_tests/,
which import torch, transformers and peft and so run inside the modern venvs: the
workflow of a Hugging Face user and peft's own common suite, on the pinned versions
(.venv-modern: peft 0.17.1, transformers 4.57.6) and on the newest pip offers
(.venv-peft-newest). They do not depend on the TensorFlow stack running this suite, so
the full runs happen in the TensorFlow 1.15 tier only."""
import subprocess

import pytest

from conftest import ROOT, built_venv
from fl_tuning.keras.compat import TF2


def peft_tests(python, *arguments):
    result = subprocess.run([python, '-m', 'pytest', 'peft_tests', '-q'] + list(arguments), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = result.stdout.decode()
    assert result.returncode == 0, output[-8000:]
    return output.strip().splitlines()[-1]


def test_the_peft_workflow_quick(modern_python):
    """Save, load in a fresh process, merge and reload with plain transformers: BERT,
    RoBERTa, DistilBERT and LLaMA on the pinned versions."""
    assert 'passed' in peft_tests(modern_python, '-m', 'quick')


@pytest.mark.full
@pytest.mark.skipif(TF2, reason='independent of the TensorFlow stack: run in the TensorFlow 1.15 tier')
@pytest.mark.parametrize('versions', ['pinned', 'newest'])
def test_the_peft_method_on_both_version_sets(versions, modern_python):
    python = modern_python if versions == 'pinned' else built_venv(
        '.venv-peft-newest', ['scripts/setup_modern.sh', '--newest'], 'no Python >= 3.9')
    summary = peft_tests(python)
    assert 'failed' not in summary and 'error' not in summary, summary
