"""Predicting from a saved run: a tuned-weights file on its pretrained checkpoint
gives the run's CLUE submission files, without training."""
import os

from fl_tuning.errors import InputError
from fl_tuning.io import BadLines, DataErrors
from fl_tuning.models import build_model
from fl_tuning.run import ModelFiles, write_submission
from fl_tuning.tasks import get_task
from fl_tuning.vocab import build_tokenizer, load_vocabulary
from fl_tuning.weights import check_manifest, load_tuned_weights, read_manifest


def predict(weights_path, model_dir, data_dir='./clue_dataset', output_dir='.', test_file=None,
            output=None, checkpoint=None, progress=True, log=print):
    """Write the submission of ``test_file`` to ``output``, or, without a test file,
    of all the task's test files under ``data_dir`` to ``output_dir/results``."""
    if not os.path.isfile(weights_path):
        raise InputError('tuned-weights file not found: %s' % weights_path)
    manifest = read_manifest(weights_path)
    task = get_task(manifest['task'])
    task.hyperparameters = manifest['hyperparameters']
    task.restore(manifest['task_state'])
    if test_file is not None:
        if output is None:
            raise InputError('--test-file needs --output (the submission file to write)')
        jobs = [(test_file, output)]
    else:
        jobs = [(os.path.join(data_dir, task.name, t.source),
                 os.path.join(output_dir, 'results', t.submission)) for t in task.test_files]
    for source, _ in jobs:
        if not os.path.isfile(source):
            raise InputError('data file not found: %s' % source)
    files = ModelFiles(model_dir, checkpoint, manifest['backbone'], log)
    expected = dict(files.fingerprints, backbone=manifest['backbone'], task=task.name,
                    ffn_prompt_size=manifest['ffn_prompt_size'], prompt_size=manifest['prompt_size'])
    check_manifest(manifest, expected, weights_path)

    token_dict, keep_tokens = load_vocabulary(files.vocab)
    tokenizer = build_tokenizer(token_dict)
    bad_lines = BadLines()
    tests = [(task.read([source], 'test', bad_lines), path) for source, path in jobs]
    if bad_lines.problems:
        raise DataErrors(bad_lines.problems)
    transformer = build_model(manifest['backbone'], files.config, files.checkpoint,
                              ffn_prompt_size=manifest['ffn_prompt_size'],
                              prompt_size=manifest['prompt_size'], keep_tokens=keep_tokens,
                              fused_feed_forward=manifest['fused_feed_forward'])
    model, _ = task.build(transformer)
    load_tuned_weights(model, weights_path, expected)
    written = []
    for examples, path in tests:
        encoded = [task.encode(e, tokenizer, task.hyperparameters).compact() for e in examples]
        written.append(write_submission(model, task, tokenizer, examples, encoded,
                                        task.hyperparameters['batch_size'], path, progress))
    return written
