"""The few-shot setting: samples drawn from (K, seed) alone, by each task's rule,
written in the task's own format, and rerunnable."""
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from bert4keras.backend import K

from fl_tuning import few_shot
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.data_files import BadLines
from fl_tuning.run import Run, RunConfig
from fl_tuning.tasks import get_task

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')),
                               tasks=['tnews', 'afqmc', 'cluener', 'c3', 'chid', 'cmrc2018'],
                               counts=(40, 6, 3))


def read(data, task_name, split='train'):
    task = get_task(task_name)
    paths = [os.path.join(data, task_name, name) for name in getattr(task, '%s_files' % split)]
    examples = task.read(paths, split, BadLines())
    return task, examples


def test_k_examples_per_label(data):
    task, examples = read(data, 'tnews')
    available = Counter(e.label for e in examples)
    indices, ids = few_shot.draw(task, examples, 2, seed=7)
    drawn = Counter(examples[i].label for i in indices)
    assert drawn == Counter(dict((label, min(2, n)) for label, n in available.items()))
    assert indices == sorted(indices) and len(ids) == len(indices)
    assert all(i.startswith('train.json:') for i in ids)


def test_the_same_k_and_seed_give_the_same_sample_in_another_process_and_other_seeds_differ(data):
    task, examples = read(data, 'afqmc')
    _, ids = few_shot.draw(task, examples, 3, seed=11)
    code = ('import json, sys; from fl_tuning import few_shot; from fl_tuning.data_files import BadLines; '
            'from fl_tuning.tasks import get_task; t = get_task("afqmc"); '
            'e = t.read([sys.argv[1]], "train", BadLines()); print(json.dumps(few_shot.draw(t, e, 3, 11)[1]))')
    output = subprocess.check_output([sys.executable, '-c', code, os.path.join(data, 'afqmc', 'train.json')],
                                     cwd=ROOT, stderr=subprocess.DEVNULL)
    assert json.loads(output.decode().splitlines()[-1]) == ids
    others = [few_shot.draw(task, examples, 3, seed)[1] for seed in (12, 13, 14)]
    assert all(other != ids for other in others)
    assert few_shot.draw(task, examples, 2, seed=11)[1] != ids  # K counts


def test_cluener_sample_covers_every_category_k_times(data):
    task, examples = read(data, 'cluener')
    indices, _ = few_shot.draw(task, examples, 3, seed=1)
    covered = Counter(c for i in indices for c in set(cat for _, _, cat in examples[i].entities))
    everywhere = Counter(c for e in examples for c in set(cat for _, _, cat in e.entities))
    assert set(covered) == set(everywhere)
    assert all(covered[c] >= min(3, everywhere[c]) for c in everywhere)
    assert len(indices) < len(examples)


@pytest.mark.parametrize('task_name,quota', [('c3', 4), ('chid', 10), ('cmrc2018', 4)])
def test_tasks_without_labels_draw_their_quota(data, task_name, quota):
    task, examples = read(data, task_name)
    indices, ids = few_shot.draw(task, examples, 2, seed=5)
    units = set(task.sample_unit(examples[i]) for i in indices)
    if task_name == 'chid':  # whole lines, until they hold 2 x 10 blanks
        assert len(indices) >= 20 and len(indices) - 20 < max(
            Counter(task.sample_unit(e) for e in examples).values())
    else:
        assert len(units) == 2 * quota == len(ids)
    whole = Counter(task.sample_unit(e) for e in examples)
    assert all(Counter(task.sample_unit(examples[i]) for i in indices)[u] == whole[u] for u in units)


@pytest.mark.parametrize('task_name', ['tnews', 'cluener', 'c3', 'chid', 'cmrc2018'])
def test_the_written_sample_reads_back_as_the_same_examples(data, tmp_path, task_name):
    task, examples = read(data, task_name)
    drawn = few_shot.sample(task, examples, 2, 3, str(tmp_path))
    again = task.read(drawn.files, 'train', BadLines())
    key = {'tnews': lambda e: (e.texts, e.label), 'cluener': lambda e: (e.text, e.entities),
           'c3': lambda e: (e.passage, e.question, e.choices, e.answer),
           'chid': lambda e: (e.left, e.right, e.tag, e.answer, e.candidates),
           'cmrc2018': lambda e: (e.qid, e.text, e.start, e.end)}[task_name]
    assert [key(e) for e in again] == [key(e) for e in drawn.examples]
    description = drawn.description()
    assert description['fingerprint'].startswith('sha256:') and description['units'] == len(description['ids'])


def test_a_few_shot_run_records_its_sample_and_the_written_file_reruns_to_the_same_record(
        tiny_models, data, tmp_path):
    tiny = tiny_models['bert']

    def run(output, **options):
        K.clear_session()
        summary = Run(RunConfig('bert', 'tnews', data, tiny.directory, str(tmp_path / output),
                                ffn_prompt_size=4, epochs=2, seed=3, progress=False, **options),
                      log=lambda message: None).execute()
        with open(str(tmp_path / output / 'records' / 'tnews.jsonl')) as f:
            return summary, [json.loads(line) for line in f]

    summary, record = run('few', few_shot=2, few_shot_seed=9)
    sample = record[0]['run']['few_shot']['train']
    assert (sample['k'], sample['seed'], sample['files']) == (2, 9, ['train.json'])
    folder = tmp_path / 'few' / 'few_shot' / 'tnews' / 'train-k2-seed9'
    with open(str(folder / 'train.json')) as f:
        assert len(f.readlines()) == sample['examples'] == 2 * 15
    from fl_tuning.keras.weights import read_manifest
    assert read_manifest(summary['weights'])['few_shot']['train'] == sample

    _, rerun = run('rerun', train_files=[str(folder / 'train.json')])
    strip = lambda epoch: dict((k, v) for k, v in epoch.items() if k not in ('seconds', 'examples_per_second'))  # noqa: E731
    assert [strip(e) for e in rerun[1:-1]] == [strip(e) for e in record[1:-1]]
