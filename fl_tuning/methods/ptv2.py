"""P-tuning v2 (deep prefix tuning), the paper's baseline: ``prompt_size`` learned key
and value prefixes in every attention layer; only they train."""
from fl_tuning.methods.base import DEFAULT_SIZE, TuningMethod, sized


class PTuningV2(TuningMethod):
    name = 'ptv2'
    title = 'P-tuning v2'
    source = 'Liu et al. 2022, ACL (arXiv 2110.07602)'
    size_flag = 'prompt_size'
    why_not_foldable = 'its key and value prefixes enter every attention layer'

    def __init__(self, prompt_size=DEFAULT_SIZE):
        self.size = sized(prompt_size, '--prompt-size')

    def settings(self):
        return {'prompt_size': self.size}

    def parameter_count(self, dimensions):
        heads = dimensions.num_attention_heads
        per_position = heads * (dimensions.attention_key_size + dimensions.attention_head_size)
        return dimensions.num_hidden_layers * self.size * per_position
