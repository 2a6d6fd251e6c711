"""Adaptive prefix tuning on PyTorch: P-tuning v2's prefixes of layer l scaled per
prefix token by ``lambda_l * sigmoid(mean(H_l) W_l + b_l)`` (the mean over real tokens)."""
import torch
from torch import nn

import fl_tuning.methods.apt as methods_apt
from fl_tuning.layer_names import gate_name
from fl_tuning.torch.keras_layout import Slot, linear_layout, linear_slots
from fl_tuning.torch.methods.ptv2 import Prefixes, PTuningV2


class GatedPrefixes(Prefixes):
    def __init__(self, prompt_size, encoder):
        super(GatedPrefixes, self).__init__(prompt_size, encoder)
        self.gate = nn.Linear(encoder.hidden_size, prompt_size)
        self.layer_weight = nn.Parameter(torch.ones(()))

    def scale(self, hidden, mask):
        """lambda * g: [B, P]."""
        mask = mask.to(hidden.dtype)[:, :, None]
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.layer_weight * torch.sigmoid(self.gate(pooled))


class AdaptivePrefixTuning(methods_apt.AdaptivePrefixTuning, PTuningV2):
    layer_part = GatedPrefixes

    def creation_slots(self, encoder, where, index=None):
        slots = super(AdaptivePrefixTuning, self).creation_slots(encoder, where, index)
        if where != 'prefixes':
            return slots
        part = encoder.part(self)[index]
        return slots + linear_slots(part.gate) + [Slot(part.layer_weight, 'ones')]

    def keras_layers(self, encoder):
        gates = [(gate_name(index), linear_layout(part.gate) + [(part.layer_weight, False)])
                 for index, part in enumerate(encoder.part(self))]
        return super(AdaptivePrefixTuning, self).keras_layers(encoder) + gates

    def key_value_prefixes(self, encoder, x, mask, index):
        scale = encoder.part(self)[index].scale(x, mask)[:, None, :, None]
        return tuple(p * scale for p in super(AdaptivePrefixTuning, self).key_value_prefixes(encoder, x, mask, index))
