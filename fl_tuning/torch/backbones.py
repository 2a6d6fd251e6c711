"""The three backbones as Hugging Face transformers models, built from a
bert_config.json and loaded from a Google-format checkpoint read with NumPy (the
variable names of Google's BERT, which the RoBERTa-wwm-ext, NEZHA and RoFormer releases
share), with the original's simplified vocabulary (``keep_tokens``: the embedding rows
kept, in order)."""
import numpy as np
import torch
import transformers

from fl_tuning import checkpoint_layout
from fl_tuning.checkpoint_layout import hf_names
from fl_tuning.errors import CheckpointError, InputError

# NEZHA left transformers in 5.0; 4.57 is the last release that has it.
try:
    from transformers import NezhaConfig, NezhaModel
except ImportError:  # transformers >= 5
    NezhaConfig = NezhaModel = None


def hf_config(backbone, config, vocab_size):
    """The transformers config of a bert_config.json (fl_tuning.checkpoint_layout's)."""
    settings = dict(checkpoint_layout.hf_config(backbone, config, vocab_size))
    del settings['model_type'], settings['architectures']
    if backbone == 'bert':
        return transformers.BertConfig(**settings)
    if backbone == 'nezha':
        if NezhaConfig is None:
            raise InputError('transformers %s has no NEZHA (removed in 5.0): install transformers==4.57.6 '
                             '(requirements-modern.txt)' % transformers.__version__)
        return NezhaConfig(**settings)
    return transformers.RoFormerConfig(**settings)


def hf_model(backbone, hf_config):
    if backbone == 'bert':
        return transformers.BertModel(hf_config, add_pooling_layer=False)
    if backbone == 'nezha':
        return NezhaModel(hf_config, add_pooling_layer=False)
    return transformers.RoFormerModel(hf_config)


def load_google_checkpoint(model, backbone, reader, keep_tokens=None):
    """Every backbone weight from the checkpoint; shapes checked, rows of the word
    embeddings selected by ``keep_tokens``."""
    parameters = dict(model.named_parameters())
    mapping = hf_names(backbone, model.config.num_hidden_layers, 'embeddings_project.weight' in parameters)
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
