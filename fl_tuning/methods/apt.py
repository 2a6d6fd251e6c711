"""Adaptive prefix tuning, APT (Zhang et al., ACL 2023, arXiv 2305.15212): P-tuning v2
prefixes scaled per prefix token by a gate computed from each layer's input, and per
layer by a learned weight (with gates of 1 it is P-tuning v2 exactly)."""
from fl_tuning.methods.ptv2 import PTuningV2


class AdaptivePrefixTuning(PTuningV2):
    name = 'apt'
    title = 'Adaptive prefix tuning (APT)'
    source = 'Zhang et al. 2023, ACL (arXiv 2305.15212)'
    learning_rate_source = ("the original's per-task table, as P-tuning v2, so that the two "
                            'differ only by the gates')
    conflicts = {'ptv2': 'apt is P-tuning v2 with gates: use one of them'}
    why_not_foldable = 'its gated key and value prefixes enter every attention layer'

    def parameter_count(self, dimensions):
        gates = dimensions.num_hidden_layers * (dimensions.hidden_size * self.size + self.size + 1)
        return super(AdaptivePrefixTuning, self).parameter_count(dimensions) + gates
