"""One run: a task on a backbone with the tuning methods, trained as the original
does (best epoch on dev), then the CLUE submission files from the best weights.

A run is a few parts, each made once: its inputs (fl_tuning.run_inputs), its identity
(settings, fingerprints: what a resumed run must share), its trainer (the framework's),
its store (fl_tuning.run_store). ``Run.execute`` reads top to bottom.

Every file a run writes is written atomically. After each epoch the run saves its
state (trained weights, optimizer, random generators), so that ``resume=True``
continues a killed run from its last completed epoch with the same result.
"""
import contextlib
import hashlib
import os
import random
import shutil
import tempfile
import time

import numpy as np

from fl_tuning.data_files import check_writable_folder, write_atomically
from fl_tuning.errors import InputError
from fl_tuning.framework import load_framework
from fl_tuning.manifests import fingerprint
from fl_tuning.methods import default_learning_rate, label, method_set_from_sizes, sizes
from fl_tuning.prediction import PredictionBatches, predict_results, progress_bar
from fl_tuning.processes import run_processes
from fl_tuning.run_inputs import RunInputs, check_run_data
from fl_tuning.run_lock import RunLock
from fl_tuning.run_options import OPTIONS, OVERRIDABLE, RUN_OPTIONS, recorded
from fl_tuning.run_store import RunStore
from fl_tuning.tasks import get_task
from fl_tuning.tasks.base import batches, collate, prefetched

class RunConfig(object):
    """A run's settings: backbone, task, the three folders, the method set, and every
    option of fl_tuning.run_options (its default where not given)."""

    def __init__(self, backbone, task, data_dir, model_dir, output_dir, method_set=None, ffn_prompt_size=160,
                 prompt_size=0, **options):
        """``method_set``: {method name: settings} (fl_tuning.methods); without it the
        two sizes decide, as in the original."""
        unknown = set(options) - set(OPTIONS)
        if unknown:
            raise ValueError('unknown run option(s): %s' % ', '.join(sorted(unknown)))
        for spec in RUN_OPTIONS:
            setattr(self, spec.name, options.get(spec.name, spec.default))
        self.backbone, self.task = backbone, task
        self.data_dir, self.model_dir, self.output_dir = data_dir, model_dir, output_dir
        self.method_set = (method_set if method_set is not None
                           else method_set_from_sizes(ffn_prompt_size, prompt_size))
        self.overrides = dict((name, getattr(self, name)) for name in OVERRIDABLE if getattr(self, name) is not None)


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


def run_hyperparameters(table_row, method_set, overrides):
    """(hyperparameters, where the learning rate comes from): the task's row of the table,
    the method set's own rate where it has one, the flags over both."""
    hyperparameters = dict(table_row, **overrides)
    rate, source = default_learning_rate(method_set)
    if 'learning_rate' in overrides:
        source = '--learning-rate'
    elif rate is not None:
        hyperparameters['learning_rate'] = rate
    return hyperparameters, source


def files_in_task_folder(task, data_dir, split, names):
    """``--train-file``/``--dev-file`` names, checked: as many as the task reads
    (chid: questions and answers; c3: any number), each inside the task folder or
    an absolute path."""
    if not names:
        return None
    default = getattr(task, '%s_files' % split)
    flag = '--%s-file' % split
    if len(names) != len(default) and task.name != 'c3':
        raise InputError('%s %s: %s reads %d %s file(s) (%s by default)' % (
            flag, ','.join(names), task.name, len(default), split, ','.join(default)))
    for name in names:  # a name in the task folder, or an absolute path (a written sample)
        if not os.path.isabs(name) and os.path.normpath(name).split(os.sep)[0] == os.pardir:
            raise InputError('%s %s: name a file inside the task folder %s (or give an absolute '
                             'path)' % (flag, name, os.path.join(data_dir, task.name)))
    return tuple(names)


def run_settings(config, task, inputs, model_files, seed):
    """What identifies a run, and what a resumed run must share with the run it
    continues (computed once per run: it fingerprints the data files)."""
    data = hashlib.sha256()
    for path in task.data_paths(config.data_dir):
        data.update(fingerprint(path).encode('ascii'))
    ffn_prompt_size, prompt_size = sizes(inputs.method_set)
    return dict(model_files.fingerprints, backbone=config.backbone, task=task.name,
                methods=inputs.method_set, method=label(inputs.method_set),
                ffn_prompt_size=ffn_prompt_size, prompt_size=prompt_size, seed=seed,
                data_files={'train': list(task.train_files), 'dev': list(task.dev_files)},
                few_shot=inputs.samples, hyperparameters=task.hyperparameters,
                data_fingerprint='sha256:' + data.hexdigest(), **recorded(config))


