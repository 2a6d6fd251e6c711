"""The published files (small verbatim samples in tests/published, sources in its
README) run end to end on the tiny model, and CMRC 2018 and CLUENER2020 predictions
are scored as their official scorers score them."""
import json
import os
import shutil

import pytest
from bert4keras.backend import K

from fl_tuning.cli import main
from fl_tuning.evaluate import evaluate
from fl_tuning.testing.cmrc_predictions import predictions
from conftest import ROOT

pytestmark = pytest.mark.full
PUBLISHED = os.path.join(ROOT, 'tests', 'published')

# (name, task, {file in the task folder: published file}, flags)
FEWCLUE = [('fewclue-%s' % source, task, dict(
    [('train_0.json', 'fewclue/%s/train_0.json' % source), ('dev_0.json', 'fewclue/%s/dev_0.json' % source)]
    + [(test, 'fewclue/%s/test.json' % source) for test in tests]), ['--train-file', 'train_0.json',
                                                                     '--dev-file', 'dev_0.json'])
    for source, task, tests in [('tnews', 'tnews', ['test.json', 'test1.0.json']), ('iflytek', 'iflytek', ['test.json']),
                                ('ocnli', 'ocnli', ['test.json']), ('csl', 'csl', ['test.json']),
                                ('cluewsc', 'wsc', ['test.json', 'test1.0.json'])]]
SAMPLES = FEWCLUE + [
    ('ocnli', 'ocnli', {'train.3k.json': 'ocnli/train.3k.json', 'dev.json': 'ocnli/dev.json',
                        'test.json': 'ocnli/test.json'}, ['--train-file', 'train.3k.json']),
    ('c3', 'c3', {'m-train.json': 'c3/c3-m-train.json', 'd-train.json': 'c3/c3-d-train.json',
                  'm-dev.json': 'c3/c3-m-dev.json', 'd-dev.json': 'c3/c3-d-dev.json',
                  'test1.0.json': 'c3/c3-m-test.json', 'test1.1.json': 'c3/c3-d-test.json'}, []),
    ('cmrc2018', 'cmrc2018', {'train.json': 'cmrc2018/cmrc2018_trial.json', 'dev.json': 'cmrc2018/cmrc2018_dev.json',
                              'test.json': 'cmrc2018/cmrc2018_dev.json'}, ['--maxlen', '128']),
]


def numbered_c3_questions(path):
    """nlpdata/c3's test files carry no question ids, which a CLUE submission needs."""
    with open(path, encoding='utf-8') as f:
        documents = json.load(f)
    for d, document in enumerate(documents):
        for q, question in enumerate(document[1]):
            question['id'] = d * 100 + q
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(documents, f, ensure_ascii=False)


@pytest.mark.parametrize('name,task,files,flags', SAMPLES, ids=[s[0] for s in SAMPLES])
def test_published_sample_runs_end_to_end(name, task, files, flags, tiny_models, tmp_path, capsys):
    folder = tmp_path / 'data' / task
    folder.mkdir(parents=True)
    for target, source in files.items():
        shutil.copy(os.path.join(PUBLISHED, source), str(folder / target))
    args = ['run', '--backbone', 'bert', '--task', task, '--data-dir', str(tmp_path / 'data'),
            '--model-dir', tiny_models['bert'].directory, '--output-dir', str(tmp_path / 'out'),
            '--ffn-prompt-size', '4', '--epochs', '1', '--no-progress', '--seed', '0',
            '--write-dev-predictions'] + flags
    K.clear_session()
    if task == 'c3':
        assert main(args) == 2
        err = capsys.readouterr().err
        assert ("test1.0.json: item [0][1][0] to item [2][1][3]: field 'id': missing: a submission needs the "
                "question ids of CLUE's test files (the test files nlpdata/c3 publishes have none) (6 items)") in err
        for test in ('test1.0.json', 'test1.1.json'):
            numbered_c3_questions(str(folder / test))
    assert main(args) == 0, capsys.readouterr().err
    K.clear_session()
    with open(str(tmp_path / 'out' / 'records' / ('%s.jsonl' % task))) as f:
        summary = json.loads(f.read().splitlines()[-1])['summary']
    for path in summary['submissions']:
        with open(path, encoding='utf-8') as f:
            assert f.read().strip()
    # the dev predictions score with evaluate, as any implementation's would
    dev_files = [f for f in files if 'dev' in f]
    metrics = evaluate(task, str(tmp_path / 'data'), summary['dev_predictions'], sorted(dev_files, reverse=True))
    if task == 'cmrc2018':
        assert metrics['total'] == 27 and metrics['skip'] == 0
    else:
        assert metrics['accuracy'] == pytest.approx(summary['best_dev']['accuracy'])


def test_cmrc2018_scores_equal_the_official_script_on_published_dev_records(tmp_path):
    # Expected: cmrc2018_evaluate.py (v5, ymcui/cmrc2018) itself, under Python 2.7.18 with
    # nltk 3.4.5 and Punkt's sentence split left out (as here: see cmrc_scoring), on the
    # predictions below; it printed {"AVERAGE": "43.813", "F1": "57.997", "EM": "29.630",
    # "TOTAL": 27, "SKIP": 3}. The regex segmentation used before gave F1 55.959.
    (tmp_path / 'cmrc2018').mkdir()
    dev = os.path.join(PUBLISHED, 'cmrc2018', 'cmrc2018_dev.json')
    shutil.copy(dev, str(tmp_path / 'cmrc2018' / 'dev.json'))
    with open(dev, encoding='utf-8') as f:
        mine = predictions(json.load(f))
    path = tmp_path / 'predictions.json'
    path.write_text(json.dumps(mine, ensure_ascii=False), encoding='utf-8')
    metrics = evaluate('cmrc2018', str(tmp_path), str(path))
    assert metrics['official'] == '{"AVERAGE": "43.813", "F1": "57.997", "EM": "29.630", "TOTAL": 27, "SKIP": 3}'
    assert (metrics['total'], metrics['skip']) == (27, 3) and metrics['split_sensitive'] == 2
