"""A backbone's weights in the two layouts the project reads and writes, and the
transformers config of a ``bert_config.json``:

- Google's checkpoint variables (``bert/encoder/layer_0/...``), which the releases of all
  three backbones use and bert4keras loads, kernels stored [in, out];
- Hugging Face transformers' parameters of ``BertModel``, ``NezhaModel`` and
  ``RoFormerModel``, kernels stored [out, in].
"""
from collections import OrderedDict

import numpy as np

from fl_tuning.backbones import INITIALIZER_STDDEV, LAYER_NORM_EPSILON, NEZHA_MAX_RELATIVE_POSITION
from fl_tuning.errors import InputError

MODEL_CLASSES = {'bert': 'BertModel', 'roformer': 'RoFormerModel', 'nezha': 'NezhaModel'}
# bert4keras' activation names and transformers' for the same function ('gelu' is erf's in both).
ACTIVATIONS = {'gelu': 'gelu', 'gelu_erf': 'gelu', 'gelu_tanh': 'gelu_new', 'relu': 'relu',
               'swish': 'silu', 'tanh': 'tanh'}
ATTENTION_LINEARS = ('attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense')
FEED_FORWARD_LINEARS = ('intermediate.dense', 'output.dense')
LAYER_NORMS = ('attention.output.LayerNorm', 'output.LayerNorm')


def embedding_size(config):
    """The embeddings' width (bert4keras maps it to the hidden size when they differ)."""
    return config.get('embedding_size') or config['hidden_size']


def hf_config(backbone, config, vocab_size=None):
    """transformers' config.json of a backbone with bert_config.json ``config``
    (``vocab_size``: the rows kept, where the vocabulary was simplified)."""
    activation = config['hidden_act']
    if activation not in ACTIVATIONS:
        raise InputError('hidden_act %r has no transformers equivalent we know (%s)' % (
            activation, ', '.join(sorted(ACTIVATIONS))))
    hf = {
        'architectures': [MODEL_CLASSES[backbone]],
        'model_type': backbone,
        'vocab_size': vocab_size or config['vocab_size'],
        'hidden_size': config['hidden_size'],
        'num_hidden_layers': config['num_hidden_layers'],
        'num_attention_heads': config['num_attention_heads'],
        'intermediate_size': config['intermediate_size'],
        'hidden_act': ACTIVATIONS[activation],
        'hidden_dropout_prob': config.get('hidden_dropout_prob', 0.1),
        'attention_probs_dropout_prob': config.get('attention_probs_dropout_prob', 0.1),
        'max_position_embeddings': config.get('max_position_embeddings', 512),
        'type_vocab_size': config.get('type_vocab_size', 2),
        'initializer_range': config.get('initializer_range', INITIALIZER_STDDEV),
        'layer_norm_eps': LAYER_NORM_EPSILON,
        'pad_token_id': 0,
    }
    if backbone == 'roformer':
        hf.update(embedding_size=embedding_size(config), rotary_value=False)
    if backbone == 'nezha':
        hf.update(max_relative_position=NEZHA_MAX_RELATIVE_POSITION)
    return hf


def hf_names(backbone, num_layers, embedding_mapping=False):
    """{transformers parameter name: Google checkpoint variable} of the base model."""
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
        for part in ATTENTION_LINEARS + FEED_FORWARD_LINEARS:
            names[ours + part + '.weight'] = theirs + google_part(part) + '/kernel'
            names[ours + part + '.bias'] = theirs + google_part(part) + '/bias'
        for part in LAYER_NORMS:
            names[ours + part + '.weight'] = theirs + google_part(part) + '/gamma'
            names[ours + part + '.bias'] = theirs + google_part(part) + '/beta'
    return names


def google_part(part):
    return part.replace('.', '/')


def google_variables(backbone, config):
    """{Google checkpoint variable: shape} of the backbone of ``config`` and the MLM head
    (``cls/``) that bert4keras' application='unilm' loads."""
    hidden, embedding, inner = config['hidden_size'], embedding_size(config), config['intermediate_size']
    vocab = config['vocab_size']
    shapes = {'bert/embeddings/word_embeddings': (vocab, embedding),
              'bert/embeddings/token_type_embeddings': (config.get('type_vocab_size', 2), embedding),
              'bert/embeddings/position_embeddings': (config.get('max_position_embeddings', 512), embedding),
              'bert/embeddings/LayerNorm/gamma': (embedding,), 'bert/embeddings/LayerNorm/beta': (embedding,),
              'bert/encoder/embedding_hidden_mapping_in/kernel': (embedding, hidden),
              'bert/encoder/embedding_hidden_mapping_in/bias': (hidden,)}
    block = {'intermediate/dense/kernel': (hidden, inner), 'intermediate/dense/bias': (inner,),
             'output/dense/kernel': (inner, hidden), 'output/dense/bias': (hidden,)}
    for part in ATTENTION_LINEARS:
        block.update({google_part(part) + '/kernel': (hidden, hidden), google_part(part) + '/bias': (hidden,)})
    for part in LAYER_NORMS:
        block.update({google_part(part) + '/gamma': (hidden,), google_part(part) + '/beta': (hidden,)})
    variables = OrderedDict()
    for variable in hf_names(backbone, config['num_hidden_layers'], embedding != hidden).values():
        # a block's variable: bert/encoder/layer_<i>/<part>
        variables[variable] = shapes[variable] if variable in shapes else block[variable.split('/', 3)[3]]
    variables.update([
        ('cls/predictions/transform/dense/kernel', (hidden, embedding)),
        ('cls/predictions/transform/dense/bias', (embedding,)),
        ('cls/predictions/transform/LayerNorm/gamma', (embedding,)),
        ('cls/predictions/transform/LayerNorm/beta', (embedding,)),
        ('cls/predictions/output_bias', (vocab,))])
    return variables


def google_weights(backbone, config, weights):
    """{Google variable: array} of the base model's transformers ``weights`` (NumPy),
    kernels transposed to [in, out]: the inverse of hf_weights."""
    mapping = hf_names(backbone, config['num_hidden_layers'], embedding_size(config) != config['hidden_size'])
    return OrderedDict((variable, np.ascontiguousarray(weights[name].T) if variable.endswith('/kernel')
                        else weights[name]) for name, variable in mapping.items())


def hf_weights(backbone, config, variables):
    """{transformers name: array} of the base model in Google-format ``variables`` (the MLM
    head left out), kernels transposed to torch's [out, in]."""
    mapping = hf_names(backbone, config['num_hidden_layers'], embedding_size(config) != config['hidden_size'])
    return OrderedDict((name, np.ascontiguousarray(variables[variable].T) if variable.endswith('/kernel')
                        else variables[variable]) for name, variable in mapping.items())
