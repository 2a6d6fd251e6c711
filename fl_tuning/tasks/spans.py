"""Span tasks with GlobalPointer heads (ORIGINAL_SPEC §12): cluener (entities)
and cmrc2018 (reading comprehension)."""
import json
import os

import numpy as np
from fl_tuning.text import lowercase_and_normalize

from fl_tuning.errors import InputError
from fl_tuning.data_files import (
    DataError, Location, field, list_of, read_json, read_json_lines, write_atomically,
)
from fl_tuning.tasks import cmrc_scoring
from fl_tuning.tasks.base import Encoded, Task, json_lines, unique, write_source_lines


def global_pointer_description(mask, prediction, labels):
    """bert4keras' GlobalPointer as the export describes it (RoPE, masks, scale); the
    framework adds its heads and head size."""
    return {
        'type': 'global_pointer', 'reads': 'every position of the last layer', 'mask': mask,
        'output': 'h @ global_pointer.weight.T split per head into q, k (head_size each); rotary '
                  'positions on q and k (interleaved sin/cos pairs); q.k per (start, end); masked '
                  'positions and start > end set to about -1e12; divided by sqrt(head_size)',
        'prediction': prediction, 'labels': labels}


# -- cluener ---------------------------------------------------------------------

class EntityExample(object):
    __slots__ = ('text', 'entities', 'record', 'source')

    def __init__(self, text, entities, record, source=None):
        self.text, self.entities, self.record, self.source = text, entities, record, source


