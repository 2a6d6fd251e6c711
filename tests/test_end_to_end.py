"""Every task end to end on tiny data, each kind of task on every backbone; the command
line; the demo."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.keras.compat import STACK, device_name
from fl_tuning.evaluate import evaluate
from fl_tuning.records import read_record, record_path
from fl_tuning.run import Run, RunConfig
from fl_tuning.tasks import NLI_LABELS, TASK_NAMES, TNEWS_LABELS, get_task
from fl_tuning.tasks.hyperparameters import HYPERPARAMETERS

from conftest import BACKBONES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ORIGINAL_SPEC §1, copied by hand: the test that the table is the original's.
SPEC_TABLE = {
    #            classes maxlen batch epochs  lr   accumulation
    'afqmc':    (2,   128,  32, 10, 2e-4, 1),
    'c3':       (4,   512,   4, 50, 1e-4, 4),
    'chid':     (10,   64,  16, 30, 8e-5, 2),
    'cluener':  (10,  256,  32, 30, 1e-4, 1),
    'cmnli':    (3,   128,  32, 30, 1e-4, 1),
    'cmrc2018': (119, 512,  16, 20, 2e-4, 2),
    'csl':      (2,   128,  32, 30, 8e-5, 1),
    'iflytek':  (119, 128,  32, 30, 5e-5, 1),
    'ocnli':    (3,   128,  32, 30, 5e-4, 1),
    'tnews':    (15,  128,  32, 30, 5e-5, 1),
    'wsc':      (2,   128, 128, 40, 3e-4, 1),
}


def test_hyperparameters_equal_the_original():
    assert set(HYPERPARAMETERS) == set(SPEC_TABLE)
    for task, row in SPEC_TABLE.items():
        h = HYPERPARAMETERS[task]
        assert (h['num_classes'], h['maxlen'], h['batch_size'], h['epochs'],
                h['learning_rate'], h['grad_accum_steps']) == row, task
        assert h['num_warmup_steps'] == 0


def test_tasks_command_prints_the_table_as_json():
    output = subprocess.check_output([sys.executable, '-m', 'fl_tuning', 'tasks', '--json'],
                                     cwd=ROOT, stderr=subprocess.DEVNULL)
    assert json.loads(output.decode('utf-8')) == json.loads(json.dumps(HYPERPARAMETERS))


@pytest.fixture(scope='module')
def clue_data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue_dataset')))


def lines(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f]


def check_submission(task, data_dir, path, source):
    """The submission has one entry per test example, with the original's fields."""
    test_path = os.path.join(data_dir, task, source)
    if task in ('afqmc', 'tnews', 'iflytek', 'ocnli', 'cmnli', 'wsc', 'csl', 'cluener'):
        test, predicted = lines(test_path), lines(path)
        assert [str(t['id']) for t in test] == [str(p['id']) for p in predicted]
        labels = {'afqmc': {'0', '1'}, 'csl': {'0', '1'}, 'wsc': {'true', 'false'},
                  'tnews': set(TNEWS_LABELS), 'ocnli': set(NLI_LABELS), 'cmnli': set(NLI_LABELS),
                  'iflytek': set(str(i) for i in range(119))}
        if task == 'cluener':
            for t, p in zip(test, predicted):
                assert p['text'] == t['text'] and isinstance(p['label'], dict)
                for mentions in p['label'].values():
                    for mention, spans in mentions.items():
                        assert all(t['text'][s:e + 1] == mention for s, e in spans)
        else:
            assert all(set(p) == {'id', 'label'} and p['label'] in labels[task] for p in predicted)
    elif task == 'c3':
        questions = [q['id'] for document in json.load(open(test_path, encoding='utf-8'))
                     for q in document[1]]
        predicted = lines(path)
        assert [p['id'] for p in predicted] == questions
        assert all(p['label'] in {'0', '1', '2', '3'} for p in predicted)
    elif task == 'chid':
        tags = [tag for line in lines(test_path) for passage in line['content']
                for tag in __import__('re').findall(r'#idiom\d{6}#', passage)]
        predicted = json.load(open(path, encoding='utf-8'))
        assert list(predicted) == tags and all(0 <= v < 10 for v in predicted.values())
    elif task == 'cmrc2018':
        data = json.load(open(test_path, encoding='utf-8'))
        qids = [qa['id'] for a in data['data'] for p in a['paragraphs'] for qa in p['qas']]
        predicted = json.load(open(path, encoding='utf-8'))
        assert list(predicted) == qids and all(isinstance(v, str) for v in predicted.values())


