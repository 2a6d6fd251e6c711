"""FL-tuning on PyTorch: every block's feed-forward layer gets added hidden units,
``act(x U1 + c1) U2 + c2``, summed with the pretrained ``act(x W1 + b1) W2 + b2``
(the Keras side's unfused order; no gradient flows into the frozen W1, W2). The units
and their fold are fl_tuning.torch.added_units, shared with the peft method."""
from torch import nn

import fl_tuning.methods.fl as methods_fl
from fl_tuning.torch.added_units import units_in, units_out
from fl_tuning.torch.encoder import linear_layout, linear_slots
from fl_tuning.torch.methods.base import TorchMethod


class AddedUnits(nn.Module):
    """One block's added units beside its feed-forward linears ``first`` and ``last``."""

    def __init__(self, first, last, units, activation):
        super(AddedUnits, self).__init__()
        self.units_in = units_in(first, units)
        self.units_out = units_out(last, units)
        self.activation = activation

    def forward(self, x):
        return self.units_out(self.activation(self.units_in(x)))


class FLTuning(methods_fl.FLTuning, TorchMethod):
    def build(self, encoder):
        return nn.ModuleList(AddedUnits(layer.intermediate.dense, layer.output.dense, self.size,
                                        layer.intermediate.intermediate_act_fn)
                             for layer in encoder.model.encoder.layer)

    def creation_slots(self, encoder, where, index=None):
        if where != 'feed_forward':
            return []
        units = encoder.part(self)[index]
        return linear_slots(units.units_in) + linear_slots(units.units_out)

    def feed_forward_branch(self, encoder, x, index):
        return encoder.part(self)[index](x)

    def trainable(self, encoder):
        return list(encoder.part(self).parameters())

    def keras_layers(self, encoder):
        return [('Transformer-%d-FeedForward' % index, linear_layout(units.units_in) + linear_layout(units.units_out))
                for index, units in enumerate(encoder.part(self))]
