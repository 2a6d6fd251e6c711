"""Tiny Google-format checkpoints and vocabularies, for the tests and the demo.

They have the real file layout (``bert_config.json``, ``vocab.txt``,
``bert_model.ckpt.*`` with the variable names of Google's BERT, including the MLM
head that ``application='unilm'`` loads) but random weights and a few hundred
tokens: a model built from them computes real numbers but knows no language.
"""
import json
import os
import string
import zlib

import numpy as np

from fl_tuning.backbones import BERT_BASE_CONFIG  # noqa: F401 (the tests' and benchmarks' name)
from fl_tuning.checkpoint_layout import google_variables
from fl_tuning.testing.fixtures import TINY_CHARACTERS
from fl_tuning.tf_checkpoint import write_checkpoint

EXTRA_WORDPIECES = ['the', 'and', '##s', '##ing', '##ed', 'bert', 'model', '##er']
# Tokens the original's vocabulary simplification drops (never produced by the tokenizer).
REDUNDANT_TOKENS = ['##的', '##一', '...', '##!', '[unused100]']

TINY_CONFIG = {
    'attention_probs_dropout_prob': 0.1,
    'hidden_act': 'gelu',
    'hidden_dropout_prob': 0.1,
    'hidden_size': 32,
    'initializer_range': 0.02,
    'intermediate_size': 64,
    'max_position_embeddings': 512,
    'num_attention_heads': 4,
    'num_hidden_layers': 2,
    'type_vocab_size': 2,
}

def tiny_vocabulary():
    """Tokens in the order of a Chinese BERT vocab.txt (specials, then characters)."""
    tokens = ['[PAD]'] + ['[unused%d]' % i for i in range(1, 100)]
    tokens += ['[UNK]', '[CLS]', '[SEP]', '[MASK]', '<S>', '<T>']
    tokens += list(string.punctuation) + list(string.digits) + list(string.ascii_lowercase)
    tokens += list(dict.fromkeys(TINY_CHARACTERS))
    tokens += list(u'，。！？：；、“”（）《》【】')
    tokens += EXTRA_WORDPIECES + REDUNDANT_TOKENS
    return tokens


def write_tiny_model(backbone, directory, seed=0, weight_scale=0.1, **config_overrides):
    """Write ``bert_config.json``, ``vocab.txt`` and ``bert_model.ckpt`` for a tiny
    random ``backbone`` model into ``directory``; return the three paths."""
    if not os.path.isdir(directory):
        os.makedirs(directory)
    tokens = tiny_vocabulary()
    vocab_path = os.path.join(directory, 'vocab.txt')
    with open(vocab_path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(tokens) + '\n')
    config = dict(TINY_CONFIG, vocab_size=len(tokens), **config_overrides)
    config_path = os.path.join(directory, 'bert_config.json')
    with open(config_path, 'w', encoding='utf-8') as f:
        json.dump(config, f, indent=2, sort_keys=True)
    checkpoint_path = os.path.join(directory, 'bert_model.ckpt')
    write_checkpoint(checkpoint_path, dict((name, random_value(name, shape, seed, weight_scale))
                                           for name, shape in google_variables(backbone, config).items()))
    return config_path, checkpoint_path, vocab_path


def random_value(name, shape, seed, scale):
    """Random values drawn from (seed, variable name), the same on every stack, with
    LayerNorm gains near 1, so that layers stay well scaled."""
    rng = np.random.RandomState([seed, zlib.crc32(name.encode('utf-8'))])
    noise = rng.normal(0.0, scale, size=shape).astype('float32')
    return noise + 1.0 if name.endswith('/gamma') else noise


def write_config(path, config):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(config, f, indent=2, sort_keys=True)
    return path
