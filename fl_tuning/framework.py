"""The one small interface a framework implements, and the frameworks by name.

A framework is a module (``fl_tuning/<name>/framework.py``) that provides:

- ``NAME``; ``DISTRIBUTED``: whether one run may be spread over processes
  (fl_tuning.processes: each process then trains and predicts its share of every batch,
  the gradients summed over processes, and ``load_weights`` waits for the writer's file);
  ``describe_device(device=None)`` -> (device, stack) that runs, for logs and records;
- ``ModelFiles(model_dir, checkpoint, backbone, log)``: the pretrained model's files
  found and checked (``.config``, ``.vocab``, ``.checkpoint``, ``.fingerprints``);
- ``Trainer(backbone, model_files, method_set, keep_tokens, task, seed,
  steps_per_epoch, fused_feed_forward, dropout=True, device=None, precision='fp32')``: the
  task model built for (backbone, methods, task, hyperparameters), with initial values
  from fl_tuning.initial_values and the batches' order seeded after building, with
  ``train_step(inputs, labels, step)`` -> loss (the epoch loop is the run's),
  ``predict_batch(inputs)`` -> outputs, ``learning_rate()``, ``save_weights(path,
  manifest)``, ``load_weights(path, expected)``, ``save_state(path, state)``,
  ``load_state(path)`` and ``parameters`` (trainable, by method, head, total);
- on the trainer, for ``export``, ``gates`` and golden files: ``exported_backbone()`` ->
  (bert_config.json, {Google checkpoint variable: array}) of the tuned model folded into a
  plain backbone, ``exported_head(task)`` -> (description, {name: array}),
  ``named_outputs(inputs)`` -> {'last_layer', 'head'}, and for APT ``gate_probe()`` ->
  a function of inputs giving (layer weights, gates [layers, sequences, prefixes]);
- ``parameter_report(backbone, config_path, method_set)``: the counts of ``params``, no
  checkpoint read;
- ``library_versions()`` for manifests; ``reset()`` after a run (the Keras side clears
  its graph); ``deterministic_ops()``: GPU kernels chosen for repeatable results from then
  on (--deterministic-ops).

Everything above it (inputs, run store, records, sweep, report, the command line) is
shared; batches are NumPy arrays from fl_tuning.tasks.base.collate; tuned-weights and
state files of either framework are read without one (fl_tuning.weight_files).
"""
import importlib
import importlib.util
import sys

from fl_tuning.errors import InputError

FRAMEWORKS = {'keras': 'fl_tuning.keras.framework', 'torch': 'fl_tuning.torch.framework'}
# What each framework imports that a Python may lack, and the set-up that installs it.
LIBRARIES = {'keras': ('tensorflow', 'keras', 'bert4keras'), 'torch': ('torch', 'transformers')}
SET_UP = {'keras': 'bash scripts/setup.sh (then .venv/bin/python)',
          'torch': 'bash scripts/setup_modern.sh (then .venv-modern/bin/python)'}


def default_framework():
    """keras where TensorFlow is installed (the reproduction stacks), else torch."""
    return 'keras' if importlib.util.find_spec('tensorflow') is not None else 'torch'


def load_framework(name='keras'):
    if name not in FRAMEWORKS:
        raise ValueError('unknown framework %r: choose one of %s' % (name, ', '.join(FRAMEWORKS)))
    try:
        return importlib.import_module(FRAMEWORKS[name])
    except ImportError as error:
        missing = (error.name or '').split('.')[0]
        if missing not in LIBRARIES[name]:
            raise
        raise InputError('--framework %s needs %s, which this Python (%s) lacks: set it up with %s' % (
            name, missing, sys.executable, SET_UP[name]))