class Cluener(Task):
    head_kind = 'entity_pointer'
    metric = 'f1'
    keep_ties = True  # the original saves on '>=' for cluener

    def __init__(self, name, hyperparameters, tests):
        super(Cluener, self).__init__(name, hyperparameters, tests)
        self.categories = None  # learned from the data by prepare()

    def read(self, paths, split, bad_lines):
        examples = []
        for path in paths:
            for location, record in read_json_lines(path, bad_lines):
                with bad_lines.guard():
                    text = field(record, 'text', location, str)
                    entities = [] if split == 'test' else self.entities(record, text, location, bad_lines)
                    examples.append(EntityExample(text, entities, record, location))
        return examples

    @staticmethod
    def entities(record, text, location, bad_lines):
        """(start, end, category) of every labelled span. A span whose text is not its
        entity's is kept as the original keeps it (its cells are labelled), and noticed."""
        entities = []
        for category, mentions in field(record, 'label', location, dict).items():
            if not isinstance(mentions, dict):
                raise DataError(location, 'label', '%r: expected {entity text: spans}' % category)
            for mention, spans in mentions.items():
                for span in spans if isinstance(spans, list) else [spans]:
                    if not (isinstance(span, list) and len(span) == 2
                            and all(isinstance(i, int) for i in span)):
                        raise DataError(location, 'label', '%s %r: expected [start, end], got %s' % (
                            category, mention, json.dumps(span, ensure_ascii=False)))
                    start, end = span
                    if not 0 <= start <= end < len(text) or text[start:end + 1] != mention:
                        bad_lines.notice(location, 'label', '%s %r: span [%d, %d] is %r in the text '
                                         '(kept, as the original keeps it)' % (
                                             category, mention, start, end,
                                             text[start:end + 1] if 0 <= start else ''))
                    entities.append((start, end, category))
        return entities

    # few-shot: the greedy cover, every category in at least K sentences
    few_shot_rule = 'category_cover'

    def sample_unit(self, example):
        return example.source

    def sample_label(self, example):
        """The categories a sentence mentions."""
        return set(category for _, _, category in example.entities)

    def write_sample(self, examples, folder):
        return write_source_lines([e.source for e in examples], folder)

    def prepare(self, train, dev):
        self.categories = sorted(set(c for e in train + dev for _, _, c in e.entities))

    def state(self):
        return {'categories': self.categories}

    def restore(self, state):
        self.categories = list(state['categories'])

    def encode(self, example, tokenizer, hyperparameters):
        tokens = tokenizer.tokenize(example.text, maxlen=hyperparameters['maxlen'])
        mapping = tokenizer.rematch(example.text, tokens)
        starts = dict((m[0], i) for i, m in enumerate(mapping) if m)
        ends = dict((m[-1], i) for i, m in enumerate(mapping) if m)
        token_ids = tokenizer.tokens_to_ids(tokens)
        # Entities cut by truncation or not on token boundaries are dropped, as in the original.
        cells = sorted(set(
            (self.categories.index(category), starts[start], ends[end])
            for start, end, category in example.entities
            if start in starts and end in ends and category in self.categories
        ))
        # The label is kept as its positive cells; collate_labels makes the dense
        # [categories, L, L] tensor per batch (dense for all of CLUENER: ~0.6 GB).
        return Encoded([[token_ids], [[0] * len(token_ids)]], [cells])

    def collate_labels(self, label_rows, length):
        labels = np.zeros((len(label_rows), len(self.categories), length, length), dtype='float32')
        for row, cells in enumerate(label_rows):
            for category, start, end in cells:
                labels[row, category, start, end] = 1
        return labels

    def head_description(self):
        return global_pointer_description('token_ids > 0', 'every cell (category, start, end) above 0',
                                          list(self.categories))

    def reduce(self, outputs, encoded):
        """The cells (category, start, end) scored above 0, per example."""
        return [np.argwhere(scores > 0) for scores in outputs]

    def evaluate(self, examples, encoded, results):
        # The original's cell-level counts over the dev set, each starting at 1e-10:
        # hits (cells both predicted and labelled), predicted cells, labelled cells.
        hits, predicted, gold = 1e-10, 1e-10, 1e-10
        for cells, example in zip(results, encoded):
            labelled = set(example.labels[0])
            gold += len(labelled)
            predicted += len(cells)
            hits += sum(tuple(cell) in labelled for cell in cells)
        return {'f1': 2 * hits / (predicted + gold), 'precision': hits / predicted,
                'recall': hits / gold}

    scored_as = ("f1: micro entity F1 of the predicted character spans (category, start, end), the run's "
                 "measure but for cells on [CLS] or [SEP], which the submission format cannot hold; "
                 "clue_macro_f1: CLUENER2020's score.py, by design other: per category the F1 of the "
                 "distinct mention texts of each line (positions ignored), averaged over the ten "
                 "categories (a category without a hit scores 0, where score.py divides by zero)")

    def score(self, examples, predictions, path):
        if not isinstance(predictions, list) or len(predictions) != len(examples):
            raise InputError('%s: expected one JSON line per dev record (%d), in their order' % (
                path, len(examples)))
        hits, predicted, gold = 1e-10, 1e-10, 1e-10
        mentions = []  # per line: (predicted {category: texts}, labelled {category: texts})
        for number, (example, record) in enumerate(zip(examples, predictions), 1):
            if not isinstance(record, dict) or record.get('text') != example.text:
                raise InputError('%s line %d: field \'text\': not the text of dev line %d' % (path, number, number))
            labels = record.get('label') or {}
            found = set((start, end, category) for category, texts in labels.items()
                        for spans in texts.values() for start, end in spans)
            labelled = set(example.entities)
            hits, predicted, gold = hits + len(found & labelled), predicted + len(found), gold + len(labelled)
            mentions.append((dict((category, set(texts)) for category, texts in labels.items()),
                             mention_texts(example)))
        return {'f1': 2 * hits / (predicted + gold), 'precision': hits / predicted, 'recall': hits / gold,
                'clue_macro_f1': clue_macro_f1(mentions)}

    def submission(self, examples, encoded, results, tokenizer):
        records = []
        for example, cells in zip(examples, results):
            tokens = tokenizer.tokenize(example.text, maxlen=self.hyperparameters['maxlen'])
            mapping = tokenizer.rematch(example.text, tokens)
            entities = {}
            for category, start, end in cells:
                if not (mapping[start] and mapping[end]):
                    continue  # a [CLS]/[SEP] cell: the original would crash here
                first, last = mapping[start][0], mapping[end][-1]
                mentions = entities.setdefault(self.categories[category], {})
                mentions.setdefault(example.text[first:last + 1], []).append([first, last])
            record = dict(example.record)
            record['label'] = entities
            records.append(record)
        return json_lines(records, ensure_ascii=False)


# -- cmrc2018 --------------------------------------------------------------------

class Window(object):
    """One sliding window of a context, with its question and answer offsets."""
    __slots__ = ('qid', 'question', 'text', 'start', 'end', 'source')

    def __init__(self, qid, question, text, start, end, source=None):
        self.qid, self.question, self.text, self.start, self.end = qid, question, text, start, end
        self.source = source


