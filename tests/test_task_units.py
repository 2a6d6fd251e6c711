"""Each task's reading, encoding, metric and submission on hand-made examples."""
import json

import numpy as np
import pytest
from bert4keras.backend import K

from fl_tuning.data_files import BadLines
from fl_tuning.tasks import get_task
from fl_tuning.tasks.base import batches, collate
from fl_tuning.keras.heads import global_pointer_crossentropy, multichoice_crossentropy, span_crossentropy
from fl_tuning.tasks.multiple_choice import sample_split
from fl_tuning.text import Tokenizer
from fl_tuning.vocab import Vocabulary


@pytest.fixture(scope='module')
def tokenizer(tiny_models):
    return Tokenizer(Vocabulary(tiny_models['bert'].vocab_path).token_dict)


def write_lines(path, records):
    path.write_text(''.join(json.dumps(r, ensure_ascii=False) + '\n' for r in records),
                    encoding='utf-8')
    return str(path)


def read(task, paths, split):
    """Examples of a file that has no problems."""
    bad_lines = BadLines()
    examples = task.read(paths, split, bad_lines)
    assert bad_lines.problems == []
    return examples


def ids(tokenizer, text):
    return tokenizer.encode(text)[0][1:-1]


# -- sentence classification -------------------------------------------------------

def test_pair_encoding_has_zero_segments_and_truncates_the_longer_side(tmp_path, tokenizer):
    task = get_task('afqmc')
    path = write_lines(tmp_path / 'train.json', [
        {'sentence1': '我的花呗', 'sentence2': '借呗还款了吗', 'label': '1'}])
    example, = read(task, [path], 'train')
    encoded = task.encode(example, tokenizer, dict(task.hyperparameters, maxlen=8))
    cls, sep = tokenizer.token_to_id('[CLS]'), tokenizer.token_to_id('[SEP]')
    # 4 + 6 characters + 3 specials = 13 > 8: the longer second text loses its end first
    assert encoded.inputs[0] == [[cls] + ids(tokenizer, '我的') + [sep] + ids(tokenizer, '借呗还') + [sep]]
    assert encoded.inputs[1] == [[0] * 8]
    assert encoded.labels == [[1]]


def test_wsc_marks_spans_in_textual_order(tmp_path, tokenizer):
    task = get_task('wsc')
    records = [
        {'text': '张三说他来了', 'label': 'true', 'target': {
            'span1_index': 0, 'span1_text': '张三', 'span2_index': 3, 'span2_text': '他'}},
        {'text': '他说张三来了', 'label': 'false', 'target': {
            'span1_index': 2, 'span1_text': '张三', 'span2_index': 0, 'span2_text': '他'}},
    ]
    first, second = read(task, [write_lines(tmp_path / 'train.json', records)], 'train')
    assert first.texts == ('_张三_说[他]来了', None) and first.label == 1
    assert second.texts == ('[他]说_张三_来了', None) and second.label == 0


def test_csl_joins_keywords_with_a_full_width_semicolon(tmp_path):
    task = get_task('csl')
    path = write_lines(tmp_path / 'dev.json', [{'abst': '文', 'keyword': ['一', '二'], 'label': '0'}])
    assert read(task, [path], 'dev')[0].texts == (u'一\uff1b二', '文')


def test_nli_drops_unknown_labels_and_defaults_to_neutral(tmp_path):
    task = get_task('cmnli')
    path = write_lines(tmp_path / 'train.json', [
        {'sentence1': 'a', 'sentence2': 'b', 'label': '-'},
        {'sentence1': 'a', 'sentence2': 'b'},
        {'sentence1': 'a', 'sentence2': 'b', 'label': 'contradiction'}])
    assert [e.label for e in read(task, [path], 'train')] == [1, 2]


def test_tnews_unknown_label_names_file_line_and_field(tmp_path):
    task = get_task('tnews')
    path = write_lines(tmp_path / 'train.json', [
        {'sentence': 'a', 'label': '101'}, {'sentence': 'b', 'label': '105'}])
    bad_lines = BadLines()
    assert [e.label for e in task.read([path], 'train', bad_lines)] == [1]
    problem, = bad_lines.problems
    assert str(problem).startswith("%s:2: field 'label': unknown label '105'" % path)


