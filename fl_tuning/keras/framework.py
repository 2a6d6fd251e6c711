"""The Keras side of a run, behind the interface every framework implements
(fl_tuning.framework): the task model built on its backbone with the tuning methods,
trained one epoch at a time on given batches, predicting batches, saving and loading
its tuned weights and resumable state, its parameter counts."""
import os
import random

import numpy as np
import tensorflow as tf

from fl_tuning.errors import InputError
from fl_tuning.keras.checkpoints import checkpoint_variables
from fl_tuning.keras.compat import STACK, TF2, K, device_name, keras, tf1
from fl_tuning.keras.determinism import SeededDropout, SeededInitialValues
from fl_tuning.keras.heads import build_task_model, exported_head
from fl_tuning.keras.methods import keras_methods
from fl_tuning.layer_names import gate_name
from fl_tuning.model_files import ModelFiles, read_config  # noqa: F401 (part of the interface)
from fl_tuning.keras.models import build_model, last_layer_name, parameter_report as transformer_parameters
from fl_tuning.keras.optimizers import get_optimizer, learning_rate_at, loss_scaled
from fl_tuning.keras.precision import float32_layers, set_precision
from fl_tuning.keras.weights import library_versions, load_state, load_tuned_weights, save_state, save_tuned_weights

NAME = 'keras'
DISTRIBUTED = False  # one device: the faithful port


class Trainer(object):
    """Builds in the current default graph (start from ``K.clear_session()``): the model,
    then the seeds of the batches' order, then the optimizer (the original's order of
    random draws)."""

    def __init__(self, backbone, model_files, method_set, keep_tokens, task, seed, steps_per_epoch,
                 fused_feed_forward=False, dropout=True, device=None, precision='fp32'):
        check_device(device)
        set_precision(precision)
        config = read_config(model_files.config)
        self.config = dict(config, vocab_size=len(keep_tokens) if keep_tokens is not None else config['vocab_size'])
        tf1.set_random_seed(seed)
        self.dropout = SeededDropout(seed, enabled=dropout)
        initial_values = SeededInitialValues(seed)
        with self.dropout.installed(), initial_values.recorded():
            self.transformer = build_model(backbone, model_files.config, model_files.checkpoint,
                                           methods=keras_methods(method_set), keep_tokens=keep_tokens,
                                           fused_feed_forward=fused_feed_forward)
            float32_layers()
            self.model, loss = build_task_model(task, self.transformer)
        initial_values.assign(keep=self.transformer.loaded_weights)
        # Seeded after building: Keras 2.3.1 draws its initializers' seeds from NumPy's
        # generator, tf.keras does not, and the batches' order comes from it.
        random.seed(seed)
        np.random.seed(seed)
        h = task.hyperparameters
        self.optimizer = get_optimizer(h['learning_rate'], h['num_warmup_steps'], steps_per_epoch * h['epochs'],
                                       grad_accum_steps=h['grad_accum_steps'])
        self.model.compile(loss=loss, optimizer=loss_scaled(self.optimizer) if precision == 'mixed_fp16'
                           else self.optimizer)
        self.model._make_train_function()  # creates the optimizer's variables now
        report = transformer_parameters(self.transformer)
        head = int(sum(K.count_params(w) for w in self.model.trainable_weights) - report['trainable'])
        self.parameters = dict(report, head=head)

    def train_step(self, inputs, labels, step):
        """One optimizer step on a batch (``step``: its number in the run, which seeds the
        dropout); its loss."""
        self.dropout.set_step(step)
        return float(self.model.train_on_batch(inputs, labels))

    def predict_batch(self, inputs):
        return self.model.predict_on_batch(inputs)

    def named_outputs(self, inputs):
        """{'last_layer': the encoder's output, 'head': what predict_batch gives} (golden files)."""
        last_layer = self.model.get_layer(last_layer_name(self.transformer)).output
        outputs = keras.models.Model(self.model.inputs, [last_layer, self.model.output]).predict_on_batch(inputs)
        return {'last_layer': outputs[0], 'head': outputs[1]}

    def gate_probe(self):
        """APT's probe: inputs -> (layer weights [layers], gates [layers, sequences, prefixes])."""
        layers = [self.transformer.layers[gate_name(i)] for i in range(self.transformer.num_hidden_layers)]
        gates_of = K.function(self.model.inputs, [layer.gates for layer in layers])
        layer_weights = np.array(K.batch_get_value([layer.layer_weight for layer in layers]))
        return lambda inputs: (layer_weights, np.stack(gates_of(inputs)))

    def exported_backbone(self):
        """(bert_config.json, {Google checkpoint variable: array}): the tuned model folded
        into a plain backbone (the MLM head as loaded)."""
        config, variables = dict(self.config), checkpoint_variables(self.transformer)
        for method in self.transformer.tuning_methods:
            method.fold(self.transformer, config, variables)
        return config, variables

    def exported_head(self, task):
        return exported_head(task, self.model)

    def learning_rate(self):
        """The rate of the optimizer's current step."""
        return learning_rate_at(self.optimizer, K.get_value(self.optimizer.iterations))

    def save_weights(self, path, manifest):
        save_tuned_weights(self.model, path, manifest)

    def load_weights(self, path, expected):
        load_tuned_weights(self.model, path, expected)

    def save_state(self, path, state):
        save_state(self.model, path, state)

    def load_state(self, path):
        load_state(self.model, path)


def parameter_report(backbone, config_path, method_set):
    """The parameter report of ``method_set`` on a backbone of ``config_path``, no checkpoint read."""
    report = transformer_parameters(build_model(backbone, config_path, None, methods=keras_methods(method_set)))
    reset()
    return report


def check_device(device):
    if device is not None:
        raise InputError('--device is for --framework torch: TensorFlow places the model itself')


def describe_device(device=None):
    """(device, stack) that run, for the first log line and the record."""
    return device_name(), STACK


def deterministic_ops():
    """Repeatable GPU kernels (slower): TensorFlow 2's op determinism, TensorFlow 1.15's
    TF_DETERMINISTIC_OPS (cuDNN convolutions and bias additions)."""
    if TF2:
        tf.config.experimental.enable_op_determinism()
    else:
        os.environ['TF_DETERMINISTIC_OPS'] = '1'


def reset():
    """A fresh graph (and float32) for the next run in this process."""
    K.clear_session()
    set_precision('fp32')
