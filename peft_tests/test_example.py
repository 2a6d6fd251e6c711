"""examples/peft_trainer.py runs as docs/peft.md says: it trains above chance on the
bundled demo data and its merged model, reloaded by plain transformers, gives the
tuned model's logits."""
import os
import re
import subprocess
import sys

from conftest import ROOT


def test_the_worked_example_runs(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, 'examples', 'peft_trainer.py'),
                             '--output-dir', str(tmp_path / 'out')], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=str(tmp_path))
    output = result.stdout.decode()
    assert result.returncode == 0, output[-4000:]
    accuracy = float(re.search(r'dev accuracy ([0-9.]+) \(3 topics; chance 0.333\)', output).group(1))
    difference = float(re.search(r'largest logit difference (\S+)', output).group(1))
    assert accuracy > 0.6 and difference <= 1e-5
    assert re.search(r'feed-forward width 256 -> 272', output)
    for folder in ('adapter', 'merged'):
        assert os.path.isdir(str(tmp_path / 'out' / folder))