class Progress(object):
    """The training so far, which the state file saves after every epoch: the epochs'
    entries, the best dev score and its epoch, the steps taken."""

    def __init__(self, state=None):
        state = state or {'epochs': [], 'best': 0.0, 'best_epoch': None, 'step': 0}
        self.epochs, self.best, self.best_epoch, self.step = (
            state['epochs'], state['best'], state['best_epoch'], state['step'])

    def state(self, settings):
        return {'settings': settings, 'epochs': self.epochs, 'best': self.best, 'best_epoch': self.best_epoch,
                'step': self.step, 'random': random_states()}

    def add(self, entry, score):
        """An epoch's entry; whether its score is the best so far."""
        self.epochs.append(entry)
        if entry['improved']:
            self.best, self.best_epoch = score, entry['epoch']

    def best_dev(self):
        return self.epochs[(self.best_epoch or len(self.epochs)) - 1]['dev']


def quiet(line):
    """The log of a process that is not the run's writer."""


class Run(object):
    """``execute`` does a run's steps in order: ``start`` (inputs, identity, store,
    trainer), every epoch, the submissions, the final record. Spread over processes
    (torchrun; fl_tuning.processes), every process does every step on the same inputs and
    the framework shares out the batches; only the writer (rank 0) locks, logs and writes."""

    def __init__(self, config, log=print):
        self.config = config
        self.framework = load_framework(config.framework)
        self.processes = run_processes()
        if self.processes.world_size > 1 and not self.framework.DISTRIBUTED:
            raise InputError('WORLD_SIZE=%d: the %s side runs on one device (the faithful port); spread a run '
                             'over processes with --framework torch' % (self.processes.world_size, config.framework))
        self.writes = self.processes.writer
        self.log = log if self.writes else quiet
        self.show_progress = config.progress and self.writes
        named = get_task(config.task)  # as the table and the CLUE files define it
        hyperparameters, self.learning_rate_source = run_hyperparameters(
            named.hyperparameters, config.method_set, config.overrides)
        self.task = get_task(
            config.task, hyperparameters,
            files_in_task_folder(named, config.data_dir, 'train', config.train_files),
            files_in_task_folder(named, config.data_dir, 'dev', config.dev_files))
        self.hyperparameters = self.task.hyperparameters
        self.store = RunStore(config.output_dir, self.task.name, self.log)
        self.lock = RunLock(config.output_dir, self.task.name)
        self.clock = PhaseClock()
        self.started = time.time()
        self.device, self.stack = None, None
        self.inputs = self.model_files = self.trainer = self.settings = None
        self.seed = config.seed if config.seed is not None else draw_seed()
        self.progress = Progress()
        self.submissions, self.dev_predictions = [], None
        self.scratch = None  # where a process other than the writer draws its few-shot samples

    def execute(self):
        """The run's steps, its folder locked throughout (fl_tuning.run_lock); a run that
        fails before its trainer is built (bad input) leaves no lock file behind."""
        try:
            result = self.steps()
        except BaseException:
            self.lock.release(undo=self.trainer is None)
            raise
        finally:
            if self.scratch:
                shutil.rmtree(self.scratch, ignore_errors=True)
        self.lock.release()
        return result

    def steps(self):
        self.device, self.stack = self.framework.describe_device(self.config.device)
        if self.config.deterministic_ops:
            self.framework.deterministic_ops()
        self.log('device: %s (%s); precision %s%s; %s' % (
            self.device, self.stack, self.config.precision,
            ', deterministic ops' if self.config.deterministic_ops else '', processes_text(self.processes)))
        with self.clock.timing('start-up'):
            completed = self.start()
        if completed is not None:
            return completed
        self.log('%s on %s: %d train / %d dev examples; seed %d' % (
            self.task.name, self.config.backbone, len(self.inputs.train_examples),
            len(self.inputs.dev_examples), self.seed))
        self.log(method_line(self.settings['method'], self.trainer.parameters,
                             self.hyperparameters['learning_rate'], self.learning_rate_source))
        self.train()
        with self.clock.timing('prediction'):
            self.write_submissions()
        if self.writes:
            self.write_record(final=True)
            self.store.remove_state()
        return run_summary(self)

    # -- before training ------------------------------------------------------------
    def start(self):
        """Inputs read, the run identified, the model built and a resumed run's state
        restored: ready to train. Returns the summary of a completed run instead."""
        config = self.config
        check_writable_folder(config.output_dir)
        check_run_data(config.data_dir, self.task)
        self.model_files = self.framework.ModelFiles(config.model_dir, config.checkpoint, config.backbone,
                                                     self.log)
        if self.writes:
            self.lock.acquire()  # after the input checks, before reading the data and writing anything
        samples = [(split, k, config.few_shot_seed, self.few_shot_folder(split, k))
                   for split, k in (('train', config.few_shot), ('dev', config.few_shot_dev)) if k]
        self.inputs = RunInputs(self.task, config.data_dir, self.model_files.vocab, config.method_set,
                                config.skip_bad_lines, samples, self.show_progress, self.log, self.clock)
        if self.writes:
            self.store.remove_partial_files()
        state = None
        if config.resume and config.seed is None:
            self.seed = self.store.saved_seed(self.seed)
        self.settings = run_settings(config, self.task, self.inputs, self.model_files, self.seed)
        if config.resume:
            state, completed = self.store.saved_progress(self.settings)
            if completed is not None:
                return completed
        self.trainer = self.framework.Trainer(config.backbone, self.model_files, self.inputs.method_set,
                                              self.inputs.keep_tokens, self.task, self.seed,
                                              self.steps_per_epoch(), config.fused_feed_forward,
                                              dropout=config.dropout, device=config.device,
                                              precision=config.precision)
        if state is not None:
            self.restore(state)
        return None

    def few_shot_folder(self, split, k):
        folder = self.store.few_shot_folder(split, k, self.config.few_shot_seed)
        if self.writes:
            return folder
        self.scratch = self.scratch or tempfile.mkdtemp(prefix='fl_tuning_rank%d_' % self.processes.rank)
        return os.path.join(self.scratch, os.path.relpath(folder, self.config.output_dir))

    def restore(self, state):
        """Continue from the saved state (after building)."""
        self.trainer.load_state(self.store.state_path)
        self.progress = Progress(state)
        restore_random_states(state['random'])
        self.log('resuming after epoch %d of %d (best dev %s %.5f)' % (
            len(self.progress.epochs), self.hyperparameters['epochs'], self.task.metric, self.progress.best))

    # -- training ---------------------------------------------------------------------
    def steps_per_epoch(self):
        return int(np.ceil(len(self.inputs.encoded_train) / float(self.hyperparameters['batch_size'])))

    def train(self):
        """Every epoch left, then the best epoch's weights loaded."""
        with self.clock.timing('evaluation'):
            dev_batches = PredictionBatches(self.task, self.inputs.encoded_dev, self.hyperparameters['batch_size'])
        for epoch in range(len(self.progress.epochs) + 1, self.hyperparameters['epochs'] + 1):
            self.epoch(epoch, dev_batches)
        if self.progress.best_epoch is None and self.writes:
            # The original would crash loading a file it never wrote; keep the last epoch.
            self.log("dev %s never rose above 0: using the last epoch's weights" % self.task.metric)
            self.trainer.save_weights(self.store.weights_path, run_manifest(self))
        self.trainer.load_weights(self.store.weights_path, self.settings)

    def epoch(self, epoch, dev_batches):
        """Train, evaluate on dev, save the weights if best and the state, log."""
        started = time.time()
        with self.clock.timing('training'):
            losses = self.train_epoch(epoch)
        train_seconds = time.time() - started
        with self.clock.timing('evaluation'):
            results = dev_batches.results(self.trainer.predict_batch, self.show_progress, 'dev')
        metrics = self.task.evaluate(self.inputs.dev_examples, self.inputs.encoded_dev, results)
        score = metrics[self.task.metric]
        entry = {'epoch': epoch, 'train_loss': float(np.mean(losses)), 'dev': metrics,
                 'improved': self.task.improves(score, self.progress.best),
                 'learning_rate': self.trainer.learning_rate(), 'seconds': round(time.time() - started, 3),
                 'examples_per_second': round(len(self.inputs.encoded_train) / train_seconds, 2)}
        if self.config.step_losses:
            entry['losses'] = losses
        self.progress.add(entry, score)
        with self.clock.timing('saving'):
            self.save(entry)
        self.log('epoch %d/%d: train loss %.4f, dev %s %.5f%s (best %.5f)' % (
            epoch, self.hyperparameters['epochs'], entry['train_loss'], self.task.metric, score,
            ' *' if entry['improved'] else '', self.progress.best))

    def save(self, entry):
        """The weights if best, the state and the record (the writer's part)."""
        if self.writes:
            if entry['improved']:
                self.trainer.save_weights(self.store.weights_path, run_manifest(self))
            self.trainer.save_state(self.store.state_path, self.progress.state(self.settings))
            self.write_record()

    def train_epoch(self, epoch):
        """One epoch, a step per batch; the loss of every step."""
        h = self.hyperparameters
        collated = (collate(self.task, batch)
                    for batch in batches(self.inputs.encoded_train, h['batch_size'], shuffle=True))
        bar = progress_bar(self.show_progress, prefetched(collated), 'epoch %d/%d' % (epoch, h['epochs']),
                           self.steps_per_epoch())
        losses = []
        for inputs, labels in bar:
            losses.append(self.trainer.train_step(inputs, labels, self.progress.step))
            self.progress.step += 1
            if self.show_progress:
                bar.set_postfix(loss='%.4f' % (sum(losses) / len(losses)))
        return losses

    # -- outputs ----------------------------------------------------------------------
    def write_submissions(self):
        """Every process predicts (its share); the writer writes."""
        inputs, batch_size = self.inputs, self.hyperparameters['batch_size']
        for (test_file, examples), encoded in zip(inputs.tests, inputs.encoded_tests):
            path = self.store.submission_path(test_file)
            results = predict_results(self.trainer.predict_batch, self.task, encoded, batch_size,
                                      self.show_progress, 'predict %s' % os.path.basename(path))
            if self.writes:
                write_atomically(path, self.task.submission(examples, encoded, results, inputs.tokenizer))
            self.submissions.append(path)
        if self.config.write_dev_predictions:
            results = predict_results(self.trainer.predict_batch, self.task, inputs.encoded_dev, batch_size,
                                      self.show_progress, 'predict dev')
            self.dev_predictions = self.store.dev_predictions_path
            if self.writes:
                write_atomically(self.dev_predictions, self.task.dev_submission(
                    inputs.dev_examples, inputs.encoded_dev, results, inputs.tokenizer))

    def write_record(self, final=False):
        """The record: a ``run`` line (settings), one line per epoch, a ``summary``."""
        header = dict(self.settings, device=self.device, stack=self.stack, world_size=self.processes.world_size,
                      model_files=self.model_files.read,
                      missing_tokens=self.inputs.missing_tokens,
                      started=time.strftime('%Y-%m-%dT%H:%M:%S%z', time.localtime(self.started)))
        self.store.write_record(header, self.progress.epochs, run_summary(self) if final else None)


