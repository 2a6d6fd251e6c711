"""The one small interface a framework implements, and the frameworks by name.

A framework is a module (``fl_tuning/<name>/framework.py``) that provides:

- ``NAME``; ``describe_device(device=None)`` -> (device, stack) that runs, for logs and records;
- ``ModelFiles(model_dir, checkpoint, backbone, log)``: the pretrained model's files
  found and checked (``.config``, ``.vocab``, ``.checkpoint``, ``.fingerprints``);
- ``Trainer(backbone, model_files, method_set, keep_tokens, task, seed,
  steps_per_epoch, fused_feed_forward, dropout=True, device=None, precision='fp32')``: the
  task model built for (backbone, methods, task, hyperparameters), with initial values
  from fl_tuning.initial_values and the batches' order seeded after building, with ``train_epoch(batches, first_step, on_step)`` -> losses,
  ``predict_batch(inputs)`` -> outputs, ``learning_rate()``, ``save_weights(path,
  manifest)``, ``load_weights(path, expected)``, ``save_state(path, state)``,
  ``load_state(path)`` and ``parameters`` (trainable, by method, head, total);
- ``read_manifest(path)``, ``read_state(path)``: a tuned-weights or state file's JSON,
  read without building a model; ``library_versions()`` for manifests; ``reset()``
  after a run (the Keras side clears its graph); ``deterministic_ops()``: GPU kernels
  chosen for repeatable results from then on (--deterministic-ops).

Everything above it (inputs, run store, records, sweep, report, the command line) is
shared; batches are NumPy arrays from fl_tuning.tasks.base.collate.
"""
import importlib
import importlib.util

FRAMEWORKS = {'keras': 'fl_tuning.keras.framework', 'torch': 'fl_tuning.torch.framework'}


def default_framework():
    """keras where TensorFlow is installed (the reproduction stacks), else torch."""
    return 'keras' if importlib.util.find_spec('tensorflow') is not None else 'torch'


def load_framework(name='keras'):
    if name not in FRAMEWORKS:
        raise ValueError('unknown framework %r: choose one of %s' % (name, ', '.join(FRAMEWORKS)))
    return importlib.import_module(FRAMEWORKS[name])
