"""FL-tuning on PyTorch: every block's feed-forward layer gets added hidden units,
``act(x U1 + c1) U2 + c2``, summed with the pretrained ``act(x W1 + b1) W2 + b2``
(the Keras side's unfused order; no gradient flows into the frozen W1, W2). The units
and their fold are fl_tuning.torch.added_units, shared with the peft method."""
from torch import nn

import fl_tuning.methods.fl as methods_fl
from fl_tuning.layer_names import feed_forward_name
from fl_tuning.torch.added_units import units_in, units_out, widened_inputs, widened_outputs
from fl_tuning.torch.keras_layout import linear_layout, linear_slots
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

    def fold(self, encoder, config, weights):
        """The feed-forward layer F + k wide (fl_tuning.torch.added_units' fold)."""
        config['intermediate_size'] += self.size
        for index, (layer, units) in enumerate(zip(encoder.model.encoder.layer, encoder.part(self))):
            for name, wide in (('intermediate.dense', widened_outputs(layer.intermediate.dense, [units.units_in])),
                               ('output.dense', widened_inputs(layer.output.dense, [units.units_out]))):
                weights['encoder.layer.%d.%s.weight' % (index, name)] = wide.weight
                weights['encoder.layer.%d.%s.bias' % (index, name)] = wide.bias

    def keras_layers(self, encoder):
        return [(feed_forward_name(index), linear_layout(units.units_in) + linear_layout(units.units_out))
                for index, units in enumerate(encoder.part(self))]
