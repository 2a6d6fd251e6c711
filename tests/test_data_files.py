"""Data as its authors publish it: C3 without question ids, FewCLUE's files chosen
with --train-file/--dev-file, and records the original reads although a check finds
them odd (read the original's way, counted and reported)."""
import json
import os
import shutil

import pytest
from bert4keras.backend import K

from fl_tuning.cli import main
from fl_tuning.errors import InputError
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.run import Run, RunConfig


@pytest.fixture(scope='module')
def clean_data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')),
                               tasks=['tnews', 'c3', 'chid', 'cluener', 'cmrc2018'], counts=(6, 4, 3))


def copy_task(clean_data, tmp_path, task):
    data_dir = str(tmp_path / 'data')
    shutil.copytree(os.path.join(clean_data, task), os.path.join(data_dir, task))
    return data_dir


def run(tiny, data_dir, task, tmp_path, log=None, **options):
    K.clear_session()
    config = RunConfig('bert', task, data_dir, tiny.directory, str(tmp_path / 'out'),
                       ffn_prompt_size=4, epochs=1, seed=3, progress=False, **options)
    summary = Run(config, log=log or (lambda message: None)).execute()
    K.clear_session()
    return summary


def read_lines(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def write_lines(path, records):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records))


def test_c3_as_its_authors_publish_it_has_no_ids_outside_the_test_files(tiny_models, clean_data, tmp_path):
    data_dir = copy_task(clean_data, tmp_path, 'c3')
    for name in ('m-train.json', 'd-train.json', 'm-dev.json', 'd-dev.json'):
        path = os.path.join(data_dir, 'c3', name)
        with open(path, encoding='utf-8') as f:
            documents = json.load(f)
        for document in documents:
            for question in document[1]:
                del question['id']  # nlpdata/c3: question, choice, answer only
        with open(path, 'w', encoding='utf-8') as f:
            json.dump(documents, f, ensure_ascii=False)
    summary = run(tiny_models['bert'], data_dir, 'c3', tmp_path)
    with open(summary['submissions'][0], encoding='utf-8') as f:
        assert all('id' in json.loads(line) for line in f)


def fewclue_tnews(data_dir):
    """FewCLUE's tnews files: label codes as numbers, with label_desc and ids."""
    folder = os.path.join(data_dir, 'tnews')
    train = read_lines(os.path.join(folder, 'train.json'))
    dev = read_lines(os.path.join(folder, 'dev.json'))
    for name, records in (('train_0.json', train[:4]), ('dev_0.json', dev[:2])):
        write_lines(os.path.join(folder, name), [dict(r, label=int(r['label']), label_desc='news', id=i)
                                                 for i, r in enumerate(records)])


def test_fewclue_files_are_chosen_with_train_and_dev_file(tiny_models, clean_data, tmp_path):
    data_dir = copy_task(clean_data, tmp_path, 'tnews')
    fewclue_tnews(data_dir)
    log = []
    summary = run(tiny_models['bert'], data_dir, 'tnews', tmp_path, log=log.append,
                  train_files=['train_0.json'], dev_files=['dev_0.json'])
    assert summary['settings']['data_files'] == {'train': ['train_0.json'], 'dev': ['dev_0.json']}
    with open(str(tmp_path / 'out' / 'records' / 'tnews.jsonl')) as f:
        header = json.loads(f.readline())['run']
    assert header['data_files']['train'] == ['train_0.json']
    assert any(line.startswith('tnews on bert: 4 train / 2 dev examples') for line in log)


@pytest.mark.parametrize('task,options,message', [
    ('tnews', {'train_files': ['../afqmc/train.json']}, '--train-file ../afqmc/train.json: name a file '
                                                        'inside the task folder'),
    ('chid', {'dev_files': ['dev_0.json']}, r'--dev-file dev_0.json: chid reads 2 dev file\(s\) '
                                            r'\(dev.json,dev_answer.json by default\)'),
    ('tnews', {'train_files': ['train_9.json']}, 'data file not found: .*train_9.json'),
])
def test_train_and_dev_files_are_checked(tiny_models, clean_data, tmp_path, task, options, message):
    data_dir = copy_task(clean_data, tmp_path, task)
    with pytest.raises(InputError, match=message):
        run(tiny_models['bert'], data_dir, task, tmp_path, **options)
    assert not os.path.exists(str(tmp_path / 'out'))


def test_records_the_original_reads_are_read_its_way_counted_and_reported(
        tiny_models, clean_data, tmp_path, capsys):
    data_dir = copy_task(clean_data, tmp_path, 'cluener')
    train = os.path.join(data_dir, 'cluener', 'train.json')
    records = read_lines(train)
    text = records[0]['text']
    records[0]['label'] = {'name': {u'某人': [[0, 1]]}}  # the span's text is not the entity's
    write_lines(train, records)
    output_dir = str(tmp_path / 'out')
    code = main(['run', '--backbone', 'bert', '--task', 'cluener', '--data-dir', data_dir, '--model-dir',
                 tiny_models['bert'].directory, '--output-dir', output_dir, '--epochs', '1',
                 '--ffn-prompt-size', '4', '--no-progress', '--seed', '1'])
    out = capsys.readouterr().out
    assert code == 0
    assert '1 record(s) read as the original reads them, although they look odd:' in out
    assert "%s:1: field 'label': name '某人': span [0, 1] is %r in the text (kept" % (train, text[:2]) in out
    with open(os.path.join(output_dir, 'records', 'cluener.jsonl')) as f:
        assert json.loads(f.read().splitlines()[-1])['summary']['data_notices'] == 1


def test_a_cmrc2018_answer_off_its_start_keeps_the_original_offsets(clean_data, tmp_path):
    from fl_tuning.data_files import BadLines
    from fl_tuning.tasks import get_task
    data_dir = copy_task(clean_data, tmp_path, 'cmrc2018')
    path = os.path.join(data_dir, 'cmrc2018', 'train.json')
    with open(path, encoding='utf-8') as f:
        document = json.load(f)
    paragraph = document['data'][0]['paragraphs'][0]
    answer = paragraph['qas'][0]['answers'][0]
    answer['answer_start'] += 1
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(document, f, ensure_ascii=False)
    task = get_task('cmrc2018')
    bad_lines = BadLines()
    windows = task.read([path], 'train', bad_lines)
    assert not bad_lines.problems and len(bad_lines.notices) == 1
    assert "field 'answers[0]': answer %r does not occur at %d" % (answer['text'], answer['answer_start']) \
        in str(bad_lines.notices[0])
    first = windows[0]
    assert (first.start, first.end) == (answer['answer_start'], answer['answer_start'] + len(answer['text']))
