"""Saving and loading only the weights a run trains (tuned units, prefixes, head),
by layer name, in HDF5. The frozen backbone comes from the pretrained checkpoint."""
import h5py
from bert4keras.backend import K

from fl_tuning.errors import InputError
from fl_tuning.io import atomic_path


def trained_layers(model):
    return [layer for layer in model.layers if layer.trainable_weights]


def save_trained_weights(model, path):
    """Write atomically: a crash while saving leaves the previous file intact."""
    with atomic_path(path) as temporary:
        with h5py.File(temporary, 'w') as f:
            for layer in trained_layers(model):
                group = f.create_group(layer.name)
                for i, value in enumerate(K.batch_get_value(layer.trainable_weights)):
                    group.create_dataset(str(i), data=value)


def load_trained_weights(model, path):
    pairs = []
    with h5py.File(path, 'r') as f:
        for layer in trained_layers(model):
            if layer.name not in f:
                raise InputError('%s has no weights for layer %s' % (path, layer.name))
            group = f[layer.name]
            for i, weight in enumerate(layer.trainable_weights):
                value = group[str(i)][()]
                if value.shape != K.int_shape(weight):
                    raise InputError('%s: layer %s weight %d has shape %s, the model expects %s' % (
                        path, layer.name, i, value.shape, K.int_shape(weight)))
                pairs.append((weight, value))
    K.batch_set_value(pairs)
