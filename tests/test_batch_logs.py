"""Logs fit for batch jobs: where stderr is a file, progress comes as whole lines, at most
one a minute, instead of a terminal bar's thousands of redraws."""
import io
import os
import subprocess
import sys

from conftest import ROOT
from fl_tuning.prediction import ProgressLines, progress_bar


def test_progress_lines_name_the_work_its_share_and_the_loss():
    stream = io.StringIO()
    lines = ProgressLines(iter('abc'), 'epoch 1/2', 3, stream, interval=0)
    seen = []
    for item in lines:
        seen.append(item)
        lines.set_postfix(loss='%.2f' % (len(seen) / 10.0))
    assert seen == ['a', 'b', 'c']
    shown = stream.getvalue().splitlines()
    assert [line.split(',')[0] for line in shown] == ['epoch 1/2: 1/3 (33%)', 'epoch 1/2: 2/3 (66%)',
                                                      'epoch 1/2: 3/3 (100%)']
    assert shown[1].endswith(', loss 0.20')  # the loss after that step


def test_a_file_gets_lines_and_a_terminal_the_bar():
    assert isinstance(progress_bar(True, [], 'x', stream=io.StringIO()), ProgressLines)
    assert not isinstance(progress_bar(False, [], 'x', stream=io.StringIO()), ProgressLines)


def test_the_demo_logged_to_files_writes_no_redraws(tmp_path):
    with open(str(tmp_path / 'out'), 'w') as out, open(str(tmp_path / 'err'), 'w') as err:
        code = subprocess.call([sys.executable, '-m', 'fl_tuning', 'demo', '--output-dir', str(tmp_path / 'demo')],
                               stdout=out, stderr=err, cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT))
    log = open(str(tmp_path / 'out')).read() + open(str(tmp_path / 'err')).read()
    assert code == 0, log
    assert '\r' not in log and len(log) < 4000, len(log)  # tqdm's redraws alone were 40 KB
    assert 'best dev accuracy' in log
