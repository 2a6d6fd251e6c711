"""The few-shot setting: a sample of a task's training (or dev) examples drawn from
(K, seed) alone, so that every machine draws the same one.

The sample draws whole units (a record: a line, a c3 question, a cmrc2018 question
with all its windows, a chid line with all its blanks) in the order of a permutation
that NumPy's frozen legacy generator gives for the seed, by the task's rule:
- per label (the seven classification tasks): a unit is taken while its label has
  fewer than K in the sample;
- category cover (cluener): a sentence is taken while one of its categories is in
  fewer than K sentences of the sample; drawing stops once every category of the file
  is in at least K;
- quota (c3, chid, cmrc2018, which have no label set): units are taken until the
  sample holds K x quota (c3: 4 questions, cmrc2018: 4 questions, chid: 10 blanks).
"""
import hashlib
import os
from collections import Counter, OrderedDict

import numpy as np

from fl_tuning.errors import InputError


class Sample(object):
    """The drawn examples (in file order), the files they were written to, and what
    identifies them."""

    def __init__(self, k, seed, examples, unit_ids, files):
        self.k, self.seed, self.examples, self.unit_ids, self.files = k, seed, examples, unit_ids, files

    def description(self):
        digest = hashlib.sha256()
        for path in self.files:
            with open(path, 'rb') as f:
                digest.update(f.read())
        return {'k': self.k, 'seed': self.seed, 'units': len(self.unit_ids),
                'examples': len(self.examples), 'ids': self.unit_ids,
                'files': [os.path.basename(path) for path in self.files],
                'fingerprint': 'sha256:' + digest.hexdigest()}


def draw(task, examples, k, seed):
    """Indices of the sampled examples, in file order, and their units' ids."""
    units = OrderedDict()
    for index, example in enumerate(examples):
        units.setdefault(task.sample_unit(example), []).append(index)
    keys = list(units)
    order = np.random.RandomState(seed).permutation(len(keys))
    members = [[examples[i] for i in units[key]] for key in keys]
    chosen = CHOOSERS[task.few_shot_rule](task, members, order, k)
    chosen = sorted(chosen)
    return [i for j in chosen for i in units[keys[j]]], [unit_id(keys[j]) for j in chosen]


def per_label(task, members, order, k):
    counts, chosen = Counter(), []
    for j in order:
        label = task.sample_label(members[j][0])
        if counts[label] < k:
            counts[label] += 1
            chosen.append(j)
    return chosen


def category_cover(task, members, order, k):
    categories = [task.sample_label(m[0]) for m in members]
    everything = set().union(*categories) if categories else set()
    counts, chosen = Counter(), []
    for j in order:
        if all(counts[c] >= k for c in everything):
            break
        if any(counts[c] < k for c in categories[j]):
            counts.update(categories[j])
            chosen.append(j)
    return chosen


def quota(task, members, order, k):
    total, chosen = 0, []
    for j in order:
        if total >= k * task.few_shot_quota:
            break
        total += task.sample_size(members[j])
        chosen.append(j)
    return chosen


CHOOSERS = {'per_label': per_label, 'category_cover': category_cover, 'quota': quota}


def unit_id(key):
    """'train.json:12' (a line), 'm-train.json[3][1]' (a c3 question), 'train.json#qid'."""
    if hasattr(key, 'line'):
        return '%s:%d' % (os.path.basename(key.path), key.line)
    path, rest = key[0], key[1:]
    if len(rest) == 2:
        return '%s[%d][%d]' % ((os.path.basename(path),) + tuple(rest))
    return '%s#%s' % (os.path.basename(path), rest[0])


def sample(task, examples, k, seed, folder):
    """Draw the sample and write it to ``folder`` in the task's own format."""
    indices, ids = draw(task, examples, k, seed)
    subset = [examples[i] for i in indices]
    return Sample(k, seed, subset, ids, task.write_sample(subset, folder))


# The data settings of grids and reports: 'full', or 'fewK' for the few-shot setting.
FULL = 'full'


def few_shot_k(setting):
    """None for 'full', K for 'fewK' (e.g. few16)."""
    if setting == FULL:
        return None
    digits = setting[len('few'):]
    if not setting.startswith('few') or not digits.isdigit() or int(digits) < 1:
        raise InputError("setting %r is neither 'full' nor 'fewK' (e.g. few16)" % setting)
    return int(digits)
