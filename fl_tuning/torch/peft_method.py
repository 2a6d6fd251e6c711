"""FL-tuning as a peft method: ``get_peft_model(model, FLTuningConfig(extra_units=160))``
on a BERT-like transformers model (BertModel, NezhaModel, RoFormerModel, and the task
models built on them) adds ``extra_units`` hidden units to the feed-forward layer of
every block (or of ``layers_to_transform``) and trains only them;
``merge_and_unload()`` returns a plain model whose feed-forward layer is F + k wide
(kernels [W1 | U1] and [W2 ; U2], biases [b1 | c1] and b2 + c2: what ``export`` writes).

The block's ``output`` module (``BertOutput``: dense, dropout, LayerNorm over the
residual) is the one wrapped: it receives both the intermediate activations and the
block's attention output, which the added units read. The added branch goes through
the backbone's own dropout, as on the faithful port.

peft 0.17.1's ``register_peft_method`` accepts only the names of its own ``PeftType``
enum, so ``register()`` puts the method in the same registry mappings under its own
key (str keys match the str-valued enum's lookups).
"""
import re
from dataclasses import dataclass, field
from typing import Optional

import torch
from peft import PeftConfig
from peft.mapping import (
    PEFT_TYPE_TO_CONFIG_MAPPING, PEFT_TYPE_TO_MIXED_MODEL_MAPPING, PEFT_TYPE_TO_PREFIX_MAPPING,
    PEFT_TYPE_TO_TUNER_MAPPING,
)
from peft.tuners.tuners_utils import BaseTuner, BaseTunerLayer, check_adapters_to_merge
from torch import nn

PEFT_TYPE = 'FL_TUNING'
PREFIX = 'fl_tuning_'
# The blocks' feed-forward output modules of BERT, NEZHA and RoFormer (not attention.output).
FEED_FORWARD_OUTPUTS = r'.*layer\.(\d+)\.output'
INITIALIZER_STDDEV = 0.02


@dataclass
class FLTuningConfig(PeftConfig):
    extra_units: int = field(default=160, metadata={'help': 'hidden units added to every feed-forward layer'})
    layers_to_transform: Optional[list] = field(default=None, metadata={'help': 'block indices (default: all)'})
    modules_to_save: Optional[list] = field(default=None, metadata={'help': 'e.g. the task head'})
    # peft's injection reads these; the blocks' feed-forward outputs are found by FEED_FORWARD_OUTPUTS.
    target_modules: Optional[str] = field(default=FEED_FORWARD_OUTPUTS, metadata={'help': 'the wrapped modules'})
    exclude_modules: Optional[list] = field(default=None)

    def __post_init__(self):
        super().__post_init__()
        self.peft_type = PEFT_TYPE


class AddedUnitsLayer(nn.Module, BaseTunerLayer):
    """A block's feed-forward output with the added units beside the pretrained ones."""
    adapter_layer_names = ('fl_tuning_units_in', 'fl_tuning_units_out')

    def __init__(self, base_layer, intermediate, adapter_name, extra_units):
        super(AddedUnitsLayer, self).__init__()
        self.base_layer = base_layer
        self.activation = intermediate.intermediate_act_fn
        self.intermediate = [intermediate]  # not a child: the block owns it
        self.fl_tuning_units_in, self.fl_tuning_units_out = nn.ModuleDict(), nn.ModuleDict()
        self._active_adapter = adapter_name
        self.merged_adapters = []
        self.update_layer(adapter_name, extra_units)

    def update_layer(self, adapter_name, extra_units):
        hidden_size = self.base_layer.dense.out_features
        units_in, units_out = nn.Linear(hidden_size, extra_units), nn.Linear(extra_units, hidden_size)
        for linear in (units_in, units_out):
            nn.init.trunc_normal_(linear.weight, std=INITIALIZER_STDDEV, a=-2 * INITIALIZER_STDDEV,
                                  b=2 * INITIALIZER_STDDEV)
            nn.init.zeros_(linear.bias)
        self.fl_tuning_units_in[adapter_name] = units_in.to(self.base_layer.dense.weight.device)
        self.fl_tuning_units_out[adapter_name] = units_out.to(self.base_layer.dense.weight.device)
        self.set_adapter([adapter_name])

    def added(self, x):
        return sum(self.fl_tuning_units_out[a](self.activation(self.fl_tuning_units_in[a](x)))
                   for a in self.active_adapters if a in self.fl_tuning_units_in)

    def forward(self, hidden_states, input_tensor):
        base = self.base_layer
        if self.disable_adapters or self.merged:
            return base(hidden_states, input_tensor)
        f = base.dense(hidden_states) + self.added(input_tensor)
        return base.LayerNorm(base.dropout(f) + input_tensor)

    def merge(self, safe_merge=False, adapter_names=None):
        """Widen the pretrained feed-forward layer by the added units (in place)."""
        adapter_names = check_adapters_to_merge(self, adapter_names)
        if len(adapter_names) > 1:
            raise ValueError('FL-tuning merges one adapter at a time, not %d' % len(adapter_names))
        if not adapter_names:
            return
        name = adapter_names[0]
        units_in, units_out = self.fl_tuning_units_in[name], self.fl_tuning_units_out[name]
        intermediate, output = self.intermediate[0], self.base_layer
        with torch.no_grad():
            wide_in = widened(intermediate.dense, units_in.weight, units_in.bias, 0)
            wide_out = widened(output.dense, units_out.weight, output.dense.bias + units_out.bias, 1)
        if safe_merge and not all(torch.isfinite(p).all() for p in (wide_in.weight, wide_out.weight)):
            raise ValueError('adapter %s holds non-finite values: not merged' % name)
        intermediate.dense, output.dense = wide_in, wide_out
        self.merged_adapters.append(name)

    def unmerge(self):
        raise ValueError('a merged FL-tuning layer is the widened feed-forward layer; it cannot be unmerged')


