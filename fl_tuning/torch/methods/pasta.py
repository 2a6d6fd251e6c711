"""PASTA on PyTorch: before every layer's self-attention, the k-th special token
([CLS] or [SEP]) of each sequence gets the layer's k-th learned vector, through
dropout at the hidden rate; occurrences beyond ``slots`` get none."""
import torch
import torch.nn.functional as F
from torch import nn

import fl_tuning.methods.pasta as methods_pasta
from fl_tuning.methods.base import CLS_ID, SEP_ID
from fl_tuning.layer_names import adaptation_name
from fl_tuning.torch.keras_layout import Slot
from fl_tuning.torch.methods.base import TorchMethod


def special_token_occurrences(token_ids, slots):
    """[B, L, slots] one-hot: which slot each special token takes (zero rows elsewhere)."""
    special = (token_ids == CLS_ID) | (token_ids == SEP_ID)
    order = torch.cumsum(special.long(), 1) - 1
    taken = special & (order < slots)
    return F.one_hot(order.clamp(0, slots - 1), slots).float() * taken[:, :, None].float()


class PASTA(methods_pasta.PASTA, TorchMethod):
    def build(self, encoder):
        if self.slots is None:
            raise ValueError('pasta needs its slot count: call prepare() on the data first')
        return nn.ParameterList(nn.Parameter(torch.zeros(self.slots, encoder.hidden_size))
                                for _ in range(encoder.num_hidden_layers))

    def creation_slots(self, encoder, where, index=None):
        return [Slot(encoder.part(self)[index], 'normal')] if where == 'block' else []

    def block_input(self, encoder, x, index, token_ids):
        added = torch.matmul(special_token_occurrences(token_ids, self.slots).to(x.dtype), encoder.part(self)[index])
        return x + encoder.dropout(added, encoder.hidden_dropout)

    def trainable(self, encoder):
        return list(encoder.part(self).parameters())

    def keras_layers(self, encoder):
        return [(adaptation_name(index), [(vectors, False)])
                for index, vectors in enumerate(encoder.part(self))]
