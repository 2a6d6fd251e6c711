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
import tensorflow as tf
from bert4keras.models import build_transformer_model

from fl_tuning.checkpoints import checkpoint_pairs, write_checkpoint
from fl_tuning.models import BACKBONE_CLASSES

# Common Chinese characters (enough for the bundled demo data) and a few wordpieces.
TINY_CHARACTERS = (
    '的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学'
    '对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面'
    '公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部'
    '正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关'
    '并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安'
    '表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共'
    '风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管'
    '夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品'
    '士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研'
    '像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济'
    '喜离虽坏兴照银险价格类款费借钟句您吗啊吧哦嗯球赛票游戏歌曲电影旅游股票基金贷还款花呗借呗余额'
    '蚂蚁支付宝账户手机号码密码登录注册充值提现额度利息逾期申请审核通过成功失败取消关闭开通使用'
    '星乐演节冠育足篮跑泳'
)
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

BERT_BASE_CONFIG = {
    'attention_probs_dropout_prob': 0.1,
    'hidden_act': 'gelu',
    'hidden_dropout_prob': 0.1,
    'hidden_size': 768,
    'initializer_range': 0.02,
    'intermediate_size': 3072,
    'max_position_embeddings': 512,
    'num_attention_heads': 12,
    'num_hidden_layers': 12,
    'type_vocab_size': 2,
    'vocab_size': 21128,
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
    with tf.Graph().as_default():  # the model only gives the variables' names and shapes
        transformer = build_transformer_model(
            config_path, model=BACKBONE_CLASSES[backbone], application='unilm',
            return_keras_model=False)
        # layers not built (e.g. Embedding-Mapping) have no variables
        variables = dict((name, random_value(name, weight, seed, weight_scale))
                         for _, weight, name in checkpoint_pairs(transformer, transformer.variable_mapping()))
    write_checkpoint(checkpoint_path, variables)
    return config_path, checkpoint_path, vocab_path


def random_value(name, weight, seed, scale):
    """Random values drawn from (seed, variable name), the same on every stack, with
    LayerNorm gains near 1, so that layers stay well scaled."""
    rng = np.random.RandomState([seed, zlib.crc32(name.encode('utf-8'))])
    noise = rng.normal(0.0, scale, size=tuple(int(d) for d in weight.shape)).astype('float32')
    return noise + 1.0 if weight.name.split('/')[-1].startswith('gamma') else noise


def write_config(path, config):
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(config, f, indent=2, sort_keys=True)
    return path
