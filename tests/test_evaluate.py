"""Scoring dev predictions from any implementation: the CMRC 2018 measures by hand,
and predictions files that do not fit their dev set refused with a clear line."""
import json
import os
import subprocess
import sys

import pytest

from fl_tuning.errors import InputError
from fl_tuning.evaluate import evaluate
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.tasks.spans import cmrc_exact, cmrc_f1, cmrc_segments

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc', 'chid'], counts=(6, 4, 3))


def test_cmrc2018_measures_follow_the_official_script():
    assert cmrc_segments(u'北京2008年Olympic Games！') == [u'北', u'京', '2008', u'年', 'olympic', 'games']
    # longest common run 4 of 5 gold and 4 predicted segments: 2 * 4 / 9
    assert cmrc_f1([u'北京奥运会'], u'北京奥运') == pytest.approx(8 / 9.0)
    assert cmrc_f1([u'上海', u'北京奥运会'], u'北京奥运会') == 1.0
    assert cmrc_f1([u'上海'], u'北京') == 0.0
    assert cmrc_exact([u'北京，奥运'], u'北京奥运 ') == 1.0 and cmrc_exact([u'北京'], u'北京市') == 0.0


def write_lines(path, records):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(json.dumps(r) + '\n' for r in records))
    return str(path)


def test_afqmc_predictions_are_scored_by_line_and_refused_when_one_is_missing(data, tmp_path):
    with open(os.path.join(data, 'afqmc', 'dev.json'), encoding='utf-8') as f:
        labels = [json.loads(line)['label'] for line in f]
    right = [{'id': i, 'label': label} for i, label in enumerate(labels)]
    assert evaluate('afqmc', data, write_lines(tmp_path / 'right.json', right))['accuracy'] == 1.0
    flipped = [dict(r, label=str(1 - int(r['label']))) if r['id'] == 0 else r for r in right]
    assert evaluate('afqmc', data, write_lines(tmp_path / 'one_wrong.json', flipped))['accuracy'] == \
        pytest.approx((len(labels) - 1.0) / len(labels))
    missing = write_lines(tmp_path / 'missing.json', right[1:])
    with pytest.raises(InputError, match='missing.json: no prediction for id 0'):
        evaluate('afqmc', data, missing)
    result = subprocess.run([sys.executable, '-m', 'fl_tuning', 'evaluate', '--task', 'afqmc', '--data-dir', data,
                             '--predictions', missing], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == ['error: %s: no prediction for id 0' % missing]


def test_chid_predictions_are_scored_by_blank_tag(data, tmp_path):
    with open(os.path.join(data, 'chid', 'dev_answer.json'), encoding='utf-8') as f:
        answers = json.load(f)
    path = tmp_path / 'chid.json'
    path.write_text(json.dumps(answers))
    assert evaluate('chid', data, str(path))['accuracy'] == 1.0
    path.write_text(json.dumps([answers]))
    with pytest.raises(InputError, match='expected a JSON object'):
        evaluate('chid', data, str(path))
