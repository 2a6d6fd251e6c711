"""The tuned model: a bert4keras backbone whose blocks get the tuning methods' layers.

A backbone is configuration (which bert4keras class); the block structure, layer
names, masks and position handling stay bert4keras' own. ``TunedTransformer``
overrides only ``apply``, the single point through which bert4keras creates every
layer, to widen the feed-forward layer and to give attention its prefixes.
"""
from collections import OrderedDict

from bert4keras.backend import K
from bert4keras.layers import FeedForward, MultiHeadAttention
from bert4keras.models import BERT, NEZHA, RoFormer, build_transformer_model

from fl_tuning.checkpoints import check_checkpoint, read_config
from fl_tuning.layers import PrefixAttention
from fl_tuning.methods import FLTuning, PTuningV2

BACKBONE_CLASSES = OrderedDict([('bert', BERT), ('nezha', NEZHA), ('roformer', RoFormer)])


class TunedTransformer(object):
    """Mixin placed before a bert4keras model class (see ``tuned_class``)."""

    def __init__(self, tuning_methods=(), **kwargs):
        super(TunedTransformer, self).__init__(**kwargs)
        self.tuning_methods = [method for method in tuning_methods if method.enabled]

    def apply(self, inputs=None, layer=None, arguments=None, **kwargs):
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
        return super(TunedTransformer, self).apply(inputs, layer, arguments, **kwargs)

    def load_weights_from_checkpoint(self, checkpoint, mapping=None):
        mapping = mapping or self.variable_mapping()
        check_checkpoint(self, checkpoint, mapping)
        super(TunedTransformer, self).load_weights_from_checkpoint(checkpoint, mapping)

    def freeze_backbone(self):
        """The original's rule: everything frozen but the tuning methods' weights."""
        for layer in self.model.layers:
            layer.trainable = False
        for method in self.tuning_methods:
            method.unfreeze(self)

    def expected_trainable_parameters(self):
        return sum(method.parameter_count(self) for method in self.tuning_methods)


def tuned_class(backbone):
    if backbone not in BACKBONE_CLASSES:
        raise ValueError('unknown backbone %r: choose one of %s' % (
            backbone, ', '.join(BACKBONE_CLASSES)))
    base = BACKBONE_CLASSES[backbone]
    return type('Tuned' + base.__name__, (TunedTransformer, base), {})


def build_model(backbone, config_path, checkpoint_path, ffn_prompt_size=160,
                prompt_size=0, keep_tokens=None, fused_feed_forward=False, **kwargs):
    """Build a backbone with FL-tuning and/or P-tuning v2, as the original does.

    Returns the bert4keras model object (``.model`` is the Keras model), loaded
    from the checkpoint and frozen but for the tuning methods' weights.
    ``checkpoint_path=None`` builds randomly initialised weights.
    """
    read_config(config_path)
    methods = [FLTuning(ffn_prompt_size, fused=fused_feed_forward), PTuningV2(prompt_size)]
    transformer = build_transformer_model(
        config_path,
        checkpoint_path,
        model=tuned_class(backbone),
        application='unilm',
        keep_tokens=keep_tokens,
        tuning_methods=methods,
        return_keras_model=False,
        **kwargs
    )
    transformer.freeze_backbone()
    return transformer


def last_layer_name(transformer):
    """The output every task reads: the last block's final LayerNorm."""
    return 'Transformer-%d-FeedForward-Norm' % (transformer.num_hidden_layers - 1)


def count_parameters(weights):
    return int(sum(K.count_params(w) for w in weights))


def parameter_report(transformer):
    """Trainable and total parameter counts of the backbone, without a task head
    and without the MLM head that ``application='unilm'`` builds but no task uses."""
    layers = [layer for layer in transformer.model.layers if not layer.name.startswith('MLM-')]
    trainable = count_parameters([w for layer in layers for w in layer.trainable_weights])
    total = count_parameters([w for layer in layers for w in layer.weights])
    return {
        'methods': [repr(m) for m in transformer.tuning_methods],
        'trainable': trainable,
        'expected_trainable': transformer.expected_trainable_parameters(),
        'total': total,
        'trainable_percent': 100.0 * trainable / total,
    }
