"""Shallow prompt tuning (Lester et al. 2021), the paper's other prompt baseline:
``prompt_size`` learned vectors enter at the input only; the backbone is frozen.

The vectors are put before the embedding stage's output (after its LayerNorm and
dropout), so every real token enters the first block exactly as without them: on
BERT the real tokens keep their absolute positions 0..n-1 and the vectors get none;
on NEZHA and RoFormer, whose positions are relative, the vectors take positions
0..P-1 of the lengthened sequence and distances between real tokens do not change.
After the last block the vectors' positions are dropped again, so the task heads
read exactly the real tokens (cluener and cmrc2018 spans line up as before).
"""
from bert4keras.backend import K, keras
from bert4keras.layers import Layer

import fl_tuning.methods.prompt as methods_prompt
from fl_tuning.keras.methods.base import KerasMethod

INPUT_PROMPT_NAME = 'Input-Prompt'
PROMPT_STRIP_NAME = 'Input-Prompt-Strip'


class InputPrompt(Layer):
    """[B, L, d] -> [B, P + L, d]: learned vectors first, always valid in the mask."""

    def __init__(self, prompt_size, embeddings_initializer='glorot_uniform', **kwargs):
        super(InputPrompt, self).__init__(**kwargs)
        self.prompt_size = prompt_size
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        super(InputPrompt, self).build(input_shape)
        self.embeddings = self.add_weight(name='embeddings', shape=(self.prompt_size, int(input_shape[-1])),
                                          initializer=self.embeddings_initializer)

    def call(self, inputs):
        prompts = K.tile(self.embeddings[None], [K.shape(inputs)[0], 1, 1])
        return K.concatenate([prompts, inputs], 1)

    def compute_mask(self, inputs, mask=None):
        if mask is None:
            return None
        valid = K.ones(K.stack([K.shape(mask)[0], self.prompt_size]), dtype='bool')
        return K.concatenate([valid, K.cast(mask, 'bool')], 1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + self.prompt_size
        return (input_shape[0], length, input_shape[2])

    def get_config(self):
        config = super(InputPrompt, self).get_config()
        config.update({'prompt_size': self.prompt_size,
                       'embeddings_initializer': keras.initializers.serialize(self.embeddings_initializer)})
        return config


class PromptStrip(Layer):
    """Drops the first ``prompt_size`` positions of a sequence and of its mask."""

    def __init__(self, prompt_size, **kwargs):
        super(PromptStrip, self).__init__(**kwargs)
        self.prompt_size = prompt_size

    def call(self, inputs):
        return inputs[:, self.prompt_size:]

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[:, self.prompt_size:]

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] - self.prompt_size
        return (input_shape[0], length) + tuple(input_shape[2:])

    def get_config(self):
        config = super(PromptStrip, self).get_config()
        config['prompt_size'] = self.prompt_size
        return config


class PadAttentionBias(Layer):
    """[B, 1, L, L] -> [B, 1, P + L, P + L] with zeros: the vectors see and are seen by
    every token (the UniLM rule with the vectors in segment 0)."""

    def __init__(self, prompt_size, **kwargs):
        super(PadAttentionBias, self).__init__(**kwargs)
        self.prompt_size = prompt_size

    def call(self, inputs):
        return K.spatial_2d_padding(inputs, ((self.prompt_size, 0), (self.prompt_size, 0)),
                                    data_format='channels_first')

    def compute_output_shape(self, input_shape):
        grow = lambda n: None if n is None else n + self.prompt_size  # noqa: E731
        return (input_shape[0], input_shape[1], grow(input_shape[2]), grow(input_shape[3]))

    def get_config(self):
        config = super(PadAttentionBias, self).get_config()
        config['prompt_size'] = self.prompt_size
        return config


keras.utils.get_custom_objects().update(
    {'InputPrompt': InputPrompt, 'PromptStrip': PromptStrip, 'PadAttentionBias': PadAttentionBias})


class PromptTuning(methods_prompt.PromptTuning, KerasMethod):
    output_layer = PROMPT_STRIP_NAME

    def embedding_output(self, transformer, x):
        return transformer.apply(inputs=x, layer=InputPrompt, prompt_size=self.size,
                                 embeddings_initializer=transformer.initializer,
                                 name=INPUT_PROMPT_NAME)

    def attention_bias(self, transformer, bias):
        return transformer.apply(inputs=bias, layer=PadAttentionBias, prompt_size=self.size,
                                 name='Attention-Bias-Prompt-Padding')

    def encoder_output(self, transformer, x):
        return transformer.apply(inputs=x, layer=PromptStrip, prompt_size=self.size,
                                 name=PROMPT_STRIP_NAME)

    def unfreeze(self, transformer):
        transformer.layers[INPUT_PROMPT_NAME].trainable = True
