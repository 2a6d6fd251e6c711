"""Where each weight of the PyTorch model stands in the faithful port: its place in the
order the Keras model creates its weights (so that both start from the same initial
values, fl_tuning.initial_values) and its layer in the tuned-weights layout
(fl_tuning.weight_files), kernels stored [in, out] there."""
from collections import OrderedDict

import numpy as np
import torch

from fl_tuning.backbones import INITIALIZER_STDDEV
from fl_tuning.initial_values import generator, truncated_normal
from fl_tuning.layer_names import attention_name, feed_forward_name, norm_name

# Weights the Keras model creates that are not on the PyTorch side's path (the MLM head
# of application='unilm': dense kernel and bias, LayerNorm, output bias).
UNUSED_KERAS_WEIGHTS = 5


class Slot(object):
    """A weight in the Keras model's creation order: its parameter here (None where
    the Keras weight is loaded or has no counterpart) and its Keras initializer:
    'truncated_normal' or 'normal' (stddev 0.02, drawn), 'zeros' or 'ones'."""

    def __init__(self, parameter=None, draw=None, transposed=False):
        self.parameter, self.draw, self.transposed = parameter, draw, transposed

    def keras_shape(self):
        shape = tuple(self.parameter.shape)
        return shape[::-1] if self.transposed else shape

    def assign(self, seed, place):
        if self.parameter is None:
            return
        if self.draw in ('zeros', 'ones'):
            with torch.no_grad():
                self.parameter.fill_(1.0 if self.draw == 'ones' else 0.0)
            return
        rng = generator(seed, place)
        if self.draw == 'truncated_normal':
            value = truncated_normal(rng, self.keras_shape(), 0.0, INITIALIZER_STDDEV)
        else:
            value = rng.normal(0.0, INITIALIZER_STDDEV, size=self.keras_shape())
        value = value.astype(np.float32)
        with torch.no_grad():
            self.parameter.copy_(torch.from_numpy(np.ascontiguousarray(value.T if self.transposed else value)))


def linear_slots(linear):
    """A Dense layer's kernel (drawn) and bias (zeros), in Keras' order."""
    slots = [Slot(linear.weight, 'truncated_normal', transposed=True)]
    if linear.bias is not None:
        slots.append(Slot(linear.bias, 'zeros'))
    return slots


def linear_layout(linear):
    """A Dense layer's kernel (stored [in, out]) and bias in the Keras layout."""
    return [(linear.weight, True)] + ([(linear.bias, False)] if linear.bias is not None else [])


def norm_layout(norm):
    """A LayerNormalization's beta and gamma, in bert4keras' order."""
    return [(norm.bias, False), (norm.weight, False)]


def loaded(count):
    return [Slot() for _ in range(count)]


def creation_order(encoder):
    """Slots in the order the Keras model creates its weights (fl_tuning.initial_values)."""
    embedding_weights = 4 + encoder.absolute_positions + 2 * hasattr(encoder.model, 'embeddings_project')
    order = loaded(embedding_weights)
    for method in encoder.methods:
        order += method.creation_slots(encoder, 'embeddings')
    for index in range(encoder.num_hidden_layers):
        for method in encoder.methods:
            order += method.creation_slots(encoder, 'block', index)
        if index == 0 and encoder.backbone_name == 'nezha':
            order += loaded(1)  # the relative position table, fixed
        for method in encoder.methods:
            order += method.creation_slots(encoder, 'prefixes', index)
        order += loaded(8 + 2 + 4)  # attention, its LayerNorm, the feed-forward layer
        for method in encoder.methods:
            order += method.creation_slots(encoder, 'feed_forward', index)
        order += loaded(2)
    return order + loaded(UNUSED_KERAS_WEIGHTS)


def backbone_keras_layers(encoder):
    """{bert4keras layer name: [(parameter, transposed)]} of the backbone's weights."""
    embeddings = encoder.model.embeddings
    layers = OrderedDict([('Embedding-Token', [(embeddings.word_embeddings.weight, False)]),
                          ('Embedding-Segment', [(embeddings.token_type_embeddings.weight, False)])])
    if encoder.absolute_positions:
        layers['Embedding-Position'] = [(embeddings.position_embeddings.weight, False)]
    layers['Embedding-Norm'] = norm_layout(embeddings.LayerNorm)
    if hasattr(encoder.model, 'embeddings_project'):
        layers['Embedding-Mapping'] = linear_layout(encoder.model.embeddings_project)
    for index, layer in enumerate(encoder.model.encoder.layer):
        attention = layer.attention
        layers[attention_name(index)] = [w for linear in (attention.self.query, attention.self.key,
                                                          attention.self.value, attention.output.dense)
                                         for w in linear_layout(linear)]
        layers[norm_name(attention_name(index))] = norm_layout(attention.output.LayerNorm)
        feed_forward = feed_forward_name(index)
        layers[feed_forward] = linear_layout(layer.intermediate.dense) + linear_layout(layer.output.dense)
        layers[norm_name(feed_forward)] = norm_layout(layer.output.LayerNorm)
    return layers
