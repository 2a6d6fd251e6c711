"""The tuned encoder on PyTorch: a transformers backbone's own modules and weights, run
by one forward written here with the extension points of the Keras side
(fl_tuning.keras.models.TunedTransformer), so that every method adds its parts in the
same places and the arithmetic is bert4keras': the embedding stage, the UniLM
attention bias from the segment ids, each block's input, the key/value prefixes and
the feed-forward layer of each block, the encoder's output.

Positions per backbone, as bert4keras: BERT adds absolute position embeddings; NEZHA
adds relative position vectors (a fixed sinusoid table, distances clipped at 64) to
the attention logits and outputs; RoFormer rotates queries and keys.
"""
import math
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from fl_tuning.backbones import NEZHA_MAX_RELATIVE_POSITION

# bert4keras' K.infinity(): what masked attention logits and pointer cells get.
MASKED = -1e12


def relative_position_table(max_relative, depth):
    """bert4keras' Sinusoidal initializer of NEZHA's relative positions (computed in
    float64, stored in float32): row p is distance p - max_relative."""
    positions = np.arange(2 * max_relative + 1)[:, None]
    theta = positions / np.power(10000, 2. * np.arange(depth // 2) / depth)
    table = np.zeros((2 * max_relative + 1, depth))
    table[:, 0::2], table[:, 1::2] = np.sin(theta), np.cos(theta)
    return table.astype(np.float32)


def sinusoids(length, dim, device):
    """bert4keras' SinusoidalPositionEmbedding ('zero' mode): [L, dim], sin and cos
    interleaved, computed in float32."""
    positions = torch.arange(length, dtype=torch.float32, device=device)
    frequencies = torch.pow(10000.0, -2 * torch.arange(dim // 2, dtype=torch.float32, device=device) / dim)
    angles = positions[:, None] * frequencies[None]
    return torch.stack([torch.sin(angles), torch.cos(angles)], -1).reshape(length, dim)


def rotate(x, table):
    """Rotary position embedding of ``x`` by ``table`` (sinusoids of its positions,
    broadcast against it: [L, d] for [..., L, d]), rotating adjacent pairs."""
    cos = table[..., 1::2].repeat_interleave(2, -1)
    sin = table[..., ::2].repeat_interleave(2, -1)
    pairs = torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)
    return x * cos + pairs * sin


def cpu_dropout(x, rate, generator, first_row=0, rows=None):
    """Inverted dropout from NumPy's PCG64 bits: on a CPU several times faster than torch's
    Bernoulli draws (which took a fifth of a training step). A unit is dropped when its
    16 random bits fall below round(rate * 65536): the rate to within 1/65536. ``x`` holds
    rows ``first_row`` onwards of a batch of ``rows`` (a process's share): the bits are
    drawn for the whole batch, so that the share's mask is the one-process mask's rows."""
    rows = x.shape[0] if rows is None else rows
    bits = np.frombuffer(generator.bytes(2 * rows * (x.numel() // x.shape[0])), np.int16).reshape(
        (rows,) + tuple(x.shape[1:]))[first_row:first_row + x.shape[0]]
    limit = -32768 + int(round(rate * 65536))
    return torch.where(torch.from_numpy(bits.copy()) >= limit, x * (1.0 / (1.0 - rate)), 0.0)


def key_mask_bias(mask):
    """[B, 1, 1, L] additive: 0 for real keys, MASKED for padding."""
    return torch.where(mask, 0.0, MASKED)[:, None, None, :]


def unilm_bias(segment_ids):
    """bert4keras' UniLM mask as an additive bias [B, 1, L, L]: token i sees token j when
    j's cumulative segment count is at most i's (all zero segments: everything)."""
    counts = torch.cumsum(segment_ids, 1)
    return torch.where(counts[:, None, :] <= counts[:, :, None], 0.0, MASKED)[:, None]


class TunedEncoder(nn.Module):
    """The backbone (a transformers model) with the methods' parts. ``dropout=False``
    turns every dropout off (the switch for step-by-step comparisons)."""

    def __init__(self, backbone, model, methods, dropout=True):
        super(TunedEncoder, self).__init__()
        self.backbone_name, self.model, self.methods = backbone, model, list(methods)
        config = model.config
        self.num_hidden_layers, self.num_attention_heads = config.num_hidden_layers, config.num_attention_heads
        self.hidden_size = config.hidden_size
        self.attention_head_size = self.attention_key_size = config.hidden_size // config.num_attention_heads
        self.hidden_dropout = config.hidden_dropout_prob if dropout else 0.0
        self.attention_dropout = config.attention_probs_dropout_prob if dropout else 0.0
        self.dropout_enabled = dropout
        self.dropout_generator = np.random.default_rng(0)
        self.dropout_rows = (0, None)  # (first row, batch rows) of a process's share
        self.absolute_positions = backbone == 'bert'
        if backbone == 'nezha':
            table = relative_position_table(NEZHA_MAX_RELATIVE_POSITION, self.attention_key_size)
            self.register_buffer('relative_positions', torch.from_numpy(table), persistent=False)
        self.parts = nn.ModuleDict()
        for method in self.methods:
            part = method.build(self)
            if part is not None:
                self.parts[method.name] = part

    def part(self, method):
        return self.parts[method.name]

    # -- the forward pass ---------------------------------------------------------------
    def seed_dropout(self, seed, step, first_row=0, rows=None, rank=0):
        """Dropout masks as a function of (seed, step): a resumed run draws what an
        uninterrupted one draws. A process with rows ``first_row`` onwards of a batch of
        ``rows`` gets those rows of the one-process masks on a CPU; on a GPU, torch's own
        draws, seeded by its ``rank`` too (the same distribution, not the same masks)."""
        self.dropout_generator = np.random.default_rng([int(seed), int(step)])
        self.dropout_rows = (first_row, rows)
        torch.manual_seed((int(seed) * 1000003 + int(step)) * (1 + 7919 * int(rank)) % 2 ** 63)

    def dropping(self, rate):
        return bool(rate) and self.dropout_enabled and self.training

    def dropout(self, x, rate):
        if not self.dropping(rate):
            return x
        if x.device.type == 'cpu':
            return cpu_dropout(x, rate, self.dropout_generator, *self.dropout_rows)
        return F.dropout(x, rate, True)

    def embeddings(self, token_ids, segment_ids):
        embeddings = self.model.embeddings
        x = embeddings.word_embeddings(token_ids) + embeddings.token_type_embeddings(segment_ids)
        if self.absolute_positions:
            x = x + embeddings.position_embeddings.weight[:token_ids.shape[1]][None]
        x = self.dropout(embeddings.LayerNorm(x), self.hidden_dropout)
        if hasattr(self.model, 'embeddings_project'):
            x = self.model.embeddings_project(x)
        return x

    def forward(self, token_ids, segment_ids):
        """(last hidden states [B, L, d], token mask [B, L])."""
        mask = token_ids > 0
        x = self.embeddings(token_ids, segment_ids)
        for method in self.methods:
            x, mask = method.embedding_output(self, x, mask)
        bias = unilm_bias(segment_ids)
        for method in self.methods:
            bias = method.attention_bias(self, bias)
        for index, layer in enumerate(self.model.encoder.layer):
            for method in self.methods:
                x = method.block_input(self, x, index, token_ids)
            x = self.block(layer, index, x, mask, bias)
        for method in self.methods:
            x, mask = method.encoder_output(self, x, mask)
        return x, mask

    def block(self, layer, index, x, mask, bias):
        prefixes = None
        for method in self.methods:
            prefixes = method.key_value_prefixes(self, x, mask, index) or prefixes
        prefix_length = 0 if prefixes is None else prefixes[0].shape[2]
        bias = F.pad(bias + key_mask_bias(mask), (prefix_length, 0))
        attended = self.attention(layer.attention.self, x, bias, prefixes)
        attended = self.dropout(layer.attention.output.dense(attended), self.hidden_dropout)
        x = layer.attention.output.LayerNorm(x + attended)
        f = layer.output.dense(layer.intermediate.intermediate_act_fn(layer.intermediate.dense(x)))
        for method in self.methods:
            added = method.feed_forward_branch(self, x, index)
            if added is not None:
                f = f + added
        return layer.output.LayerNorm(x + self.dropout(f, self.hidden_dropout))

    def heads(self, x):
        batch, length, _ = x.shape
        return x.view(batch, length, self.num_attention_heads, -1).transpose(1, 2)

    def attention(self, attention, x, bias, prefixes):
        """Self-attention of ``x`` [B, L, d] with the additive ``bias`` [B, 1, L, P + L];
        ``prefixes``: (keys, values) [B or 1, heads, P, size], never rotated, at zero
        relative position."""
        batch, length, _ = x.shape
        q, k, v = self.heads(attention.query(x)), self.heads(attention.key(x)), self.heads(attention.value(x))
        if self.backbone_name == 'roformer':
            table = sinusoids(length, self.attention_key_size, x.device)
            q, k = rotate(q, table), rotate(k, table)
        prefix_length = 0
        if prefixes is not None:
            key_prefix, value_prefix = (p.expand(batch, -1, -1, -1) for p in prefixes)
            prefix_length = key_prefix.shape[2]
            k, v = torch.cat([key_prefix, k], 2), torch.cat([value_prefix, v], 2)
        scale = 1.0 / math.sqrt(self.attention_key_size)
        dropping = self.dropping(self.attention_dropout)
        if self.backbone_name != 'nezha' and not (dropping and x.device.type == 'cpu'):
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale,
                                               dropout_p=self.attention_dropout if dropping else 0.0)
            return o.transpose(1, 2).reshape(batch, length, self.hidden_size)
        logits = torch.matmul(q, k.transpose(-1, -2))
        if self.backbone_name == 'nezha':
            distances = torch.arange(length, device=x.device)
            distances = (distances[None, :] - distances[:, None]).clamp(
                -NEZHA_MAX_RELATIVE_POSITION, NEZHA_MAX_RELATIVE_POSITION) + NEZHA_MAX_RELATIVE_POSITION
            relative = self.relative_positions[distances]  # [L, L, size]
            logits = logits + F.pad(torch.einsum('bhjd,jkd->bhjk', q, relative), (prefix_length, 0))
        probabilities = self.dropout(torch.softmax(logits * scale + bias, -1), self.attention_dropout)
        o = torch.matmul(probabilities, v)
        if self.backbone_name == 'nezha':
            o = o + torch.einsum('bhjk,jkd->bhjd', probabilities[..., prefix_length:], relative)
        return o.transpose(1, 2).reshape(batch, length, self.hidden_size)

    # -- weights ---------------------------------------------------------------------
    def keras_layers(self):
        """[(Keras layer name, [(parameter, transposed)])] of everything the methods train."""
        return [entry for method in self.methods for entry in method.keras_layers(self)]

    def backbone_parameters(self):
        """The backbone's weights on the path (not RoFormer's unused position table)."""
        return [p for name, p in self.model.named_parameters() if not name.startswith('encoder.embed_positions')]

    def trainable_parameters(self):
        return [p for p in self.parameters() if p.requires_grad]

    def freeze_backbone(self):
        """Everything frozen but what the tuning methods train."""
        for parameter in self.parameters():
            parameter.requires_grad_(False)
        for method in self.methods:
            for parameter in method.trainable(self):
                parameter.requires_grad_(True)
