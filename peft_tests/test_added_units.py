"""FL-tuning's one arithmetic on PyTorch (fl_tuning/torch/added_units.py): the faithful
port's unit (fl_tuning.torch.methods.fl.AddedUnits, beside the pretrained layer) and the
fold the peft method merges with compute the same feed-forward layer."""
import torch
from torch import nn

from fl_tuning.torch.added_units import widened_inputs, widened_outputs, zero_units
from fl_tuning.torch.methods.fl import AddedUnits


def test_the_faithful_unit_and_the_fold_are_one_feed_forward_layer():
    torch.manual_seed(0)
    first, last, activation = nn.Linear(8, 11), nn.Linear(11, 8), nn.GELU()
    before = [p.detach().clone() for p in (first.weight, first.bias, last.weight, last.bias)]
    units = AddedUnits(first, last, 3, activation)
    x = torch.randn(2, 5, 8)
    beside = last(activation(first(x))) + units(x)
    wide_first, wide_last = widened_outputs(first, [units.units_in]), widened_inputs(last, [units.units_out])
    assert (wide_first.out_features, wide_last.in_features) == (14, 14)
    assert float((wide_last(activation(wide_first(x))) - beside).abs().max()) <= 1e-6
    assert all(torch.equal(p, q) for p, q in zip((first.weight, first.bias, last.weight, last.bias), before))


def test_zero_units_widen_without_changing_the_outputs():
    torch.manual_seed(0)
    first, last, activation = nn.Linear(8, 11), nn.Linear(11, 8), nn.SiLU()
    x = torch.randn(2, 5, 8)
    wide_first = widened_outputs(first, [zero_units(first, 4, 'in')])
    wide_last = widened_inputs(last, [zero_units(last, 4, 'out')])
    # zeros are added: equal up to the summation order of a longer product
    assert float((wide_last(activation(wide_first(x))) - last(activation(first(x)))).abs().max()) <= 1e-6