def test_classification_metric_and_submission(tmp_path, tokenizer):
    task = get_task('tnews')
    dev = read(task, [write_lines(tmp_path / 'dev.json', [
        {'sentence': 'a', 'label': '100'}, {'sentence': 'b', 'label': '116'}])], 'dev')
    results = [np.eye(15)[[0]], np.eye(15)[[3]]]
    assert task.evaluate(dev, None, results) == {'accuracy': 0.5}
    test = read(task, [write_lines(tmp_path / 'test.json', [
        {'id': 7, 'sentence': 'a'}, {'id': 8, 'sentence': 'b'}])], 'test')
    assert task.submission(test, None, results, tokenizer) == \
        '{"id": "7", "label": "100"}\n{"id": "8", "label": "103"}\n'


# -- multiple choice ---------------------------------------------------------------

def test_c3_pads_choices_and_truncates_choice_then_question_then_passage(tmp_path, tokenizer):
    task = get_task('c3')
    path = tmp_path / 'm-train.json'
    path.write_text(json.dumps([[['一二三四五六', '七八'], [
        {'question': '问什么', 'choice': ['甲', '乙'], 'answer': '乙', 'id': 'q1'}], 'd1']],
        ensure_ascii=False), encoding='utf-8')
    example, = read(task, [str(path)], 'train')
    assert example.choices == ['甲', '乙', u'无效答案', u'无效答案'] and example.answer == 1
    assert example.passage == '一二三四五六||七八'
    encoded = task.encode(example, tokenizer, dict(task.hyperparameters, maxlen=14))
    cls, sep = tokenizer.token_to_id('[CLS]'), tokenizer.token_to_id('[SEP]')
    # passage 12 + question 4 + choice 2 = 18 > 14: the passage (longest) loses 4 tokens
    passage = [cls] + ids(tokenizer, '一二三四五六||七八')[:-4] + [sep]
    assert encoded.inputs[0][0] == passage + ids(tokenizer, '问什么') + [sep] + ids(tokenizer, '甲') + [sep]
    assert len(encoded.inputs[0]) == 4 and encoded.labels == [[1]] * 4


def test_chid_character_truncation():
    # budget 16 - (3 + 4 + 1 + 4 * (2 + 1 - 2)) = 4 characters around the blank
    left, right = sample_split(['一二三', '四五'], ['六七八九'], 16)
    assert (left, right) == (['四五'], ['六七'])
    assert sample_split(['一'], ['二'], 64) == (['一'], ['二'])


def test_chid_examples_encoding_and_hungarian_decoding(tmp_path, tokenizer):
    task = get_task('chid')
    idioms = ['一心一意', '三心二意'] + ['%s生%s世' % (c, c) for c in '四五六七八九十百']
    questions = write_lines(tmp_path / 'dev.json', [
        {'candidates': idioms, 'content': ['我们#idiom000001#工作#idiom000002#学习']}])
    answers = tmp_path / 'dev_answer.json'
    answers.write_text('{"#idiom000001#": 0, "#idiom000002#": 1}')
    first, second = read(task, [questions, str(answers)], 'dev')
    assert (first.left, first.right, first.tag) == (['我们'], ['工作', '学习'], '#idiom000001#')
    assert (second.left, second.right, second.answer) == (['我们', '工作'], ['学习'], 1)
    encoded = task.encode(second, tokenizer, task.hyperparameters)
    mask, unused1 = tokenizer.token_to_id('[MASK]'), tokenizer.token_to_id('[unused1]')
    context = ids(tokenizer, '我们') + [mask] * 4 + ids(tokenizer, '工作') + [unused1] + \
        ids(tokenizer, '学习') + [tokenizer.token_to_id('[SEP]')]
    assert encoded.inputs[0][3] == tokenizer.encode(idioms[3])[0] + context
    # both blanks prefer candidate 0; the assignment gives the second blank its next best
    logits = np.zeros((2, 10))
    logits[0, 0], logits[1, 0], logits[1, 1] = 5.0, 4.0, 3.0
    results = [logits[0][:, None], logits[1][:, None]]
    assert task.evaluate([first, second], None, results) == {'accuracy': 1.0}
    assert json.loads(task.submission([first, second], None, results, tokenizer)) == {
        '#idiom000001#': 0, '#idiom000002#': 1}


