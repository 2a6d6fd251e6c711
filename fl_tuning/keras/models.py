"""The tuned model: a bert4keras backbone with the tuning methods' parts.

A backbone is configuration (which bert4keras class); the block structure, layer
names, masks and position handling stay bert4keras' own. ``TunedTransformer``
overrides only bert4keras' own hooks and hands each method its extension points:
the embedding output, the attention bias, a block's input (before its
self-attention), attention prefixes and the feed-forward layer (both through
``apply``, the single point where bert4keras creates layers), the encoder output,
and the trainable set.
"""
from collections import OrderedDict

import tensorflow as tf
from bert4keras.backend import K
from bert4keras.layers import Embedding, FeedForward, Lambda, MultiHeadAttention
from bert4keras.models import BERT, NEZHA, RoFormer, build_transformer_model

from fl_tuning.backbones import BACKBONES
from fl_tuning.keras.checkpoints import check_checkpoint, checkpoint_pairs, damaged_variable
from fl_tuning.model_files import read_config
from fl_tuning.keras.layers import PrefixAttention
from fl_tuning.keras.methods import keras_methods
from fl_tuning.methods import method_set_from_sizes, parameter_report as methods_parameter_report
from fl_tuning.keras.methods.base import UNUSED_LAYER_PREFIX
from fl_tuning.layer_names import feed_forward_name, norm_name

BACKBONE_CLASSES = OrderedDict(zip(BACKBONES, (BERT, NEZHA, RoFormer)))
# The layer of bert4keras' UniLM mixin that turns segment ids into the attention bias.
ATTENTION_BIAS_LAYER = 'Attention-UniLM-Mask'


class CastingEmbedding(Embedding):
    """bert4keras' Embedding, whose tied output ('dense' mode: the unused MLM head) reads
    its float32 table in the inputs' dtype under a mixed-precision policy (Keras does not
    cast an Embedding's weights); a no-op in float32."""

    def call(self, inputs, mode='embedding'):
        if mode == 'embedding':
            return super(CastingEmbedding, self).call(inputs)
        return K.dot(inputs, K.cast(K.transpose(self.embeddings), inputs.dtype))


class TunedTransformer(object):
    """Mixin placed before a bert4keras model class (see ``tuned_class``)."""

    def __init__(self, tuning_methods=(), fused_feed_forward=False, **kwargs):
        super(TunedTransformer, self).__init__(**kwargs)
        self.tuning_methods = list(tuning_methods)
        self.fused_feed_forward = fused_feed_forward
        self.output_layer_name = final_norm_name(self)
        # NEZHA and RoFormer (a NEZHA subclass) put positions inside attention.
        self.absolute_positions = not isinstance(self, NEZHA)
        self.loaded_weights = []

    def apply(self, inputs=None, layer=None, arguments=None, **kwargs):
        if layer is Embedding:
            layer = CastingEmbedding
        if layer is FeedForward and inputs is not None:
            for method in self.tuning_methods:
                replacement = method.feed_forward(self)
                if replacement is not None:
                    layer, extra_kwargs = replacement
                    kwargs.update(extra_kwargs)
        elif layer is MultiHeadAttention and inputs is not None:
            index = int(kwargs['name'].split('-')[1])
            for method in self.tuning_methods:
                prefixes = method.key_value_prefixes(self, inputs[0], index)
                if prefixes is not None:
                    layer, inputs = PrefixAttention, list(inputs) + list(prefixes)
        outputs = super(TunedTransformer, self).apply(inputs, layer, arguments, **kwargs)
        if layer is Lambda and kwargs.get('name') == ATTENTION_BIAS_LAYER:
            for method in self.tuning_methods:
                outputs = method.attention_bias(self, outputs)
        return outputs

    def apply_embeddings(self, inputs):
        x = super(TunedTransformer, self).apply_embeddings(inputs)
        for method in self.tuning_methods:
            x = method.embedding_output(self, x)
        return x

    def apply_main_layers(self, inputs, index):
        for method in self.tuning_methods:
            inputs = method.block_input(self, inputs, index)
        return super(TunedTransformer, self).apply_main_layers(inputs, index)

    def apply_final_layers(self, inputs):
        for method in self.tuning_methods:
            inputs = method.encoder_output(self, inputs)
            self.output_layer_name = method.output_layer or self.output_layer_name
        return super(TunedTransformer, self).apply_final_layers(inputs)

    def load_weights_from_checkpoint(self, checkpoint, mapping=None):
        mapping = mapping or self.variable_mapping()
        check_checkpoint(self, checkpoint, mapping)
        try:
            super(TunedTransformer, self).load_weights_from_checkpoint(checkpoint, mapping)
        except tf.errors.OpError:
            raise damaged_variable(checkpoint, checkpoint_pairs(self, mapping))
        self.loaded_weights = [weight for _, weight, _ in checkpoint_pairs(self, mapping)]

    def freeze_backbone(self):
        """Everything frozen but what the tuning methods train."""
        # What bert4keras builds trainable (not NEZHA's fixed position table, nor the unused MLM head).
        self.backbone_layers = [layer for layer in self.model.layers if layer.trainable
                                and not layer.name.startswith(UNUSED_LAYER_PREFIX)]
        for layer in self.model.layers:
            layer.trainable = False
        for method in self.tuning_methods:
            method.unfreeze(self)

    def method_parameters(self):
        """Closed-form trainable parameters per method."""
        return OrderedDict((m.name, m.parameter_count(self)) for m in self.tuning_methods)