class Cmrc2018(Task):
    head_kind = 'span_pointer'
    stride = 128
    input_names = ('token_ids', 'segment_ids', 'context_mask')

    def read(self, paths, split, bad_lines):
        windows = []
        for path in paths:
            data = read_json(path)
            location = Location(path)
            for a, article in enumerate(list_of(data, 'data', location, dict)):
                with bad_lines.guard():
                    here = location.inside('data[%d]' % a)
                    for p, paragraph in enumerate(list_of(article, 'paragraphs', here, dict)):
                        with bad_lines.guard():
                            where = here.inside('.paragraphs[%d]' % p)
                            context = field(paragraph, 'context', where, str)
                            for q, qa in enumerate(list_of(paragraph, 'qas', where, dict)):
                                with bad_lines.guard():
                                    for window in self.windows(qa, context, split,
                                                               where.inside('.qas[%d]' % q), bad_lines):
                                        window.source = (path, window.qid)
                                        windows.append(window)
        return windows

    def windows(self, qa, context, split, location, bad_lines):
        """The original's stride_split, once per gold answer (dev questions have
        several, so their windows repeat); it stops after an answer at -1. An answer
        whose text is not at its ``answer_start`` keeps the original's offsets
        (start, start + its length) and is noticed."""
        qid = str(field(qa, 'id', location, (int, str)))
        question = lowercase_and_normalize(field(qa, 'question', location, str))
        answers = [{'text': '', 'answer_start': -1}]  # the test file's placeholder
        if split != 'test':
            answers = list_of(qa, 'answers', location, dict)
            if not answers:
                raise DataError(location, 'answers', 'question %s has no answer' % qid)
            for k, answer in enumerate(answers):
                text = field(answer, 'text', location, str)
                start = field(answer, 'answer_start', location, int)
                if start != -1 and (start < 0 or context[start:start + len(text)] != text):
                    bad_lines.notice(location, 'answers[%d]' % k, 'answer %r does not occur at %d in '
                                     'the context (found %r; kept at that offset, as the original '
                                     'keeps it)' % (text, start, context[start:start + len(text)]))
        return stride_split(qid, question, lowercase_and_normalize(context), answers,
                            self.hyperparameters['maxlen'] - len(question) - 3, self.stride)

    # few-shot: questions (all their windows), four per K
    few_shot_rule, few_shot_quota = 'quota', 4

    def sample_unit(self, window):
        return window.source

    def sample_size(self, windows):
        return 1  # a question, however many windows it has

    def write_sample(self, windows, folder):
        """The source documents with only the sampled questions (and the paragraphs
        and articles that hold one)."""
        chosen = {}
        for path, qid in unique(w.source for w in windows):
            chosen.setdefault(path, set()).add(qid)
        written = []
        for path, qids in chosen.items():
            target = os.path.join(folder, os.path.basename(path))
            write_atomically(target, json.dumps(with_questions(read_json(path), qids), ensure_ascii=False))
            written.append(target)
        return written

    def encode(self, window, tokenizer, hyperparameters):
        question_ids = tokenizer.encode(window.question)[0]
        if window.start == -1:
            context_ids = tokenizer.encode(window.text)[0][1:]
            span = [0, 0]  # the [CLS] cell means "no answer here"
        else:
            before = tokenizer.encode(window.text[:window.start])[0][1:-1]
            answer = tokenizer.encode(window.text[window.start:window.end])[0][1:-1]
            after = tokenizer.encode(window.text[window.end:])[0][1:]
            context_ids = before + answer + after
            first = len(question_ids) + len(before)
            span = [first, first + len(answer) - 1]
        token_ids = question_ids + context_ids
        masks = [1] + [0] * (len(question_ids) - 1) + [1] * (len(context_ids) - 1) + [0]
        return Encoded([[token_ids], [[0] * len(token_ids)], [masks]], [[span]])

    def head_description(self):
        description = global_pointer_description(
            'context_mask > 0.5 (the third input)',
            "each window's best cell (start, end) outside row and column 0; per question its "
            'best-scoring window', [])
        description['output'] += '; the single head squeezed: [batch, length, length]'
        return description

    def reduce(self, outputs, encoded):
        """Per window: (score, start, end) of its best cell other than [CLS]'s
        (first on ties)."""
        scores = outputs.copy()
        scores[:, 0, :] = -np.inf
        scores[:, :, 0] = -np.inf
        length = scores.shape[1]
        flat = scores.reshape(len(scores), -1)
        best = flat.argmax(1)
        return list(zip(flat[np.arange(len(flat)), best], best // length, best % length))

    def chosen_windows(self, windows, results):
        """For each question (consecutive windows of one qid) its best window."""
        chosen = []
        for i, window in enumerate(windows):
            if i and window.qid == windows[i - 1].qid:
                if results[i][0] > results[chosen[-1]][0]:
                    chosen[-1] = i
            else:
                chosen.append(i)
        return chosen

    def evaluate(self, windows, encoded, results):
        # Exact token-span match with the chosen window's own label (the [CLS]
        # label of a no-answer window can never match), as the original.
        chosen = self.chosen_windows(windows, results)
        correct = sum(list(results[i][1:]) == encoded[i].labels[0][0] for i in chosen)
        return {'accuracy': correct / float(len(chosen))}

    scored_as = ("the official CMRC 2018 scorer's AVERAGE, EM and F1 (percent) of the answer texts, "
                 "questions without a prediction counted as 0 (skip); split_sensitive counts the "
                 "questions whose score could depend on nltk's sentence splitting (fl_tuning.tasks."
                 "cmrc_scoring). The run's metric (an exact token-span match in the chosen window) "
                 "needs the model's windows")

    def score(self, windows, predictions, path):
        if not isinstance(predictions, dict):
            raise InputError('%s: expected a JSON object {question id: answer text}' % path)
        return cmrc_scoring.score(gold_answers(windows), dict((qid, answer_text(value, qid, path))
                                                              for qid, value in predictions.items()))

    def submission(self, windows, encoded, results, tokenizer):
        answers = {}
        for i in self.chosen_windows(windows, results):
            window, (_, start, end) = windows[i], results[i]
            offset = len(tokenizer.tokenize(window.question))
            mapping = tokenizer.rematch(window.text, tokenizer.tokenize(window.text)[1:-1])
            covered = [c for m in mapping[max(start - offset, 0):end - offset + 1] for c in m]
            # Cut from the normalised window, as the original (lowercased answers).
            answers[window.qid] = window.text[covered[0]:covered[-1] + 1] if covered else ''
        return json.dumps(answers, indent=4, ensure_ascii=False)


def stride_split(qid, question, context, answers, window_size, stride):
    """The original's stride_split: windows of ``window_size`` characters every ``stride``,
    for each answer in turn, labelled with the answer where it lies inside; it stops
    after an answer at -1 (a test question's placeholder)."""
    result = []
    for answer in answers:
        text = lowercase_and_normalize(answer['text'])
        # answer_start indexes the context before normalisation (kept quirk)
        start = answer['answer_start']
        end = start + len(text)
        n = 0
        while True:
            left, right = n * stride, n * stride + window_size
            if left <= start < end <= right:
                result.append(Window(qid, question, context[left:right], start - left, end - left))
            else:
                result.append(Window(qid, question, context[left:right], -1, -1))
            if right >= len(context):
                break
            n += 1
        if start == -1:
            break
    return result


def with_questions(document, qids):
    """A CMRC 2018 document with only the questions ``qids`` (and the paragraphs and
    articles that hold one)."""
    articles = []
    for article in document['data']:
        paragraphs = [dict(p, qas=[qa for qa in p['qas'] if str(qa['id']) in qids]) for p in article['paragraphs']]
        paragraphs = [p for p in paragraphs if p['qas']]
        if paragraphs:
            articles.append(dict(article, paragraphs=paragraphs))
    return dict(document, data=articles)


def gold_answers(windows):
    """{question id: its answer texts} of the windows' questions, from their source files."""
    answers = dict((qid, None) for _, qid in unique(w.source for w in windows))
    for source_path in unique(w.source[0] for w in windows):
        for article in read_json(source_path)['data']:
            for paragraph in article['paragraphs']:
                for qa in paragraph['qas']:
                    if str(qa['id']) in answers:
                        answers[str(qa['id'])] = [a['text'] for a in qa['answers']]
    return answers


def answer_text(value, qid, path):
    """A prediction as the official script (Python 2) reads it: str() of a JSON scalar."""
    if isinstance(value, (dict, list)):
        raise InputError('%s: the prediction of %s is a JSON %s, not an answer text' % (
            path, qid, 'object' if isinstance(value, dict) else 'list'))
    if isinstance(value, float):  # Python 2's str(): 12 significant digits, '.0' kept
        text = '%.12g' % value
        return text if any(c in text for c in '.enai') else text + '.0'
    return value if isinstance(value, str) else str(value)


# The categories CLUENER2020's score.py averages over.
CLUENER_CATEGORIES = ('address', 'book', 'company', 'game', 'government', 'movie', 'name', 'organization',
                      'position', 'scene')


def mention_texts(example):
    """{category: the mention texts} of a dev record, as score.py reads them: its label's keys."""
    return dict((category, set(texts)) for category, texts in (example.record.get('label') or {}).items())


def clue_macro_f1(lines):
    """CLUENER2020's score.py: per category, true and false positives and false negatives
    of the mention texts line by line; the mean of the categories' F1."""
    total = 0.0
    for category in CLUENER_CATEGORIES:
        tp = fp = fn = 0
        for predicted, labelled in lines:
            mine, theirs = predicted.get(category, set()), labelled.get(category, set())
            tp, fp, fn = tp + len(mine & theirs), fp + len(mine - theirs), fn + len(theirs - mine)
        if tp:
            precision, recall = tp / (tp + fp), tp / (tp + fn)
            total += 2 * precision * recall / (precision + recall)
    return total / len(CLUENER_CATEGORIES)
