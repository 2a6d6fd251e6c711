"""FLTuningConfig: what ``get_peft_model`` reads to add FL-tuning to a model."""
from dataclasses import dataclass, field
from typing import List, Optional, Union

from peft import PeftConfig

from fl_tuning.torch.peft_method.registration import PEFT_TYPE

INIT_WEIGHTS = ('faithful', 'zero_output', True, False)


@dataclass
class FLTuningConfig(PeftConfig):
    extra_units: int = field(default=160, metadata={'help': 'hidden units added to every feed-forward layer (k)'})
    target_modules: Optional[Union[List[str], str]] = field(default=None, metadata={
        'help': "the feed-forward linears to widen, as LoRA's: names or suffixes, or a regular expression; "
                "default: every feed-forward layer of a supported layout"})
    exclude_modules: Optional[Union[List[str], str]] = field(default=None, metadata={
        'help': 'linears left alone (names or suffixes, or a regular expression)'})
    layers_to_transform: Optional[Union[List[int], int]] = field(default=None, metadata={
        'help': 'block indices that get units (default: all)'})
    init_weights: Union[bool, str] = field(default='faithful', metadata={
        'help': "'faithful' (or False): the faithful port's initial values, weights drawn from "
                "TruncatedNormal(0.02), biases zero; 'zero_output' (or True, peft's convention): the same with "
                "output weights zero, so that an untrained adapter leaves the model's outputs as they are"})
    modules_to_save: Optional[List[str]] = field(default=None, metadata={
        'help': 'modules trained whole and saved with the adapter (the task type adds its head)'})

    def __post_init__(self):
        super(FLTuningConfig, self).__post_init__()
        self.peft_type = PEFT_TYPE
        if isinstance(self.target_modules, list):
            self.target_modules = set(self.target_modules)
        if isinstance(self.exclude_modules, list):
            self.exclude_modules = set(self.exclude_modules)
        if not isinstance(self.extra_units, int) or self.extra_units < 1:
            raise ValueError('extra_units must be a positive integer, not %r' % (self.extra_units,))
        if self.init_weights not in INIT_WEIGHTS:
            raise ValueError('init_weights must be one of %s, not %r' % (INIT_WEIGHTS, self.init_weights))

    @property
    def zero_output(self):
        return self.init_weights in ('zero_output', True)
