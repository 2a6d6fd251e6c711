"""The task heads on PyTorch, one class per kind of head (``Task.head_kind``), with the
Keras side's arithmetic (fl_tuning.keras.heads): each maps the encoder's output to the
scores its loss reads and to the outputs Keras' ``predict`` gives."""
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from fl_tuning.layer_names import HEAD_NAMES
from fl_tuning.torch.encoder import MASKED, rotate, sinusoids
from fl_tuning.torch.keras_layout import Slot, creation_order, linear_layout, linear_slots


def linear_weights(linear, name):
    """A linear layer's weight ([out, in]) and bias as NumPy arrays, as ``name``.weight/.bias."""
    return dict(('%s.%s' % (name, part), value.detach().float().cpu().numpy())
                for part, value in linear.named_parameters())


class Head(nn.Module):
    names = None  # fl_tuning.layer_names.HeadNames
    rows_per_example = 1  # the input rows of one example, which a process's share keeps together

    def creation_slots(self):
        """Its weights in the Keras model's creation order."""
        return linear_slots(self.dense)

    def keras_layers(self):
        return [(self.names.layer, linear_layout(self.dense))]

    def exported(self, task):
        """(description, {name: array}): the task's description of the head, and its weights."""
        return task.head_description(), linear_weights(self.dense, self.names.exported)

    def outputs(self, scores):
        """What the Keras model's prediction is."""
        return scores


class Classifier(Head):
    """[CLS] vector -> Dense; cross-entropy; softmax probabilities as outputs."""
    names = HEAD_NAMES['classifier']

    def __init__(self, task, encoder):
        super(Classifier, self).__init__()
        self.dense = nn.Linear(encoder.hidden_size, task.labels.count)

    def forward(self, x, mask, extra_inputs):
        return self.dense(x[:, 0])

    def loss(self, scores, labels):
        return F.cross_entropy(scores.float(), labels.reshape(-1).long())

    def outputs(self, scores):
        return torch.softmax(scores.float(), -1)


class ChoiceLogit(Head):
    """[CLS] vector of each choice's sequence -> Dense(1); cross-entropy over the choices."""
    names = HEAD_NAMES['choice_logit']

    def __init__(self, task, encoder):
        super(ChoiceLogit, self).__init__()
        self.num_choices = self.rows_per_example = task.num_choices
        self.dense = nn.Linear(encoder.hidden_size, 1)

    def forward(self, x, mask, extra_inputs):
        return self.dense(x[:, 0])

    def loss(self, scores, labels):
        answers = labels[::self.num_choices, 0].long()
        return F.cross_entropy(scores.float().reshape(-1, self.num_choices), answers)


def masked(logits, mask, axis):
    """bert4keras' sequence_masking with '-inf': x * m + MASKED * (1 - m) along ``axis``."""
    shape = [1] * logits.dim()
    shape[0], shape[axis] = mask.shape[0], mask.shape[1]
    mask = mask.to(logits.dtype).reshape(shape)
    return logits * mask + MASKED * (1 - mask)


class GlobalPointer(nn.Module):
    """bert4keras 0.10.8's GlobalPointer (RoPE, no bias): [B, heads, L, L] span scores."""

    def __init__(self, hidden_size, heads, head_size):
        super(GlobalPointer, self).__init__()
        self.heads, self.head_size = heads, head_size
        self.dense = nn.Linear(hidden_size, heads * head_size * 2, bias=False)

    def forward(self, x, mask):
        batch, length, _ = x.shape
        projected = self.dense(x).reshape(batch, length, self.heads, 2 * self.head_size)
        q, k = projected[..., :self.head_size], projected[..., self.head_size:]
        table = sinusoids(length, self.head_size, x.device)[:, None, :]
        q, k = rotate(q, table), rotate(k, table)
        logits = torch.einsum('bmhd,bnhd->bhmn', q, k)
        logits = masked(masked(logits, mask, 2), mask, 3)
        upper = torch.triu(torch.ones(length, length, dtype=logits.dtype, device=logits.device))
        logits = logits - (1 - upper) * -MASKED
        return logits / self.head_size ** 0.5


def multilabel_crossentropy(y_true, y_pred):
    """bert4keras' multilabel_categorical_crossentropy over the last axis."""
    y_pred = (1 - 2 * y_true) * y_pred
    negatives = y_pred + y_true * MASKED
    positives = y_pred + (1 - y_true) * MASKED
    zeros = torch.zeros_like(y_pred[..., :1])
    return (torch.logsumexp(torch.cat([negatives, zeros], -1), -1)
            + torch.logsumexp(torch.cat([positives, zeros], -1), -1))


class EntityPointer(Head):
    """A GlobalPointer head per category, masked by the token ids."""

    def __init__(self, task, encoder, heads=None):
        super(EntityPointer, self).__init__()
        heads = len(task.categories) if heads is None else heads
        self.pointer = GlobalPointer(encoder.hidden_size, heads, encoder.attention_head_size)

    names = HEAD_NAMES['entity_pointer']

    def creation_slots(self):
        return [Slot(self.pointer.dense.weight, 'truncated_normal', transposed=True)]

    def keras_layers(self):
        return [(self.names.layer, [(self.pointer.dense.weight, True)])]

    def exported(self, task):
        description = dict(task.head_description(), heads=self.pointer.heads, head_size=self.pointer.head_size)
        return description, linear_weights(self.pointer.dense, self.names.exported)

    def forward(self, x, mask, extra_inputs):
        return self.pointer(x, mask)

    def loss(self, scores, labels):
        batch, heads = scores.shape[:2]
        return multilabel_crossentropy(labels.reshape(batch * heads, -1),
                                       scores.float().reshape(batch * heads, -1)).mean()


class SpanPointer(EntityPointer):
    """One GlobalPointer head over the context positions (the third input masks them)."""

    def __init__(self, task, encoder):
        super(SpanPointer, self).__init__(task, encoder, heads=1)

    def forward(self, x, mask, extra_inputs):
        return self.pointer(x, extra_inputs[0] > 0.5)[:, 0]

    def loss(self, scores, labels):
        length = scores.shape[1]
        cells = labels[:, 0, 0].long() * length + labels[:, 0, 1].long()
        return F.cross_entropy(scores.float().reshape(scores.shape[0], -1), cells)


HEADS = OrderedDict([('classifier', Classifier), ('choice_logit', ChoiceLogit),
                     ('entity_pointer', EntityPointer), ('span_pointer', SpanPointer)])


class TaskModel(nn.Module):
    """The encoder with the task's head: inputs (token ids, segment ids, any others) -> scores."""

    def __init__(self, task, encoder):
        super(TaskModel, self).__init__()
        self.encoder = encoder
        self.head = HEADS[task.head_kind](task, encoder)

    def forward(self, inputs):
        x, mask = self.encoder(inputs[0], inputs[1])
        return self.head(x, mask, inputs[2:])

    def creation_order(self):
        return creation_order(self.encoder) + self.head.creation_slots()

    def keras_layers(self):
        """The trained parameters in the faithful port's tuned-weights layout."""
        return self.encoder.keras_layers() + self.head.keras_layers()
