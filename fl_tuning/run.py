"""One run: a task on a backbone with the tuning methods, trained as the original
does (best epoch on dev), then the CLUE submission files from the best weights."""
import glob
import json
import os
import random
import time

import numpy as np
import tensorflow as tf
from bert4keras.backend import K
from tqdm import tqdm

from fl_tuning.errors import InputError
from fl_tuning.io import write_atomically
from fl_tuning.models import build_model, parameter_report
from fl_tuning.optimizers import get_optimizer
from fl_tuning.tasks import get_task
from fl_tuning.tasks.base import batches, collate
from fl_tuning.vocab import build_tokenizer, load_vocabulary
from fl_tuning.weights import load_trained_weights, save_trained_weights

# Flags that override a task's row of the hyperparameter table.
OVERRIDABLE = ('epochs', 'batch_size', 'learning_rate', 'maxlen', 'grad_accum_steps',
               'num_warmup_steps')


class RunConfig(object):
    def __init__(self, backbone, task, data_dir, model_dir, output_dir, checkpoint=None,
                 ffn_prompt_size=160, prompt_size=0, seed=None, fused_feed_forward=False,
                 progress=True, **overrides):
        unknown = set(overrides) - set(OVERRIDABLE)
        if unknown:
            raise ValueError('unknown hyperparameter(s): %s' % ', '.join(sorted(unknown)))
        self.backbone, self.task, self.data_dir = backbone, task, data_dir
        self.model_dir, self.output_dir, self.checkpoint = model_dir, output_dir, checkpoint
        self.ffn_prompt_size, self.prompt_size = ffn_prompt_size, prompt_size
        self.seed, self.fused_feed_forward, self.progress = seed, fused_feed_forward, progress
        self.overrides = dict((k, v) for k, v in overrides.items() if v is not None)


class ModelFiles(object):
    def __init__(self, model_dir, checkpoint=None):
        if not os.path.isdir(model_dir):
            raise InputError('model dir not found: %s' % model_dir)
        self.config = os.path.join(model_dir, 'bert_config.json')
        self.vocab = os.path.join(model_dir, 'vocab.txt')
        for path, what in ((self.config, 'model config'), (self.vocab, 'vocabulary')):
            if not os.path.isfile(path):
                raise InputError('%s not found: %s' % (what, path))
        self.checkpoint = locate_checkpoint(model_dir, checkpoint)


def locate_checkpoint(model_dir, checkpoint=None):
    """The checkpoint prefix: ``checkpoint`` if given (absolute or in the model dir),
    else the one the ``checkpoint`` file names, else the single ``*.index``."""
    if checkpoint:
        prefix = checkpoint if os.path.exists(checkpoint + '.index') else os.path.join(model_dir, checkpoint)
        if not os.path.exists(prefix + '.index'):
            raise InputError('checkpoint not found: %s (no %s.index)' % (checkpoint, prefix))
        return prefix
    latest = tf.train.latest_checkpoint(model_dir)
    if latest and os.path.exists(latest + '.index'):
        return latest
    indexes = sorted(glob.glob(os.path.join(model_dir, '*.index')))
    if len(indexes) == 1:
        return indexes[0][:-len('.index')]
    if not indexes:
        raise InputError('no TensorFlow checkpoint (*.index) in model dir %s' % model_dir)
    raise InputError('several checkpoints in %s (%s): choose one with --checkpoint' % (
        model_dir, ', '.join(os.path.basename(i)[:-len('.index')] for i in indexes)))