def check_dev_predictions(task, clue_data, summary):
    """evaluate scores the run's own dev predictions with the run's metric (cluener and
    cmrc2018: their published measures, said so)."""
    metrics = evaluate(task, clue_data, summary['dev_predictions'])
    recorded = summary['best_dev']
    if task == 'cluener':
        assert 'entity F1' in metrics['scored_as']
        def spans(record):
            return set((category, s, e) for category, mentions in record['label'].items()
                       for found in mentions.values() for s, e in found)
        gold = [spans(r) for r in lines(os.path.join(clue_data, 'cluener', 'dev.json'))]
        predicted = [spans(r) for r in lines(summary['dev_predictions'])]
        hits = sum(len(g & p) for g, p in zip(gold, predicted))
        total = sum(map(len, gold)) + sum(map(len, predicted))
        assert metrics['f1'] == pytest.approx(2.0 * hits / total if total else 0.0, abs=1e-9)
    elif task == 'cmrc2018':
        assert 'official CMRC 2018' in metrics['scored_as'] and 0 <= metrics['em'] <= metrics['f1'] <= 100
    else:
        assert metrics[summary['metric']] == pytest.approx(recorded[summary['metric']], abs=1e-12)
    assert metrics['examples'] > 0


# Every task on BERT; on the other backbones, one task of each kind of input and head
# (one sentence, a pair, multiple choice by context and by idiom, entities, reading
# comprehension): the other classification tasks differ from afqmc and tnews only in
# how their files are read, which no backbone touches.
KINDS_OF_TASK = ['tnews', 'afqmc', 'c3', 'chid', 'cluener', 'cmrc2018']
# The quick tier keeps BERT's; the other backbones' are in the full tier.
END_TO_END = [(task, 'bert') for task in TASK_NAMES] + [
    pytest.param(task, backbone, marks=pytest.mark.full)
    for backbone in BACKBONES if backbone != 'bert' for task in KINDS_OF_TASK]


@pytest.mark.parametrize('task,backbone', END_TO_END)
def test_every_task_runs_end_to_end(tiny_models, clue_data, tmp_path, backbone, task):
    tiny = tiny_models[backbone]
    # FL-tuning everywhere; P-tuning v2 as well on NEZHA, as the original allows. The
    # task's own maxlen on BERT, 128 on the others: no backbone's code depends on it,
    # and c3's and cmrc2018's 512 costs time.
    config = RunConfig(backbone, task, clue_data, tiny.directory, str(tmp_path),
                       ffn_prompt_size=8, prompt_size=2 if backbone == 'nezha' else 0,
                       maxlen=None if backbone == 'bert' else 128,
                       epochs=1, seed=0, progress=False, write_dev_predictions=True)
    summary = Run(config, log=lambda message: None).execute()
    check_dev_predictions(task, clue_data, summary)
    expected = [os.path.join(str(tmp_path), 'results', t.submission) for t in get_task(task).test_files]
    assert summary['submissions'] == expected
    for test_file, path in zip(get_task(task).test_files, expected):
        check_submission(task, clue_data, path, test_file.source)
    records = lines(os.path.join(str(tmp_path), 'records', '%s.jsonl' % task))
    assert records[0]['run']['task'] == task and records[0]['run']['seed'] == 0
    assert records[0]['run']['device'] == device_name() and records[0]['run']['stack'] == STACK
    assert [r['epoch'] for r in records[1:-1]] == [1]
    assert records[-1]['summary']['metric'] in records[1]['dev']
    assert os.path.isfile(os.path.join(str(tmp_path), 'weights', '%s.weights' % task))


