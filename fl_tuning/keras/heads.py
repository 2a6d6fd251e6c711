"""The task heads on Keras, one class per kind of head (a task names its kind in
``Task.head_kind``): the layers on the backbone's last layer, the loss, and the
trained weights as the export writes them (dense kernels in torch's [out, in] layout).
"""
from collections import OrderedDict

import numpy as np
from bert4keras.backend import K, keras, multilabel_categorical_crossentropy
from bert4keras.layers import GlobalPointer, Layer

from fl_tuning.keras.models import last_layer_name
from fl_tuning.layer_names import HEAD_NAMES


def dense_weights(layer, name):
    """A Keras Dense layer's kernel (transposed to [out, in]) and bias, as ``name``.weight/.bias."""
    weights = {name + '.weight': np.ascontiguousarray(K.get_value(layer.kernel).T)}
    if getattr(layer, 'bias', None) is not None:
        weights[name + '.bias'] = K.get_value(layer.bias)
    return weights


def last_layer(transformer):
    return transformer.model.get_layer(last_layer_name(transformer)).output


class Head(object):
    names = None  # fl_tuning.layer_names.HeadNames

    def build(self, task, transformer):
        """(Keras task model, loss) with the head on the backbone's last layer."""
        raise NotImplementedError

    def exported(self, task, model):
        """(description, {name: array}): the task's description of the head, and its weights."""
        return task.head_description(), dense_weights(model.get_layer(self.names.layer), self.names.exported)


class Classifier(Head):
    """[CLS] vector -> Dense(softmax), sparse cross-entropy."""
    names = HEAD_NAMES['classifier']

    def build(self, task, transformer):
        cls = keras.layers.Lambda(lambda x: x[:, 0], name='CLS')(last_layer(transformer))
        output = keras.layers.Dense(task.labels.count, activation='softmax',
                                    kernel_initializer=transformer.initializer, name=self.names.layer)(cls)
        return keras.models.Model(transformer.model.input, output), 'sparse_categorical_crossentropy'


def multichoice_crossentropy(num_choices):
    """Softmax cross-entropy over each example's choices, from logits; batch mean."""
    def loss(y_true, y_pred):
        answers = K.cast(y_true[::num_choices, 0], 'int32')
        logits = K.reshape(y_pred, (-1, num_choices))
        return K.mean(K.sparse_categorical_crossentropy(answers, logits, from_logits=True))
    loss.__name__ = 'multichoice_crossentropy'
    return loss


class ChoiceLogit(Head):
    """[CLS] vector of each choice's sequence -> Dense(1); cross-entropy over the choices."""
    names = HEAD_NAMES['choice_logit']

    def build(self, task, transformer):
        cls = keras.layers.Lambda(lambda x: x[:, 0], name='CLS')(last_layer(transformer))
        logits = keras.layers.Dense(1, kernel_initializer=transformer.initializer, name=self.names.layer)(cls)
        return keras.models.Model(transformer.model.input, logits), multichoice_crossentropy(task.num_choices)


def global_pointer_crossentropy(y_true, y_pred):
    """bert4keras' multilabel cross-entropy over every (start, end) cell, per head."""
    shape = K.shape(y_pred)
    y_true = K.reshape(y_true, (shape[0] * shape[1], -1))
    y_pred = K.reshape(y_pred, (shape[0] * shape[1], -1))
    return K.mean(multilabel_categorical_crossentropy(y_true, y_pred))


def span_crossentropy(y_true, y_pred):
    """Softmax cross-entropy over the L x L cells from logits; labels [B, 1, 2]."""
    length = K.shape(y_pred)[1]
    y_true = K.cast(y_true[:, 0], 'int32')
    cell = y_true[:, 0] * length + y_true[:, 1]
    y_pred = K.reshape(y_pred, (K.shape(y_pred)[0], -1))
    return K.mean(K.sparse_categorical_crossentropy(cell, y_pred, from_logits=True))


class MaskFromInput(Layer):
    """Passes its first input on, with the token mask ``mask_input > 0.5``."""

    def call(self, inputs, mask=None):
        return inputs[0]

    def compute_mask(self, inputs, mask=None):
        return K.greater(inputs[1], 0.5)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


class EntityPointer(Head):
    """bert4keras' GlobalPointer, one head per category, masked by the token ids."""
    names = HEAD_NAMES['entity_pointer']

    def pointer(self, transformer, features, heads):
        return GlobalPointer(heads=heads, head_size=transformer.attention_head_size, use_bias=False,
                             kernel_initializer=transformer.initializer, name=self.names.layer)(features)

    def build(self, task, transformer):
        scores = self.pointer(transformer, last_layer(transformer), len(task.categories))
        return keras.models.Model(transformer.model.input, scores), global_pointer_crossentropy

    def exported(self, task, model):
        layer = model.get_layer(self.names.layer)
        description = dict(task.head_description(), heads=layer.heads, head_size=layer.head_size)
        return description, dense_weights(layer.dense, self.names.exported)


class SpanPointer(EntityPointer):
    """One GlobalPointer head over the context positions (the third input masks them)."""

    def build(self, task, transformer):
        masks = keras.layers.Input(shape=(None,), name='Input-Mask')
        features = MaskFromInput(name='Context-Mask')([last_layer(transformer), masks])
        scores = self.pointer(transformer, features, 1)
        scores = keras.layers.Lambda(lambda x: x[:, 0], name='Span-Scores')(scores)
        return keras.models.Model(transformer.model.inputs + [masks], scores), span_crossentropy


HEADS = OrderedDict([('classifier', Classifier()), ('choice_logit', ChoiceLogit()),
                     ('entity_pointer', EntityPointer()), ('span_pointer', SpanPointer())])


def build_task_model(task, transformer):
    """(Keras task model, loss) of ``task``'s head on ``transformer``."""
    return HEADS[task.head_kind].build(task, transformer)


def exported_head(task, model):
    return HEADS[task.head_kind].exported(task, model)
