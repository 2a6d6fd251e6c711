"""What trains and how: the freezing rule and the optimizer factory (ORIGINAL_SPEC §4.4, §8)."""
import numpy as np
import pytest

from fl_tuning.keras.models import build_model
from fl_tuning.vocab import Vocabulary
from fl_tuning.keras.compat import K, keras
from fl_tuning.keras.optimizers import get_optimizer
from fl_tuning.optimization import learning_rate_schedule

from conftest import BACKBONES, classifier, padded_batch


@pytest.mark.parametrize('backbone', BACKBONES)
def test_one_step_changes_only_tuned_weights_and_head(tiny_models, backbone):
    tiny = tiny_models[backbone]
    keep_tokens = Vocabulary(tiny.vocab_path).keep_tokens
    transformer = build_model(backbone, tiny.config_path, tiny.checkpoint_path,
                              ffn_prompt_size=8, prompt_size=2, keep_tokens=keep_tokens)
    model = classifier(transformer)
    model.compile(loss='sparse_categorical_crossentropy',
                  optimizer=get_optimizer(1e-2, 0, 10))
    weights = model.weights
    before = K.batch_get_value(weights)
    token_ids, segment_ids = padded_batch()
    model.train_on_batch([token_ids, np.zeros_like(segment_ids)], np.array([[0], [1], [1]]))
    after = K.batch_get_value(weights)

    trainable = set(id(w) for w in model.trainable_weights)
    changed = {w.name for w, b, a in zip(weights, before, after) if not np.array_equal(b, a)}
    tuned = {w.name for w in weights if id(w) in trainable}
    assert changed == tuned
    assert any(n.startswith('head') for n in tuned)
    assert any('added_units_in/kernel' in n for n in tuned)
    assert any('prompt_embedding' in n for n in tuned)
    frozen = [w for w in weights if id(w) not in trainable]
    assert any('FeedForward' in w.name and 'dense' in w.name for w in frozen)


def zero_gradient_model():
    inputs = keras.layers.Input(shape=(1,))
    probe = keras.layers.Dense(3, name='probe')
    output = keras.layers.Lambda(lambda x: 0.0 * x)(probe(inputs))
    model = keras.models.Model(inputs, output)
    return model, probe


def test_weight_decay_is_decoupled_and_skips_biases():
    model, probe = zero_gradient_model()
    model.compile(loss='mse', optimizer=get_optimizer(0.5, 0, 10 ** 6))
    kernel = np.array([[1.0, -2.0, 4.0]])
    bias = np.array([0.5, -0.5, 1.0])
    probe.set_weights([kernel, bias])
    model.train_on_batch(np.ones((2, 1)), np.zeros((2, 3)))
    new_kernel, new_bias = probe.get_weights()
    # zero gradient: Adam moves nothing, decay moves p by -lr * 0.01 * p
    np.testing.assert_allclose(new_kernel, kernel * (1 - 0.5 * 0.01), rtol=1e-5)
    np.testing.assert_array_equal(new_bias, bias)


def test_schedule_keeps_the_accumulation_endpoint_quirk():
    assert learning_rate_schedule(0, 100) == {0: 1.0, 100: 0.0}
    assert learning_rate_schedule(0, 100, 4) == {0: 1.0, 400: 0.0}
    optimizer = get_optimizer(1e-4, 0, 250, grad_accum_steps=2)
    assert optimizer.grad_accum_steps == 2
    assert optimizer.lr_schedule == {0: 1.0, 500: 0.0}
    assert optimizer.exclude_from_weight_decay == ['Norm', 'bias']
    assert optimizer.weight_decay_rate == 0.01


def test_keras_adam_epsilon_is_the_original_one():
    # The original runs on standalone Keras, whose Adam uses epsilon = 1e-7.
    assert get_optimizer(1e-4, 0, 10).epsilon == pytest.approx(1e-7)


def test_step_counter_reads_are_post_increment():
    # ORIGINAL_SPEC §8.3: with g = 1 the first step already uses multiplier 1 - 1/T.
    model, probe = zero_gradient_model()
    model.compile(loss='mse', optimizer=get_optimizer(0.5, 0, 4))
    probe.set_weights([np.array([[1.0, 2.0, 4.0]]), np.zeros(3)])
    model.train_on_batch(np.ones((1, 1)), np.zeros((1, 3)))
    np.testing.assert_allclose(probe.get_weights()[0], np.array([[1.0, 2.0, 4.0]]) * (1 - 0.5 * 0.01 * 0.75),
                               rtol=1e-6)


def test_accumulation_updates_after_micro_steps_1_3_5():
    # g = 2: nothing moves at micro-step 0; the update at micro-step 1 reads the counter
    # as 2, so its multiplier is 1 - 2/T with T = 4 * 2.
    model, probe = zero_gradient_model()
    model.compile(loss='mse', optimizer=get_optimizer(0.5, 0, 4, grad_accum_steps=2))
    probe.set_weights([np.array([[1.0, 2.0, 4.0]]), np.zeros(3)])
    model.train_on_batch(np.ones((1, 1)), np.zeros((1, 3)))
    np.testing.assert_array_equal(probe.get_weights()[0], [[1.0, 2.0, 4.0]])
    model.train_on_batch(np.ones((1, 1)), np.zeros((1, 3)))
    np.testing.assert_allclose(probe.get_weights()[0], np.array([[1.0, 2.0, 4.0]]) * (1 - 0.5 * 0.01 * 0.75),
                               rtol=1e-6)
