"""The interface every CLUE task implements, and what tasks share.

A task reads its files into examples, encodes each example once into rows of ids,
names its kind of head (each framework builds it), and turns model outputs into dev
metrics and the CLUE submission. It knows nothing of the backbone, the tuning method
or the framework.
"""
import copy
import json
import os
import queue
import threading

import numpy as np
from fl_tuning.text import sequence_padding

from fl_tuning.errors import InputError
from fl_tuning.data_files import write_atomically



class Encoded(object):
    """One example after encoding: per model input a list of rows (one row per
    sequence; a multiple-choice example has one per choice), and its label rows."""

    __slots__ = ('inputs', 'labels')

    def __init__(self, inputs, labels):
        self.inputs = inputs
        self.labels = labels

    def compact(self):
        """Rows as int32 arrays: a tenth of the memory of lists of Python ints,
        which matters when a whole training set is kept encoded (cmnli: 391k pairs)."""
        self.inputs = [[np.asarray(row, dtype='int32') for row in rows] for rows in self.inputs]
        return self


class TestFile(object):
    """A test input (relative to the data dir) and the submission file it gives."""

    def __init__(self, source, submission):
        self.source = source
        self.submission = submission


class Task(object):
    """Base of the CLUE tasks. Subclasses set the file lists and implement the
    abstract methods; ``hyperparameters`` is the task's row of the table."""

    train_files = ('train.json',)
    dev_files = ('dev.json',)
    metric = 'accuracy'
    input_names = ('token_ids', 'segment_ids')  # the model's inputs, in order
    keep_ties = False  # the original's best-epoch rule: strict '>' (cluener: '>=')
    reserved_tokens = ()  # the [unusedN] tokens the encoding uses

    def __init__(self, name, hyperparameters, tests):
        self.name = name
        self.hyperparameters = hyperparameters
        self.test_files = tuple(tests)

    def configured(self, hyperparameters=None, train_files=None, dev_files=None):
        """This task with a run's hyperparameters and file names (fl_tuning.tasks.get_task)."""
        if hyperparameters is not None:
            self.hyperparameters = dict(hyperparameters)
        if train_files:
            self.train_files = tuple(train_files)
        if dev_files:
            self.dev_files = tuple(dev_files)
        return self

    # -- data -------------------------------------------------------------
    def read(self, paths, split, bad_lines):
        """Examples of the ``split`` ('train', 'dev' or 'test') from ``paths``; each
        record is checked, its problems go to ``bad_lines`` (fl_tuning.data_files.BadLines)."""
        raise NotImplementedError

    def prepare(self, train, dev):
        """Learn what the data defines (e.g. cluener's categories); default: nothing."""

    def state(self):
        """What ``prepare`` learned, for the tuned-weights manifest."""
        return {}

    def restore(self, state):
        """Take back what ``state`` returned."""

    def encode(self, example, tokenizer, hyperparameters):
        """An ``Encoded`` for one example."""
        raise NotImplementedError

    def collate_labels(self, label_rows, length):
        """The label array of a batch whose sequences are padded to ``length``."""
        return np.array(label_rows)

    # -- model ------------------------------------------------------------
    # The kind of head each framework builds for the task (fl_tuning.keras.heads).
    head_kind = None

    # -- evaluation and prediction ---------------------------------------
    def reduce(self, outputs, encoded):
        """Per-example results of one batch's model outputs; by default each
        example's rows (one per sequence). Tasks with large outputs keep less."""
        results, offset = [], 0
        for example in encoded:
            rows = len(example.inputs[0])
            results.append(outputs[offset:offset + rows])
            offset += rows
        return results

    def evaluate(self, examples, encoded, results):
        """Dev metrics: a dict that holds ``self.metric``."""
        raise NotImplementedError

    def submission(self, examples, encoded, results, tokenizer):
        """The text of the submission file for one test file."""
        raise NotImplementedError

    # -- dev predictions and scoring them (fl_tuning.evaluate) ----------
    # What ``score`` measures, when it is not the run's own metric.
    scored_as = None

    def dev_key(self, example, several_files):
        """The id a dev example gets in the submission format, for tasks whose dev
        records carry none (default: the task's own key: chid's blank tag, cmrc2018's
        question id, cluener's line order)."""
        return None

    def dev_submission(self, examples, encoded, results, tokenizer):
        """Dev predictions in the CLUE submission format; an example without an id is keyed
        by ``dev_key`` on a copy (the examples stay as read)."""
        several_files = len(set(source_path(e) for e in examples)) > 1
        return self.submission([keyed(e, self.dev_key(e, several_files)) for e in examples], encoded, results,
                               tokenizer)

    def score(self, examples, predictions, paths):
        """The metrics of ``predictions`` (a dev predictions file's parsed content and
        its path, for messages) against the dev ``examples`` read from ``paths``."""
        raise NotImplementedError

    # -- export (fl_tuning.export) ----------------------------------------
    def head_description(self):
        """What the head reads of the last layer, how it computes and predicts, its labels."""
        raise NotImplementedError

    # -- the few-shot setting (fl_tuning.few_shot) ------------------------
    # 'per_label': K units of every label; 'category_cover': every category in at
    # least K units (cluener); 'quota': units up to K x few_shot_quota examples.
    few_shot_rule = 'per_label'
    few_shot_quota = None

    def sample_unit(self, example):
        """What a sample draws whole: the record (line, question) an example comes from."""
        raise NotImplementedError

    def sample_label(self, example):
        """'per_label': the example's label; 'category_cover': its categories."""
        raise NotImplementedError

    def sample_size(self, examples):
        """'quota': how much a unit counts (default: its examples)."""
        return len(examples)

    def write_sample(self, examples, folder):
        """Write ``examples`` (whole units, in file order) to ``folder`` in the task's
        own file format; returns the paths, to be given to ``--train-file``."""
        raise NotImplementedError

    def improves(self, score, best):
        return score >= best if self.keep_ties else score > best

    def data_paths(self, data_dir):
        """All files a run needs, relative paths resolved under ``data_dir``."""
        files = list(self.train_files) + list(self.dev_files) + [t.source for t in self.test_files]
        return [os.path.join(data_dir, self.name, f) for f in files]


