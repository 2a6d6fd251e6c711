"""The tuned model computes what the original computes (ORIGINAL_SPEC §3-7)."""
import numpy as np
import pytest
from bert4keras.layers import FeedForward
from bert4keras.models import build_transformer_model

from fl_tuning.keras.models import build_model, last_layer_name, parameter_report
from fl_tuning.vocab import Vocabulary
from fl_tuning.keras.compat import K, keras
from fl_tuning.keras.layers import PREFIX_DROPOUT_RATE
from fl_tuning.keras.methods.fl import WidenedFeedForward
from fl_tuning.keras.models import BACKBONE_CLASSES

from conftest import BACKBONES, padded_batch
from reference import ReferenceModel


def build(tiny, ffn_prompt_size, prompt_size, **kwargs):
    keep_tokens = Vocabulary(tiny.vocab_path).keep_tokens
    return build_model(tiny.backbone, tiny.config_path, tiny.checkpoint_path,
                       ffn_prompt_size=ffn_prompt_size, prompt_size=prompt_size,
                       keep_tokens=keep_tokens, **kwargs)


def randomize_tuned_weights(transformer, scale=0.5):
    """Larger tuned weights than the 0.02 initialiser, so that errors show."""
    rng = np.random.RandomState(7)
    for weight in transformer.model.trainable_weights:
        K.set_value(weight, rng.normal(0, scale, K.int_shape(weight)))


def encode(transformer, token_ids, segment_ids):
    output = transformer.model.get_layer(last_layer_name(transformer)).output
    return K.function(transformer.model.inputs, [output])([token_ids, segment_ids])[0]


@pytest.mark.parametrize('backbone', BACKBONES)
def test_without_tuning_equals_plain_bert4keras(tiny_models, backbone):
    tiny = tiny_models[backbone]
    token_ids, segment_ids = padded_batch()
    ours = encode(build(tiny, 0, 0), token_ids, segment_ids)
    keep_tokens = Vocabulary(tiny.vocab_path).keep_tokens
    plain = build_transformer_model(
        tiny.config_path, tiny.checkpoint_path, model=BACKBONE_CLASSES[backbone],
        application='unilm', keep_tokens=keep_tokens, return_keras_model=False)
    expected = encode(plain, token_ids, segment_ids)
    np.testing.assert_array_equal(ours, expected)


@pytest.mark.parametrize('backbone', BACKBONES)
@pytest.mark.parametrize('ffn_prompt_size,prompt_size', [(0, 0), (6, 0), (0, 3), (6, 3)])
def test_matches_numpy_reference_of_the_spec(tiny_models, backbone, ffn_prompt_size, prompt_size):
    tiny = tiny_models[backbone]
    token_ids, segment_ids = padded_batch()
    transformer = build(tiny, ffn_prompt_size, prompt_size)
    randomize_tuned_weights(transformer)
    keep_tokens = Vocabulary(tiny.vocab_path).keep_tokens
    reference = ReferenceModel(backbone, tiny.config, tiny.checkpoint_path, keep_tokens)
    reference.take_tuned_weights(transformer)
    assert len(reference.added_units) == (2 if ffn_prompt_size else 0)
    assert len(reference.prefixes) == (2 if prompt_size else 0)
    expected = reference(token_ids, segment_ids)
    ours = encode(transformer, token_ids, segment_ids)
    valid = token_ids != 0  # padded query rows are never read by any head
    np.testing.assert_allclose(ours[valid], expected[valid], atol=2e-5, rtol=0)


def independent_feed_forward(x, units, weights, activation='gelu'):
    """A stock bert4keras FeedForward on ``x`` with the given weights."""
    inputs = keras.layers.Input(shape=(None, x.shape[-1]))
    layer = FeedForward(units, activation=activation)
    model = keras.models.Model(inputs, layer(inputs))
    layer.set_weights(weights)
    return model.predict(x)


@pytest.mark.parametrize('fused', [False, True])
def test_widened_feed_forward_equals_original_plus_added_ffn(fused):
    rng = np.random.RandomState(0)
    x = rng.normal(size=(2, 5, 8)).astype('float32')
    inputs = keras.layers.Input(shape=(None, 8))
    layer = WidenedFeedForward(12, extra_units=4, activation='gelu', fused=fused)
    model = keras.models.Model(inputs, layer(inputs))
    weights = [rng.normal(size=w.shape).astype('float32') for w in layer.get_weights()]
    layer.set_weights(weights)
    original = independent_feed_forward(x, 12, weights[:4])
    added = independent_feed_forward(x, 4, weights[4:])
    np.testing.assert_allclose(model.predict(x), original + added, atol=1e-5, rtol=1e-6)