def tuned_class(backbone):
    if backbone not in BACKBONE_CLASSES:
        raise ValueError('unknown backbone %r: choose one of %s' % (
            backbone, ', '.join(BACKBONE_CLASSES)))
    base = BACKBONE_CLASSES[backbone]
    return type('Tuned' + base.__name__, (TunedTransformer, base), {})


def build_model(backbone, config_path, checkpoint_path, ffn_prompt_size=160,
                prompt_size=0, keep_tokens=None, fused_feed_forward=False, methods=None, **kwargs):
    """Build a backbone with its tuning methods, as the original builds FL-tuning
    and P-tuning v2 (``methods``: method objects; without them the two sizes decide).

    Returns the bert4keras model object (``.model`` is the Keras model), loaded
    from the checkpoint and frozen but for the tuning methods' weights.
    ``checkpoint_path=None`` builds randomly initialised weights.
    """
    read_config(config_path)
    if methods is None:
        methods = keras_methods(method_set_from_sizes(ffn_prompt_size, prompt_size))
    transformer = build_transformer_model(
        config_path,
        checkpoint_path,
        model=tuned_class(backbone),
        application='unilm',
        keep_tokens=keep_tokens,
        tuning_methods=methods,
        fused_feed_forward=fused_feed_forward,
        return_keras_model=False,
        **kwargs
    )
    transformer.freeze_backbone()
    return transformer


def last_layer_name(transformer):
    """The output every task reads: the last block's final LayerNorm (without any
    positions a tuning method added to the sequence); plain bert4keras models too."""
    return getattr(transformer, 'output_layer_name', final_norm_name(transformer))


def final_norm_name(transformer):
    return norm_name(feed_forward_name(transformer.num_hidden_layers - 1))


def count_parameters(weights):
    return int(sum(K.count_params(w) for w in weights))


def parameter_report(transformer):
    """Trainable and total parameter counts of the backbone, without a task head
    and without the MLM head that ``application='unilm'`` builds but no task uses."""
    layers = [layer for layer in transformer.model.layers if not layer.name.startswith(UNUSED_LAYER_PREFIX)]
    trainable = count_parameters([w for layer in layers for w in layer.trainable_weights])
    total = count_parameters([w for layer in layers for w in layer.weights])
    return methods_parameter_report(transformer.tuning_methods, transformer.method_parameters(), trainable, total)
