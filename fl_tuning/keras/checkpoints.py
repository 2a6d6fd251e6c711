"""Reading model configs and checking Google-format checkpoints before loading.

bert4keras' own loader fails deep inside TensorFlow on a missing variable and
silently accepts some mismatches; these checks name the variable instead.
"""
import difflib
import json
import os

import numpy as np
import tensorflow as tf

from fl_tuning.keras.compat import K, tf1

from fl_tuning.errors import CheckpointError, ConfigError

REQUIRED_CONFIG_FIELDS = (
    'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads',
    'intermediate_size', 'hidden_act',
)

# Variables whose rows bert4keras selects with keep_tokens before loading.
ROW_SLICED_VARIABLES = ('bert/embeddings/word_embeddings', 'cls/predictions/output_bias')


def read_config(config_path):
    """The bert_config.json as a dict, with its required fields checked."""
    if not os.path.isfile(config_path):
        raise ConfigError('model config not found: %s' % config_path)
    try:
        with open(config_path, encoding='utf-8') as f:
            config = json.load(f)
    except ValueError as e:
        raise ConfigError('%s: not valid JSON (%s)' % (config_path, e))
    if not isinstance(config, dict):
        raise ConfigError('%s: expected a JSON object' % config_path)
    missing = [field for field in REQUIRED_CONFIG_FIELDS if field not in config]
    if missing:
        raise ConfigError('%s: missing field(s) %s' % (config_path, ', '.join(missing)))
    if config['hidden_size'] % config['num_attention_heads']:
        raise ConfigError('%s: hidden_size %d is not a multiple of num_attention_heads %d' % (
            config_path, config['hidden_size'], config['num_attention_heads']))
    return config


def open_checkpoint(checkpoint_path):
    """A reader for a TensorFlow checkpoint prefix (``.../bert_model.ckpt``)."""
    try:
        return tf.train.load_checkpoint(checkpoint_path)
    except (tf.errors.OpError, ValueError):
        raise CheckpointError(
            'no readable TensorFlow checkpoint at %s (expected %s.index and %s.data-*)'
            % (checkpoint_path, checkpoint_path, checkpoint_path))


def write_checkpoint(prefix, variables):
    """A Google-format checkpoint of ``variables`` ({name: array}) at ``prefix``, written
    through placeholders (no large constants in the graph) and without a meta graph."""
    with tf.Graph().as_default():
        created = [(tf1.Variable(tf.zeros(value.shape, value.dtype), name=name), value)
                   for name, value in sorted(variables.items())]
        with tf1.Session() as session:
            for variable, value in created:  # the zeros fed over with the value
                session.run(variable.initializer, {variable.initial_value: value})
            # relative paths in the 'checkpoint' file: the folder can be moved
            saver = tf1.train.Saver([v for v, _ in created], save_relative_paths=True)
            saver.save(session, prefix, write_meta_graph=False)


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


def check_model_files(backbone, config_path, checkpoint_path, vocab_path, warn=print):
    """Before a model is built: the config, vocabulary and checkpoint belong together
    and to ``backbone``. Raises ConfigError or CheckpointError naming the mismatch."""
    config = read_config(config_path)
    shapes = open_checkpoint(checkpoint_path).get_variable_to_shape_map()

    def shape(name):
        if name not in shapes:
            raise CheckpointError('checkpoint %s has no variable %r' % (checkpoint_path, name))
        return list(shapes[name])

    rows, width = shape('bert/embeddings/word_embeddings')
    with open(vocab_path, encoding='utf-8') as f:
        tokens = sum(1 for _ in f)
    if tokens != rows:
        raise CheckpointError('vocabulary size mismatch: %s has %d tokens but the checkpoint\'s word '
                              'embeddings have %d rows' % (vocab_path, tokens, rows))
    layers = len(set(name.split('/')[2] for name in shapes if name.startswith('bert/encoder/layer_')))
    intermediate = shape('bert/encoder/layer_0/intermediate/dense/kernel')[1]
    for field, value in (('vocab_size', rows), ('hidden_size', width), ('num_hidden_layers', layers),
                         ('intermediate_size', intermediate)):
        if config[field] != value:
            raise ConfigError('%s: %s is %d but the checkpoint has %d' % (
                config_path, field, config[field], value))
    positions = 'bert/embeddings/position_embeddings'
    if backbone == 'bert':
        if positions not in shapes:
            raise CheckpointError(
                'checkpoint %s has no %r: BERT needs absolute position embeddings; '
                'is it a NEZHA or RoFormer checkpoint? (--backbone nezha or roformer)'
                % (checkpoint_path, positions))
        if shape(positions)[0] < config.get('max_position_embeddings', 512):
            raise ConfigError('%s: max_position_embeddings is %d but the checkpoint has %d positions'
                              % (config_path, config.get('max_position_embeddings', 512),
                                 shape(positions)[0]))
    elif positions in shapes:
        warn('note: checkpoint %s has absolute position embeddings, which %s does not use; '
             'if it is a BERT checkpoint, use --backbone bert' % (checkpoint_path, backbone))
    return config
