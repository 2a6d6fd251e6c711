"""FL-tuning (arXiv 2206.15312): every feed-forward layer gets ``ffn_prompt_size`` added
hidden units, with their own output bias; only they train."""
from fl_tuning.methods.base import DEFAULT_SIZE, TuningMethod, sized


class FLTuning(TuningMethod):
    name = 'fl'
    title = 'FL-tuning'
    source = 'Liu et al. 2022, arXiv 2206.15312'
    size_flag = 'ffn_prompt_size'
    folds = True

    def __init__(self, ffn_prompt_size=DEFAULT_SIZE):
        self.size = sized(ffn_prompt_size, '--ffn-prompt-size')

    def settings(self):
        return {'ffn_prompt_size': self.size}

    def parameter_count(self, dimensions):
        d, k = dimensions.hidden_size, self.size
        return dimensions.num_hidden_layers * (d * k + k + k * d + d)
