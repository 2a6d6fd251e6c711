"""A finished run brought back: its tuned-weights file (written by either framework)
on the pretrained checkpoint it was tuned from gives the task model, ready to predict
or to be probed."""
import os

from fl_tuning.data_files import BadLines, DataErrors, check_data_files
from fl_tuning.framework import load_framework
from fl_tuning.manifests import check_manifest, manifest_method_set
from fl_tuning.model_files import ModelFiles
from fl_tuning.tasks import get_task
from fl_tuning.vocab import Vocabulary
from fl_tuning.weight_files import check_weights_file, read_manifest


class SavedRun(object):
    """The manifest, task (with what it learned from the data), model files and
    tokenizer of a tuned-weights file, checked against the model dir before any
    model is built."""

    def __init__(self, weights_path, model_dir, checkpoint=None, log=print):
        check_weights_file(weights_path)
        self.weights_path = weights_path
        self.manifest = manifest = read_manifest(weights_path)
        self.task = get_task(manifest['task'], hyperparameters=manifest['hyperparameters'])
        self.task.restore(manifest['task_state'])
        self.files = ModelFiles(model_dir, checkpoint, manifest['backbone'], log)
        self.method_set = manifest_method_set(manifest)
        self.expected = dict(self.files.fingerprints, backbone=manifest['backbone'],
                             task=self.task.name, methods=self.method_set)
        check_manifest(manifest, self.expected, weights_path)
        vocabulary = Vocabulary(self.files.vocab, self.task.reserved_tokens, self.task.name)
        self.token_dict, self.keep_tokens = vocabulary.token_dict, vocabulary.keep_tokens
        self.tokenizer = vocabulary.tokenizer()

    def read(self, paths, split):
        """Examples of each of ``paths``, every record checked (no record is skipped)."""
        return [self.read_together([path], split) for path in paths]

    def read_together(self, paths, split, why=None):
        """The examples of files read as one split (chid's questions and answers)."""
        check_data_files(paths, why)
        bad_lines = BadLines()
        examples = self.task.read(paths, split, bad_lines)
        if bad_lines.problems:
            raise DataErrors(bad_lines.problems)
        return examples

    def dev_paths(self, data_dir):
        """The dev files the run evaluated on, under ``data_dir``."""
        names = self.manifest.get('data_files', {}).get('dev') or self.task.dev_files
        return [os.path.join(data_dir, self.task.name, name) for name in names]

    def encode(self, examples):
        return [self.task.encode(e, self.tokenizer, self.task.hyperparameters).compact()
                for e in examples]

    def trainer(self, framework='keras', device=None, precision='fp32'):
        """The framework's trainer of this run's model with the tuned weights loaded."""
        trainer = load_framework(framework).Trainer(
            self.manifest['backbone'], self.files, self.method_set, self.keep_tokens, self.task, seed=0,
            steps_per_epoch=1, fused_feed_forward=self.manifest.get('fused_feed_forward', False), device=device,
            precision=precision)
        trainer.load_weights(self.weights_path, self.expected)
        return trainer