def widened(linear, added_weight, bias, axis):
    """A Linear with ``added_weight`` appended along ``axis`` of its weight ([out, in])."""
    weight = torch.cat([linear.weight, added_weight], axis)
    if axis == 0:
        bias = torch.cat([linear.bias, bias], 0)
    wide = nn.Linear(weight.shape[1], weight.shape[0], device=weight.device, dtype=weight.dtype)
    wide.weight.copy_(weight)
    wide.bias.copy_(bias)
    return wide


def block_index(key, pattern=FEED_FORWARD_OUTPUTS):
    match = re.fullmatch(pattern, key)
    return None if match is None else int(match.group(1))


class FLTuningModel(BaseTuner):
    prefix = PREFIX

    def _prepare_adapter_config(self, peft_config, model_config):
        return peft_config

    @staticmethod
    def _check_target_module_exists(peft_config, key):
        index = block_index(key, peft_config.target_modules)
        return index is not None and (peft_config.layers_to_transform is None
                                      or index in peft_config.layers_to_transform)

    def _create_and_replace(self, peft_config, adapter_name, target, target_name, parent, current_key):
        if isinstance(target, AddedUnitsLayer):
            target.update_layer(adapter_name, peft_config.extra_units)
            return
        setattr(parent, target_name, AddedUnitsLayer(target, parent.intermediate, adapter_name,
                                                     peft_config.extra_units))

    def _mark_only_adapters_as_trainable(self, model):
        for name, parameter in model.named_parameters():
            parameter.requires_grad = self.prefix in name

    def _set_adapter_layers(self, enabled):
        for module in self.model.modules():
            if isinstance(module, AddedUnitsLayer):
                module.enable_adapters(enabled)

    def enable_adapter_layers(self):
        self._set_adapter_layers(True)

    def disable_adapter_layers(self):
        self._set_adapter_layers(False)

    def set_adapter(self, adapter_name):
        for module in self.model.modules():
            if isinstance(module, AddedUnitsLayer):
                module.set_adapter(adapter_name)
        self.active_adapter = adapter_name

    def _unload(self, merge, adapter_names=None):
        self._unloading_checks(adapter_names)
        widened_by = 0
        for name, module in list(self.model.named_modules()):
            if isinstance(module, AddedUnitsLayer):
                if merge:
                    module.merge(adapter_names=adapter_names)
                    widened_by = sum(self.peft_config[a].extra_units for a in module.merged_adapters)
                parent = self.model.get_submodule(name.rsplit('.', 1)[0])
                setattr(parent, name.rsplit('.', 1)[1], module.get_base_layer())
        if widened_by and hasattr(self.model, 'config'):
            self.model.config.intermediate_size += widened_by
        return self.model

    def merge_and_unload(self, progressbar=False, safe_merge=False, adapter_names=None):
        """The plain model, its feed-forward layers F + k wide (config.intermediate_size too)."""
        return self._unload(True, adapter_names)

    def unload(self):
        """The plain model without the added units."""
        return self._unload(False)


def register():
    """Make ``get_peft_model`` know FLTuningConfig (once per process)."""
    if PEFT_TYPE in PEFT_TYPE_TO_CONFIG_MAPPING:
        return
    PEFT_TYPE_TO_CONFIG_MAPPING[PEFT_TYPE] = FLTuningConfig
    PEFT_TYPE_TO_TUNER_MAPPING[PEFT_TYPE] = FLTuningModel
    PEFT_TYPE_TO_MIXED_MODEL_MAPPING[PEFT_TYPE] = FLTuningModel
    PEFT_TYPE_TO_PREFIX_MAPPING[PEFT_TYPE] = PREFIX


register()
