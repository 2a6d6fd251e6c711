"""Vocabulary and tokenizer as the original builds them (simplified vocabulary)."""
import os


from fl_tuning.errors import InputError
from fl_tuning.text import Tokenizer, read_vocabulary, simplified_vocabulary

# Kept first, in this order, by the original's vocabulary simplification. Vocabularies
# often give some [unusedN] lines to the owner's own tokens (that is what they are
# for): those missing are left out, the others keep this order.
REQUIRED_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
RESERVED_TOKENS = ['[unused%d]' % i for i in range(1, 100)]


class Vocabulary(object):
    """The simplified vocabulary: ``token_dict``, ``keep_tokens`` (``keep_tokens[new_id]``
    is the token's row in the checkpoint's embedding table) and the ``missing`` reserved
    tokens."""

    def __init__(self, vocab_path, needed=(), needed_by=''):
        """``needed``: reserved tokens the task uses (chid's [unused1], named by ``needed_by``)."""
        if not os.path.isfile(vocab_path):
            raise InputError('vocabulary not found: %s' % vocab_path)
        token_dict = read_vocabulary(vocab_path)
        missing = [t for t in REQUIRED_TOKENS if t not in token_dict]
        if missing:
            raise InputError('%s: missing special token(s) %s' % (vocab_path, ', '.join(missing)))
        lacking = [t for t in needed if t not in token_dict]
        if lacking:
            raise InputError('%s: missing %s, which %s uses' % (vocab_path, ', '.join(lacking), needed_by))
        self.missing = [t for t in RESERVED_TOKENS if t not in token_dict]
        self.token_dict, self.keep_tokens = simplified_vocabulary(
            token_dict, REQUIRED_TOKENS + [t for t in RESERVED_TOKENS if t in token_dict])

    def notice(self):
        """One line on the reserved tokens the file lacks, or None."""
        if not self.missing:
            return None
        shown = ', '.join(self.missing[:5]) + (', ...' if len(self.missing) > 5 else '')
        return ('the vocabulary lacks %d of the reserved tokens [unused1]..[unused99] (%s): the ids '
                'after them move up, as the original would number them had it not crashed'
                % (len(self.missing), shown))

    def tokenizer(self):
        return Tokenizer(self.token_dict)
