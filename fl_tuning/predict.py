"""Predicting from a saved run: a tuned-weights file on its pretrained checkpoint
gives the run's CLUE submission files, without training."""
import os

from fl_tuning.data_files import check_data_files, check_writable_folder
from fl_tuning.errors import InputError
from fl_tuning.prediction import write_submission
from fl_tuning.saved_run import SavedRun


def predict(weights_path, model_dir, data_dir='./clue_dataset', output_dir='.', test_file=None,
            output=None, checkpoint=None, progress=True, log=print, framework='keras', device=None,
            precision='fp32'):
    """Write the submission of ``test_file`` to ``output``, or, without a test file,
    of all the task's test files under ``data_dir`` to ``output_dir/results``; on
    ``framework``, from a tuned-weights file either framework wrote."""
    if test_file is not None and output is None:
        raise InputError('--test-file needs --output (the submission file to write)')
    check_writable_folder(os.path.dirname(os.path.abspath(output)) if test_file is not None else output_dir,
                          '--output' if test_file is not None else '--output-dir')
    saved = SavedRun(weights_path, model_dir, checkpoint, log)
    task = saved.task
    if test_file is not None:
        jobs = [(test_file, output)]
    else:
        jobs = [(os.path.join(data_dir, task.name, t.source),
                 os.path.join(output_dir, 'results', t.submission)) for t in task.test_files]
    check_data_files([source for source, _ in jobs])
    tests = saved.read([source for source, _ in jobs], 'test')
    trainer = saved.trainer(framework, device, precision)
    return [write_submission(trainer.predict_batch, task, saved.tokenizer, examples, saved.encode(examples),
                             task.hyperparameters['batch_size'], path, progress)
            for examples, (_, path) in zip(tests, jobs)]
