"""Tuned-weights files: only what a run trains (FL units, prefixes, task head), by
layer name, in HDF5, with a manifest that says what they were tuned from (the PyTorch
side's safetensors files, in the same layout, load here too: fl_tuning.weight_files). The frozen
backbone comes from the pretrained checkpoint, which the manifest fingerprints.

The same layout stores a run's resumable state (weights plus optimizer slots).
"""
import contextlib
import io
import json
import platform

import bert4keras
import h5py
import numpy as np
import tensorflow as tf

from fl_tuning.data_files import write_bytes_atomically
from fl_tuning.errors import InputError
from fl_tuning.keras.compat import KERAS_VERSION, K
from fl_tuning.manifests import FORMAT, STATE_FORMAT, check_manifest
from fl_tuning.weight_files import layer_arrays, read_layers, read_manifest


def library_versions():
    from fl_tuning import __version__
    return {'fl_tuning': __version__, 'tensorflow': tf.__version__, 'keras': KERAS_VERSION,
            'bert4keras': bert4keras.__version__, 'numpy': np.__version__,
            'python': platform.python_version()}


def trained_layers(model):
    return [layer for layer in model.layers if layer.trainable_weights]


def write_layers(group, model):
    for layer in trained_layers(model):
        layer_group = group.create_group(layer.name)
        for i, value in enumerate(K.batch_get_value(layer.trainable_weights)):
            layer_group.create_dataset(str(i), data=value)


def group_layers(group):
    """{layer name: [arrays]} of an HDF5 group written by write_layers."""
    return dict((name, [group[name][str(i)][()] for i in range(len(group[name]))]) for name in group)


def layer_values(layers, model, path):
    """(weight, value) pairs for the model's trained layers, shapes checked; ``layers``:
    {layer name: [arrays]}."""
    return [pair for layer in trained_layers(model) for pair in zip(layer.trainable_weights, layer_arrays(
        layers, path, layer.name, [K.int_shape(weight) for weight in layer.trainable_weights]))]


@contextlib.contextmanager
def hdf5_written_to(path):
    """An HDF5 file made in memory, then written atomically: a crash or a full disk
    leaves the previous file intact (HDF5 writing to a full disk itself crashes)."""
    buffer = io.BytesIO()
    with h5py.File(buffer, 'w') as f:
        yield f
    write_bytes_atomically(path, buffer.getvalue())


def save_tuned_weights(model, path, manifest):
    with hdf5_written_to(path) as f:
        f.attrs['format'] = FORMAT
        f.attrs['manifest'] = json.dumps(manifest, sort_keys=True)
        write_layers(f.create_group('weights'), model)


def load_tuned_weights(model, path, expected):
    """Load ``path`` onto ``model`` if its manifest agrees with ``expected``."""
    manifest = read_manifest(path)
    check_manifest(manifest, expected, path)
    K.batch_set_value(layer_values(read_layers(path), model, path))
    return manifest


def optimizer_variables(optimizer):
    """Adam's step counter and slots, and the accumulated gradients if any."""
    return list(optimizer.weights) + list(getattr(optimizer, 'accum_grads', []))


def save_state(model, path, state):
    """Everything a resumed run needs: trained weights, optimizer variables, ``state``."""
    with hdf5_written_to(path) as f:
        f.attrs['format'] = STATE_FORMAT
        f.attrs['state'] = json.dumps(state, sort_keys=True)
        write_layers(f.create_group('weights'), model)
        optimizer = f.create_group('optimizer')
        for i, value in enumerate(K.batch_get_value(optimizer_variables(model.optimizer))):
            optimizer.create_dataset(str(i), data=value)


def load_state(model, path):
    with h5py.File(path, 'r') as f:
        pairs = layer_values(group_layers(f['weights']), model, path)
        variables = optimizer_variables(model.optimizer)
        if len(f['optimizer']) != len(variables):
            raise InputError('%s holds %d optimizer variables, the run has %d' % (
                path, len(f['optimizer']), len(variables)))
        pairs += [(v, f['optimizer'][str(i)][()]) for i, v in enumerate(variables)]
    K.batch_set_value(pairs)
