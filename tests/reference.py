"""An independent NumPy re-implementation of the original model (ORIGINAL_SPEC §3-7).

It reads the pretrained weights straight from the checkpoint and the tuned weights
from the Keras layers, and computes the last block's output in inference mode.
"""
import numpy as np
import tensorflow as tf
from scipy.special import erf

NEG_INF = -1e12


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))


def layer_norm(x, gamma, beta):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + 1e-12) * gamma + beta


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sinusoid_table(positions, depth):
    """Rows [sin, cos] interleaved: T[p, 2r] = sin(p w_r), T[p, 2r+1] = cos(p w_r)."""
    w = np.power(10000.0, -2.0 * np.arange(depth // 2) / depth)
    angles = np.asarray(positions, dtype='float64')[:, None] * w[None]
    return np.stack([np.sin(angles), np.cos(angles)], -1).reshape(len(positions), depth)


def rotate(x, table):
    """Rotary embedding of x [B, L, H, d] with table [L, d]."""
    cos = np.repeat(table[:, 1::2], 2, -1)[None, :, None]
    sin = np.repeat(table[:, ::2], 2, -1)[None, :, None]
    x2 = np.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)
    return x * cos + x2 * sin


class ReferenceModel(object):
    def __init__(self, backbone, config, checkpoint_path, keep_tokens=None):
        self.backbone = backbone
        self.config = config
        reader = tf.train.load_checkpoint(checkpoint_path)
        self.w = {name: reader.get_tensor(name).astype('float64')
                  for name in reader.get_variable_to_shape_map()}
        self.keep_tokens = keep_tokens
        self.added_units = {}  # layer index -> (U1, c1, U2, c2)
        self.prefixes = {}  # layer index -> (Pk [P, H, d], Pv [P, H, d])

    def take_tuned_weights(self, transformer):
        """Copy the FL units and prefixes of a built fl_tuning model."""
        for i in range(self.config['num_hidden_layers']):
            layer = transformer.layers['Transformer-%d-FeedForward' % i]
            if hasattr(layer, 'added_units_in'):
                u1, c1 = layer.added_units_in.get_weights()
                u2, c2 = layer.added_units_out.get_weights()
                self.added_units[i] = (u1, c1, u2, c2)
            key = 'Transformer-%d-MultiHeadSelfAttention-Key-PromptEmbedding' % i
            if key in transformer.layers:
                value = key.replace('-Key-', '-Value-')
                self.prefixes[i] = (transformer.layers[key].get_weights()[0],
                                    transformer.layers[value].get_weights()[0])

    def __call__(self, token_ids, segment_ids):
        w, cfg = self.w, self.config
        token_ids, segment_ids = np.asarray(token_ids), np.asarray(segment_ids)
        batch, length = token_ids.shape
        table = w['bert/embeddings/word_embeddings']
        if self.keep_tokens is not None:
            table = table[self.keep_tokens]
        x = table[token_ids] + w['bert/embeddings/token_type_embeddings'][segment_ids]
        if self.backbone == 'bert':
            x = x + w['bert/embeddings/position_embeddings'][:length][None]
        x = layer_norm(x, w['bert/embeddings/LayerNorm/gamma'], w['bert/embeddings/LayerNorm/beta'])
        mask = token_ids != 0
        mask[:, 0] = True
        cumulative = np.cumsum(segment_ids, 1)
        unilm_bias = np.where(cumulative[:, None, :] <= cumulative[:, :, None], 0.0, NEG_INF)
        for i in range(cfg['num_hidden_layers']):
            x = self.block(i, x, mask, unilm_bias[:, None])
        return x

    def block(self, i, x, mask, bias):
        w, cfg = self.w, self.config
        p = 'bert/encoder/layer_%d/' % i
        heads = cfg['num_attention_heads']
        d = cfg['hidden_size'] // heads
        batch, length, _ = x.shape

        def project(name):
            y = x @ w[p + 'attention/self/%s/kernel' % name] + w[p + 'attention/self/%s/bias' % name]
            return y.reshape(batch, length, heads, d)

        q, k, v = project('query'), project('key'), project('value')
        if self.backbone == 'roformer':
            table = sinusoid_table(np.arange(length), d)
            q, k = rotate(q, table), rotate(k, table)
        prompt = 0
        key_mask = mask
        if i in self.prefixes:
            pk, pv = self.prefixes[i]
            prompt = pk.shape[0]
            k = np.concatenate([np.broadcast_to(pk, (batch,) + pk.shape), k], 1)
            v = np.concatenate([np.broadcast_to(pv, (batch,) + pv.shape), v], 1)
            key_mask = np.concatenate([np.ones((batch, prompt), bool), mask], 1)
            bias = np.concatenate([np.zeros(bias.shape[:3] + (prompt,)), bias], 3)
        scores = np.einsum('bjhd,bkhd->bhjk', q, k)
        if self.backbone == 'nezha':
            relative = np.arange(length)[None, :] - np.arange(length)[:, None]
            table = sinusoid_table(np.arange(129), d)
            positions = table[np.clip(relative, -64, 64) + 64]
            positions = np.concatenate([np.zeros((length, prompt, d)), positions], 1)
            scores = scores + np.einsum('bjhd,jkd->bhjk', q, positions)
        scores = scores / np.sqrt(d) + bias
        keep = key_mask[:, None, None, :]
        scores = np.where(keep, scores, NEG_INF)
        probs = softmax(scores)
        out = np.einsum('bhjk,bkhd->bjhd', probs, v)
        if self.backbone == 'nezha':
            out = out + np.einsum('bhjk,jkd->bjhd', probs, positions)
        out = out.reshape(batch, length, heads * d)
        out = out @ w[p + 'attention/output/dense/kernel'] + w[p + 'attention/output/dense/bias']
        x1 = layer_norm(x + out, w[p + 'attention/output/LayerNorm/gamma'],
                        w[p + 'attention/output/LayerNorm/beta'])
        hidden = gelu(x1 @ w[p + 'intermediate/dense/kernel'] + w[p + 'intermediate/dense/bias'])
        f = hidden @ w[p + 'output/dense/kernel'] + w[p + 'output/dense/bias']
        if i in self.added_units:
            u1, c1, u2, c2 = self.added_units[i]
            f = f + gelu(x1 @ u1 + c1) @ u2 + c2
        return layer_norm(x1 + f, w[p + 'output/LayerNorm/gamma'], w[p + 'output/LayerNorm/beta'])