def test_multichoice_loss_is_softmax_crossentropy_over_each_examples_choices():
    logits = np.array([[1.0], [2.0], [0.5], [3.0], [0.0], [1.0]], dtype='float32')
    labels = np.array([[1], [1], [1], [2], [2], [2]], dtype='float32')
    loss = K.eval(multichoice_crossentropy(3)(K.constant(labels), K.constant(logits)))
    grouped = logits.reshape(2, 3)
    log_probs = grouped - np.log(np.exp(grouped).sum(1, keepdims=True))
    assert loss == pytest.approx(-(log_probs[0, 1] + log_probs[1, 2]) / 2, rel=1e-6)


# -- span tasks --------------------------------------------------------------------

def cmrc_file(path, context, question, answers):
    qa = {'id': 'q1', 'question': question}
    if answers is not None:
        qa['answers'] = [{'text': t, 'answer_start': s} for t, s in answers]
    path.write_text(json.dumps({'data': [{'paragraphs': [{'context': context, 'qas': [qa]}]}]},
                               ensure_ascii=False), encoding='utf-8')
    return str(path)


def test_cmrc2018_windows_labels_and_masks(tmp_path, tokenizer):
    task = get_task('cmrc2018')
    task.hyperparameters = dict(task.hyperparameters, maxlen=10)
    task.stride = 3
    # window size 10 - 2 - 3 = 5 characters; windows [0,5) [3,8) [6,11)
    path = cmrc_file(tmp_path / 'dev.json', '一二三四五六七八九十', '问题', [('五六', 4)])
    windows = read(task, [path], 'dev')
    assert [(w.text, w.start, w.end) for w in windows] == [
        ('一二三四五', -1, -1), ('四五六七八', 1, 3), ('七八九十', -1, -1)]
    encoded = task.encode(windows[1], tokenizer, task.hyperparameters)
    question = tokenizer.encode('问题')[0]
    assert encoded.inputs[0][0] == question + ids(tokenizer, '四五六七八') + [tokenizer.token_to_id('[SEP]')]
    assert encoded.labels == [[[5, 6]]]  # tokens 五, 六 after [CLS] 问 题 [SEP] 四
    assert encoded.inputs[2][0] == [1, 0, 0, 0, 1, 1, 1, 1, 1, 0]
    assert task.encode(windows[0], tokenizer, task.hyperparameters).labels == [[[0, 0]]]


def test_cmrc2018_metric_picks_the_best_window_of_each_question(tmp_path, tokenizer):
    task = get_task('cmrc2018')
    task.hyperparameters = dict(task.hyperparameters, maxlen=10)
    task.stride = 3
    windows = read(task, [cmrc_file(tmp_path / 'dev.json', '一二三四五六七八九十', '问题',
                                   [('五六', 4), ('五', 4)])], 'dev')
    assert len(windows) == 6  # the three windows, once per gold answer
    encoded = [task.encode(w, tokenizer, task.hyperparameters) for w in windows]
    scores = np.full((6, 10, 10), -1e3, dtype='float32')
    scores[1, 5, 6] = 9.0  # the first answer's window predicts its own label
    scores[4, 5, 6] = 8.0  # the second answer's copy predicts a longer span
    results = task.reduce(scores, encoded)
    assert results[1][1:] == (5, 6)
    assert task.evaluate(windows, encoded, results) == {'accuracy': 1.0}
    scores[4, 5, 6] = 10.0  # now the copy with label (5, 5) wins: wrong
    assert task.evaluate(windows, encoded, task.reduce(scores, encoded)) == {'accuracy': 0.0}