def source_path(example):
    source = example.source
    return source.path if hasattr(source, 'path') else source[0]


def line_key(example, several_files):
    """A JSON-lines dev record's 0-based line index (``file:index`` across several files)."""
    index = example.source.line - 1
    return '%s:%d' % (os.path.basename(example.source.path), index) if several_files else index


def keyed_predictions(lines, path, field='label'):
    """{str(id): value} of a JSON-lines predictions file's records."""
    predictions = {}
    for number, record in enumerate(lines, 1):
        if not isinstance(record, dict) or 'id' not in record or field not in record:
            raise InputError('%s line %d: expected {"id": ..., "%s": ...}' % (path, number, field))
        predictions[str(record['id'])] = record[field]
    return predictions


def prediction_of(predictions, key, path):
    if str(key) not in predictions:
        raise InputError('%s: no prediction for id %s' % (path, key))
    return predictions[str(key)]


CLS_VECTOR = 'the [CLS] vector (position 0) of the last layer'


def collate(task, encoded, with_labels=True):
    """Model inputs (padded id matrices) and labels (None without ``with_labels``:
    prediction needs none, and cluener's are a dense [C, L, L] per sequence)."""
    inputs = [
        sequence_padding([row for e in encoded for row in e.inputs[i]])
        for i in range(len(encoded[0].inputs))
    ]
    if not with_labels:
        return inputs, None
    labels = task.collate_labels([row for e in encoded for row in e.labels], inputs[0].shape[1])
    return inputs, labels


def batches(encoded, batch_size, shuffle):
    """Lists of encoded examples; a shuffled pass draws one permutation from NumPy's
    global generator (like bert4keras' DataGenerator), here, when it is called."""
    order = np.random.permutation(len(encoded)) if shuffle else np.arange(len(encoded))
    return ([encoded[i] for i in order[start:start + batch_size]]
            for start in range(0, len(encoded), batch_size))


def prefetched(iterable, depth=2):
    """The items of ``iterable``, produced on a background thread up to ``depth`` ahead
    (training batches are padded while the model steps); its errors are raised here."""
    items = queue.Queue(maxsize=depth)
    finished = object()

    def produce():
        try:
            for item in iterable:
                items.put((item, None))
            items.put((finished, None))
        except BaseException as error:  # handed to the consumer
            items.put((finished, error))

    threading.Thread(target=produce, daemon=True).start()
    while True:
        item, error = items.get()
        if error is not None:
            raise error
        if item is finished:
            return
        yield item


def json_lines(objects, **dumps_options):
    return ''.join(json.dumps(o, **dumps_options) + '\n' for o in objects)


def write_source_lines(sources, folder):
    """The JSON-lines records at ``sources`` (Locations with lines) copied verbatim to
    ``folder``, each source file's under its own name; returns the paths written."""
    wanted = {}
    for source in sources:
        wanted.setdefault(source.path, []).append(source.line)
    written = []
    for path, numbers in wanted.items():
        keep, lines = set(numbers), {}
        with open(path, 'rb') as f:
            for number, raw in enumerate(f, 1):
                if number in keep:
                    lines[number] = raw.decode('utf-8-sig' if number == 1 else 'utf-8').rstrip('\r\n')
        target = os.path.join(folder, os.path.basename(path))
        write_atomically(target, ''.join(lines[n] + '\n' for n in numbers))
        written.append(target)
    return written


def unique(items):
    """The items without repeats, in their first order."""
    seen, kept = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            kept.append(item)
    return kept


def keyed(example, key):
    """``example``, or a copy of it with id ``key``."""
    if key is None:
        return example
    copied = copy.copy(example)
    copied.id = key
    return copied
