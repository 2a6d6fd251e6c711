"""CMRC 2018's official scoring (``cmrc2018_evaluate.py``, v5, in ymcui/cmrc2018),
computed as that script computes it, in Python 3:

- text is lower-cased and stripped; its separators (``SEPARATORS``) are dropped;
- for F1, every character of U+4E00..U+9FA5 is one segment and every other run of
  characters is split by nltk's word tokenizer (pinned: nltk 3.8.1); F1 comes from
  the longest common run of segments, the best over the reference answers;
- EM compares the texts without separators, against each reference;
- a question without a prediction scores 0 and is counted (SKIP); EM, F1 and their
  mean AVERAGE are percentages.

Sentence splitting: the script calls ``nltk.word_tokenize``, which first splits a run
into sentences with Punkt, a model that has to be downloaded. Splitting only matters
where a run has '.' followed by white space and more text (Treebank already splits
'?', '!' and a final '.' off), so the runs are tokenized as one line
(``preserve_line``) and the texts with such a run are counted (``split_sensitive``):
where there are none the score is the script's exactly.
"""
import json
import re
from collections import OrderedDict

# The script's separators. It also lists '……', a two-character string, which never
# equals the single characters it is compared with: '…' stays.
SEPARATORS = frozenset(u'-:_*^/\\~`+=，。：？！“”；’《》·、「」（）－～『』')
CHINESE = re.compile(u'[\u4e00-\u9fa5]')
SENTENCE_BREAK = re.compile(r'\.\s+\S')


def word_tokenize(text):
    # nltk takes a second to import: only scoring cmrc2018 needs it.
    from nltk.tokenize import word_tokenize as nltk_word_tokenize
    return nltk_word_tokenize(text, preserve_line=True)


def non_chinese_runs(text):
    """The runs of the text that the script hands to nltk (separators dropped)."""
    runs, run = [], ''
    for char in text.lower().strip():
        if char in SEPARATORS or CHINESE.match(char):
            if run:
                runs.append(run)
            run = ''
        else:
            run += char
    return runs + ([run] if run else [])


def segments(text):
    """The script's ``mixed_segmentation(text, rm_punc=True)``."""
    result, run = [], ''
    for char in text.lower().strip():
        if char in SEPARATORS:
            continue
        if CHINESE.match(char):
            if run:
                result += word_tokenize(run)
                run = ''
            result.append(char)
        else:
            run += char
    return result + (word_tokenize(run) if run else [])


def without_separators(text):
    """The script's ``remove_punctuation``."""
    return ''.join(char for char in text.lower().strip() if char not in SEPARATORS)


def longest_common_run(first, second):
    """Length of the longest common contiguous run of two sequences."""
    best, previous = 0, [0] * (len(second) + 1)
    for a in first:
        current = [0]
        for j, b in enumerate(second):
            current.append(previous[j] + 1 if a == b else 0)
        best = max(best, max(current))
        previous = current
    return best


def f1_score(answers, prediction):
    predicted, scores = segments(prediction), []
    for answer in answers:
        gold = segments(answer)
        common = longest_common_run(gold, predicted)
        if common == 0:
            scores.append(0.0)
        else:
            precision, recall = common / len(predicted), common / len(gold)
            scores.append(2 * precision * recall / (precision + recall))
    return max(scores)


def exact_match(answers, prediction):
    bare = without_separators(prediction)
    return float(any(without_separators(answer) == bare for answer in answers))


def split_sensitive(text):
    return any(SENTENCE_BREAK.search(run) for run in non_chinese_runs(text))


def score(references, predictions):
    """The script's numbers: ``references`` {question id: [answer texts]} in the dev
    file's order, ``predictions`` {question id: answer text}; ``official``: the line the
    script prints, without its FILE."""
    em = f1 = 0.0
    skipped = sensitive = 0
    for qid, answers in references.items():
        if qid not in predictions:
            skipped += 1
            continue
        prediction = predictions[qid]
        em += exact_match(answers, prediction)
        f1 += f1_score(answers, prediction)
        sensitive += any(split_sensitive(text) for text in answers + [prediction])
    total = len(references)
    em, f1 = 100.0 * em / total, 100.0 * f1 / total
    average = (em + f1) * 0.5
    official = json.dumps(OrderedDict([('AVERAGE', '%.3f' % average), ('F1', '%.3f' % f1), ('EM', '%.3f' % em),
                                       ('TOTAL', total), ('SKIP', skipped)]))
    return {'average': average, 'f1': f1, 'em': em, 'total': total, 'skip': skipped,
            'split_sensitive': sensitive, 'official': official}
