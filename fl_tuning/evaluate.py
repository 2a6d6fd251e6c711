"""Scoring a dev predictions file in the CLUE submission format, from any
implementation, with the metric our runs report (or, where that metric needs the
model's internals, the task's published measure, said in ``scored_as``)."""
import json
import os

from fl_tuning.errors import InputError
from fl_tuning.data_files import BadLines, DataErrors, check_data_files
from fl_tuning.tasks import get_task


def read_predictions(path):
    """A whole-file JSON object (chid, cmrc2018) or a list of JSON lines."""
    if not os.path.isfile(path):
        raise InputError('predictions file not found: %s' % path)
    with open(path, encoding='utf-8-sig') as f:
        text = f.read()
    try:
        whole = json.loads(text)
        if isinstance(whole, dict):
            return whole
    except ValueError:
        pass
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except ValueError as error:
                raise InputError('%s line %d: not valid JSON (%s)' % (path, number, error))
    return records


def evaluate(task_name, data_dir, predictions_path, dev_files=None):
    """{metric: value} of the predictions against the task's dev files (``dev_files``:
    names inside the task folder instead of its CLUE dev files), plus 'examples' and
    'scored_as' where the measure is not the run's."""
    task = get_task(task_name)
    names = dev_files or task.dev_files
    paths = [os.path.join(data_dir, task.name, name) for name in names]
    check_data_files(paths)
    bad_lines = BadLines()
    examples = task.read(paths, 'dev', bad_lines)
    if bad_lines.problems:
        raise DataErrors(bad_lines.problems)
    task.prepare(examples, [])
    metrics = task.score(examples, read_predictions(predictions_path), predictions_path)
    metrics['examples'] = len(examples)
    if task.scored_as:
        metrics['scored_as'] = task.scored_as
    return metrics
