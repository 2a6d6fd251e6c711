"""One run: a task on a backbone with the tuning methods, trained as the original
does (best epoch on dev), then the CLUE submission files from the best weights.

Every file a run writes is written atomically. After each epoch the run saves its
state (trained weights, optimizer, random generators), so that ``resume=True``
continues a killed run from its last completed epoch with the same result.
"""
import contextlib
import hashlib
import json
import os
import random
import time

import numpy as np

from fl_tuning import few_shot
from fl_tuning.compat import STACK, K, device_name, tf1
from fl_tuning.determinism import SeededDropout, SeededInitialValues
from fl_tuning.errors import InputError
from fl_tuning.inference import predict_results, progress_bar, write_submission
from fl_tuning.io import BadLines, DataErrors, in_file_order, remove_partial_files, write_atomically
from fl_tuning.methods import (
    create_methods, default_learning_rate, label, method_set_from_sizes, method_set_of, sizes,
)
from fl_tuning.model_files import ModelFiles
from fl_tuning.models import build_model, parameter_report
from fl_tuning.optimizers import get_optimizer, learning_rate_at
from fl_tuning.tasks import get_task
from fl_tuning.tasks.base import batches, collate, prefetched
from fl_tuning.vocab import build_tokenizer, load_vocabulary
from fl_tuning.weights import (
    fingerprint, library_versions, load_state, load_tuned_weights, read_state, save_state,
    save_tuned_weights,
)

# Flags that override a task's row of the hyperparameter table.
OVERRIDABLE = ('epochs', 'batch_size', 'learning_rate', 'maxlen', 'grad_accum_steps',
               'num_warmup_steps')


class RunConfig(object):
    def __init__(self, backbone, task, data_dir, model_dir, output_dir, checkpoint=None,
                 ffn_prompt_size=160, prompt_size=0, method_set=None, seed=None,
                 fused_feed_forward=False, progress=True, resume=False, skip_bad_lines=False,
                 train_files=None, dev_files=None, few_shot=None, few_shot_seed=0, few_shot_dev=None,
                 write_dev_predictions=False, **overrides):
        """``method_set``: {method name: settings} (fl_tuning.methods); without it the
        two sizes decide, as in the original. ``train_files``, ``dev_files``: file names
        inside the task folder instead of the task's CLUE files. ``few_shot``: K, to
        train on a sample drawn from (K, ``few_shot_seed``); ``few_shot_dev`` likewise."""
        unknown = set(overrides) - set(OVERRIDABLE)
        if unknown:
            raise ValueError('unknown hyperparameter(s): %s' % ', '.join(sorted(unknown)))
        self.backbone, self.task, self.data_dir = backbone, task, data_dir
        self.model_dir, self.output_dir, self.checkpoint = model_dir, output_dir, checkpoint
        self.method_set = (method_set if method_set is not None
                           else method_set_from_sizes(ffn_prompt_size, prompt_size))
        self.seed, self.fused_feed_forward, self.progress = seed, fused_feed_forward, progress
        self.resume, self.skip_bad_lines = resume, skip_bad_lines
        self.train_files, self.dev_files = train_files, dev_files
        self.few_shot, self.few_shot_seed, self.few_shot_dev = few_shot, few_shot_seed, few_shot_dev
        self.write_dev_predictions = write_dev_predictions
        self.overrides = dict((k, v) for k, v in overrides.items() if v is not None)


PHASES = ('start-up', 'encoding', 'training', 'evaluation', 'saving', 'prediction')


class PhaseClock(object):
    """Seconds spent in each phase of a run (this process's part of it)."""

    def __init__(self):
        self.seconds = dict((phase, 0.0) for phase in PHASES)

    @contextlib.contextmanager
    def timing(self, phase):
        started = time.time()
        try:
            yield
        finally:
            self.seconds[phase] += time.time() - started

    def rounded(self):
        return dict((phase, round(value, 3)) for phase, value in self.seconds.items())


def draw_seed():
    return int.from_bytes(os.urandom(4), 'little') % (2 ** 31)


def random_states():
    """NumPy's and Python's generator states, as JSON values."""
    name, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    return {'numpy': [name, keys.tolist(), position, has_gauss, gauss],
            'python': [version, list(python_state), gauss_next]}


def restore_random_states(states):
    name, keys, position, has_gauss, gauss = states['numpy']
    np.random.set_state((name, np.array(keys, dtype='uint32'), position, has_gauss, gauss))
    version, python_state, gauss_next = states['python']
    random.setstate((version, tuple(python_state), gauss_next))


