"""Shallow prompt tuning (Lester et al. 2021), the paper's other prompt baseline:
``prompt_size`` learned vectors enter at the input only; the backbone is frozen."""
from fl_tuning.methods.base import DEFAULT_SIZE, TuningMethod, sized


class PromptTuning(TuningMethod):
    name = 'prompt'
    title = 'Prompt tuning (shallow)'
    source = 'Lester et al. 2021, EMNLP (arXiv 2104.08691)'
    size_flag = 'prompt_size'
    why_not_foldable = 'its vectors are inserted into the input sequence'
    default_learning_rate = 1e-2
    learning_rate_source = ('ours: Lester et al. train T5 prompts at 0.3 with Adafactor; with Adam '
                            'on a BERT-size model far lower rates are usual')

    def __init__(self, prompt_size=DEFAULT_SIZE):
        self.size = sized(prompt_size, '--prompt-size')

    def settings(self):
        return {'prompt_size': self.size}

    def parameter_count(self, dimensions):
        return self.size * dimensions.hidden_size
