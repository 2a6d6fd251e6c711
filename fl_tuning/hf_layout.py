"""Hugging Face transformers' layout of a backbone: its ``config.json`` and weight
names for ``BertModel``, ``RoFormerModel`` and ``NezhaModel`` (transformers 4.x),
from a Google-format config and checkpoint variables."""
import re

import numpy as np

from fl_tuning.errors import InputError

MODEL_CLASSES = {'bert': 'BertModel', 'roformer': 'RoFormerModel', 'nezha': 'NezhaModel'}
# bert4keras' activation names and transformers' for the same function ('gelu' is erf's in both).
ACTIVATIONS = {'gelu': 'gelu', 'gelu_erf': 'gelu', 'gelu_tanh': 'gelu_new', 'relu': 'relu',
               'swish': 'silu', 'tanh': 'tanh'}
# bert4keras' NEZHA clips relative distances at 64 whatever its config says.
NEZHA_MAX_RELATIVE_POSITION = 64
LAYER_NORM_EPSILON = 1e-12  # bert4keras' LayerNormalization


def hf_config(backbone, config):
    """transformers' config.json of a backbone with bert_config.json ``config``."""
    activation = config['hidden_act']
    if activation not in ACTIVATIONS:
        raise InputError('hidden_act %r has no transformers equivalent we know (%s)' % (
            activation, ', '.join(sorted(ACTIVATIONS))))
    hf = {
        'architectures': [MODEL_CLASSES[backbone]],
        'model_type': backbone,
        'vocab_size': config['vocab_size'],
        'hidden_size': config['hidden_size'],
        'num_hidden_layers': config['num_hidden_layers'],
        'num_attention_heads': config['num_attention_heads'],
        'intermediate_size': config['intermediate_size'],
        'hidden_act': ACTIVATIONS[activation],
        'hidden_dropout_prob': config.get('hidden_dropout_prob', 0.1),
        'attention_probs_dropout_prob': config.get('attention_probs_dropout_prob', 0.1),
        'max_position_embeddings': config.get('max_position_embeddings', 512),
        'type_vocab_size': config.get('type_vocab_size', 2),
        'initializer_range': config.get('initializer_range', 0.02),
        'layer_norm_eps': LAYER_NORM_EPSILON,
        'pad_token_id': 0,
    }
    if backbone == 'roformer':
        hf.update(embedding_size=config['hidden_size'], rotary_value=False)
    if backbone == 'nezha':
        hf.update(max_relative_position=NEZHA_MAX_RELATIVE_POSITION)
    return hf


def hf_weights(variables):
    """{transformers name: array} of the base model's Google-format ``variables``
    (dense kernels transposed to torch's [out, in]); the MLM head (``cls/``) is left out."""
    weights = {}
    for name, value in variables.items():
        if not name.startswith('bert/'):
            continue
        parts = re.sub(r'layer_(\d+)', r'layer.\1', name[len('bert/'):]).split('/')
        last = parts.pop()
        if last == 'kernel':
            parts.append('weight')
            value = np.ascontiguousarray(value.T)
        elif last == 'gamma':
            parts.append('weight')
        elif last == 'beta' or last == 'bias':
            parts.append('bias')
        else:  # an embedding table
            parts += [last, 'weight']
        weights['.'.join(parts)] = value
    return weights
