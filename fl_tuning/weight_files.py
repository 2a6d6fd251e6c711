"""Tuned-weights files of either framework, read by both: the Keras side writes HDF5,
the PyTorch side safetensors, both in the faithful port's layout (a group per Keras
layer holding its trained weights in order, as Keras shapes them: kernels [in, out])
with the same manifest. Reading needs no framework: safetensors with NumPy (its
header is JSON), HDF5 with h5py."""
import json
import os
import struct

import numpy as np

from fl_tuning.errors import InputError
from fl_tuning.manifests import FORMAT, STATE_FORMAT

HDF5_SIGNATURE = b'\x89HDF\r\n\x1a\n'
SAFETENSORS_DTYPES = {'F32': np.float32, 'F64': np.float64, 'F16': np.float16, 'I64': np.int64, 'I32': np.int32,
                      'U8': np.uint8, 'BOOL': np.bool_}


def is_hdf5(path):
    with open(path, 'rb') as f:
        return f.read(8) == HDF5_SIGNATURE


def safetensors_header(path):
    """(header dict, offset of the data) of a safetensors file."""
    with open(path, 'rb') as f:
        size_bytes = f.read(8)
        if len(size_bytes) < 8:
            raise ValueError('too short')
        size = struct.unpack('<Q', size_bytes)[0]
        if size > os.path.getsize(path) - 8:
            raise ValueError('header beyond the end of the file')
        header = json.loads(f.read(size).decode('utf-8'))
    if not isinstance(header, dict):
        raise ValueError('not a safetensors header')
    return header, 8 + size


def read_safetensors(path):
    """(metadata, {name: array}) of a safetensors file, with NumPy."""
    header, start = safetensors_header(path)
    metadata = header.pop('__metadata__', {}) or {}
    tensors = {}
    with open(path, 'rb') as f:
        for name, entry in header.items():
            begin, end = entry['data_offsets']
            f.seek(start + begin)
            data = f.read(end - begin)
            if len(data) != end - begin:
                raise InputError('%s is truncated: tensor %s needs bytes %d-%d' % (path, name, start + begin, start + end))
            tensors[name] = np.frombuffer(data, SAFETENSORS_DTYPES[entry['dtype']]).reshape(entry['shape']).copy()
    return metadata, tensors


def layer_key(layer, index):
    """The name of a Keras layer's ``index``-th trained weight in a safetensors file."""
    return '%s/%d' % (layer, index)


def read_metadata(path, expected_format=FORMAT):
    """The file's attributes (format, manifest or state), checked to be ``expected_format``."""
    kind = 'tuned-weights' if expected_format == FORMAT else 'state'
    try:
        if is_hdf5(path):
            import h5py
            with h5py.File(path, 'r') as f:
                metadata = dict((key, f.attrs[key]) for key in f.attrs)
        else:
            metadata = safetensors_header(path)[0].get('__metadata__', {}) or {}
    except (OSError, ValueError, UnicodeDecodeError, struct.error):
        raise InputError('cannot read %s file %s: neither HDF5 nor safetensors, or damaged' % (kind, path))
    if metadata.get('format') != expected_format:
        raise InputError('%s is not an fl_tuning %s file' % (path, kind))
    return metadata


def read_state(path):
    """The JSON of a state file either framework wrote (its tensors are the framework's)."""
    return json.loads(read_metadata(path, STATE_FORMAT)['state'])


def check_weights_file(path):
    if not os.path.isfile(path):
        raise InputError('tuned-weights file not found: %s' % path)


def read_manifest(path):
    return json.loads(read_metadata(path)['manifest'])


def layer_arrays(layers, path, layer, shapes):
    """The arrays of ``layer`` in ``layers`` ({layer: [arrays]}, read from ``path``), checked
    against the model's ``shapes`` of that layer (Keras shapes, in order)."""
    if layer not in layers or len(layers[layer]) != len(shapes):
        raise InputError('%s has no weights for layer %s' % (path, layer))
    for index, (value, shape) in enumerate(zip(layers[layer], shapes)):
        if tuple(value.shape) != tuple(shape):
            raise InputError('%s: layer %s weight %d has shape %s, the model expects %s' % (
                path, layer, index, list(value.shape), list(shape)))
    return layers[layer]


def read_layers(path):
    """{Keras layer name: [trained weight arrays, in order]} of a tuned-weights file."""
    try:
        return layers_in(path)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise InputError('%s: damaged tuned-weights file (%s)' % (path, str(error).splitlines()[0]))


def layers_in(path):
    layers = {}
    if is_hdf5(path):
        import h5py
        with h5py.File(path, 'r') as f:
            group = f['weights']
            for layer in group:
                layers[layer] = [group[layer][str(i)][()] for i in range(len(group[layer]))]
        return layers
    _, tensors = read_safetensors(path)
    for key in sorted(tensors, key=lambda k: (k.rsplit('/', 1)[0], int(k.rsplit('/', 1)[1]))):
        layers.setdefault(key.rsplit('/', 1)[0], []).append(tensors[key])
    return layers
