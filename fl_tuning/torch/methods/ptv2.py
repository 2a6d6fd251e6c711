"""P-tuning v2 on PyTorch: a learned key and value prefix per attention layer, through
dropout at the original's fixed rate in training (per batch row, as the Keras side
tiles then drops)."""
import torch
from torch import nn

import fl_tuning.methods.ptv2 as methods_ptv2
from fl_tuning.layer_names import prefix_name
from fl_tuning.torch.keras_layout import Slot
from fl_tuning.torch.methods.base import TorchMethod

# The original's prompt layer hard-codes this rate instead of reading the config.
PREFIX_DROPOUT_RATE = 0.1


class Prefixes(nn.Module):
    """Key and value prefixes of one layer, [P, heads, size] as on the Keras side."""

    def __init__(self, prompt_size, encoder):
        super(Prefixes, self).__init__()
        heads = encoder.num_attention_heads
        self.key = nn.Parameter(torch.zeros(prompt_size, heads, encoder.attention_key_size))
        self.value = nn.Parameter(torch.zeros(prompt_size, heads, encoder.attention_head_size))


class PTuningV2(methods_ptv2.PTuningV2, TorchMethod):
    layer_part = Prefixes

    def build(self, encoder):
        return nn.ModuleList(self.layer_part(self.size, encoder) for _ in range(encoder.num_hidden_layers))

    def creation_slots(self, encoder, where, index=None):
        if where != 'prefixes':
            return []
        part = encoder.part(self)[index]
        return [Slot(part.key, 'truncated_normal'), Slot(part.value, 'truncated_normal')]

    def key_value_prefixes(self, encoder, x, mask, index):
        part = encoder.part(self)[index]
        rows = x.shape[0] if encoder.training and encoder.dropout_enabled else 1
        return tuple(encoder.dropout(p[None].expand(rows, -1, -1, -1), PREFIX_DROPOUT_RATE).transpose(1, 2)
                     for p in (part.key, part.value))

    def trainable(self, encoder):
        return list(encoder.part(self).parameters())

    def keras_layers(self, encoder):
        layers = []
        for index, part in enumerate(encoder.part(self)):
            layers += [(prefix_name(index, 'Key'), [(part.key, False)]),
                       (prefix_name(index, 'Value'), [(part.value, False)])]
        return layers
