"""The one small interface a framework implements, and the frameworks by name.

A framework is a module (``fl_tuning/<name>/framework.py``) that provides:

- ``NAME``; ``describe_device()`` -> (device, stack) that runs, for logs and records;
- ``ModelFiles(model_dir, checkpoint, backbone, log)``: the pretrained model's files
  found and checked (``.config``, ``.vocab``, ``.checkpoint``, ``.fingerprints``);
- ``Trainer(backbone, model_files, method_set, keep_tokens, task, seed,
  steps_per_epoch, fused_feed_forward)``: the task model built for (backbone, methods,
  task, hyperparameters), with ``train_epoch(batches, first_step, on_step)`` -> losses,
  ``predict_batch(inputs)`` -> outputs, ``learning_rate()``, ``save_weights(path,
  manifest)``, ``load_weights(path, expected)``, ``save_state(path, state)``,
  ``load_state(path)`` and ``parameters`` (trainable, by method, head, total);
- ``read_manifest(path)``, ``read_state(path)``: a tuned-weights or state file's JSON,
  read without building a model; ``library_versions()`` for manifests.

Everything above it (inputs, run store, records, sweep, report, the command line) is
shared; batches are NumPy arrays from fl_tuning.tasks.base.collate.
"""
import importlib

FRAMEWORKS = {'keras': 'fl_tuning.keras.framework'}


def load_framework(name='keras'):
    if name not in FRAMEWORKS:
        raise ValueError('unknown framework %r: choose one of %s' % (name, ', '.join(FRAMEWORKS)))
    return importlib.import_module(FRAMEWORKS[name])