@pytest.mark.parametrize('backbone', BACKBONES)
@pytest.mark.parametrize('prompt_size', [0, 3])
def test_padding_changes_nothing_at_real_tokens(tiny_models, backbone, prompt_size):
    tiny = tiny_models[backbone]
    transformer = build(tiny, 6, prompt_size)
    randomize_tuned_weights(transformer)
    token_ids, segment_ids = padded_batch()
    real = token_ids != 0
    before = encode(transformer, token_ids, segment_ids)

    other_segments = np.where(real, segment_ids, 1)
    np.testing.assert_array_equal(encode(transformer, token_ids, other_segments)[real], before[real])

    longer = encode(transformer, np.pad(token_ids, [(0, 0), (0, 4)]), np.pad(segment_ids, [(0, 0), (0, 4)]))
    np.testing.assert_allclose(longer[:, :7][real], before[real], atol=1e-5, rtol=0)

    changed = token_ids.copy()
    changed[0, 1] = 77  # a real token: every real position of that sequence must move
    moved = np.abs(encode(transformer, changed, segment_ids) - before).max(-1)
    assert np.all(moved[0] > 1e-4) and np.all(moved[1:] == 0)


@pytest.mark.parametrize('backbone', BACKBONES)
def test_prefixes_are_seen_by_every_query(tiny_models, backbone):
    tiny = tiny_models[backbone]
    transformer = build(tiny, 0, 3)
    token_ids, segment_ids = padded_batch()
    before = encode(transformer, token_ids, segment_ids)
    layer = transformer.layers['Transformer-1-MultiHeadSelfAttention-Value-PromptEmbedding']
    layer.set_weights([layer.get_weights()[0] + 1.0])
    after = encode(transformer, token_ids, segment_ids)
    valid = token_ids != 0
    assert np.all(np.abs(after - before).max(-1)[valid] > 1e-3)


def test_prefix_dropout_is_independent_per_example_and_training_only(tiny_models):
    transformer = build(tiny_models['bert'], 0, 50)
    layer = transformer.layers['Transformer-0-MultiHeadSelfAttention-Key-PromptEmbedding']
    prefixes = layer.get_output_at(0)
    run = K.function(transformer.model.inputs + [K.learning_phase()], [prefixes])
    token_ids, segment_ids = padded_batch()
    weights = layer.get_weights()[0]
    train = run([token_ids, segment_ids, 1])[0]
    infer = run([token_ids, segment_ids, 0])[0]
    np.testing.assert_array_equal(infer, np.broadcast_to(weights, infer.shape))
    dropped = train == 0
    assert 0.05 < dropped.mean() < 0.15
    kept = ~dropped
    np.testing.assert_allclose(train[kept], np.broadcast_to(weights, train.shape)[kept]
                               / (1 - PREFIX_DROPOUT_RATE), rtol=1e-6)
    assert not np.array_equal(dropped[0], dropped[1])


@pytest.mark.parametrize('ffn_prompt_size,prompt_size', [(16, 0), (0, 4), (16, 4), (0, 0)])
def test_trainable_parameters_equal_the_closed_form(tiny_models, ffn_prompt_size, prompt_size):
    tiny = tiny_models['bert']
    report = parameter_report(build(tiny, ffn_prompt_size, prompt_size))
    d, layers = tiny.config['hidden_size'], tiny.config['num_hidden_layers']
    expected = layers * (d * ffn_prompt_size + ffn_prompt_size + ffn_prompt_size * d + d) \
        if ffn_prompt_size else 0
    expected += layers * 2 * prompt_size * d
    assert report['trainable'] == expected == report['expected_trainable']


def test_trainable_variables_have_the_original_roles(tiny_models):
    transformer = build(tiny_models['nezha'], 16, 4)
    names = sorted(w.name for w in transformer.model.trainable_weights)
    per_layer = [n for n in names if n.startswith('Transformer-0-')]
    assert [n.split('/', 1)[1] for n in per_layer] == [
        'added_units_in/bias:0', 'added_units_in/kernel:0',
        'added_units_out/bias:0', 'added_units_out/kernel:0',
        'prompt_embedding:0', 'prompt_embedding:0',
    ]
    assert len(names) == 2 * 6


@pytest.mark.parametrize('ffn_prompt_size,prompt_size,expected', [
    (160, 0, 2960256),  # 12 x (768*160 + 160 + 160*768 + 768)
    (0, 160, 2949120),  # 12 x 2 x 160 x 768
])
def test_bert_base_trainable_parameters(tmp_path, ffn_prompt_size, prompt_size, expected):
    from fl_tuning.testing.tiny import BERT_BASE_CONFIG, write_config
    config_path = write_config(str(tmp_path / 'bert_config.json'), BERT_BASE_CONFIG)
    transformer = build_model('bert', config_path, None, ffn_prompt_size=ffn_prompt_size,
                              prompt_size=prompt_size)
    report = parameter_report(transformer)
    assert report['trainable'] == expected == report['expected_trainable']
    assert report['total'] == 101677056 + expected  # BERT-base encoder, 21128-token vocab
