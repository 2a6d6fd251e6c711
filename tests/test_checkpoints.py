"""Loading Google-format checkpoints, and clear errors when they do not fit."""
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from fl_tuning.keras.models import build_model
from fl_tuning.vocab import REQUIRED_TOKENS, RESERVED_TOKENS, Vocabulary
from fl_tuning.tf_checkpoint import write_checkpoint
from fl_tuning.errors import CheckpointError, ConfigError, InputError


def rewrite_checkpoint(source, target, drop=(), rename=None):
    """Copy a checkpoint without the ``drop`` variables and with renamed ones."""
    rename = rename or {}
    reader = tf.train.load_checkpoint(source)
    write_checkpoint(target, dict((rename.get(name, name), reader.get_tensor(name))
                                  for name in reader.get_variable_to_shape_map() if name not in drop))
    return target


def copy_model_dir(tiny, tmp_path):
    target = str(tmp_path / 'model')
    shutil.copytree(tiny.directory, target)
    return target


def build_from(directory, backbone='bert', checkpoint='bert_model.ckpt', config='bert_config.json'):
    keep_tokens = Vocabulary(os.path.join(directory, 'vocab.txt')).keep_tokens
    return build_model(backbone, os.path.join(directory, config), os.path.join(directory, checkpoint),
                       ffn_prompt_size=4, keep_tokens=keep_tokens)


def test_missing_variable_is_named(tiny_models, tmp_path):
    tiny = tiny_models['bert']
    missing = 'bert/encoder/layer_1/output/dense/kernel'
    rewrite_checkpoint(tiny.checkpoint_path, str(tmp_path / 'ckpt'), drop=[missing])
    with pytest.raises(CheckpointError) as error:
        build_model('bert', tiny.config_path, str(tmp_path / 'ckpt'),
                    keep_tokens=Vocabulary(tiny.vocab_path).keep_tokens)
    assert repr(missing) in str(error.value)
    assert 'Transformer-1-FeedForward' in str(error.value)


def test_misnamed_variable_is_named_with_the_closest_match(tiny_models, tmp_path):
    tiny = tiny_models['nezha']
    name = 'bert/encoder/layer_0/attention/self/query/kernel'
    rewrite_checkpoint(tiny.checkpoint_path, str(tmp_path / 'ckpt'),
                       rename={name: 'bert/encoder/layer_0/attention/self/qeury/kernel'})
    with pytest.raises(CheckpointError) as error:
        build_model('nezha', tiny.config_path, str(tmp_path / 'ckpt'),
                    keep_tokens=Vocabulary(tiny.vocab_path).keep_tokens)
    message = str(error.value)
    assert repr(name) in message and 'qeury' in message


def test_mlm_head_is_required_as_in_the_original(tiny_models, tmp_path):
    tiny = tiny_models['roformer']
    rewrite_checkpoint(tiny.checkpoint_path, str(tmp_path / 'ckpt'),
                       drop=['cls/predictions/output_bias'])
    with pytest.raises(CheckpointError, match="'cls/predictions/output_bias'"):
        build_model('roformer', tiny.config_path, str(tmp_path / 'ckpt'),
                    keep_tokens=Vocabulary(tiny.vocab_path).keep_tokens)


@pytest.mark.parametrize('field,value,variable', [
    ('intermediate_size', 128, 'bert/encoder/layer_0/intermediate/dense/kernel'),
    ('hidden_size', 64, 'bert/embeddings/word_embeddings'),
    ('num_hidden_layers', 3, 'bert/encoder/layer_2/attention/self/query/kernel'),
])
def test_config_that_does_not_match_the_checkpoint(tiny_models, tmp_path, field, value, variable):
    directory = copy_model_dir(tiny_models['bert'], tmp_path)
    config_path = os.path.join(directory, 'bert_config.json')
    config = json.load(open(config_path))
    config[field] = value
    json.dump(config, open(config_path, 'w'))
    with pytest.raises(CheckpointError) as error:
        build_from(directory)
    assert repr(variable) in str(error.value)


def test_vocabulary_of_another_model(tiny_models, tmp_path):
    directory = copy_model_dir(tiny_models['bert'], tmp_path)
    with open(os.path.join(directory, 'vocab.txt'), 'a', encoding='utf-8') as f:
        f.write(''.join('extra%d\n' % i for i in range(50)))
    with pytest.raises(CheckpointError, match='vocabulary does not belong to this checkpoint'):
        build_from(directory)


