"""Vocabulary and tokenizer as the original builds them (simplified vocabulary)."""
import os


from fl_tuning.errors import InputError
from fl_tuning.text import Tokenizer, read_vocabulary, simplified_vocabulary

# Kept first, in this order, by the original's vocabulary simplification.
SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + [
    '[unused%d]' % i for i in range(1, 100)
]


def load_vocabulary(vocab_path):
    """Return (token_dict, keep_tokens) of the simplified vocabulary.

    ``keep_tokens[new_id]`` is the token's row in the checkpoint's embedding table.
    """
    if not os.path.isfile(vocab_path):
        raise InputError('vocabulary not found: %s' % vocab_path)
    token_dict = read_vocabulary(vocab_path)
    missing = [t for t in SPECIAL_TOKENS if t not in token_dict]
    if missing:
        raise InputError('%s: missing special token(s) %s' % (vocab_path, ', '.join(missing[:5])))
    return simplified_vocabulary(token_dict, SPECIAL_TOKENS)


def build_tokenizer(token_dict):
    return Tokenizer(token_dict)
