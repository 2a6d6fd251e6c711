"""Running a task model over encoded examples: the task's per-example results, and
submission files written from them (training's dev evaluation and prediction alike).
The model is any framework's ``predict_batch(inputs) -> outputs`` over padded NumPy
inputs; the order, batching and reduction here are shared."""
import os

from tqdm import tqdm

from fl_tuning.data_files import write_atomically
from fl_tuning.tasks.base import collate


def progress_bar(enabled, iterable, description, total=None):
    return tqdm(iterable, desc=description, total=total, disable=not enabled, leave=False,
                dynamic_ncols=True)


# Prediction keeps no gradients or optimizer state: it takes batches this many times
# larger than training's.
PREDICTION_BATCH_FACTOR = 4


def by_length(encoded):
    """Example indices, longest first, so that a batch holds examples of similar length
    and pads little (ties keep file order)."""
    lengths = [max(len(row) for row in example.inputs[0]) for example in encoded]
    return sorted(range(len(encoded)), key=lambda i: -lengths[i])


def predict_results(predict_batch, task, encoded, batch_size, progress, description):
    """The task's per-example results of ``predict_batch`` on ``encoded``, in their order.
    Examples are predicted by length, ``PREDICTION_BATCH_FACTOR`` training batches at
    a time; every result is the same as in file order (tested)."""
    order = by_length(encoded)
    size = batch_size * PREDICTION_BATCH_FACTOR
    results = [None] * len(encoded)
    starts = range(0, len(order), size)
    for start in progress_bar(progress, starts, description, len(starts)):
        indices = order[start:start + size]
        batch = [encoded[i] for i in indices]
        inputs, _ = collate(task, batch, with_labels=False)
        for i, result in zip(indices, task.reduce(predict_batch(inputs), batch)):
            results[i] = result
    return results


def write_submission(predict_batch, task, tokenizer, examples, encoded, batch_size, path, progress):
    """Predict one test file and write its submission atomically."""
    results = predict_results(predict_batch, task, encoded, batch_size, progress, 'predict %s' % os.path.basename(path))
    write_atomically(path, task.submission(examples, encoded, results, tokenizer))
    return path
