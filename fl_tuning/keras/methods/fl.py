"""FL-tuning on Keras: every block's FeedForward widened by the added units.

bert4keras 0.10.8 loads a layer's checkpoint variables by zipping the mapped names
with ``layer.trainable_weights`` in order, so the widened layer keeps the pretrained
weights first and adds its own after them.
"""
import numpy as np
from bert4keras.backend import K, keras
from bert4keras.layers import Dense, FeedForward

import fl_tuning.methods.fl as methods_fl
from fl_tuning.keras.methods.base import KerasMethod
from fl_tuning.layer_names import feed_forward_name


class WidenedFeedForward(FeedForward):
    """bert4keras FeedForward with ``extra_units`` added hidden units (FL-tuning).

    Computes ``act(x W1 + b1) W2 + b2 + act(x U1 + c1) U2 + c2``: the pretrained
    FFN widened from ``units`` to ``units + extra_units`` hidden units, where the
    added part keeps its own output bias ``c2`` as in the original code.

    ``fused=True`` concatenates the kernels and runs one wide matmul per side;
    ``fused=False`` runs the two parts side by side and sums them, which is the
    original's exact order of operations and skips the weight gradient of the
    frozen slice (see benchmarks/training_step.py for the figures).
    """

    def __init__(self, units, extra_units, fused=False, **kwargs):
        super(WidenedFeedForward, self).__init__(units, **kwargs)
        if len(self.activation) != 1:
            raise ValueError('WidenedFeedForward supports a single activation, not a GLU')
        self.extra_units = extra_units
        self.fused = fused

    def build(self, input_shape):
        # The pretrained sublayers are created first so that they come first in
        # trainable_weights, which is what the checkpoint loader zips against.
        super(WidenedFeedForward, self).build(input_shape)
        input_dim = int(input_shape[-1])
        self.added_units_in = Dense(
            units=self.extra_units,
            activation=self.activation[0],
            kernel_initializer=self.kernel_initializer,
            name='added_units_in',
        )
        self.added_units_out = Dense(
            units=input_dim,
            kernel_initializer=self.kernel_initializer,
            name='added_units_out',
        )
        # Built here rather than on first call: the fused form reads the kernels.
        for layer, layer_input_dim in ((self.i0_dense, input_dim),
                                       (self.o_dense, self.units),
                                       (self.added_units_in, input_dim),
                                       (self.added_units_out, self.extra_units)):
            with K.name_scope(layer.name):
                layer.build((None, layer_input_dim))
            layer.built = True

    @property
    def pretrained_sublayers(self):
        return [self.i0_dense, self.o_dense]

    @property
    def checkpoint_weights(self):
        """The pretrained W1, b1, W2, b2, in the order bert4keras loads them."""
        return [w for layer in self.pretrained_sublayers for w in (layer.kernel, layer.bias)]

    @property
    def added_sublayers(self):
        return [self.added_units_in, self.added_units_out]

    def freeze_pretrained(self):
        """Train only the added units; the pretrained W1, b1, W2, b2 stay fixed."""
        self.trainable = True
        for layer in self.pretrained_sublayers:
            layer.trainable = False
        for layer in self.added_sublayers:
            layer.trainable = True

    def call(self, inputs):
        if not self.fused:
            pretrained = self.o_dense(self.i0_dense(inputs))
            added = self.added_units_out(self.added_units_in(inputs))
            return pretrained + added
        kernel_in = K.concatenate([self.i0_dense.kernel, self.added_units_in.kernel], 1)
        bias_in = K.concatenate([self.i0_dense.bias, self.added_units_in.bias], 0)
        hidden = self.activation[0](K.bias_add(K.dot(inputs, kernel_in), bias_in))
        kernel_out = K.concatenate([self.o_dense.kernel, self.added_units_out.kernel], 0)
        bias_out = self.o_dense.bias + self.added_units_out.bias
        return K.bias_add(K.dot(hidden, kernel_out), bias_out)

    def get_config(self):
        config = super(WidenedFeedForward, self).get_config()
        config.update({'extra_units': self.extra_units, 'fused': self.fused})
        return config


keras.utils.get_custom_objects()['WidenedFeedForward'] = WidenedFeedForward


class FLTuning(methods_fl.FLTuning, KerasMethod):
    def feed_forward(self, transformer):
        return WidenedFeedForward, {'extra_units': self.size, 'fused': transformer.fused_feed_forward}

    def unfreeze(self, transformer):
        for index in range(transformer.num_hidden_layers):
            transformer.layers[feed_forward_name(index)].freeze_pretrained()

    def fold(self, transformer, config, variables):
        """The feed-forward layer F + k wide: kernels [W1 | U1] and [W2 ; U2], biases
        [b1 | c1] and b2 + c2."""
        config['intermediate_size'] += self.size
        mapping = transformer.variable_mapping()
        for index in range(transformer.num_hidden_layers):
            name = feed_forward_name(index)
            kernel_in, bias_in, kernel_out, bias_out = mapping[name]
            layer = transformer.layers[name]
            u1, c1, u2, c2 = K.batch_get_value([w for sub in layer.added_sublayers for w in (sub.kernel, sub.bias)])
            variables[kernel_in] = np.concatenate([variables[kernel_in], u1], 1)
            variables[bias_in] = np.concatenate([variables[bias_in], c1], 0)
            variables[kernel_out] = np.concatenate([variables[kernel_out], u2], 0)
            variables[bias_out] = variables[bias_out] + c2
