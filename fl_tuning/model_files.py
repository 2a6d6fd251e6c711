"""A pretrained model's files (config, vocabulary, Google-format checkpoint), found in
its folder and checked against each other before any framework builds a model: used
by training, prediction and export alike, on every framework."""
import glob
import json
import os

from fl_tuning.errors import CheckpointError, ConfigError, InputError
from fl_tuning.manifests import checkpoint_fingerprint, fingerprint
from fl_tuning.tf_checkpoint import CheckpointReader, read_checkpoint_state

REQUIRED_CONFIG_FIELDS = (
    'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads',
    'intermediate_size', 'hidden_act',
)

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


def check_model_files(backbone, config_path, checkpoint_path, vocab_path, warn=print):
    """Before a model is built: the config, vocabulary and checkpoint belong together
    and to ``backbone``, and the checkpoint's data files hold every variable. Returns the
    checkpoint's reader; raises ConfigError or CheckpointError naming the mismatch."""
    config = read_config(config_path)
    reader = CheckpointReader(checkpoint_path)
    reader.check_sizes()
    shapes = reader.shapes()

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
    return reader


class ModelFiles(object):
    """The pretrained model's files, found and checked against each other; ``read`` lists
    every file a run reads from them (logged, and kept in the record)."""

    def __init__(self, model_dir, checkpoint, backbone, log):
        if not os.path.isdir(model_dir):
            raise InputError('model dir not found: %s' % model_dir)
        self.config = os.path.join(model_dir, 'bert_config.json')
        self.vocab = os.path.join(model_dir, 'vocab.txt')
        for path, what in ((self.config, 'model config'), (self.vocab, 'vocabulary')):
            if not os.path.isfile(path):
                raise InputError('%s not found: %s' % (what, path))
        self.checkpoint = locate_checkpoint(model_dir, checkpoint)
        reader = check_model_files(backbone, self.config, self.checkpoint, self.vocab, warn=log)
        self.read = [self.config, self.vocab, self.checkpoint + '.index'] + reader.data_paths()
        log('model files: %s' % ', '.join(self.read))
        self.fingerprints = {'checkpoint_fingerprint': checkpoint_fingerprint(self.checkpoint),
                             'vocab_fingerprint': fingerprint(self.vocab)}


def locate_checkpoint(model_dir, checkpoint=None):
    """The checkpoint prefix: ``checkpoint`` if given (absolute or in the model dir),
    else the one the ``checkpoint`` file names, else the single ``*.index``."""
    if checkpoint:
        prefix = checkpoint if os.path.exists(checkpoint + '.index') else os.path.join(model_dir, checkpoint)
        if not os.path.exists(prefix + '.index'):
            raise InputError('checkpoint not found: %s (no %s.index)' % (checkpoint, prefix))
        return prefix
    named = named_checkpoint(model_dir)
    if named:
        return named
    indexes = sorted(glob.glob(os.path.join(model_dir, '*.index')))
    if len(indexes) == 1:
        return indexes[0][:-len('.index')]
    if not indexes:
        raise InputError('no TensorFlow checkpoint (*.index) in model dir %s' % model_dir)
    raise InputError('several checkpoints in %s (%s): choose one with --checkpoint' % (
        model_dir, ', '.join(os.path.basename(i)[:-len('.index')] for i in indexes)))


def named_checkpoint(model_dir):
    """The prefix the folder's ``checkpoint`` file names, looked for by its file name in
    the folder (a moved folder's file keeps the old absolute paths). A prefix outside the
    folder is read only when --checkpoint names it."""
    named = read_checkpoint_state(model_dir)
    if named is None:
        return None
    inside = os.path.join(model_dir, os.path.basename(named))
    if os.path.exists(inside + '.index'):
        return inside
    if os.path.exists(named + '.index'):
        raise InputError('%s names %s, outside the model dir: to read it, give --checkpoint %s'
                         % (os.path.join(model_dir, 'checkpoint'), named, named))
    return None
