"""What a run reads, in the order it reads it: every data file checked, read and its
records checked, the few-shot samples drawn, every example encoded once and the
methods' data-defined settings learned (PASTA's slots). No framework: every framework
trains on the same inputs, and nothing changes them afterwards."""
import os

from fl_tuning import few_shot
from fl_tuning.data_files import BadLines, DataErrors, check_data_files, grouped, in_file_order
from fl_tuning.errors import InputError
from fl_tuning.methods import create_methods, method_set_of
from fl_tuning.prediction import progress_bar
from fl_tuning.vocab import Vocabulary


def check_run_data(data_dir, task):
    """Every file the run reads exists (before the model files are looked at)."""
    if not os.path.isdir(data_dir):
        raise InputError('data dir not found: %s' % data_dir)
    check_data_files(task.data_paths(data_dir))


class RunInputs(object):
    """The run's data: ``train_examples``, ``dev_examples``, ``tests`` [(TestFile,
    examples)], their encodings, the ``tokenizer`` and ``keep_tokens`` of the simplified
    vocabulary (and the reserved tokens ``missing_tokens`` from it), the few-shot ``samples``, the ``skipped`` records and data ``notices``,
    and the ``method_set`` with what the methods learned from the data."""

    def __init__(self, task, data_dir, vocab_path, method_set, skip_bad_lines=False, samples=(),
                 progress=True, log=print, clock=None):
        """``samples``: (split, K, seed, folder) of each few-shot sample to draw and write."""
        self.task, self.log = task, log
        folder = os.path.join(data_dir, task.name)
        vocabulary = Vocabulary(vocab_path, task.reserved_tokens, task.name)
        self.keep_tokens, self.tokenizer = vocabulary.keep_tokens, vocabulary.tokenizer()
        self.missing_tokens = vocabulary.missing
        if vocabulary.notice():
            log('%s: %s' % (vocab_path, vocabulary.notice()))
        bad_lines = BadLines(skip=skip_bad_lines)
        train = task.read([os.path.join(folder, f) for f in task.train_files], 'train', bad_lines)
        dev = task.read([os.path.join(folder, f) for f in task.dev_files], 'dev', bad_lines)
        # Test lines are never skipped: a submission must answer every one.
        test_lines = BadLines()
        self.tests = [(t, task.read([os.path.join(folder, t.source)], 'test', test_lines)) for t in task.test_files]
        problems = test_lines.problems + ([] if bad_lines.skip else bad_lines.problems)
        if problems:
            raise DataErrors(problems)
        self.skipped = in_file_order(bad_lines.problems)
        self.notices = in_file_order(bad_lines.notices + test_lines.notices)
        self.log_data_problems()
        for examples, what in ((train, 'training'), (dev, 'dev')):
            if not examples:
                raise InputError('no %s examples in %s' % (what, folder))
        self.samples = {}
        examples = {'train': train, 'dev': dev}
        for split, k, seed, sample_folder in samples:
            drawn = few_shot.sample(task, examples[split], k, seed, sample_folder)
            self.samples[split] = drawn.description()
            log('few-shot %s sample (K=%d, seed %d): %d of %d examples, written to %s' % (
                split, k, seed, len(drawn.examples), len(examples[split]), sample_folder))
            examples[split] = drawn.examples
        self.train_examples, self.dev_examples = examples['train'], examples['dev']
        task.prepare(self.train_examples, self.dev_examples)
        # Encoded once; the original re-tokenised every example every epoch.
        with clock.timing('encoding'):
            self.encoded_train = self.encode(self.train_examples, 'train', progress)
            self.encoded_dev = self.encode(self.dev_examples, 'dev', progress)
            self.encoded_tests = [self.encode(examples, t.source, progress) for t, examples in self.tests]
        methods = create_methods(method_set)
        sequences = [row for encoded in [self.encoded_train, self.encoded_dev] + self.encoded_tests
                     for example in encoded for row in example.inputs[0]]
        for method in methods:
            method.prepare(sequences)
        self.method_set = method_set_of(methods)

    def encode(self, examples, what, progress):
        return [self.task.encode(e, self.tokenizer, self.task.hyperparameters).compact()
                for e in progress_bar(progress, examples, 'encode %s' % what)]

    def log_data_problems(self):
        if self.skipped:
            self.log('skipped %d bad record(s):' % len(self.skipped))
            for line in grouped(self.skipped):
                self.log('  %s' % line)
        if self.notices:
            self.log('%d record(s) read as the original reads them, although they look odd:'
                     % len(self.notices))
            lines = grouped(self.notices)
            for line in lines[:DataErrors.shown]:
                self.log('  %s' % line)
            if len(lines) > DataErrors.shown:
                self.log('  ... and %d more' % (len(lines) - DataErrors.shown))
