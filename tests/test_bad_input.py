"""Bad input is caught before a model is built: one line per problem naming the file,
the line (or the item of a JSON document) and the field; exit code 2; nothing written."""
import json
import os
import shutil

import pytest

from fl_tuning.cli import main
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.testing.tiny import write_tiny_model


@pytest.fixture(scope='module')
def clean_data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clean')))


def edit_json_line(path, number, change):
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    record = json.loads(lines[number - 1])
    lines[number - 1] = change(record) if callable(change) else change
    if isinstance(lines[number - 1], dict):
        lines[number - 1] = json.dumps(lines[number - 1], ensure_ascii=False)
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


def edit_json(path, change):
    with open(path, encoding='utf-8') as f:
        document = json.load(f)
    change(document)
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(document, f, ensure_ascii=False)


def updated(record, **fields):
    record.update(fields)
    return record


def without(record, name):
    del record[name]
    return record


def write_gbk_line(path, number):
    with open(path, 'rb') as f:
        lines = f.read().split(b'\n')
    lines[number - 1] = json.dumps({'sentence1': u'花呗', 'sentence2': u'借呗', 'label': '1'},
                                   ensure_ascii=False).encode('gbk')
    with open(path, 'wb') as f:
        f.write(b'\n'.join(lines))


def set_c3_answer(document):
    document[1][1][0]['answer'] = u'不在选项里'


def drop_c3_question_text(document):
    del document[0][1][0]['question']


def set_cmrc_answer_start(value):
    def change(document):
        document['data'][0]['paragraphs'][0]['qas'][1]['answers'][0]['answer_start'] = value
    return change


def drop_chid_answer(path):
    def change(answers):
        with open(path, encoding='utf-8') as f:
            first_blank = [t for t in json.loads(f.readline())['content'][0].split('#') if t.startswith('idiom')][0]
        del answers['#%s#' % first_blank]
    return change


def set_chid_answer(value):
    def change(answers):
        answers[sorted(answers)[0]] = value
    return change


def cluener_label(label):
    return lambda record: updated(record, label=label)


# (task, file, change, what the message must contain: file:line or item, field, problem)
CASES = [
    ('afqmc', 'train.json', (3, '{"sentence1": "a", "sentence2": '),
     ['train.json:3:', 'not valid JSON']),
    ('afqmc', 'dev.json', (2, lambda r: without(r, 'sentence2')),
     ["dev.json:2: field 'sentence2': missing"]),
    ('afqmc', 'train.json', (4, lambda r: updated(r, label='7')),
     ["train.json:4: field 'label': label '7' is outside 0..1"]),
    ('afqmc', 'test.json', (2, lambda r: without(r, 'id')),
     ["test.json:2: field 'id': missing"]),
    ('afqmc', 'train.json', (5, '[1, 2]'),
     ['train.json:5:', 'expected a JSON object']),
    ('afqmc', 'train.json', 'gbk line 2',
     ['train.json:2:', 'not UTF-8 text']),
    ('tnews', 'train.json', (2, lambda r: updated(r, label='105')),
     ["train.json:2: field 'label': unknown label '105'"]),
    ('iflytek', 'dev.json', (1, lambda r: updated(r, label='app')),
     ["dev.json:1: field 'label': expected an integer label"]),
    ('iflytek', 'train.json', (3, lambda r: updated(r, label='119')),
     ["train.json:3: field 'label': label '119' is outside 0..118"]),
    ('cmnli', 'train.json', (6, lambda r: updated(r, sentence1=12)),
     ["train.json:6: field 'sentence1': expected str, got 12"]),
    ('wsc', 'train.json', (2, lambda r: updated(r, target=dict(r['target'], span1_index=99))),
     ["train.json:2: field 'target.span1_index': span"]),
    ('wsc', 'dev.json', (3, lambda r: without(r, 'target')),
     ["dev.json:3: field 'target': missing"]),
    ('csl', 'train.json', (1, lambda r: updated(r, keyword=u'关键词')),
     ["train.json:1: field 'keyword': expected list"]),
    ('c3', 'm-train.json', set_c3_answer,
     ["m-train.json: item [1][1][0]: field 'answer'", 'is not among the choices']),
    ('c3', 'd-dev.json', drop_c3_question_text,
     ["d-dev.json: item [0][1][0]: field 'question': missing"]),
    ('chid', 'train.json', (2, lambda r: updated(r, candidates=r['candidates'][:9])),
     ["train.json:2: field 'candidates': expected 10 idioms, got 9"]),
    ('chid', 'train_answer.json', 'drop first blank of train.json',
     ["train.json:1: field 'content': blank #idiom", 'has no answer']),
    ('chid', 'dev_answer.json', set_chid_answer(12),
     ["dev.json:1: field 'content'", 'is 12, not a candidate index 0..9']),
    ('chid', 'train.json', (1, lambda r: {'id': 1, 'candidates': r['candidates'][:7], 'answer': 2,
                                          'content': r['content'][0]}),
     ["train.json:1: field 'content': this is FewCLUE's chid format"]),
    ('chid', 'dev_answer.json', (1, '{"#idiom000001#": 3,'),
     ['dev_answer.json:2:', 'not valid JSON']),  # the object is cut at the end of line 1
    ('cmrc2018', 'dev.json', set_cmrc_answer_start('12'),
     ["dev.json: data[0].paragraphs[0].qas[1]: field 'answer_start': expected int"]),
    ('cluener', 'train.json', (3, lambda r: updated(r, label={'game': {'x': [3]}})),
     ["train.json:3: field 'label': game 'x': expected [start, end]"]),
    ('ocnli', 'train.50k.json', (1, lambda r: without(r, 'sentence1')),
     ["train.50k.json:1: field 'sentence1': missing"]),
]