def test_cmrc2018_test_answer_is_cut_from_the_normalised_window(tmp_path, tokenizer):
    task = get_task('cmrc2018')
    windows = read(task, [cmrc_file(tmp_path / 'test.json', u'一二ABC三', '问', None)], 'test')
    assert [w.text for w in windows] == [u'一二abc三']
    encoded = [task.encode(w, tokenizer, task.hyperparameters) for w in windows]
    tokens = tokenizer.tokenize(u'一二abc三')
    assert tokens[3] == 'abc'  # [CLS] 一 二 abc 三 [SEP]; the question takes 3 tokens
    scores = np.full((1, 9, 9), -1e3, dtype='float32')
    scores[0, 3 + 1, 3 + 2] = 5.0  # 二 and abc
    text = task.submission(windows, encoded, task.reduce(scores, encoded), tokenizer)
    assert json.loads(text) == {'q1': u'二abc'}


def test_cluener_labels_metric_and_submission(tmp_path, tokenizer):
    task = get_task('cluener')
    train = read(task, [write_lines(tmp_path / 'train.json', [
        {'text': '我在北京工作', 'label': {'address': {'北京': [[2, 3]]}, 'name': {'我': [[0, 0]]}}}])], 'train')
    task.prepare(train, [])
    assert task.categories == ['address', 'name']
    encoded = task.encode(train[0], tokenizer, task.hyperparameters)
    assert encoded.labels == [[(0, 3, 4), (1, 1, 1)]]
    labels = task.collate_labels(encoded.labels, 10)  # padded to a longer batch
    assert labels.shape == (1, 2, 10, 10)
    assert {tuple(c) for c in np.argwhere(labels[0])} == {(0, 3, 4), (1, 1, 1)}
    cells = np.array([[0, 3, 4], [1, 2, 2], [0, 0, 0]])  # one hit, two false positives
    metrics = task.evaluate(train, [encoded], [cells])
    assert metrics['f1'] == pytest.approx(2 * 1 / (3 + 2), rel=1e-6)
    assert metrics['precision'] == pytest.approx(1 / 3.0) and metrics['recall'] == pytest.approx(0.5)
    test = read(task, [write_lines(tmp_path / 'test.json', [{'id': 3, 'text': '我在北京工作'}])], 'test')
    line = json.loads(task.submission(test, None, [cells], tokenizer))
    # the [CLS] cell (0, 0, 0) is skipped instead of crashing
    assert line == {'id': 3, 'text': '我在北京工作', 'label': {'address': {'北京': [[2, 3]]},
                                                               'name': {'在': [[1, 1]]}}}


def test_global_pointer_and_span_losses():
    scores = np.array([[[[2.0, -1.0], [-1e12, 0.5]]]], dtype='float32')  # [1, 1, 2, 2]
    labels = np.array([[[[1.0, 0.0], [0.0, 0.0]]]], dtype='float32')
    loss = K.eval(global_pointer_crossentropy(K.constant(labels), K.constant(scores)))
    expected = np.log(1 + np.exp(-1.0) + np.exp(0.5)) + np.log(1 + np.exp(-2.0))
    assert loss == pytest.approx(expected, rel=1e-6)
    span_scores = scores[:, 0]
    loss = K.eval(span_crossentropy(K.constant([[[1.0, 1.0]]]), K.constant(span_scores)))
    flat = np.array([2.0, -1.0, -1e12, 0.5])
    assert loss == pytest.approx(-(0.5 - np.log(np.exp(flat - flat.max()).sum()) - flat.max()), rel=1e-6)


def test_batches_and_collate_pad_and_keep_choice_rows_together(tokenizer):
    task = get_task('c3')
    from fl_tuning.tasks.base import Encoded
    encoded = [Encoded([[[1, 2]] * 4, [[0, 0]] * 4], [[i]] * 4) for i in range(3)]
    encoded[1] = Encoded([[[1, 2, 3]] * 4, [[0, 0, 0]] * 4], [[1]] * 4)
    first, second = list(batches(encoded, 2, shuffle=False))
    inputs, labels = collate(task, first)
    assert inputs[0].shape == (8, 3) and labels[:, 0].tolist() == [0] * 4 + [1] * 4
    assert collate(task, second)[0][0].shape == (4, 2)