def processes_text(processes):
    return '1 process' if processes.world_size == 1 else '%d processes (torchrun)' % processes.world_size


def method_line(method, parameters, learning_rate, source):
    by_method = ' + '.join('{} {:,}'.format(name, count) for name, count in parameters['by_method'].items())
    return ('method %s: {:,} trainable parameters ({}) + {:,} in the head; learning rate %g (%s)'
            .format(parameters['trainable'], by_method or 'none', parameters['head'])
            % (method, learning_rate, source))


def run_manifest(run):
    """What the tuned-weights file says about itself."""
    parameters, progress = run.trainer.parameters, run.progress
    return dict(run.settings, task_state=run.task.state(), versions=run.framework.library_versions(),
                checkpoint=os.path.abspath(run.model_files.checkpoint),
                dev_paths=[os.path.abspath(os.path.join(run.config.data_dir, run.task.name, name))
                           for name in run.task.dev_files],
                trainable_parameters=parameters['trainable'] + parameters['head'],
                method_parameters=parameters['by_method'],
                epoch=progress.best_epoch, dev=progress.epochs[-1]['dev'] if progress.epochs else None)


def run_summary(run):
    """The record's last line, and what ``Run.execute`` returns."""
    settings, progress = run.settings, run.progress
    return {
        'task': run.task.name, 'backbone': run.config.backbone,
        'method': settings['method'], 'methods': settings['methods'],
        'ffn_prompt_size': settings['ffn_prompt_size'], 'prompt_size': settings['prompt_size'],
        'hyperparameters': run.hyperparameters, 'seed': run.seed,
        'metric': run.task.metric, 'best_epoch': progress.best_epoch, 'best_dev': progress.best_dev(),
        'parameters': run.trainer.parameters, 'weights': run.store.weights_path,
        'submissions': run.submissions, 'skipped_records': len(run.inputs.skipped),
        'dev_predictions': run.dev_predictions, 'data_notices': len(run.inputs.notices),
        'seconds': round(sum(e['seconds'] for e in progress.epochs), 3),
        'phase_seconds': run.clock.rounded(),
        'settings': settings,
    }