def corrupt(data_dir, task, name, change):
    path = os.path.join(data_dir, task, name)
    if change == 'gbk line 2':
        write_gbk_line(path, 2)
    elif change == 'drop first blank of train.json':
        edit_json(path, drop_chid_answer(os.path.join(data_dir, task, 'train.json')))
    elif isinstance(change, tuple):
        edit_json_line(path, *change)
    else:
        edit_json(path, change)
    return path


def run_cli(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err.splitlines()


@pytest.mark.parametrize('task,name,change,expected', CASES,
                         ids=['%s-%s-%d' % (c[0], c[1], i) for i, c in enumerate(CASES)])
def test_bad_data_is_reported_with_file_line_and_field(tiny_models, clean_data, tmp_path, capsys,
                                                       task, name, change, expected):
    data_dir = str(tmp_path / 'data')
    shutil.copytree(os.path.join(clean_data, task), os.path.join(data_dir, task))
    path = corrupt(data_dir, task, name, change)
    output_dir = str(tmp_path / 'out')
    code, errors = run_cli(['run', '--backbone', 'bert', '--task', task, '--data-dir', data_dir,
                            '--model-dir', tiny_models['bert'].directory, '--output-dir', output_dir,
                            '--no-progress'], capsys)
    assert code == 2
    problems = [e for e in errors if e.startswith('error: ') and 'skips them' not in e]
    assert len(problems) == 1, errors
    assert problems[0].startswith('error: %s' % os.path.dirname(path))
    for part in expected:
        assert part in problems[0], problems[0]
    assert not os.path.exists(output_dir)


def test_every_bad_line_is_reported_at_once_and_can_be_skipped(tiny_models, clean_data, tmp_path, capsys):
    data_dir = str(tmp_path / 'data')
    shutil.copytree(os.path.join(clean_data, 'afqmc'), os.path.join(data_dir, 'afqmc'))
    train = os.path.join(data_dir, 'afqmc', 'train.json')
    edit_json_line(train, 2, lambda r: without(r, 'sentence1'))
    edit_json_line(train, 5, 'not json')
    args = ['run', '--backbone', 'bert', '--task', 'afqmc', '--data-dir', data_dir,
            '--model-dir', tiny_models['bert'].directory, '--output-dir', str(tmp_path / 'out'),
            '--no-progress', '--epochs', '1', '--ffn-prompt-size', '4']
    code, errors = run_cli(args, capsys)
    assert code == 2
    assert [e.split(':', 3)[2] for e in errors if e.startswith('error: ' + data_dir)] == ['2', '5']
    assert errors[-1] == 'error: 2 bad line(s) in the data; --skip-bad-lines skips them'
    code = main(args + ['--skip-bad-lines'])
    out = capsys.readouterr().out
    assert code == 0
    assert 'skipped 2 bad record(s):' in out and 'train.json:5: not valid JSON' in out
    with open(str(tmp_path / 'out' / 'records' / 'afqmc.jsonl')) as f:
        summary = json.loads(f.read().splitlines()[-1])['summary']
    assert summary['skipped_records'] == 2


def test_empty_file(tiny_models, clean_data, tmp_path, capsys):
    data_dir = str(tmp_path / 'data')
    shutil.copytree(os.path.join(clean_data, 'csl'), os.path.join(data_dir, 'csl'))
    open(os.path.join(data_dir, 'csl', 'dev.json'), 'w').close()
    output_dir = str(tmp_path / 'out')
    code, errors = run_cli(['run', '--backbone', 'bert', '--task', 'csl', '--data-dir', data_dir,
                            '--model-dir', tiny_models['bert'].directory, '--output-dir', output_dir], capsys)
    assert code == 2 and errors[0] == 'error: %s: empty file' % os.path.join(data_dir, 'csl', 'dev.json')
    assert not os.path.exists(os.path.join(output_dir, 'records'))  # bad input leaves no lock file


def model_dir_copy(tiny, tmp_path):
    target = str(tmp_path / 'model')
    shutil.copytree(tiny.directory, target)
    return target


def edit_config(model_dir, **fields):
    path = os.path.join(model_dir, 'bert_config.json')
    with open(path) as f:
        config = json.load(f)
    config.update(fields)
    for name, value in fields.items():
        if value is None:
            del config[name]
    with open(path, 'w') as f:
        json.dump(config, f)
    return path


@pytest.mark.parametrize('problem,expected', [
    ('config missing field', "bert_config.json: missing field(s) intermediate_size"),
    ('config hidden size', "bert_config.json: hidden_size is 48 but the checkpoint has 32"),
    ('config layers', "bert_config.json: num_hidden_layers is 3 but the checkpoint has 2"),
    ('vocabulary size', 'vocabulary size mismatch: '),
    ('another backbone', "has no 'bert/embeddings/position_embeddings': BERT needs absolute position"),
])
def test_model_dir_problems_are_caught_before_building(tiny_models, clean_data, tmp_path, capsys,
                                                       problem, expected):
    model_dir = model_dir_copy(tiny_models['nezha' if problem == 'another backbone' else 'bert'], tmp_path)
    if problem == 'config missing field':
        edit_config(model_dir, intermediate_size=None)
    elif problem == 'config hidden size':
        edit_config(model_dir, hidden_size=48)
    elif problem == 'config layers':
        edit_config(model_dir, num_hidden_layers=3)
    elif problem == 'vocabulary size':
        with open(os.path.join(model_dir, 'vocab.txt'), 'a', encoding='utf-8') as f:
            f.write(u'多余\n')
    code, errors = run_cli(['run', '--backbone', 'bert', '--task', 'afqmc', '--data-dir', clean_data,
                            '--model-dir', model_dir, '--output-dir', str(tmp_path / 'out')], capsys)
    assert code == 2 and len(errors) == 1 and expected in errors[0], errors
    assert not os.path.exists(str(tmp_path / 'out'))


def test_a_fault_on_every_line_is_one_line_with_the_count_and_range(tiny_models, clean_data, tmp_path, capsys):
    data_dir = str(tmp_path / 'data')
    shutil.copytree(os.path.join(clean_data, 'afqmc'), os.path.join(data_dir, 'afqmc'))
    test = os.path.join(data_dir, 'afqmc', 'test.json')
    with open(test, encoding='utf-8') as f:
        count = len(f.read().splitlines())
    for number in range(1, count + 1):
        edit_json_line(test, number, lambda r: without(r, 'id'))
    edit_json_line(os.path.join(data_dir, 'afqmc', 'dev.json'), 2, 'not json')
    code, errors = run_cli(['run', '--backbone', 'bert', '--task', 'afqmc', '--data-dir', data_dir,
                            '--model-dir', tiny_models['bert'].directory, '--output-dir', str(tmp_path / 'out'),
                            '--no-progress'], capsys)
    assert code == 2
    dev = os.path.join(data_dir, 'afqmc', 'dev.json')
    assert errors == ['error: %s:2: not valid JSON (Expecting value: line 1 column 1 (char 0))' % dev,
                      "error: %s:1-%d: field 'id': missing (%d lines)" % (test, count, count),
                      'error: %d bad line(s) in the data; --skip-bad-lines skips them' % (count + 1)]
