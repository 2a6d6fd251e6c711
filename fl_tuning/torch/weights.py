"""Tuned-weights and state files on the PyTorch side: safetensors, with the same
manifest as the Keras side's HDF5 files (fl_tuning.manifests) in the metadata. Only
what a run trains is stored (method parts and head, by parameter name); the frozen
backbone comes from the pretrained checkpoint the manifest fingerprints."""
import json
import platform

import numpy as np
import safetensors
import torch
import transformers
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from fl_tuning.data_files import atomic_path
from fl_tuning.errors import InputError
from fl_tuning.manifests import FORMAT, check_manifest

STATE_FORMAT = FORMAT + '/state'
OPTIMIZER_PREFIX = 'optimizer/'


def library_versions():
    from fl_tuning import __version__
    return {'fl_tuning': __version__, 'torch': torch.__version__, 'transformers': transformers.__version__,
            'safetensors': safetensors.__version__, 'numpy': np.__version__,
            'python': platform.python_version()}


def trained_tensors(model):
    return dict((name, p.detach().contiguous().cpu()) for name, p in model.named_parameters() if p.requires_grad)


def read_metadata(path, expected_format):
    try:
        with safetensors.safe_open(path, 'pt') as f:
            metadata = f.metadata() or {}
    except (OSError, SafetensorError):
        raise InputError('cannot read tuned-weights file %s' % path)
    if metadata.get('format') != expected_format:
        raise InputError('%s is not an fl_tuning %s file' % (
            path, 'tuned-weights' if expected_format == FORMAT else 'state'))
    return metadata


def read_manifest(path):
    return json.loads(read_metadata(path, FORMAT)['manifest'])


def read_state(path):
    return json.loads(read_metadata(path, STATE_FORMAT)['state'])


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
    """Written atomically: a crash while saving leaves the previous file intact."""
    with atomic_path(path) as temporary:
        save_file(trained_tensors(model), temporary,
                  metadata={'format': FORMAT, 'manifest': json.dumps(manifest, sort_keys=True)})


def load_tuned_weights(model, path, expected):
    manifest = read_manifest(path)
    check_manifest(manifest, expected, path)
    assign_trained(model, load_file(path), path)
    return manifest


def save_state(model, optimizer, path, state):
    tensors = trained_tensors(model)
    tensors.update((OPTIMIZER_PREFIX + name, t.detach().contiguous().cpu()) for name, t in optimizer.state().items())
    with atomic_path(path) as temporary:
        save_file(tensors, temporary, metadata={'format': STATE_FORMAT, 'state': json.dumps(state, sort_keys=True)})


def load_state(model, optimizer, path):
    read_metadata(path, STATE_FORMAT)
    tensors = load_file(path)
    assign_trained(model, tensors, path)
    optimizer.load_state(dict((name[len(OPTIMIZER_PREFIX):], t) for name, t in tensors.items()
                              if name.startswith(OPTIMIZER_PREFIX)))