def completed_summary(record_path):
    """The summary line of a finished run's record, or None."""
    if not os.path.isfile(record_path):
        return None
    with open(record_path, encoding='utf-8') as f:
        lines = [json.loads(line) for line in f if line.strip()]
    return lines[-1]['summary'] if lines and 'summary' in lines[-1] else None


def saved_seed(state_path, record_path, default):
    """The seed of the run being resumed (from its state or finished record)."""
    if os.path.isfile(state_path):
        return read_state(state_path)['settings']['seed']
    summary = completed_summary(record_path)
    return summary['settings']['seed'] if summary else default


class Run(object):
    """The steps of a run, in order; ``execute`` does them all."""

    def __init__(self, config, log=print):
        self.config = config
        self.log = log
        self.task = get_task(config.task)
        self.hyperparameters = dict(self.task.hyperparameters, **config.overrides)
        rate, self.learning_rate_source = default_learning_rate(config.method_set)
        if 'learning_rate' in config.overrides:
            self.learning_rate_source = '--learning-rate'
        elif rate is not None:
            self.hyperparameters['learning_rate'] = rate
        self.task.hyperparameters = self.hyperparameters
        self.data_dir = os.path.join(config.data_dir, self.task.name)
        for split, names in (('train', config.train_files), ('dev', config.dev_files)):
            if names:
                setattr(self.task, '%s_files' % split, self.files_in_task_folder(split, names))
        out = config.output_dir
        self.weights_path = os.path.join(out, 'weights', '%s.weights' % self.task.name)
        self.record_path = os.path.join(out, 'records', '%s.jsonl' % self.task.name)
        self.state_path = os.path.join(out, 'state', '%s.state' % self.task.name)
        self.seed = config.seed if config.seed is not None else draw_seed()
        self.epochs, self.best, self.best_epoch, self.step = [], 0.0, None, 0
        self.skipped, self.notices = [], []
        self.clock = PhaseClock()
        self.started = time.time()

    def path(self, name):
        return os.path.join(self.data_dir, name)

    def files_in_task_folder(self, split, names):
        """``--train-file``/``--dev-file`` names, checked: as many as the task reads
        (chid: questions and answers; c3: any number), each inside the task folder or
        an absolute path."""
        default = getattr(self.task, '%s_files' % split)
        flag = '--%s-file' % split
        if len(names) != len(default) and self.task.name != 'c3':
            raise InputError('%s %s: %s reads %d %s file(s) (%s by default)' % (
                flag, ','.join(names), self.task.name, len(default), split, ','.join(default)))
        for name in names:  # a name in the task folder, or an absolute path (a written sample)
            if not os.path.isabs(name) and os.path.normpath(name).split(os.sep)[0] == os.pardir:
                raise InputError('%s %s: name a file inside the task folder %s (or give an absolute '
                                 'path)' % (flag, name, self.data_dir))
        return tuple(names)

    # -- before any model is built --------------------------------------------
    def check_inputs(self):
        """Every file the run reads exists and the model files agree."""
        if not os.path.isdir(self.config.data_dir):
            raise InputError('data dir not found: %s' % self.config.data_dir)
        for path in self.task.data_paths(self.config.data_dir):
            if not os.path.isfile(path):
                raise InputError('data file not found: %s' % path)
        self.model_files = ModelFiles(self.config.model_dir, self.config.checkpoint,
                                      self.config.backbone, self.log)

    def load_data(self):
        """Read and check every data file, then encode every example once."""
        token_dict, self.keep_tokens = load_vocabulary(self.model_files.vocab)
        self.tokenizer = build_tokenizer(token_dict)
        task = self.task
        bad_lines = BadLines(skip=self.config.skip_bad_lines)
        self.train_examples = task.read([self.path(f) for f in task.train_files], 'train', bad_lines)
        self.dev_examples = task.read([self.path(f) for f in task.dev_files], 'dev', bad_lines)
        # Test lines are never skipped: a submission must answer every one.
        test_lines = BadLines()
        self.tests = [(t, task.read([self.path(t.source)], 'test', test_lines)) for t in task.test_files]
        problems = test_lines.problems + ([] if bad_lines.skip else bad_lines.problems)
        if problems:
            raise DataErrors(problems)
        self.skipped = [str(problem) for problem in in_file_order(bad_lines.problems)]
        if self.skipped:
            self.log('skipped %d bad record(s):' % len(self.skipped))
            for problem in self.skipped:
                self.log('  %s' % problem)
        self.notices = [str(notice) for notice in in_file_order(bad_lines.notices + test_lines.notices)]
        if self.notices:
            self.log('%d record(s) read as the original reads them, although they look odd:'
                     % len(self.notices))
            for notice in self.notices[:DataErrors.shown]:
                self.log('  %s' % notice)
            if len(self.notices) > DataErrors.shown:
                self.log('  ... and %d more' % (len(self.notices) - DataErrors.shown))
        for examples, what in ((self.train_examples, 'training'), (self.dev_examples, 'dev')):
            if not examples:
                raise InputError('no %s examples in %s' % (what, self.data_dir))
        self.samples = {}
        for split, k in (('train', self.config.few_shot), ('dev', self.config.few_shot_dev)):
            if k:
                self.draw_sample(split, k)
        task.prepare(self.train_examples, self.dev_examples)
        self.encoded_train = self.encode(self.train_examples, 'train')
        self.encoded_dev = self.encode(self.dev_examples, 'dev')
        self.encoded_tests = [self.encode(examples, t.source) for t, examples in self.tests]
        self.methods = create_methods(self.config.method_set)
        sequences = [row for encoded in [self.encoded_train, self.encoded_dev] + self.encoded_tests
                     for example in encoded for row in example.inputs[0]]
        for method in self.methods:
            method.prepare(sequences)

    def draw_sample(self, split, k):
        """Replace the split's examples by their few-shot sample, written beside the run."""
        seed = self.config.few_shot_seed
        folder = os.path.join(self.config.output_dir, 'few_shot', self.task.name,
                              '%s-k%d-seed%d' % (split, k, seed))
        examples = getattr(self, '%s_examples' % split)
        drawn = few_shot.sample(self.task, examples, k, seed, folder)
        setattr(self, '%s_examples' % split, drawn.examples)
        self.samples[split] = drawn.description()
        self.log('few-shot %s sample (K=%d, seed %d): %d of %d examples, written to %s' % (
            split, k, seed, len(drawn.examples), len(examples), folder))

    def encode(self, examples, what):
        # Encoded once; the original re-tokenised every example every epoch.
        with self.clock.timing('encoding'):
            return self.encode_all(examples, what)

    def encode_all(self, examples, what):
        return [self.task.encode(e, self.tokenizer, self.hyperparameters).compact()
                for e in progress_bar(self.config.progress, examples, 'encode %s' % what)]

    # -- what identifies the run ----------------------------------------------
    def settings(self):
        """What a resumed run must share with the run it continues (computed once:
        it fingerprints the data files)."""
        if getattr(self, '_settings', None) is None:
            self._settings = self.compute_settings()
        return self._settings

    def compute_settings(self):
        config = self.config
        data = hashlib.sha256()
        for path in self.task.data_paths(config.data_dir):
            data.update(fingerprint(path).encode('ascii'))
        method_set = method_set_of(self.methods)
        ffn_prompt_size, prompt_size = sizes(method_set)
        return dict(self.model_files.fingerprints, backbone=config.backbone, task=self.task.name,
                    methods=method_set, method=label(method_set),
                    ffn_prompt_size=ffn_prompt_size, prompt_size=prompt_size,
                    fused_feed_forward=config.fused_feed_forward, seed=self.seed,
                    data_files={'train': list(self.task.train_files), 'dev': list(self.task.dev_files)},
                    few_shot=self.samples,
                    hyperparameters=self.hyperparameters, skip_bad_lines=config.skip_bad_lines,
                    data_fingerprint='sha256:' + data.hexdigest())

    def manifest(self):
        """What the tuned-weights file says about itself."""
        return dict(self.settings(), task_state=self.task.state(), versions=library_versions(),
                    checkpoint=os.path.abspath(self.model_files.checkpoint),
                    trainable_parameters=self.parameters['trainable'] + self.parameters['head'],
                    method_parameters=self.parameters['by_method'],
                    epoch=self.best_epoch, dev=self.epochs[-1]['dev'] if self.epochs else None)

    # -- the model -------------------------------------------------------------
    def build(self):
        """Builds in the current default graph (start from ``K.clear_session()``)."""
        config = self.config
        tf1.set_random_seed(self.seed)
        self.dropout = SeededDropout(self.seed)
        initial_values = SeededInitialValues(self.seed)
        with self.dropout.installed(), initial_values.recorded():
            self.transformer = build_model(
                config.backbone, self.model_files.config, self.model_files.checkpoint,
                methods=self.methods, keep_tokens=self.keep_tokens,
                fused_feed_forward=config.fused_feed_forward)
            self.model, loss = self.task.build(self.transformer)
        initial_values.assign(keep=self.transformer.loaded_weights)
        # Seeded after building: Keras 2.3.1 draws its initializers' seeds from NumPy's
        # generator, tf.keras does not, and the batches' order comes from it.
        random.seed(self.seed)
        np.random.seed(self.seed)
        h = self.hyperparameters
        self.steps_per_epoch = int(np.ceil(len(self.encoded_train) / float(h['batch_size'])))
        self.optimizer = get_optimizer(h['learning_rate'], h['num_warmup_steps'],
                                       self.steps_per_epoch * h['epochs'],
                                       grad_accum_steps=h['grad_accum_steps'])
        self.model.compile(loss=loss, optimizer=self.optimizer)
        self.model._make_train_function()  # creates the optimizer's variables now
        self.parameters = parameter_report(self.transformer)
        self.parameters['head'] = int(sum(K.count_params(w) for w in self.model.trainable_weights)
                                      - self.parameters['trainable'])

    # -- resuming ---------------------------------------------------------------
    def saved_progress(self):
        """(saved state, None) for a run to continue, (None, summary) for a completed
        one, (None, None) for nothing saved; the settings are checked against this
        run's. Read before building: neither a refused resume nor a completed run
        costs a model."""
        if os.path.isfile(self.state_path):
            state = read_state(self.state_path)
            self.check_same_settings(state['settings'], self.state_path)
            return state, None
        summary = completed_summary(self.record_path)
        if summary is not None:
            self.check_same_settings(summary['settings'], self.record_path)
            self.log('%s is complete already: nothing to resume' % self.record_path)
            return None, summary
        self.log('no saved state in %s: starting from the first epoch' % self.state_path)
        return None, None

    def restore(self, state):
        """Continue from the saved state (after building)."""
        load_state(self.model, self.state_path)
        self.epochs, self.best, self.best_epoch = state['epochs'], state['best'], state['best_epoch']
        self.step = state['step']
        restore_random_states(state['random'])
        self.log('resuming after epoch %d of %d (best dev %s %.5f)' % (
            len(self.epochs), self.hyperparameters['epochs'], self.task.metric, self.best))

    def check_same_settings(self, saved, path):
        mine = json.loads(json.dumps(self.settings(), sort_keys=True))
        if saved != mine:
            differing = sorted(k for k in set(mine) | set(saved) if mine.get(k) != saved.get(k))
            raise InputError('%s was written by a run with other settings (%s): resume with the '
                             'same settings, or start anew without --resume' % (path, ', '.join(differing)))

    def save_state(self):
        save_state(self.model, self.state_path, {
            'settings': self.settings(), 'epochs': self.epochs, 'best': self.best,
            'best_epoch': self.best_epoch, 'step': self.step, 'random': random_states(),
        })

    # -- training ---------------------------------------------------------------
    def train_epoch(self, epoch):
        """One epoch; returns the loss of every step."""
        h = self.hyperparameters
        losses = []
        collated = (collate(self.task, batch)
                    for batch in batches(self.encoded_train, h['batch_size'], shuffle=True))
        bar = progress_bar(self.config.progress, prefetched(collated), 'epoch %d/%d' % (epoch, h['epochs']),
                           self.steps_per_epoch)
        for inputs, labels in bar:
            self.dropout.set_step(self.step)
            losses.append(float(self.model.train_on_batch(inputs, labels)))
            self.step += 1
            if self.config.progress:
                bar.set_postfix(loss='%.4f' % np.mean(losses))
        return losses

    def train(self):
        h = self.hyperparameters
        for epoch in range(len(self.epochs) + 1, h['epochs'] + 1):
            started = time.time()
            with self.clock.timing('training'):
                loss = float(np.mean(self.train_epoch(epoch)))
            train_seconds = time.time() - started
            with self.clock.timing('evaluation'):
                results = predict_results(self.model, self.task, self.encoded_dev, h['batch_size'],
                                          self.config.progress, 'dev')
            metrics = self.task.evaluate(self.dev_examples, self.encoded_dev, results)
            score = metrics[self.task.metric]
            improved = self.task.improves(score, self.best)
            self.epochs.append({
                'epoch': epoch, 'train_loss': loss, 'dev': metrics, 'improved': improved,
                'learning_rate': learning_rate_at(self.optimizer, K.get_value(self.optimizer.iterations)),
                'seconds': round(time.time() - started, 3),
                'examples_per_second': round(len(self.encoded_train) / train_seconds, 2),
            })
            with self.clock.timing('saving'):
                if improved:
                    self.best, self.best_epoch = score, epoch
                    save_tuned_weights(self.model, self.weights_path, self.manifest())
                self.save_state()
                self.write_record()
            self.log('epoch %d/%d: train loss %.4f, dev %s %.5f%s (best %.5f)' % (
                epoch, h['epochs'], loss, self.task.metric, score, ' *' if improved else '', self.best))
        if self.best_epoch is None:
            # The original would crash loading a file it never wrote; keep the last epoch.
            self.log("dev %s never rose above 0: using the last epoch's weights" % self.task.metric)
            save_tuned_weights(self.model, self.weights_path, self.manifest())
        load_tuned_weights(self.model, self.weights_path, self.settings())

    # -- outputs ------------------------------------------------------------------
    def write_submissions(self):
        results_dir = os.path.join(self.config.output_dir, 'results')
        self.submissions = [
            write_submission(self.model, self.task, self.tokenizer, examples, encoded,
                             self.hyperparameters['batch_size'],
                             os.path.join(results_dir, test_file.submission), self.config.progress)
            for (test_file, examples), encoded in zip(self.tests, self.encoded_tests)
        ]
        if self.config.write_dev_predictions:
            results = predict_results(self.model, self.task, self.encoded_dev, self.hyperparameters['batch_size'],
                                      self.config.progress, 'predict dev')
            self.dev_predictions = os.path.join(self.config.output_dir, 'dev_predictions', '%s.json' % self.task.name)
            write_atomically(self.dev_predictions, self.task.dev_submission(
                self.dev_examples, self.encoded_dev, results, self.tokenizer))

    def summary(self):
        best = self.epochs[self.best_epoch - 1]['dev'] if self.best_epoch else self.epochs[-1]['dev']
        return {
            'task': self.task.name, 'backbone': self.config.backbone,
            'method': self.settings()['method'], 'methods': self.settings()['methods'],
            'ffn_prompt_size': self.settings()['ffn_prompt_size'],
            'prompt_size': self.settings()['prompt_size'],
            'hyperparameters': self.hyperparameters, 'seed': self.seed,
            'metric': self.task.metric, 'best_epoch': self.best_epoch, 'best_dev': best,
            'parameters': self.parameters, 'weights': self.weights_path,
            'submissions': getattr(self, 'submissions', []), 'skipped_records': len(self.skipped),
            'dev_predictions': getattr(self, 'dev_predictions', None),
            'data_notices': len(self.notices),
            'seconds': round(sum(e['seconds'] for e in self.epochs), 3),
            'phase_seconds': self.clock.rounded(),
            'settings': self.settings(),
        }

    def start(self):
        """Inputs checked, data read, the model built and a resumed run's state
        restored: ready to train. Returns the summary of a completed run instead."""
        self.check_inputs()
        self.load_data()
        for folder in ('weights', 'results', 'records', 'state'):
            remove_partial_files(os.path.join(self.config.output_dir, folder))
        state = None
        if self.config.resume:
            if self.config.seed is None:
                self.seed = saved_seed(self.state_path, self.record_path, self.seed)
            state, completed = self.saved_progress()
            if completed is not None:
                return completed
        self.build()
        if state is not None:
            self.restore(state)
        return None

    def write_record(self, final=False):
        """The record: a ``run`` line (settings), one line per epoch, a ``summary``."""
        header = {'run': dict(self.settings(), device=self.device, stack=STACK,
                              started=time.strftime('%Y-%m-%dT%H:%M:%S%z', time.localtime(self.started)))}
        lines = [json.dumps(header, sort_keys=True)] + [json.dumps(e, sort_keys=True) for e in self.epochs]
        if final:
            lines.append(json.dumps({'summary': self.summary()}, sort_keys=True))
        write_atomically(self.record_path, ''.join(line + '\n' for line in lines))

    def execute(self):
        self.device = device_name()
        self.log('device: %s (%s)' % (self.device, STACK))
        with self.clock.timing('start-up'):
            completed = self.start()
        if completed is not None:
            return completed
        self.log('%s on %s: %d train / %d dev examples; seed %d' % (
            self.task.name, self.config.backbone, len(self.train_examples), len(self.dev_examples),
            self.seed))
        by_method = ' + '.join('{} {:,}'.format(name, count)
                               for name, count in self.parameters['by_method'].items())
        self.log('method %s: {:,} trainable parameters ({}) + {:,} in the head; learning rate %g (%s)'
                 .format(self.parameters['trainable'], by_method or 'none', self.parameters['head'])
                 % (self.settings()['method'], self.hyperparameters['learning_rate'],
                    self.learning_rate_source))
        self.train()
        with self.clock.timing('prediction'):
            self.write_submissions()
        self.write_record(final=True)
        if os.path.isfile(self.state_path):  # the run is complete: its record says all
            os.remove(self.state_path)
            if not os.listdir(os.path.dirname(self.state_path)):
                os.rmdir(os.path.dirname(self.state_path))
        return self.summary()
