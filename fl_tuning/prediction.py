"""Running a task model over encoded examples: the task's per-example results, and
submission files written from them (training's dev evaluation and prediction alike).
The model is any framework's ``predict_batch(inputs) -> outputs`` over padded NumPy
inputs; the order, batching and reduction here are shared."""
import os
import sys
import time

from tqdm import tqdm

from fl_tuning.data_files import write_atomically
from fl_tuning.tasks.base import collate


# A log that is a file (a batch job's) gets a progress line at most this often.
LINE_INTERVAL_SECONDS = 60.0


def progress_bar(enabled, iterable, description, total=None, stream=None):
    """tqdm's redrawn bar on a terminal; where stderr is a file (a batch job's log) whole
    lines instead, at most one a minute (ProgressLines)."""
    stream = stream or sys.stderr
    if enabled and not stream.isatty():
        return ProgressLines(iterable, description, total, stream)
    return tqdm(iterable, desc=description, total=total, disable=not enabled, leave=False, dynamic_ncols=True,
                file=stream)


class ProgressLines(object):
    """Progress as lines for logs that are files: 'epoch 2/10: 300/1000 (30%), 95 s, loss
    0.6931', one every ``interval`` seconds at most (none for work shorter than that)."""

    def __init__(self, iterable, description, total, stream, interval=LINE_INTERVAL_SECONDS):
        self.iterable, self.description, self.total = iterable, description, total
        self.stream, self.interval, self.postfix = stream, interval, ''

    def set_postfix(self, **values):
        self.postfix = ''.join(', %s %s' % item for item in sorted(values.items()))

    def __iter__(self):
        started = last = time.time()
        for done, item in enumerate(self.iterable, 1):
            yield item
            now = time.time()
            if now - last >= self.interval:
                last = now
                share = ' (%d%%)' % (100 * done // self.total) if self.total else ''
                of = '/%d' % self.total if self.total else ''
                self.stream.write('%s: %d%s%s, %.0f s%s\n' % (self.description, done, of, share, now - started,
                                                             self.postfix))
                self.stream.flush()


# Prediction keeps no gradients or optimizer state: it takes batches this many times
# larger than training's.
PREDICTION_BATCH_FACTOR = 4


def by_length(encoded):
    """Example indices, longest first, so that a batch holds examples of similar length
    and pads little (ties keep file order)."""
    lengths = [max(len(row) for row in example.inputs[0]) for example in encoded]
    return sorted(range(len(encoded)), key=lambda i: -lengths[i])


class PredictionBatches(object):
    """``encoded`` in prediction batches, padded once (the dev set is predicted after
    every epoch): by length, ``PREDICTION_BATCH_FACTOR`` training batches at a time."""

    def __init__(self, task, encoded, batch_size):
        self.task, self.count = task, len(encoded)
        order = by_length(encoded)
        size = batch_size * PREDICTION_BATCH_FACTOR
        self.batches = []
        for start in range(0, len(order), size):
            indices = order[start:start + size]
            batch = [encoded[i] for i in indices]
            self.batches.append((indices, batch, collate(task, batch, with_labels=False)[0]))

    def results(self, predict_batch, progress, description):
        """The task's per-example results of ``predict_batch``, in the examples' order;
        every result is the same as in file order (tested)."""
        results = [None] * self.count
        for indices, batch, inputs in progress_bar(progress, self.batches, description, len(self.batches)):
            for i, result in zip(indices, self.task.reduce(predict_batch(inputs), batch)):
                results[i] = result
        return results


def predict_results(predict_batch, task, encoded, batch_size, progress, description):
    """The task's per-example results of ``predict_batch`` on ``encoded``, in their order."""
    return PredictionBatches(task, encoded, batch_size).results(predict_batch, progress, description)


def write_submission(predict_batch, task, tokenizer, examples, encoded, batch_size, path, progress):
    """Predict one test file and write its submission atomically."""
    results = predict_results(predict_batch, task, encoded, batch_size, progress, 'predict %s' % os.path.basename(path))
    write_atomically(path, task.submission(examples, encoded, results, tokenizer))
    return path
