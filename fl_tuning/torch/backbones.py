"""The three backbones as Hugging Face transformers models, built from a
bert_config.json and loaded from a Google-format checkpoint read with NumPy (the
variable names of Google's BERT, which the RoBERTa-wwm-ext, NEZHA and RoFormer releases
share), with the original's simplified vocabulary (``keep_tokens``: the embedding rows
kept, in order)."""
from collections import OrderedDict

import numpy as np
import torch
import transformers

from fl_tuning.errors import CheckpointError, InputError

# NEZHA left transformers in 5.0; 4.57 is the last release that has it.
try:
    from transformers import NezhaConfig, NezhaModel
except ImportError:  # transformers >= 5
    NezhaConfig = NezhaModel = None

# bert4keras' NEZHA: relative positions clipped at this distance.
NEZHA_MAX_RELATIVE_POSITION = 64


def hf_config(backbone, config, vocab_size):
    """The transformers config of a bert_config.json (dropout rates as there)."""
    common = dict(
        vocab_size=vocab_size, hidden_size=config['hidden_size'],
        num_hidden_layers=config['num_hidden_layers'], num_attention_heads=config['num_attention_heads'],
        intermediate_size=config['intermediate_size'], hidden_act=config['hidden_act'],
        hidden_dropout_prob=config.get('hidden_dropout_prob', 0.1),
        attention_probs_dropout_prob=config.get('attention_probs_dropout_prob', 0.1),
        max_position_embeddings=config.get('max_position_embeddings', 512),
        type_vocab_size=config.get('type_vocab_size', 2), initializer_range=0.02, layer_norm_eps=1e-12,
        pad_token_id=0)
    if backbone == 'bert':
        return transformers.BertConfig(**common)
    if backbone == 'nezha':
        if NezhaConfig is None:
            raise InputError('transformers %s has no NEZHA (removed in 5.0): install transformers==4.57.6 '
                               '(requirements-modern.txt)' % transformers.__version__)
        return NezhaConfig(max_relative_position=NEZHA_MAX_RELATIVE_POSITION, **common)
    return transformers.RoFormerConfig(embedding_size=config.get('embedding_size', config['hidden_size']),
                                       rotary_value=False, **common)


def hf_model(backbone, hf_config):
    if backbone == 'bert':
        return transformers.BertModel(hf_config, add_pooling_layer=False)
    if backbone == 'nezha':
        return NezhaModel(hf_config, add_pooling_layer=False)
    return transformers.RoFormerModel(hf_config)


def variable_names(backbone, num_layers, embedding_mapping=False):
    """{transformers parameter name: Google checkpoint variable}; kernels are stored
    [in, out] there, [out, in] here."""
    names = OrderedDict([
        ('embeddings.word_embeddings.weight', 'bert/embeddings/word_embeddings'),
        ('embeddings.token_type_embeddings.weight', 'bert/embeddings/token_type_embeddings'),
        ('embeddings.LayerNorm.weight', 'bert/embeddings/LayerNorm/gamma'),
        ('embeddings.LayerNorm.bias', 'bert/embeddings/LayerNorm/beta'),
    ])
    if backbone == 'bert':
        names['embeddings.position_embeddings.weight'] = 'bert/embeddings/position_embeddings'
    if embedding_mapping:
        names['embeddings_project.weight'] = 'bert/encoder/embedding_hidden_mapping_in/kernel'
        names['embeddings_project.bias'] = 'bert/encoder/embedding_hidden_mapping_in/bias'
    for i in range(num_layers):
        ours, theirs = 'encoder.layer.%d.' % i, 'bert/encoder/layer_%d/' % i
        for part in ('attention.self.query', 'attention.self.key', 'attention.self.value',
                     'attention.output.dense', 'intermediate.dense', 'output.dense'):
            google = part.replace('.', '/')
            names[ours + part + '.weight'] = theirs + google + '/kernel'
            names[ours + part + '.bias'] = theirs + google + '/bias'
        for part in ('attention.output.LayerNorm', 'output.LayerNorm'):
            google = part.replace('.', '/')
            names[ours + part + '.weight'] = theirs + google + '/gamma'
            names[ours + part + '.bias'] = theirs + google + '/beta'
    return names


def load_google_checkpoint(model, backbone, reader, keep_tokens=None):
    """Every backbone weight from the checkpoint; shapes checked, rows of the word
    embeddings selected by ``keep_tokens``."""
    parameters = dict(model.named_parameters())
    mapping = variable_names(backbone, model.config.num_hidden_layers, 'embeddings_project.weight' in parameters)
    shapes = reader.shapes()
    with torch.no_grad():
        for name, variable in mapping.items():
            if variable not in shapes:
                raise CheckpointError('checkpoint %s has no variable %r' % (reader.prefix, variable))
            value = reader.read(variable)
            if variable == 'bert/embeddings/word_embeddings' and keep_tokens is not None:
                value = value[np.asarray(keep_tokens)]
            if variable == 'bert/embeddings/position_embeddings':
                value = value[:model.config.max_position_embeddings]
            if name.endswith('.weight') and variable.endswith('/kernel'):
                value = value.T
            target = parameters[name]
            if tuple(value.shape) != tuple(target.shape):
                raise CheckpointError('checkpoint variable %r has shape %s but the model config expects %s' % (
                    variable, list(value.shape), list(target.shape)))
            target.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model
