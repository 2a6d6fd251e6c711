"""PASTA (Yang et al., EACL 2023, arXiv 2210.04382): in every layer, before its
self-attention, a learned vector is added to the hidden state of each special
token ([CLS] and every [SEP]); occurrences are numbered in order, each with its own
vector, and the vector passes through dropout at the hidden dropout rate.

The occurrences are found in each batch's token ids, so single texts, pairs, every
choice of a multiple-choice example, cmrc2018 windows, padded and truncated
sequences all need nothing of the task. ``slots`` (vectors per layer) is the most
special tokens any sequence of the run's data holds; an occurrence beyond it (a
longer test input) gets no vector.
"""
from bert4keras.backend import K, keras
from bert4keras.layers import Layer

import fl_tuning.methods.pasta as methods_pasta
from fl_tuning.backbones import INITIALIZER_STDDEV
from fl_tuning.keras.methods.base import KerasMethod
from fl_tuning.layer_names import adaptation_name
from fl_tuning.methods.base import CLS_ID, SEP_ID


def special_token_occurrences(token_ids, slots):
    """[B, L, slots] one-hot: which slot each special token takes (zero rows elsewhere)."""
    ids = K.cast(token_ids, 'int32')
    special = K.cast(K.equal(ids, CLS_ID) | K.equal(ids, SEP_ID), 'int32')
    order = K.cumsum(special, 1) - 1
    return K.one_hot(order, slots) * K.cast(special, K.floatx())[:, :, None]


class SpecialTokenAdaptation(Layer):
    """Inputs: hidden states [B, L, d] and the token ids [B, L]."""

    def __init__(self, slots, rate, **kwargs):
        super(SpecialTokenAdaptation, self).__init__(**kwargs)
        self.slots, self.rate = slots, rate

    def build(self, input_shape):
        super(SpecialTokenAdaptation, self).build(input_shape)
        self.vectors = self.add_weight(
            name='vectors', shape=(self.slots, int(input_shape[0][-1])),
            initializer=keras.initializers.RandomNormal(stddev=INITIALIZER_STDDEV))

    def call(self, inputs):
        hidden, token_ids = inputs
        added = K.dot(special_token_occurrences(token_ids, self.slots), self.vectors)
        if self.rate:
            added = K.in_train_phase(lambda: K.dropout(added, self.rate), added)
        return hidden + added

    def compute_mask(self, inputs, mask=None):
        return mask[0] if mask else None

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        config = super(SpecialTokenAdaptation, self).get_config()
        config.update({'slots': self.slots, 'rate': self.rate})
        return config


keras.utils.get_custom_objects()['SpecialTokenAdaptation'] = SpecialTokenAdaptation


class PASTA(methods_pasta.PASTA, KerasMethod):
    def block_input(self, transformer, x, index):
        if self.slots is None:
            raise ValueError('pasta needs its slot count: call prepare() on the data first')
        return transformer.apply(inputs=[x, transformer.inputs[0]], layer=SpecialTokenAdaptation,
                                 slots=self.slots, rate=transformer.dropout_rate,
                                 name=adaptation_name(index))

    def unfreeze(self, transformer):
        for index in range(transformer.num_hidden_layers):
            transformer.layers[adaptation_name(index)].trainable = True