def test_absent_checkpoint(tiny_models, tmp_path):
    directory = copy_model_dir(tiny_models['bert'], tmp_path)
    with pytest.raises(CheckpointError, match='no readable TensorFlow checkpoint at .*model.ckpt-5'):
        build_from(directory, checkpoint='model.ckpt-5')


def test_config_missing_a_field(tiny_models, tmp_path):
    directory = copy_model_dir(tiny_models['bert'], tmp_path)
    config_path = os.path.join(directory, 'bert_config.json')
    config = json.load(open(config_path))
    del config['num_attention_heads']
    json.dump(config, open(config_path, 'w'))
    with pytest.raises(ConfigError, match='bert_config.json: missing field.*num_attention_heads'):
        build_from(directory)


def test_vocabulary_without_special_tokens(tmp_path):
    path = tmp_path / 'vocab.txt'
    path.write_text('[PAD]\n[UNK]\n[CLS]\n[SEP]\n', encoding='utf-8')
    with pytest.raises(InputError, match=r'vocab.txt: missing special token\(s\) \[MASK\]$'):
        Vocabulary(str(path))


def repurposed_vocabulary(tiny, tmp_path, replacements):
    """The tiny vocabulary with some [unusedN] lines given to other tokens."""
    lines = [replacements.get(line.rstrip('\n'), line.rstrip('\n')) for line in open(tiny.vocab_path, encoding='utf-8')]
    path = tmp_path / 'vocab.txt'
    path.write_text(''.join(line + '\n' for line in lines), encoding='utf-8')
    return str(path), lines


def test_vocabulary_with_repurposed_reserved_tokens(tiny_models, tmp_path):
    # As public copies of Google's Chinese vocab.txt are: [unusedN] lines given to
    # the owner's tokens. The reserved tokens left keep their order; the rest follow.
    path, lines = repurposed_vocabulary(tiny_models['bert'], tmp_path,
                                        {'[unused1]': '[SUB]', '[unused3]': 'entity', '[unused50]': '[BLANK]'})
    vocabulary = Vocabulary(path)
    assert vocabulary.missing == ['[unused1]', '[unused3]', '[unused50]']
    ordered = sorted(vocabulary.token_dict, key=vocabulary.token_dict.get)
    reserved = [t for t in RESERVED_TOKENS if t not in vocabulary.missing]
    assert ordered[:5 + len(reserved)] == REQUIRED_TOKENS + reserved
    assert vocabulary.token_dict['[unused2]'] == 5 and '[SUB]' not in vocabulary.token_dict
    assert vocabulary.token_dict['entity'] == 5 + len(reserved)  # the first kept token after them
    assert [lines[i] for i in vocabulary.keep_tokens] == ordered
    assert 'lacks 3 of the reserved tokens [unused1]..[unused99] ([unused1], [unused3], [unused50])' in vocabulary.notice()
    with pytest.raises(InputError, match=r'vocab.txt: missing \[unused1\], which chid uses$'):
        Vocabulary(path, ('[unused1]',), 'chid')


def test_simplified_vocabulary_order_and_keep_tokens(tiny_models):
    tiny = tiny_models['bert']
    original = [line.rstrip('\n') for line in open(tiny.vocab_path, encoding='utf-8')]
    vocabulary = Vocabulary(tiny.vocab_path)
    token_dict, keep_tokens = vocabulary.token_dict, vocabulary.keep_tokens
    assert vocabulary.missing == [] and vocabulary.notice() is None
    ordered = sorted(token_dict, key=token_dict.get)
    assert ordered[:len(REQUIRED_TOKENS + RESERVED_TOKENS)] == REQUIRED_TOKENS + RESERVED_TOKENS
    assert token_dict['[unused1]'] == 5
    for dropped in ['##的', '...', '##!', '[unused100]', '<S>']:
        assert dropped not in token_dict
    for kept in ['的', '##s', 'the', '!']:
        assert kept in token_dict
    assert [original[i] for i in keep_tokens] == ordered
    rest = keep_tokens[len(REQUIRED_TOKENS + RESERVED_TOKENS):]
    assert rest == sorted(rest)


def test_embedding_rows_follow_keep_tokens(tiny_models):
    tiny = tiny_models['bert']
    keep_tokens = Vocabulary(tiny.vocab_path).keep_tokens
    transformer = build_model('bert', tiny.config_path, tiny.checkpoint_path,
                              keep_tokens=keep_tokens)
    table = tf.train.load_variable(tiny.checkpoint_path, 'bert/embeddings/word_embeddings')
    loaded = transformer.layers['Embedding-Token'].get_weights()[0]
    np.testing.assert_array_equal(loaded, table[keep_tokens])
    assert loaded.shape[0] == len(keep_tokens)
