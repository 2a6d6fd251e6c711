"""Tuned-weights and state files on the PyTorch side: safetensors, with the same
manifest as the Keras side's HDF5 files (fl_tuning.manifests) in the metadata. Only
what a run trains is stored; the frozen backbone comes from the pretrained checkpoint
the manifest fingerprints. Tuned weights are written in the faithful port's layout
(``<Keras layer>/<index>``, Keras shapes), so either framework loads the other's file
(fl_tuning.weight_files); state files keep the parameter names (a run resumes on the
framework that started it)."""
import json
import platform

import numpy as np
import safetensors
import torch
import transformers
from safetensors.torch import load_file, save

from fl_tuning.data_files import write_bytes_atomically
from fl_tuning.errors import InputError
from fl_tuning.manifests import FORMAT, STATE_FORMAT, check_manifest
from fl_tuning.weight_files import layer_arrays, layer_key, read_layers, read_manifest, read_metadata

OPTIMIZER_PREFIX = 'optimizer/'


def library_versions():
    from fl_tuning import __version__
    return {'fl_tuning': __version__, 'torch': torch.__version__, 'transformers': transformers.__version__,
            'safetensors': safetensors.__version__, 'numpy': np.__version__,
            'python': platform.python_version()}


def trained_tensors(model):
    return dict((name, p.detach().contiguous().cpu()) for name, p in model.named_parameters() if p.requires_grad)


def keras_layout(model):
    """{'<layer>/<index>': tensor in Keras' shape} of the model's trained parameters."""
    return dict((layer_key(layer, index), (p.detach().t() if transposed else p.detach()).contiguous().cpu())
                for layer, weights in model.keras_layers() for index, (p, transposed) in enumerate(weights))


def assign_layers(model, layers, path):
    """Copy {layer: [arrays]} (either framework's file) onto the model's trained parameters."""
    with torch.no_grad():
        for layer, weights in model.keras_layers():
            keras_shapes = [tuple(p.shape)[::-1] if transposed else tuple(p.shape) for p, transposed in weights]
            for (parameter, transposed), value in zip(weights, layer_arrays(layers, path, layer, keras_shapes)):
                parameter.copy_(torch.from_numpy(np.array(value.T if transposed else value)))  # copied, 0-d kept


def assign_trained(model, tensors, path):
    """Copy the file's tensors onto the model's trained parameters, names and shapes checked."""
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if not parameter.requires_grad:
                continue
            if name not in tensors:
                raise InputError('%s has no weights for %s' % (path, name))
            value = tensors[name]
            if tuple(value.shape) != tuple(parameter.shape):
                raise InputError('%s: %s has shape %s, the model expects %s' % (
                    path, name, list(value.shape), list(parameter.shape)))
            parameter.copy_(value)


def save_tuned_weights(model, path, manifest):
    """Made in memory, then written atomically: a crash or a full disk leaves the previous
    file intact."""
    write_bytes_atomically(path, save(keras_layout(model), metadata={
        'format': FORMAT, 'manifest': json.dumps(manifest, sort_keys=True)}))


def load_tuned_weights(model, path, expected):
    """Either framework's file: the Keras side's HDF5 or this side's safetensors."""
    manifest = read_manifest(path)
    check_manifest(manifest, expected, path)
    assign_layers(model, read_layers(path), path)
    return manifest


def save_state(model, optimizer, path, state):
    tensors = trained_tensors(model)
    tensors.update((OPTIMIZER_PREFIX + name, t.detach().contiguous().cpu()) for name, t in optimizer.state().items())
    write_bytes_atomically(path, save(tensors, metadata={'format': STATE_FORMAT,
                                                          'state': json.dumps(state, sort_keys=True)}))


def load_state(model, optimizer, path):
    read_metadata(path, STATE_FORMAT)
    tensors = load_file(path)
    assign_trained(model, tensors, path)
    optimizer.load_state(dict((name[len(OPTIMIZER_PREFIX):], t) for name, t in tensors.items()
                              if name.startswith(OPTIMIZER_PREFIX)))
