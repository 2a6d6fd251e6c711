"""Hugging Face folders as ``--model-dir`` on the PyTorch side: ``config.json``,
``model.safetensors`` and ``vocab.txt`` of a BertModel, NezhaModel or RoFormerModel (or
a model with one inside, e.g. BertForMaskedLM: its ``bert.`` prefix is dropped), checked
like a Google-format folder and loaded with the run's simplified vocabulary."""
import json
import os

import numpy as np
import torch

from fl_tuning.errors import CheckpointError, InputError
from fl_tuning.manifests import fingerprint
from fl_tuning.model_files import ModelFiles, read_config
from fl_tuning.torch.backbones import load_google_checkpoint
from fl_tuning.tf_checkpoint import CheckpointReader
from fl_tuning.weight_files import read_safetensors

HF_CONFIG, HF_WEIGHTS = 'config.json', 'model.safetensors'
WORD_EMBEDDINGS = 'embeddings.word_embeddings.weight'
# Weights transformers builds but the tuned model does not read (RoFormer's fixed table).
UNREAD = ('encoder.embed_positions.weight',)


def is_hf_folder(model_dir):
    return (os.path.isfile(os.path.join(model_dir, HF_CONFIG))
            and not os.path.isfile(os.path.join(model_dir, 'bert_config.json')))


def hf_weight_names(tensors, backbone):
    """The file's tensors by the base model's parameter names (prefix and old LayerNorm names mapped)."""
    named = {}
    for name, value in tensors.items():
        if name.startswith(backbone + '.'):
            name = name[len(backbone) + 1:]
        name = name.replace('LayerNorm.gamma', 'LayerNorm.weight').replace('LayerNorm.beta', 'LayerNorm.bias')
        named[name] = value
    return named


class HuggingFaceFiles(object):
    """A Hugging Face folder's files, checked against each other (the interface of ModelFiles)."""

    def __init__(self, model_dir, checkpoint, backbone, log):
        self.config = os.path.join(model_dir, HF_CONFIG)
        self.vocab = os.path.join(model_dir, 'vocab.txt')
        self.checkpoint = os.path.join(model_dir, checkpoint or HF_WEIGHTS)
        for path, what in ((self.vocab, 'vocabulary'), (self.checkpoint, 'weights file')):
            if not os.path.isfile(path):
                raise InputError('%s not found: %s' % (what, path))
        config = read_config(self.config)
        model_type = json.load(open(self.config, encoding='utf-8')).get('model_type', backbone)
        if model_type != backbone:
            raise InputError('%s is a %s model: use --backbone %s' % (self.config, model_type, model_type))
        try:
            _, tensors = read_safetensors(self.checkpoint)
        except (OSError, ValueError, KeyError):
            raise CheckpointError('cannot read weights file %s (expected safetensors)' % self.checkpoint)
        self.tensors = hf_weight_names(tensors, backbone)
        if WORD_EMBEDDINGS not in self.tensors:
            raise CheckpointError('%s has no %s' % (self.checkpoint, WORD_EMBEDDINGS))
        rows = self.tensors[WORD_EMBEDDINGS].shape[0]
        with open(self.vocab, encoding='utf-8') as f:
            tokens = sum(1 for _ in f)
        if tokens != rows or config['vocab_size'] != rows:
            raise CheckpointError('vocabulary size mismatch: %s has %d tokens, %s vocab_size %d, the word '
                                  'embeddings %d rows' % (self.vocab, tokens, self.config, config['vocab_size'], rows))
        self.read = [self.config, self.vocab, self.checkpoint]
        log('model files: %s' % ', '.join(self.read))
        self.fingerprints = {'checkpoint_fingerprint': fingerprint(self.checkpoint),
                             'vocab_fingerprint': fingerprint(self.vocab)}


def model_files(model_dir, checkpoint, backbone, log):
    """The folder's files: a Hugging Face folder, or a Google-format one (fl_tuning.model_files)."""
    if os.path.isdir(model_dir) and is_hf_folder(model_dir):
        return HuggingFaceFiles(model_dir, checkpoint, backbone, log)
    return ModelFiles(model_dir, checkpoint, backbone, log)


def mlm_head(files, keep_tokens):
    """{Google variable: array} of a Google-format checkpoint's MLM head (``cls/``), its
    output bias cut to the kept rows; none from a Hugging Face folder."""
    if isinstance(files, HuggingFaceFiles):
        return {}
    reader = CheckpointReader(files.checkpoint)
    head = dict((name, reader.read(name)) for name in reader.shapes() if name.startswith('cls/predictions/'))
    if keep_tokens is not None and 'cls/predictions/output_bias' in head:
        head['cls/predictions/output_bias'] = head['cls/predictions/output_bias'][np.asarray(keep_tokens)]
    return head


def load_backbone_weights(model, backbone, files, keep_tokens):
    """The pretrained weights into the transformers model, from either kind of folder."""
    if not isinstance(files, HuggingFaceFiles):
        return load_google_checkpoint(model, backbone, CheckpointReader(files.checkpoint), keep_tokens)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name in UNREAD:
                continue
            if name not in files.tensors:
                raise CheckpointError('%s has no weight %r' % (files.checkpoint, name))
            value = files.tensors[name]
            if name == WORD_EMBEDDINGS and keep_tokens is not None:
                value = value[np.asarray(keep_tokens)]
            if name == 'embeddings.position_embeddings.weight':
                value = value[:model.config.max_position_embeddings]
            if tuple(value.shape) != tuple(parameter.shape):
                raise CheckpointError('%s: %s has shape %s but the config expects %s' % (
                    files.checkpoint, name, list(value.shape), list(parameter.shape)))
            parameter.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model
