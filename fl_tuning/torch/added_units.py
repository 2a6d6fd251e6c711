"""FL-tuning's added units on PyTorch, one arithmetic for the faithful port's unit
(fl_tuning.torch.methods.fl) and the peft method (fl_tuning.torch.peft_method):

    FFN(x) = W2 act(W1 x + b1) + b2  +  U2 act(U1 x + c1) + c2

The input side (U1, c1) gives a feed-forward layer's first linear k more outputs, the
output side (U2, c2) its last linear k more inputs; folded, the layer is F + k wide:
[W1; U1], [b1; c1], [W2 | U2], b2 + c2 (what ``export`` writes). A gated MLP (LLaMA:
W_down (act(W_gate x) * W_up x)) gives both of its input linears k more rows. A side
has a bias where the pretrained linear has one, so that a fold stays exact.
"""
import torch
from torch import nn

from fl_tuning.backbones import INITIALIZER_STDDEV


def truncated_normal_(weight):
    """bert4keras' initializer (TruncatedNormal(stddev=0.02): redrawn beyond 2 stddev),
    drawn in float32 whatever the weight's dtype."""
    value = torch.empty(weight.shape, dtype=torch.float32, device=weight.device)
    nn.init.trunc_normal_(value, std=INITIALIZER_STDDEV, a=-2 * INITIALIZER_STDDEV, b=2 * INITIALIZER_STDDEV)
    with torch.no_grad():
        weight.copy_(value)


def new_linear(in_features, out_features, like):
    """An nn.Linear on ``like``'s device and dtype, with a bias where ``like`` has one."""
    return nn.Linear(in_features, out_features, bias=like.bias is not None,
                     device=like.weight.device, dtype=like.weight.dtype)


def units_in(linear, units):
    """The added units' input side beside ``linear`` (a first linear): the faithful
    port's initial values (weights drawn, bias zero)."""
    added = new_linear(linear.in_features, units, linear)
    truncated_normal_(added.weight)
    if added.bias is not None:
        nn.init.zeros_(added.bias)
    return added


def units_out(linear, units, zero=False):
    """The added units' output side beside ``linear`` (the last linear); ``zero``: output
    weights zero, so that untouched units leave the layer as it was."""
    added = new_linear(units, linear.out_features, linear)
    if zero:
        nn.init.zeros_(added.weight)
    else:
        truncated_normal_(added.weight)
    if added.bias is not None:
        nn.init.zeros_(added.bias)
    return added


def widened_outputs(linear, added):
    """``linear`` with the rows of each of ``added`` (input sides) appended: a new Linear
    in ``linear``'s dtype; ``linear`` itself is left as it is."""
    dtype = linear.weight.dtype
    wide = new_linear(linear.in_features, linear.out_features + sum(a.out_features for a in added), linear)
    with torch.no_grad():
        wide.weight.copy_(torch.cat([linear.weight] + [a.weight.to(dtype) for a in added], 0))
        if wide.bias is not None:
            wide.bias.copy_(torch.cat([linear.bias] + [a.bias.to(dtype) for a in added], 0))
    return wide


def widened_inputs(linear, added):
    """``linear`` with the columns of each of ``added`` (output sides) appended and their
    biases summed into its own: a new Linear; ``linear`` is left as it is."""
    dtype = linear.weight.dtype
    wide = new_linear(linear.in_features + sum(a.in_features for a in added), linear.out_features, linear)
    with torch.no_grad():
        wide.weight.copy_(torch.cat([linear.weight] + [a.weight.to(dtype) for a in added], 1))
        if wide.bias is not None:
            wide.bias.copy_(sum((a.bias.to(dtype) for a in added), linear.bias))
    return wide


def zero_units(linear, units, side):
    """Units whose every weight and bias is zero: a fold of them adds zeros to every
    output (up to float rounding of the longer sums)."""
    added = units_in(linear, units) if side == 'in' else units_out(linear, units)
    with torch.no_grad():
        for parameter in added.parameters():
            parameter.zero_()
    return added
