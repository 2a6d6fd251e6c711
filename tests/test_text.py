"""fl_tuning.text (the framework-free tokenizer and sequence helpers) computes what
bert4keras 0.10.8 computes, on every fixture text and on text with mixed scripts,
full-width characters, accents and controls."""
import glob
import json
import os

import numpy as np
import pytest
from bert4keras.snippets import sequence_padding as bert4keras_padding
from bert4keras.snippets import truncate_sequences as bert4keras_truncate
from bert4keras.tokenizers import Tokenizer as Bert4kerasTokenizer
from bert4keras.tokenizers import load_vocab

from fl_tuning import text
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.text import Tokenizer
from fl_tuning.vocab import REQUIRED_TOKENS, RESERVED_TOKENS, Vocabulary

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MIXED = [
    u'ＡＢＣ全角１２３，。！？“引号”《书名》', u'Café naïve résumé Ångström déjà-vu',
    u'BERT模型在CLUE上的F1是83.5%，RoBERTa-wwm-ext更高', u'e-mail: a.b@c.com (2022/06/30) #1 $5 ~x^2',
    u'tab\there\nnew line\r\u3000ideographic space\u00a0nbsp', u'zero\u200bwidth\u0000nul\ufffdrepl\u0007bell',
    u'한국어 日本語のかな カタカナ Ελληνικά Русский عربى', u'𠀀𪜀 rare CJK 丽 compatibility', u'',
    u'   ', u'a' * 250 + u' long word', u'e' * 150 + u' splits into pieces', u'##的 [CLS] [SEP] [MASK] [unused1]', u'ﬁ ligature Ⅻ ① ²',
]


def strings_in(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            for s in strings_in(item):
                yield s
    elif isinstance(value, list):
        for item in value:
            for s in strings_in(item):
                yield s


def fixture_texts(folder):
    texts = set(MIXED)
    paths = glob.glob(os.path.join(folder, '*', '*.json')) + glob.glob(
        os.path.join(ROOT, 'fl_tuning', 'demo_data', '*', '*.json'))
    for path in paths:
        with open(path, encoding='utf-8') as f:
            content = f.read()
        try:
            records = [json.loads(content)]
        except ValueError:
            records = [json.loads(line) for line in content.splitlines() if line.strip()]
        for record in records:
            texts.update(strings_in(record))
    return sorted(texts)


@pytest.fixture(scope='module')
def texts(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp('clue'))
    write_clue_fixtures(folder)
    return fixture_texts(folder)


@pytest.fixture(scope='module')
def vocab_path(tiny_models, tmp_path_factory):
    """The tiny vocabulary, with Latin words, pieces and accented forms added."""
    path = str(tmp_path_factory.mktemp('vocab') / 'vocab.txt')
    with open(tiny_models['bert'].vocab_path, encoding='utf-8') as f:
        tokens = f.read().split('\n')
    tokens += ['cafe', 'naive', 're', '##sum', '##e', 'clue', 'f1', '83', '.', '5', '%', '##ber',
               '##ta', 'ro', 'e', '-', 'mail', ':', 'a', 'b', '@', 'c', 'com', '##m', 'ext', 'w',
               '##w', 'de', '##ja', 'ang', '##strom', 'ｆ', '１', 'rare', 'x', '^', '2']
    with open(path, 'w', encoding='utf-8') as f:
        f.write('\n'.join(t for t in tokens if t) + '\n')
    return path


def test_simplified_vocabulary_equals_bert4keras(vocab_path):
    vocabulary = Vocabulary(vocab_path)
    assert (vocabulary.token_dict, vocabulary.keep_tokens) == load_vocab(
        vocab_path, simplified=True, startswith=REQUIRED_TOKENS + RESERVED_TOKENS)


def test_repurposed_vocabulary_is_bert4keras_given_the_tokens_there(vocab_path, tmp_path):
    # bert4keras raises KeyError on a missing [unusedN]; with the list of those there
    # it builds what we build.
    repurposed = str(tmp_path / 'vocab.txt')
    with open(vocab_path, encoding='utf-8') as f:
        lines = f.read().replace('[unused7]\n', 'grin\n').replace('[unused8]\n', '[SUB]\n')
    with open(repurposed, 'w', encoding='utf-8') as f:
        f.write(lines)
    vocabulary = Vocabulary(repurposed)
    present = [t for t in RESERVED_TOKENS if t not in ('[unused7]', '[unused8]')]
    assert vocabulary.missing == ['[unused7]', '[unused8]']
    assert (vocabulary.token_dict, vocabulary.keep_tokens) == load_vocab(
        repurposed, simplified=True, startswith=REQUIRED_TOKENS + present)


def test_tokenizer_equals_bert4keras_on_fixture_and_mixed_texts(vocab_path, texts):
    token_dict = Vocabulary(vocab_path).token_dict
    ours, theirs = Tokenizer(token_dict), Bert4kerasTokenizer(token_dict, do_lower_case=True)
    assert len(texts) > 500
    for i, first in enumerate(texts):
        second = texts[(i * 7 + 3) % len(texts)]
        for maxlen in (None, 5, 32):
            tokens = ours.tokenize(first, maxlen=maxlen)
            assert tokens == theirs.tokenize(first, maxlen=maxlen), first
            assert ours.rematch(first, tokens) == theirs.rematch(first, tokens), first
            assert ours.encode(first, maxlen=maxlen) == theirs.encode(first, maxlen=maxlen), first
            assert ours.encode(first, second, maxlen=maxlen) == theirs.encode(first, second, maxlen=maxlen)
        assert text.lowercase_and_normalize(first) == Bert4kerasTokenizer._tokenize.__globals__[
            'lowercase_and_normalize'](first)


def test_sequence_helpers_equal_bert4keras():
    rng = np.random.RandomState(0)
    for _ in range(50):
        rows = [rng.randint(0, 100, size=rng.randint(1, 9)).astype(dtype)
                for dtype in [rng.choice(['int32', 'int64'])] for _ in range(rng.randint(1, 6))]
        padded = text.sequence_padding(rows)
        expected = bert4keras_padding(rows)
        assert padded.dtype == expected.dtype
        np.testing.assert_array_equal(padded, expected)
        lists = [list(r) for r in rows] + [[]]
        copies = [list(r) for r in lists]
        maxlen = rng.randint(0, 20)
        index = int(rng.choice([-1, 0]))  # any list, even of one item, has these
        text.truncate_sequences(maxlen, index, *lists)
        bert4keras_truncate(maxlen, index, *copies)
        assert lists == copies
