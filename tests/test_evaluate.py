"""Scoring dev predictions from any implementation: the CMRC 2018 and CLUENER2020 measures by hand,
and predictions files that do not fit their dev set refused with a clear line."""
import json
import os
import subprocess
import sys

import pytest

from fl_tuning.errors import InputError
from fl_tuning.evaluate import evaluate
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.tasks import cmrc_scoring

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc', 'chid'], counts=(6, 4, 3))


def test_cmrc2018_measures_by_hand():
    segments = cmrc_scoring.segments
    assert segments(u'加长3.4米') == [u'加', u'长', '3.4', u'米']  # a decimal is one token for nltk
    assert segments(u'北京2008年Olympic Games！') == [u'北', u'京', '2008', u'年', 'olympic', 'games']
    assert segments(u"isn't (2.5%)") == ['is', "n't", '(', '2.5', '%', ')']
    # longest common run 4 of 5 gold and 4 predicted segments: 2 * 4 / 9
    assert cmrc_scoring.f1_score([u'北京奥运会'], u'北京奥运') == pytest.approx(8 / 9.0)
    assert cmrc_scoring.f1_score([u'上海', u'北京奥运会'], u'北京奥运会') == 1.0
    assert cmrc_scoring.f1_score([u'上海'], u'北京') == 0.0
    # superstring: 4 of 6 predicted segments, all 4 gold ones: 2 * (2/3) * 1 / (5/3)
    assert cmrc_scoring.f1_score([u'光荣和ω'], u'是由光荣和ω') == pytest.approx(0.8)
    assert cmrc_scoring.exact_match([u'北京，奥运'], u'北京奥运 ') == 1.0
    assert cmrc_scoring.exact_match([u'Olympic'], u'OLYMPIC。') == 1.0
    assert cmrc_scoring.exact_match([u'北京'], u'北京市') == 0.0
    assert cmrc_scoring.exact_match([u'北京…'], u'北京') == 0.0  # '……' in the script's list never matches
    assert cmrc_scoring.split_sensitive(u'henry a. walsh') and not cmrc_scoring.split_sensitive(u'3.4米')
    scored = cmrc_scoring.score({'q1': [u'北京'], 'q2': [u'上海'], 'q3': [u'广州']}, {'q1': u'北京', 'q2': ''})
    assert (scored['em'], scored['f1'], scored['skip']) == (pytest.approx(100 / 3.0), pytest.approx(100 / 3.0), 1)


def test_cluener_scores_both_ways(tmp_path):
    """Our micro F1 over spans and CLUENER2020's score.py macro F1 over mention texts."""
    (tmp_path / 'cluener').mkdir()
    dev = [{'text': u'浙商银行企业信贷部叶老桂', 'label': {'company': {u'浙商银行': [[0, 3]]}, 'name': {u'叶老桂': [[9, 11]]}}},
           {'text': u'北京和北京', 'label': {'address': {u'北京': [[0, 1], [3, 4]]}}}]
    (tmp_path / 'cluener' / 'dev.json').write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in dev),
                                                   encoding='utf-8')
    predicted = [{'text': dev[0]['text'], 'label': {'company': {u'浙商银行': [[0, 3]]}, 'name': {u'叶老': [[9, 10]]}}},
                 {'text': dev[1]['text'], 'label': {'address': {u'北京': [[0, 1]]}}}]
    path = tmp_path / 'predictions.json'
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in predicted), encoding='utf-8')
    metrics = evaluate('cluener', str(tmp_path), str(path))
    # spans: 2 hits of 3 predicted and 4 labelled -> 2 * 2 / 7
    assert metrics['f1'] == pytest.approx(4 / 7.0)
    # score.py: company 1, address 1 (the text 北京 found once is all of it), name 0, the
    # seven categories without mentions 0 -> (1 + 1) / 10
    assert metrics['clue_macro_f1'] == pytest.approx(0.2)


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
