"""One feed-forward linear with FL-tuning's added units beside it (a peft tuner layer).

An ``in`` side (BERT's intermediate.dense, DistilBERT's lin1, a gated MLP's gate_proj
and up_proj) returns its own outputs with the units' appended; the layer's activation
(and a gated MLP's product) then runs over F + k values; the ``out`` side
(output.dense, lin2, down_proj) reads the first F with the pretrained weights and the
rest with the units'. That is the widened layer's arithmetic exactly, so that merging
is replacing the base linear by the widened one, and unmerging is putting the kept
original back (its tensors untouched). Everything the base layer does after its last
linear (BERT's dropout, residual and LayerNorm) applies to the units' share too, as on
the faithful port.
"""
import warnings

import torch
from peft.tuners.tuners_utils import BaseTunerLayer, check_adapters_to_merge
from torch import nn

from fl_tuning.torch.added_units import units_in, units_out, widened_inputs, widened_outputs


class FLTuningLayer(nn.Module, BaseTunerLayer):
    adapter_layer_names = ('fl_tuning_units',)
    other_param_names = ()

    def __init__(self, base_layer, side, adapter_name, extra_units, zero_output):
        super(FLTuningLayer, self).__init__()
        if not isinstance(base_layer, nn.Linear):
            raise ValueError('FL-tuning widens nn.Linear feed-forward layers, not %s' % type(base_layer).__name__)
        self.base_layer = base_layer
        self.side = side
        self.fl_tuning_units = nn.ModuleDict()
        self.merged_adapters = []
        self._disable_adapters = False
        self._active_adapter = adapter_name
        self._unmerged = ()  # (the base linear before merging,): not a child, so not saved twice
        self.update_layer(adapter_name, extra_units, zero_output)

    def update_layer(self, adapter_name, extra_units, zero_output):
        base = self._unmerged[0] if self._unmerged else self.base_layer
        self.fl_tuning_units[adapter_name] = (units_in(base, extra_units) if self.side == 'in'
                                              else units_out(base, extra_units, zero=zero_output))
        self.set_adapter(self.active_adapters)

    def unmerged_active(self):
        return [name for name in self.active_adapters
                if name in self.fl_tuning_units and name not in self.merged_adapters]

    def _units(self, name, x):
        units = self.fl_tuning_units[name]
        return units(x.to(units.weight.dtype)).to(x.dtype)

    def forward(self, x, *args, **kwargs):
        if self.disable_adapters:
            if self.merged:
                self.unmerge()
            return self.base_layer(x, *args, **kwargs)
        names = self.unmerged_active()
        if not names:
            return self.base_layer(x, *args, **kwargs)
        if self.side == 'in':
            return torch.cat([self.base_layer(x)] + [self._units(name, x) for name in names], -1)
        widths = [self.base_layer.in_features] + [self.fl_tuning_units[name].in_features for name in names]
        parts = x.split(widths, -1)
        result = self.base_layer(parts[0])
        for name, part in zip(names, parts[1:]):
            result = result + self._units(name, part)
        return result

    def merge(self, safe_merge=False, adapter_names=None):
        """Replace the base linear by one widened with the units of ``adapter_names``
        (default: the active adapters); the original is kept for ``unmerge``."""
        adapter_names = check_adapters_to_merge(self, adapter_names)
        if not adapter_names:
            return
        added = [self.fl_tuning_units[name] for name in adapter_names]
        if safe_merge and not all(torch.isfinite(p).all() for units in added for p in units.parameters()):
            raise ValueError('NaNs detected in the merged weights. The adapter %s seems to be broken'
                             % ', '.join(adapter_names))
        if not self._unmerged:
            self._unmerged = (self.base_layer,)
        widened = widened_outputs if self.side == 'in' else widened_inputs
        self.base_layer = widened(self.base_layer, added)
        self.merged_adapters.extend(adapter_names)

    def unmerge(self):
        if not self.merged:
            warnings.warn('Already unmerged. Nothing to do.')
            return
        # the kept original follows a .to(device) made while merged
        self.base_layer = self._unmerged[0].to(self.base_layer.weight.device)
        self._unmerged = ()
        self.merged_adapters = []

    def __repr__(self):
        return 'fl_tuning.' + super(FLTuningLayer, self).__repr__()
