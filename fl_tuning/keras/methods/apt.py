"""Adaptive prefix tuning, APT (Zhang et al., ACL 2023, arXiv 2305.15212): P-tuning v2
prefixes scaled, in every layer l, per prefix token by a gate computed from the
layer's input hidden states and per layer by a learned weight:

    g_l = sigmoid(mean(H_l) W_l + b_l)      (p values; mean over the real tokens)
    K'_l = lambda_l g_l * K_l,  V'_l = lambda_l g_l * V_l   (each prefix token scaled)

With g_l = 1 and lambda_l = 1 this is P-tuning v2 exactly.
"""
from bert4keras.backend import K, keras
from bert4keras.layers import Layer

import fl_tuning.methods.apt as methods_apt
from fl_tuning.layer_names import gate_name
from fl_tuning.keras.methods.ptv2 import PTuningV2


class PrefixGate(Layer):
    """Inputs: hidden states [B, L, d] (with their token mask) and the key and value
    prefixes [B, P, heads, size]; outputs both prefixes scaled by lambda * g."""

    def __init__(self, prompt_size, kernel_initializer='glorot_uniform', **kwargs):
        super(PrefixGate, self).__init__(**kwargs)
        self.prompt_size = prompt_size
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, input_shape):
        super(PrefixGate, self).build(input_shape)
        hidden_size = int(input_shape[0][-1])
        self.kernel = self.add_weight(name='kernel', shape=(hidden_size, self.prompt_size),
                                      initializer=self.kernel_initializer)
        self.bias = self.add_weight(name='bias', shape=(self.prompt_size,), initializer='zeros')
        self.layer_weight = self.add_weight(name='layer_weight', shape=(), initializer='ones')

    def token_gates(self, hidden, mask):
        """g: [B, P], from the mean of the real tokens' hidden states."""
        if mask is None:
            pooled = K.mean(hidden, 1)
        else:
            mask = K.cast(mask, K.floatx())[:, :, None]
            pooled = K.sum(hidden * mask, 1) / K.maximum(K.sum(mask, 1), 1.0)
        return K.sigmoid(K.bias_add(K.dot(pooled, self.kernel), self.bias))

    def call(self, inputs, mask=None):
        hidden, key_prefix, value_prefix = inputs
        self.gates = self.token_gates(hidden, mask[0] if mask else None)
        scale = (self.layer_weight * self.gates)[:, :, None, None]
        return [key_prefix * scale, value_prefix * scale]

    def compute_output_shape(self, input_shape):
        return [input_shape[1], input_shape[2]]

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def get_config(self):
        config = super(PrefixGate, self).get_config()
        config.update({'prompt_size': self.prompt_size,
                       'kernel_initializer': keras.initializers.serialize(self.kernel_initializer)})
        return config


keras.utils.get_custom_objects()['PrefixGate'] = PrefixGate


class AdaptivePrefixTuning(methods_apt.AdaptivePrefixTuning, PTuningV2):
    def key_value_prefixes(self, transformer, x, index):
        prefixes = super(AdaptivePrefixTuning, self).key_value_prefixes(transformer, x, index)
        return tuple(transformer.apply(
            inputs=[x] + list(prefixes),
            layer=PrefixGate,
            prompt_size=self.size,
            kernel_initializer=transformer.initializer,
            name=gate_name(index),
        ))

    def unfreeze(self, transformer):
        super(AdaptivePrefixTuning, self).unfreeze(transformer)
        for index in range(transformer.num_hidden_layers):
            transformer.layers[gate_name(index)].trainable = True

