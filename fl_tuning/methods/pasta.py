"""PASTA (Yang et al., EACL 2023, arXiv 2210.04382): in every layer, before its
self-attention, a learned vector is added to the hidden state of each special token
([CLS] and every [SEP]), numbered in order, each occurrence with its own vector.
``slots`` (vectors per layer) is the most special tokens any sequence of the run's
data holds."""
import numpy as np

from fl_tuning.methods.base import CLS_ID, SEP_ID, TuningMethod


class PASTA(TuningMethod):
    name = 'pasta'
    title = 'PASTA (special token adaptation)'
    source = 'Yang et al. 2023, EACL (arXiv 2210.04382)'
    default_learning_rate = 2.5e-4
    learning_rate_source = ("the authors' MRPC script (their CoNLL-03 NER script uses 3e-3, "
                            'worth trying on cluener and cmrc2018)')
    conflicts = {'prompt': 'prompt vectors would shift the special tokens PASTA finds by id'}
    why_not_foldable = 'its vectors are added to the special tokens\' hidden states in every layer'

    def __init__(self, slots=None):
        self.slots = None if slots is None else int(slots)

    def settings(self):
        return {'slots': self.slots}

    def prepare(self, sequences):
        """``slots``: the most [CLS]/[SEP] tokens in any one sequence."""
        if self.slots is None:
            self.slots = max(int(np.count_nonzero((np.asarray(row) == CLS_ID) | (np.asarray(row) == SEP_ID)))
                             for row in sequences)

    def parameter_count(self, dimensions):
        return dimensions.num_hidden_layers * self.slots * dimensions.hidden_size