class Run(object):
    """The steps of a run, in order; ``execute`` does them all."""

    def __init__(self, config, log=print):
        self.config = config
        self.log = log
        self.task = get_task(config.task)
        self.hyperparameters = dict(self.task.hyperparameters, **config.overrides)
        self.task.hyperparameters = self.hyperparameters
        self.data_dir = os.path.join(config.data_dir, self.task.name)
        self.weights_path = os.path.join(config.output_dir, 'weights', '%s.weights' % self.task.name)
        self.record_path = os.path.join(config.output_dir, 'records', '%s.jsonl' % self.task.name)
        self.epochs = []

    def path(self, name):
        return os.path.join(self.data_dir, name)

    def check_inputs(self):
        """Every file the run reads exists, before anything heavy happens."""
        if not os.path.isdir(self.config.data_dir):
            raise InputError('data dir not found: %s' % self.config.data_dir)
        for path in self.task.data_paths(self.config.data_dir):
            if not os.path.isfile(path):
                raise InputError('data file not found: %s' % path)
        self.model_files = ModelFiles(self.config.model_dir, self.config.checkpoint)

    def load_data(self):
        token_dict, self.keep_tokens = load_vocabulary(self.model_files.vocab)
        self.tokenizer = build_tokenizer(token_dict)
        task = self.task
        self.train_examples = task.read([self.path(f) for f in task.train_files], 'train')
        self.dev_examples = task.read([self.path(f) for f in task.dev_files], 'dev')
        self.tests = [(t, task.read([self.path(t.source)], 'test')) for t in task.test_files]
        for examples, what in ((self.train_examples, 'training'), (self.dev_examples, 'dev')):
            if not examples:
                raise InputError('no %s examples in %s' % (what, self.data_dir))
        task.prepare(self.train_examples, self.dev_examples)
        self.encoded_train = self.encode(self.train_examples, 'train')
        self.encoded_dev = self.encode(self.dev_examples, 'dev')
        self.encoded_tests = [self.encode(examples, t.source) for t, examples in self.tests]

    def encode(self, examples, what):
        # Encoded once; the original re-tokenised every example every epoch.
        return [self.task.encode(e, self.tokenizer, self.hyperparameters)
                for e in self.progress(examples, 'encode %s' % what)]

    def progress(self, iterable, description, total=None):
        return tqdm(iterable, desc=description, total=total, disable=not self.config.progress,
                    leave=False, dynamic_ncols=True)

    def seed(self):
        if self.config.seed is not None:
            random.seed(self.config.seed)
            np.random.seed(self.config.seed)
            tf.set_random_seed(self.config.seed)

    def build(self):
        config = self.config
        self.transformer = build_model(
            config.backbone, self.model_files.config, self.model_files.checkpoint,
            ffn_prompt_size=config.ffn_prompt_size, prompt_size=config.prompt_size,
            keep_tokens=self.keep_tokens, fused_feed_forward=config.fused_feed_forward)
        self.model, loss = self.task.build(self.transformer)
        h = self.hyperparameters
        self.steps_per_epoch = int(np.ceil(len(self.encoded_train) / float(h['batch_size'])))
        optimizer = get_optimizer(h['learning_rate'], h['num_warmup_steps'],
                                  self.steps_per_epoch * h['epochs'],
                                  grad_accum_steps=h['grad_accum_steps'])
        self.model.compile(loss=loss, optimizer=optimizer)
        self.parameters = parameter_report(self.transformer)
        self.parameters['head'] = int(sum(K.count_params(w) for w in self.model.trainable_weights)
                                      - self.parameters['trainable'])

    def predict(self, encoded, description):
        results = []
        batch_size = self.hyperparameters['batch_size']
        total = int(np.ceil(len(encoded) / float(batch_size)))
        for batch in self.progress(batches(encoded, batch_size, shuffle=False), description, total):
            inputs, _ = collate(self.task, batch)
            results.extend(self.task.reduce(self.model.predict_on_batch(inputs), batch))
        return results

    def train_epoch(self, epoch):
        h = self.hyperparameters
        losses = []
        bar = self.progress(batches(self.encoded_train, h['batch_size'], shuffle=True),
                            'epoch %d/%d' % (epoch, h['epochs']), self.steps_per_epoch)
        for batch in bar:
            inputs, labels = collate(self.task, batch)
            losses.append(float(self.model.train_on_batch(inputs, labels)))
            if self.config.progress:
                bar.set_postfix(loss='%.4f' % np.mean(losses))
        return float(np.mean(losses))

    def train(self):
        h = self.hyperparameters
        best, self.best_epoch = 0.0, None  # the original's initial best is 0
        for epoch in range(1, h['epochs'] + 1):
            started = time.time()
            loss = self.train_epoch(epoch)
            metrics = self.task.evaluate(self.dev_examples, self.encoded_dev, self.predict(self.encoded_dev, 'dev'))
            score = metrics[self.task.metric]
            improved = self.task.improves(score, best)
            if improved:
                best, self.best_epoch = score, epoch
                save_trained_weights(self.model, self.weights_path)
            self.epochs.append({'epoch': epoch, 'train_loss': loss, 'dev': metrics,
                                'improved': improved, 'seconds': round(time.time() - started, 3)})
            self.write_record()
            self.log('epoch %d/%d: train loss %.4f, dev %s %.5f%s (best %.5f)' % (
                epoch, h['epochs'], loss, self.task.metric, score, ' *' if improved else '', best))
        if self.best_epoch is None:
            # The original would crash loading a file it never wrote; keep the last epoch.
            self.log('dev %s never rose above 0: using the last epoch\'s weights' % self.task.metric)
            save_trained_weights(self.model, self.weights_path)
        load_trained_weights(self.model, self.weights_path)

    def write_submissions(self):
        results_dir = os.path.join(self.config.output_dir, 'results')
        self.submissions = []
        for (test_file, examples), encoded in zip(self.tests, self.encoded_tests):
            results = self.predict(encoded, 'predict %s' % test_file.source)
            text = self.task.submission(examples, encoded, results, self.tokenizer)
            path = os.path.join(results_dir, test_file.submission)
            write_atomically(path, text)
            self.submissions.append(path)

    def summary(self):
        best = self.epochs[self.best_epoch - 1]['dev'] if self.best_epoch else self.epochs[-1]['dev']
        return {
            'task': self.task.name, 'backbone': self.config.backbone,
            'ffn_prompt_size': self.config.ffn_prompt_size, 'prompt_size': self.config.prompt_size,
            'hyperparameters': self.hyperparameters, 'seed': self.config.seed,
            'metric': self.task.metric, 'best_epoch': self.best_epoch, 'best_dev': best,
            'parameters': self.parameters, 'weights': self.weights_path,
            'submissions': getattr(self, 'submissions', []),
        }

    def write_record(self, final=False):
        lines = [json.dumps(e, sort_keys=True) for e in self.epochs]
        if final:
            lines.append(json.dumps({'summary': self.summary()}, sort_keys=True))
        write_atomically(self.record_path, ''.join(line + '\n' for line in lines))

    def execute(self):
        self.check_inputs()
        self.load_data()
        self.seed()
        self.build()
        self.log('%s on %s: %d train / %d dev examples; %s trainable parameters (+%d head)' % (
            self.task.name, self.config.backbone, len(self.train_examples), len(self.dev_examples),
            '{:,}'.format(self.parameters['trainable']), self.parameters['head']))
        self.train()
        self.write_submissions()
        self.write_record(final=True)
        return self.summary()
