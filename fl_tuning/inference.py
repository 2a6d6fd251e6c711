"""Running a task model over encoded examples: the task's per-example results, and
submission files written from them (training's dev evaluation and prediction alike)."""
import os

import numpy as np
from tqdm import tqdm

from fl_tuning.io import write_atomically
from fl_tuning.tasks.base import batches, collate


def progress_bar(enabled, iterable, description, total=None):
    return tqdm(iterable, desc=description, total=total, disable=not enabled, leave=False,
                dynamic_ncols=True)


def predict_results(model, task, encoded, batch_size, progress, description):
    """The task's per-example results of the model on ``encoded``, in order."""
    results = []
    total = int(np.ceil(len(encoded) / float(batch_size)))
    for batch in progress_bar(progress, batches(encoded, batch_size, shuffle=False), description, total):
        inputs, _ = collate(task, batch)
        results.extend(task.reduce(model.predict_on_batch(inputs), batch))
    return results


def write_submission(model, task, tokenizer, examples, encoded, batch_size, path, progress):
    """Predict one test file and write its submission atomically."""
    results = predict_results(model, task, encoded, batch_size, progress, 'predict %s' % os.path.basename(path))
    write_atomically(path, task.submission(examples, encoded, results, tokenizer))
    return path
