"""The seven sentence(-pair) classification tasks: one class configured seven times
(ORIGINAL_SPEC §10). Head: [CLS] vector -> Dense(softmax); metric: accuracy."""
import numpy as np

from fl_tuning.data_files import DataError, field, list_of, read_json_lines
from fl_tuning.tasks.base import (
    CLS_VECTOR, Encoded, Task, json_lines, keyed_predictions, line_key, prediction_of,
    write_source_lines,
)


class IntegerLabels(object):
    """Labels written as integers ("0", "1", ...); a missing label means 0."""

    def __init__(self, count):
        self.count = count

    def index(self, record, location):
        value = record.get('label', 0)
        try:
            index = int(value)
        except (TypeError, ValueError):
            raise DataError(location, 'label', 'expected an integer label, got %r' % (value,))
        if not 0 <= index < self.count:
            raise DataError(location, 'label', 'label %r is outside 0..%d' % (value, self.count - 1))
        return index

    def name(self, index):
        return str(index)


class NamedLabels(object):
    """Labels from a fixed list; a missing label means ``default``. Unknown labels
    are dropped when ``drop_unknown`` (the original's cmnli/ocnli, e.g. '-'),
    otherwise they are an error."""

    def __init__(self, names, default, drop_unknown=False):
        self.names = list(names)
        self.count = len(self.names)
        self.default = default
        self.drop_unknown = drop_unknown

    def index(self, record, location):
        value = record.get('label', self.default)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # FewCLUE writes tnews' label codes as numbers
        if value in self.names:
            return self.names.index(value)
        if self.drop_unknown:
            return None
        raise DataError(location, 'label', 'unknown label %r (expected one of %s)' % (
            value, ', '.join(self.names)))

    def name(self, index):
        return self.names[index]


def single_text(name):
    def texts(record, location):
        return field(record, name, location, str), None
    return texts


def text_pair(first, second):
    def texts(record, location):
        return field(record, first, location, str), field(record, second, location, str)
    return texts


def keywords_and_abstract(record, location):
    """csl: the keywords joined by a full-width semicolon, then the abstract."""
    keywords = list_of(record, 'keyword', location, str)
    return u'\uff1b'.join(keywords), field(record, 'abst', location, str)


def marked_wsc_text(record, location):
    """wsc: span 1 wrapped in '_', span 2 in '[ ]', in textual order."""
    text = field(record, 'text', location, str)
    target = field(record, 'target', location, dict)
    spans = []
    for number, (left, right) in ((1, ('_', '_')), (2, ('[', ']'))):
        start = field(target, 'span%d_index' % number, location, int)
        span = field(target, 'span%d_text' % number, location, str)
        if not 0 <= start <= start + len(span) <= len(text):
            raise DataError(location, 'target.span%d_index' % number, 'span %r at %d lies outside '
                            'the %d-character text' % (span, start, len(text)))
        spans.append((start, start + len(span), left, right))
    if not spans[0][0] < spans[1][0]:  # the original's 'else' branch: span 2 first
        spans.reverse()
    (s1, e1, l1, r1), (s2, e2, l2, r2) = spans
    marked = (text[:s1] + l1 + text[s1:e1] + r1 + text[e1:s2] + l2 + text[s2:e2] + r2 + text[e2:])
    return marked, None


class Example(object):
    __slots__ = ('texts', 'label', 'id', 'source')

    def __init__(self, texts, label, id, source=None):
        self.texts, self.label, self.id, self.source = texts, label, id, source


class SentenceClassification(Task):
    head_kind = 'classifier'

    def __init__(self, name, hyperparameters, texts, labels, train='train.json', tests=()):
        super(SentenceClassification, self).__init__(name, hyperparameters, tests)
        self.texts = texts
        self.labels = labels
        self.train_files = (train,)  # ocnli trains on train.50k.json

    def read(self, paths, split, bad_lines):
        examples = []
        for path in paths:
            for location, record in read_json_lines(path, bad_lines):
                with bad_lines.guard():
                    texts = self.texts(record, location)
                    if split == 'test':
                        identifier = field(record, 'id', location, (int, str))
                        examples.append(Example(texts, 0, str(identifier), location))
                        continue
                    label = self.labels.index(record, location)
                    if label is not None:
                        examples.append(Example(texts, label, None, location))
        return examples

    def sample_unit(self, example):
        return example.source

    def sample_label(self, example):
        return example.label

    def write_sample(self, examples, folder):
        return write_source_lines([e.source for e in examples], folder)

    def encode(self, example, tokenizer, hyperparameters):
        first, second = example.texts
        token_ids, _ = tokenizer.encode(first, second, maxlen=hyperparameters['maxlen'])
        # The original feeds all-zero segment ids, also for sentence pairs.
        return Encoded([[token_ids], [[0] * len(token_ids)]], [[example.label]])

    def dev_key(self, example, several_files):
        return line_key(example, several_files)

    def score(self, examples, predictions, path):
        predicted = keyed_predictions(predictions, path)
        correct = 0
        for example in examples:
            label = prediction_of(predicted, self.dev_key(example, False), path)
            correct += str(label) == self.labels.name(example.label)
        return {'accuracy': correct / float(len(examples))}

    def head_description(self):
        return {'type': 'classifier', 'reads': CLS_VECTOR,
                'output': 'softmax(cls @ classifier.weight.T + classifier.bias)',
                'prediction': 'argmax', 'labels': [self.labels.name(i) for i in range(self.labels.count)]}

    def evaluate(self, examples, encoded, results):
        predicted = np.concatenate(results).argmax(1)
        gold = np.array([e.label for e in examples])
        return {'accuracy': float(np.mean(predicted == gold))}

    def submission(self, examples, encoded, results, tokenizer):
        predicted = np.concatenate(results).argmax(1)
        return json_lines({'id': e.id, 'label': self.labels.name(int(p))}
                          for e, p in zip(examples, predicted))
