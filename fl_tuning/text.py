"""BERT's WordPiece tokenizer and the sequence helpers, in plain Python and NumPy.

They compute what bert4keras 0.10.8's ``Tokenizer`` (``do_lower_case=True``),
``load_vocab(simplified=True)``, ``sequence_padding``, ``truncate_sequences`` and
``lowercase_and_normalize`` compute, for the ways this project calls them (tested
equal on every fixture and on mixed-script text): importing bert4keras imports Keras,
and the data layer imports no framework.
"""
import unicodedata

import numpy as np

PAD, UNK, CLS, SEP, MASK = '[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'
# Words longer than this stay one (unknown) token.
WORD_MAXLEN = 200


def lowercase_and_normalize(text):
    """Lower case, then NFD with the combining marks dropped (accents: 'é' -> 'e')."""
    text = unicodedata.normalize('NFD', text.lower())
    return ''.join([ch for ch in text if unicodedata.category(ch) != 'Mn'])


def is_space(ch):
    return ch in ' \n\r\t' or unicodedata.category(ch) == 'Zs'


def is_punctuation(ch):
    """ASCII symbols and every Unicode punctuation character (full-width ones too)."""
    code = ord(ch)
    return (33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
            or unicodedata.category(ch).startswith('P'))


def is_cjk_character(ch):
    """CJK Unified Ideographs and their extensions and compatibility blocks (the common
    block first: it decides for almost every character of Chinese text)."""
    code = ord(ch)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B73F or 0x2B740 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF
            or 0xF900 <= code <= 0xFAFF or 0x2F800 <= code <= 0x2FA1F)


def is_dropped(ch):
    """NUL, the replacement character and control/format characters are removed."""
    return ord(ch) == 0 or ord(ch) == 0xfffd or unicodedata.category(ch) in ('Cc', 'Cf')


def is_special(token):
    return bool(token) and token[0] == '[' and token[-1] == ']'


def stem(token):
    return token[2:] if token[:2] == '##' else token


def is_redundant(token):
    """A token the tokenizer can never produce (a CJK or punctuation character inside a
    longer token): the simplified vocabulary leaves it out."""
    return len(token) > 1 and any(is_cjk_character(ch) or is_punctuation(ch) for ch in stem(token))


def read_vocabulary(path):
    """{token: line index} of a vocab.txt (a line's first field; a blank line's text)."""
    token_dict = {}
    with open(path, encoding='utf-8') as f:
        for line in f:
            fields = line.split()
            token_dict[fields[0] if fields else line.strip()] = len(token_dict)
    return token_dict


def simplified_vocabulary(token_dict, first):
    """(token_dict, keep_tokens): the tokens ``first`` in their order, then every other
    token that is not redundant, in file order; ``keep_tokens[new id]`` is its old id."""
    simplified, keep_tokens = {}, []
    for token in list(first) + sorted(token_dict, key=token_dict.get):
        if token not in simplified and (token in first or not is_redundant(token)):
            simplified[token] = len(simplified)
            keep_tokens.append(token_dict[token])
    return simplified, keep_tokens


def truncate_sequences(maxlen, index, *sequences):
    """Pop the item at ``index`` from the longest (first longest) non-empty list, in
    place, until their total length is at most ``maxlen``."""
    sequences = [s for s in sequences if s]
    while sum(len(s) for s in sequences) > maxlen:
        lengths = [len(s) for s in sequences]
        sequences[lengths.index(max(lengths))].pop(index)
    return sequences


def sequence_padding(rows, value=0):
    """The rows as one matrix, each padded at the end to the longest row's length."""
    length = max(len(row) for row in rows)
    padded = np.full((len(rows), length), value, dtype=np.asarray(rows[0]).dtype)
    for i, row in enumerate(rows):
        padded[i, :len(row)] = row
    return padded


class Tokenizer(object):
    """Lower-casing, accent-stripping BERT WordPiece over a {token: id} dict."""

    def __init__(self, token_dict):
        self.token_dict = token_dict
        self.unk_id = token_dict[UNK]

    def token_to_id(self, token):
        return self.token_dict.get(token, self.unk_id)

    def tokens_to_ids(self, tokens):
        get, unk_id = self.token_dict.get, self.unk_id
        return [get(token, unk_id) for token in tokens]

    def split_words(self, text):
        """Punctuation and CJK characters alone, split on spaces, controls dropped."""
        spaced = []
        for ch in lowercase_and_normalize(text):
            if is_punctuation(ch) or is_cjk_character(ch):
                spaced.append(' ' + ch + ' ')
            elif is_space(ch):
                spaced.append(' ')
            elif not is_dropped(ch):
                spaced.append(ch)
        return ''.join(spaced).split()

    def word_pieces(self, word):
        """Greedy longest-match pieces ('##' inside a word); the word whole if any part
        has no piece."""
        if len(word) > WORD_MAXLEN or word in self.token_dict:
            return [word]  # (a known word is its own piece: most words of Chinese text)
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else '##' + word[start:end]
                if piece in self.token_dict:
                    break
                end -= 1
            if end == start:
                return [word]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text, maxlen=None):
        """[CLS], the pieces, [SEP]; at most ``maxlen`` (pieces cut before [SEP])."""
        tokens = [CLS] + [piece for word in self.split_words(text) for piece in self.word_pieces(word)] + [SEP]
        if maxlen is not None:
            truncate_sequences(maxlen, -2, tokens)
        return tokens

    def encode(self, first_text, second_text=None, maxlen=None):
        """(token ids, segment ids) of one text or a pair ([CLS] a [SEP] b [SEP]);
        a pair longer than ``maxlen`` loses pieces from the end of its longer text."""
        first = self.tokenize(first_text)
        second = self.tokenize(second_text) if second_text is not None else None
        if maxlen is not None:
            truncate_sequences(maxlen + (second is not None), -2, first, second)
        token_ids = self.tokens_to_ids(first)
        segment_ids = [0] * len(token_ids)
        if second is not None:
            second_ids = self.tokens_to_ids(second[1:])
            token_ids += second_ids
            segment_ids += [1] * len(second_ids)
        return token_ids, segment_ids

    def rematch(self, text, tokens):
        """For each token, the indices of ``text``'s characters it comes from ([] for
        special tokens)."""
        normalized, char_mapping = [], []
        for i, ch in enumerate(text.lower()):
            ch = ''.join(c for c in lowercase_and_normalize(ch) if not is_dropped(c))
            normalized.append(ch)
            char_mapping.extend([i] * len(ch))
        normalized = ''.join(normalized)
        mapping, offset = [], 0
        for token in tokens:
            if is_special(token):
                mapping.append([])
                continue
            piece = stem(token)
            start = normalized.index(piece, offset)
            mapping.append(char_mapping[start:start + len(piece)])
            offset = start + len(piece)
        return mapping
