"""Keras layers for learned attention prefixes (P-tuning v2 and APT) on the three
backbones' attention forms."""
import tensorflow as tf
from bert4keras.backend import K, keras, sequence_masking
from bert4keras.layers import Dropout, Layer, MultiHeadAttention

# The original's prompt layer hard-codes this rate instead of reading the config.
PREFIX_DROPOUT_RATE = 0.1


class PromptEmbedding(Layer):
    """Learnable per-head prefix vectors (P-tuning v2), tiled over the batch.

    The input is only used for its batch size. The output ``[B, P, heads, size]``
    goes through dropout at the original's fixed rate, in training only.
    """

    def __init__(self, prompt_size, heads, head_size,
                 embeddings_initializer='glorot_uniform', **kwargs):
        super(PromptEmbedding, self).__init__(**kwargs)
        self.prompt_size = prompt_size
        self.heads = heads
        self.head_size = head_size
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)

    def build(self, input_shape):
        super(PromptEmbedding, self).build(input_shape)
        self.embeddings = self.add_weight(
            name='prompt_embedding',
            shape=(self.prompt_size, self.heads, self.head_size),
            initializer=self.embeddings_initializer,
        )

    def call(self, inputs):
        batch_size = K.shape(inputs)[0]
        prefixes = K.tile(self.embeddings[None], [batch_size, 1, 1, 1])
        return K.in_train_phase(
            lambda: K.dropout(prefixes, PREFIX_DROPOUT_RATE), prefixes
        )

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.prompt_size, self.heads, self.head_size)

    def get_config(self):
        config = super(PromptEmbedding, self).get_config()
        config.update({
            'prompt_size': self.prompt_size,
            'heads': self.heads,
            'head_size': self.head_size,
            'embeddings_initializer':
                keras.initializers.serialize(self.embeddings_initializer),
        })
        return config


class PrefixAttention(MultiHeadAttention):
    """bert4keras MultiHeadAttention whose keys and values get learned prefixes.

    Called with ``prefix=True``; the last two inputs are the key and value prefixes
    ``[B, P, heads, size]``. Prefix keys come first on the key axis, are never masked
    and get zero attention bias. Per backbone, as in the original code:
    ``typical_relative`` (NEZHA) gives prefix keys and values zero relative-position
    vectors; ``rotary`` (RoFormer) rotates queries and sequence keys but not prefix keys.
    """

    def pay_attention_to(self, inputs, mask=None, **kwargs):
        (qw, kw, vw), n = inputs[:3], 3
        key_prefix, value_prefix = inputs[-2:]
        q_mask, v_mask = mask
        a_bias, p_bias = kwargs.get('a_bias'), kwargs.get('p_bias')
        if a_bias:
            a_bias = inputs[n]
            n += 1
        position_bias = inputs[n] if p_bias in ('typical_relative', 'rotary') else None
        if p_bias == 'rotary':
            qw = rotate(qw, position_bias)
            kw = rotate(kw, position_bias)
        prompt_size = K.shape(key_prefix)[1]
        kw = K.concatenate([key_prefix, kw], 1)
        vw = K.concatenate([value_prefix, vw], 1)

        a = tf.einsum('bjhd,bkhd->bhjk', qw, kw)
        if p_bias == 'typical_relative':
            seq_len = K.shape(position_bias)[0]
            prefix_positions = K.zeros(
                K.stack([seq_len, prompt_size, K.shape(position_bias)[2]])
            )
            position_bias = K.concatenate([prefix_positions, position_bias], 1)
            a = a + tf.einsum('bjhd,jkd->bhjk', qw, position_bias)
        if self.attention_scale:
            a = a / self.key_size**0.5
        if a_bias is not None:
            a_shape = K.shape(a_bias)
            prefix_bias = K.zeros(K.stack([a_shape[0], a_shape[1], a_shape[2], prompt_size]))
            a = a + K.concatenate([prefix_bias, a_bias], 3)
        if v_mask is not None:
            prefix_mask = K.ones(K.stack([K.shape(v_mask)[0], prompt_size]))
            v_mask = K.concatenate([prefix_mask, K.cast(v_mask, K.floatx())], 1)
        a = sequence_masking(a, v_mask, '-inf', -1)
        A = K.softmax(a)
        if self.attention_dropout:
            A = Dropout(self.attention_dropout)(A)
        o = tf.einsum('bhjk,bkhd->bjhd', A, vw)
        if p_bias == 'typical_relative':
            o = o + tf.einsum('bhjk,jkd->bjhd', A, position_bias)
        return o, a


def rotate(x, sinusoids):
    """Rotary position embedding of ``x`` [B, L, heads, size] (adjacent pairs)."""
    cos_pos = K.repeat_elements(sinusoids[..., None, 1::2], 2, -1)
    sin_pos = K.repeat_elements(sinusoids[..., None, ::2], 2, -1)
    x2 = K.stack([-x[..., 1::2], x[..., ::2]], 4)
    x2 = K.reshape(x2, K.shape(x))
    return x * cos_pos + x2 * sin_pos


keras.utils.get_custom_objects().update({
    'PromptEmbedding': PromptEmbedding,
    'PrefixAttention': PrefixAttention,
})