def run_cli(args, cwd=ROOT):
    process = subprocess.run([sys.executable] + args, cwd=cwd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    return process.returncode, process.stdout.decode('utf-8'), process.stderr.decode('utf-8')


def test_backbone_script_runs_its_task(tiny_models, clue_data, tmp_path):
    code, out, err = run_cli([os.path.join('fl_tuning_roformer', 'afqmc.py'),
                              '--data-dir', clue_data, '--model-dir', tiny_models['roformer'].directory,
                              '--output-dir', str(tmp_path), '--epochs', '2', '--no-progress',
                              '--ffn-prompt-size', '4', '--seed', '3'])
    assert code == 0, err
    assert 'submission: %s' % os.path.join(str(tmp_path), 'results', 'afqmc_predict.json') in out
    records = lines(os.path.join(str(tmp_path), 'records', 'afqmc.jsonl'))
    summary = records[-1]['summary']
    assert (summary['backbone'], summary['task'], summary['ffn_prompt_size']) == ('roformer', 'afqmc', 4)
    assert summary['hyperparameters']['epochs'] == 2 and summary['seed'] == 3


def test_every_backbone_folder_has_every_task_script():
    for backbone in BACKBONES:
        scripts = sorted(f[:-3] for f in os.listdir(os.path.join(ROOT, 'fl_tuning_' + backbone))
                         if f.endswith('.py'))
        assert scripts == sorted(TASK_NAMES)


@pytest.mark.parametrize('problem,expected', [
    ('no data dir', 'error: data dir not found: '),
    ('no data file', 'error: data file not found: '),
    ('no model dir', 'error: model dir not found: '),
    ('no vocabulary', 'error: vocabulary not found: '),
    ('no checkpoint', 'error: no TensorFlow checkpoint (*.index) in model dir '),
    ('two checkpoints', 'error: several checkpoints in '),
])
def test_bad_paths_fail_early_with_one_line_and_exit_2(tiny_models, clue_data, tmp_path, problem, expected):
    data_dir = str(tmp_path / 'data')
    shutil.copytree(os.path.join(clue_data, 'afqmc'), os.path.join(data_dir, 'afqmc'))
    model_dir = str(tmp_path / 'model')
    shutil.copytree(tiny_models['bert'].directory, model_dir)
    if problem == 'no data dir':
        data_dir += '-missing'
    elif problem == 'no data file':
        os.remove(os.path.join(data_dir, 'afqmc', 'dev.json'))
    elif problem == 'no model dir':
        model_dir += '-missing'
    elif problem == 'no vocabulary':
        os.remove(os.path.join(model_dir, 'vocab.txt'))
    elif problem == 'no checkpoint':
        for name in os.listdir(model_dir):
            if name.startswith('bert_model.ckpt') or name == 'checkpoint':
                os.remove(os.path.join(model_dir, name))
    elif problem == 'two checkpoints':
        os.remove(os.path.join(model_dir, 'checkpoint'))
        for name in os.listdir(model_dir):
            if name.startswith('bert_model.ckpt'):
                shutil.copy(os.path.join(model_dir, name),
                            os.path.join(model_dir, name.replace('bert_model.ckpt', 'model.ckpt-5')))
    output_dir = str(tmp_path / 'out')
    code, out, err = run_cli(['-m', 'fl_tuning', 'run', '--backbone', 'bert', '--task', 'afqmc',
                              '--data-dir', data_dir, '--model-dir', model_dir,
                              '--output-dir', output_dir])
    assert code == 2
    message = [line for line in err.splitlines() if line.startswith('error:')]
    assert len(message) == 1 and message[0].startswith(expected), err
    assert 'Traceback' not in err
    assert not os.path.exists(output_dir)


def test_checkpoint_found_by_its_index_or_named_explicitly(tiny_models, clue_data, tmp_path):
    model_dir = str(tmp_path / 'nezha')
    os.makedirs(model_dir)
    tiny = tiny_models['nezha']
    for name in os.listdir(tiny.directory):
        target = name.replace('bert_model.ckpt', 'model.ckpt-691689')
        if name != 'checkpoint':  # NEZHA's release has no 'checkpoint' file
            shutil.copy(os.path.join(tiny.directory, name), os.path.join(model_dir, target))
    from fl_tuning.model_files import locate_checkpoint
    assert locate_checkpoint(model_dir) == os.path.join(model_dir, 'model.ckpt-691689')
    assert locate_checkpoint(model_dir, 'model.ckpt-691689') == os.path.join(model_dir, 'model.ckpt-691689')
    with pytest.raises(Exception, match='checkpoint not found: model.ckpt-1'):
        locate_checkpoint(model_dir, 'model.ckpt-1')


def test_checkpoint_of_a_moved_folder_is_found_by_its_file_name(tiny_models, tmp_path):
    moved = str(tmp_path / 'moved')
    shutil.copytree(tiny_models['bert'].directory, moved)
    with open(os.path.join(moved, 'checkpoint'), encoding='utf-8') as f:
        assert '"bert_model.ckpt"' in f.read()  # write_checkpoint writes relative paths
    with open(os.path.join(moved, 'checkpoint'), 'w', encoding='utf-8') as f:
        f.write('model_checkpoint_path: "/elsewhere/bert_model.ckpt"\n')  # as tf.train.Saver writes
    from fl_tuning.model_files import locate_checkpoint
    assert locate_checkpoint(moved) == os.path.join(moved, 'bert_model.ckpt')


def test_checkpoint_outside_the_model_dir_is_read_only_when_named(tiny_models, clue_data, tmp_path):
    # The folder's 'checkpoint' file names a prefix in another folder that exists there
    # (another model's): followed silently, the weights would come from outside --model-dir.
    model_dir, other = str(tmp_path / 'model'), str(tmp_path / 'other')
    shutil.copytree(tiny_models['bert'].directory, model_dir)
    shutil.copytree(tiny_models['bert'].directory, other)
    for name in os.listdir(model_dir):
        if name.startswith('bert_model.ckpt'):
            os.remove(os.path.join(model_dir, name))
    outside = os.path.join(other, 'bert_model.ckpt')
    with open(os.path.join(model_dir, 'checkpoint'), 'w', encoding='utf-8') as f:
        f.write('model_checkpoint_path: "%s"\n' % outside)
    args = ['-m', 'fl_tuning', 'run', '--backbone', 'bert', '--task', 'afqmc', '--data-dir', clue_data,
            '--model-dir', model_dir, '--ffn-prompt-size', '4', '--epochs', '1', '--no-progress', '--seed', '0']
    code, out, err = run_cli(args + ['--output-dir', str(tmp_path / 'refused')])
    assert code == 2 and 'Traceback' not in err
    assert err.strip() == 'error: %s names %s, outside the model dir: to read it, give --checkpoint %s' % (
        os.path.join(model_dir, 'checkpoint'), outside, outside)
    code, out, err = run_cli(args + ['--output-dir', str(tmp_path / 'named'), '--checkpoint', outside])
    assert code == 0, err
    read = [os.path.join(model_dir, 'bert_config.json'), os.path.join(model_dir, 'vocab.txt'),
            outside + '.index', outside + '.data-00000-of-00001']
    assert 'model files: %s' % ', '.join(read) in out.splitlines()[:3]
    record = read_record(record_path(str(tmp_path / 'named'), 'afqmc'))
    assert record.run['model_files'] == read and record.run['missing_tokens'] == []


def test_run_that_never_improves_still_writes_its_submission(tiny_models, clue_data, tmp_path):
    # iflytek's 119 classes on 6 dev examples: a tiny random model scores 0 every epoch
    config = RunConfig('bert', 'iflytek', clue_data, tiny_models['bert'].directory, str(tmp_path),
                       ffn_prompt_size=4, epochs=2, seed=0, progress=False, learning_rate=1e-9)
    summary = Run(config, log=lambda message: None).execute()
    assert summary['best_dev'] == {'accuracy': 0.0} and summary['best_epoch'] is None
    assert len(lines(summary['submissions'][0])) == 4


def test_demo_command(tmp_path):
    code, out, err = run_cli(['-m', 'fl_tuning', 'demo', '--output-dir', str(tmp_path), '--no-progress'])
    assert code == 0, err
    assert 'tiny RANDOM bert checkpoint' in out
    # the run's first line says what ran (this machine has no GPU; a GPU host shows its name)
    first = next(line for line in out.splitlines() if line.startswith('device: '))
    assert first == 'device: %s (%s); precision fp32; 1 process' % (device_name(), STACK)
    assert first.startswith(('device: CPU (', 'device: GPU '))
    accuracy = float(out.split('best dev accuracy ')[1].split()[0])
    assert accuracy > 0.6  # three topics: chance is 0.33
    for name in ('tnews10_predict.json', 'tnews11_predict.json'):
        assert len(lines(os.path.join(str(tmp_path), 'results', name))) == 30


def test_bundled_demo_data_is_what_the_generator_writes(tmp_path):
    from fl_tuning.demo import DEMO_DATA
    from fl_tuning.testing.fixtures import write_demo_data
    write_demo_data(str(tmp_path))
    for name in sorted(os.listdir(os.path.join(DEMO_DATA, 'tnews'))):
        with open(os.path.join(DEMO_DATA, 'tnews', name), 'rb') as a, \
                open(os.path.join(str(tmp_path), 'tnews', name), 'rb') as b:
            assert a.read() == b.read(), name


def precision_run(clue_data, tiny, output_dir, precision, *extra):
    code, out, err = run_cli(['-m', 'fl_tuning', 'run', '--backbone', 'bert', '--task', 'afqmc', '--data-dir',
                              clue_data, '--model-dir', tiny.directory, '--output-dir', output_dir,
                              '--ffn-prompt-size', '4', '--epochs', '3', '--no-progress', '--seed', '0',
                              '--step-losses', '--precision', precision] + list(extra))
    return code, out, err


@pytest.mark.skipif(STACK.startswith('tensorflow 1.'), reason='the mixed policies need TensorFlow 2')
def test_mixed_precision_runs_stay_near_float32_on_tensorflow_2(tiny_models, clue_data, tmp_path):
    losses = {}
    for precision in ('fp32', 'tf32', 'mixed_bf16', 'mixed_fp16'):
        extra = ['--deterministic-ops'] if precision == 'fp32' else []
        code, out, err = precision_run(clue_data, tiny_models['bert'], str(tmp_path / precision), precision, *extra)
        assert code == 0, err
        assert out.splitlines()[0].endswith('; precision %s%s; 1 process' % (
            precision, ', deterministic ops' if extra else ''))
        record = read_record(record_path(str(tmp_path / precision), 'afqmc'))
        assert record.run['precision'] == precision
        losses[precision] = np.array([loss for epoch in record.epochs for loss in epoch['losses']])
    # a CPU has no TF32: the same numbers as float32
    np.testing.assert_array_equal(losses['tf32'], losses['fp32'])
    # bfloat16 keeps 8 bits of mantissa, float16 11; the masks and the head are float32's
    assert np.abs(losses['mixed_bf16'] - losses['fp32']).max() < 5e-3
    assert np.abs(losses['mixed_fp16'] - losses['fp32']).max() < 1e-3


@pytest.mark.skipif(not STACK.startswith('tensorflow 1.'), reason='TensorFlow 1.15 only')
def test_tensorflow_1_computes_float32_only(tiny_models, clue_data, tmp_path):
    code, out, err = precision_run(clue_data, tiny_models['bert'], str(tmp_path / 'out'), 'mixed_bf16')
    assert code == 2 and 'Traceback' not in err
    assert err.strip() == ('error: --precision mixed_bf16 needs the TensorFlow 2.15 stack (bash scripts/setup.sh '
                           '--stack tf2): TensorFlow 1.15 computes float32 only (NVIDIA\'s TF1 builds use TF32 '
                           'on Ampere and newer GPUs unless NVIDIA_TF32_OVERRIDE=0)')
    assert not os.path.exists(str(tmp_path / 'out'))
