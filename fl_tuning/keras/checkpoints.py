"""Checking Google-format checkpoints against the Keras model before loading, and reading
the model's backbone back in their names.

bert4keras' own loader fails deep inside TensorFlow on a missing variable and
silently accepts some mismatches; these checks name the variable instead.
"""
import difflib
import re

import numpy as np
import tensorflow as tf

from fl_tuning.keras.compat import K

from fl_tuning.errors import CheckpointError
from fl_tuning.tf_checkpoint import CheckpointReader

# Variables whose rows bert4keras selects with keep_tokens before loading.
ROW_SLICED_VARIABLES = ('bert/embeddings/word_embeddings', 'cls/predictions/output_bias')


def open_checkpoint(checkpoint_path):
    """A reader for a TensorFlow checkpoint prefix (``.../bert_model.ckpt``)."""
    try:
        return tf.train.load_checkpoint(checkpoint_path)
    except (tf.errors.OpError, ValueError):
        raise CheckpointError(
            'no readable TensorFlow checkpoint at %s (expected %s.index and %s.data-*)'
            % (checkpoint_path, checkpoint_path, checkpoint_path))


def damaged_variable(checkpoint_path, pairs):
    """The CheckpointError of a checkpoint TensorFlow failed to read (a checksum that
    does not match): the first variable that cannot be read, found after the failure."""
    reader, bundle = open_checkpoint(checkpoint_path), CheckpointReader(checkpoint_path)
    for _, _, variable in pairs:
        try:
            reader.get_tensor(variable)
        except tf.errors.OpError as error:
            # TensorFlow 2 puts the bundle and shard before its words (named in ours already)
            cause = re.sub(r'^TensorBundle at .* shard \d+ \(\d+ bytes\): ', '', error.message.splitlines()[0])
            return CheckpointError('checkpoint data %s: variable %r cannot be read (%s)' % (
                bundle.data_path(bundle.entries[variable].shard), variable, cause))
    return CheckpointError('checkpoint %s cannot be read' % checkpoint_path)


def checkpoint_variables(transformer):
    """{checkpoint variable: value} of the model's backbone as bert4keras maps it,
    the trained values where a method tuned them in place."""
    variables = {}
    for layer_name, names in transformer.variable_mapping().items():
        if layer_name not in transformer.layers:
            continue
        layer = transformer.layers[layer_name]
        weights = getattr(layer, 'checkpoint_weights', layer.weights)[:len(names)]
        variables.update(zip(names, K.batch_get_value(weights)))
    return variables


def checkpoint_pairs(transformer, mapping):
    """(layer name, weight, checkpoint variable) of every weight bert4keras loads: it
    pairs a built layer's checkpoint variables with its first trainable weights."""
    return [(layer_name, weight, variable)
            for layer_name, variables in mapping.items() if layer_name in transformer.layers
            for weight, variable in zip(transformer.layers[layer_name].trainable_weights, variables)]


def check_checkpoint(transformer, checkpoint_path, mapping):
    """Raise CheckpointError unless every mapped weight is in the checkpoint with
    the shape the model (built from the config) expects."""
    reader = open_checkpoint(checkpoint_path)
    shapes = reader.get_variable_to_shape_map()
    needed = checkpoint_pairs(transformer, mapping)
    unused = set(shapes) - set(variable for _, _, variable in needed)
    for layer_name, weight, variable in needed:
        if variable not in shapes:
            close = difflib.get_close_matches(variable, sorted(unused), n=1)
            hint = ' (an unused variable with a similar name: %r)' % close[0] if close else ''
            raise CheckpointError('checkpoint %s has no variable %r, needed by layer %s%s' % (
                checkpoint_path, variable, layer_name, hint))
        check_shape(transformer, variable, tuple(shapes[variable]), tuple(K.int_shape(weight)))


def check_shape(transformer, variable, shape, expected):
    keep_tokens = transformer.keep_tokens
    if variable in ROW_SLICED_VARIABLES and keep_tokens is not None:
        largest = int(np.max(keep_tokens))
        if largest >= shape[0]:
            raise CheckpointError(
                'checkpoint variable %r has %d rows but the vocabulary needs row %d: '
                'the vocabulary does not belong to this checkpoint' % (variable, shape[0], largest))
        shape = (len(keep_tokens),) + shape[1:]
    if shape != expected:
        raise CheckpointError(
            'checkpoint variable %r has shape %s but the model config expects %s: '
            'the config does not match the checkpoint' % (variable, list(shape), list(expected)))
