"""The tuning methods side by side: what each trains (names and closed-form counts),
that one step changes only that, each method's neutral value, PASTA's special
tokens, APT's gates, and the command line's method sets."""
import json
import subprocess
import sys

import numpy as np
import pytest
from bert4keras.backend import K

from fl_tuning.keras.models import build_model, last_layer_name, parameter_report
from fl_tuning.vocab import Vocabulary
from fl_tuning.errors import InputError
from fl_tuning.keras.methods import keras_methods
from fl_tuning.methods import default_learning_rate, resolve_method_set
from fl_tuning.methods.base import Dimensions
from fl_tuning.layer_names import gate_name
from fl_tuning.keras.methods.pasta import special_token_occurrences
from fl_tuning.keras.optimizers import get_optimizer
from fl_tuning.tasks import get_task
from fl_tuning.text import Tokenizer

from conftest import BACKBONES, classifier, padded_batch

METHOD_SETS = ['fl', 'ptv2', 'prompt', 'ln', 'pasta', 'apt', 'finetune']
SIZE = 3  # FL units, prefixes and prompt vectors in these tests


def methods_for(method, **options):
    methods = keras_methods(resolve_method_set(method, **options))
    for m in methods:
        m.prepare(padded_batch()[0])  # PASTA: two special tokens per sequence
    return methods


def build(tiny, method, **options):
    keep_tokens = Vocabulary(tiny.vocab_path).keep_tokens
    sizes = {'fl': 'ffn_prompt_size', 'ptv2': 'prompt_size', 'prompt': 'prompt_size', 'apt': 'prompt_size'}
    if method in sizes:
        options[sizes[method]] = SIZE
    return build_model(tiny.backbone, tiny.config_path, tiny.checkpoint_path,
                       keep_tokens=keep_tokens, methods=methods_for(method, **options))


def encode(transformer, token_ids=None, segment_ids=None):
    if token_ids is None:
        token_ids, segment_ids = padded_batch()
    output = transformer.model.get_layer(last_layer_name(transformer)).output
    return K.function(transformer.model.inputs, [output])([token_ids, segment_ids])[0]


def closed_form(method, tiny, ln_embedding=False, simplified_vocabulary=True):
    """Each method's count, written out by hand for the tiny config."""
    c = tiny.config
    d, f, layers = c['hidden_size'], c['intermediate_size'], c['num_hidden_layers']
    vocab_size = len(Vocabulary(tiny.vocab_path).keep_tokens) if simplified_vocabulary else c['vocab_size']
    if method == 'fl':
        return layers * (d * SIZE + SIZE + SIZE * d + d)
    if method == 'ptv2':
        return layers * 2 * SIZE * d
    if method == 'prompt':
        return SIZE * d
    if method == 'ln':
        return layers * 2 * 2 * d + (2 * d if ln_embedding else 0)
    if method == 'pasta':
        return layers * 2 * d
    if method == 'apt':
        return layers * (2 * SIZE * d + d * SIZE + SIZE + 1)
    embeddings = (vocab_size + 2) * d + 2 * d + (512 * d if tiny.backbone == 'bert' else 0)
    block = 4 * (d * d + d) + (d * f + f) + (f * d + d) + 2 * 2 * d
    return embeddings + layers * block


def trained_layer(name, method, layers):
    """Whether the weight ``name`` belongs to what ``method`` trains."""
    layer = name.split('/')[0]
    blocks = ['Transformer-%d-' % i for i in range(layers)]
    if method == 'fl':
        return 'added_units' in name
    if method == 'ptv2':
        return layer.endswith('PromptEmbedding')
    if method == 'prompt':
        return layer == 'Input-Prompt'
    if method == 'ln':
        return layer in [b + part for b in blocks for part in ('MultiHeadSelfAttention-Norm', 'FeedForward-Norm')]
    if method == 'pasta':
        return layer.endswith('Special-Token-Adaptation')
    if method == 'apt':
        return layer.endswith('PromptEmbedding') or layer.endswith('Prefix-Gate')
    return not layer.startswith('MLM-') and layer != 'Embedding-Relative-Position'


@pytest.fixture(scope='module')
def frozen_outputs(tiny_models):
    """Each backbone's last layer without any tuning method, on the padded batch."""
    outputs = {}
    for backbone in BACKBONES:
        K.clear_session()
        tiny = tiny_models[backbone]
        outputs[backbone] = encode(build_model(backbone, tiny.config_path, tiny.checkpoint_path,
                                               ffn_prompt_size=0,
                                               keep_tokens=Vocabulary(tiny.vocab_path).keep_tokens))
    return outputs


def set_weights(transformer, layer_suffix, make):
    layers = [l for name, l in transformer.layers.items() if name.endswith(layer_suffix)]
    assert layers
    for layer in layers:
        layer.set_weights([make(w) for w in layer.get_weights()])


def check_neutral_value(transformer, method, frozen):
    """At its neutral value a method computes the frozen model (its weights are
    restored afterwards). P-tuning v2, APT and prompt tuning have no such value: the
    prefixes or vectors are always attended to (APT is checked against P-tuning v2)."""
    if method in ('ptv2', 'apt', 'prompt'):
        return
    trained = transformer.model.trainable_weights
    saved = K.batch_get_value(trained)
    if method == 'pasta':
        set_weights(transformer, 'Special-Token-Adaptation', np.zeros_like)
    if method == 'fl':
        for i in range(transformer.num_hidden_layers):
            out = transformer.layers['Transformer-%d-FeedForward' % i].added_units_out
            out.set_weights([np.zeros_like(w) for w in out.get_weights()])
    ours = encode(transformer)
    if method == 'fl':  # a sum with an exact zero, in another order: equal up to rounding
        valid = padded_batch()[0] != 0
        np.testing.assert_allclose(ours[valid], frozen[valid], atol=1e-5, rtol=0)
    else:  # LN-tuning and fine-tuning untouched, PASTA with zero vectors
        np.testing.assert_array_equal(ours, frozen)
    K.batch_set_value(list(zip(trained, saved)))


@pytest.mark.parametrize('backbone', BACKBONES)
@pytest.mark.parametrize('method', METHOD_SETS)
def test_what_trains_its_neutral_value_and_one_step_changes_only_that(
        tiny_models, frozen_outputs, backbone, method):
    tiny = tiny_models[backbone]
    K.clear_session()
    transformer = build(tiny, method)
    report_trainable = [w for w in transformer.model.trainable_weights]
    expected = [w for w in transformer.model.weights
                if trained_layer(w.name, method, tiny.config['num_hidden_layers'])]
    assert sorted(w.name for w in report_trainable) == sorted(w.name for w in expected)
    count = int(sum(K.count_params(w) for w in report_trainable))
    assert count == closed_form(method, tiny) == transformer.method_parameters()[method]
    check_neutral_value(transformer, method, frozen_outputs[backbone])

    model = classifier(transformer)
    model.compile(loss='sparse_categorical_crossentropy', optimizer=get_optimizer(1e-2, 0, 10))
    before = K.batch_get_value(model.weights)
    token_ids, segment_ids = padded_batch()
    model.train_on_batch([token_ids, np.zeros_like(segment_ids)], np.array([[0], [1], [1]]))
    after = K.batch_get_value(model.weights)
    trainable = set(w.name for w in model.trainable_weights)
    changed = set(w.name for w, b, a in zip(model.weights, before, after) if not np.array_equal(b, a))
    assert changed == trainable
    assert trainable == set(w.name for w in expected) | {'head/kernel:0', 'head/bias:0'}


@pytest.mark.parametrize('backbone', BACKBONES)
def test_apt_with_gates_at_one_equals_ptv2_with_the_same_prefixes(tiny_models, backbone):
    tiny = tiny_models[backbone]
    ptv2 = build(tiny, 'ptv2')
    rng = np.random.RandomState(3)
    set_weights(ptv2, 'PromptEmbedding', lambda w: rng.normal(0, 0.5, w.shape))
    prefixes = dict((n, l.get_weights()) for n, l in ptv2.layers.items() if n.endswith('PromptEmbedding'))
    expected = encode(ptv2)
    K.clear_session()
    apt = build(tiny, 'apt')
    for name, values in prefixes.items():
        apt.layers[name].set_weights(values)
    # kernel 0 and a large bias: sigmoid gives exactly 1.0 in float32; layer weight 1
    set_weights(apt, 'Prefix-Gate', lambda w: np.full(w.shape, 100.0 if w.shape == (SIZE,) else
                                                     (1.0 if w.shape == () else 0.0)))
    np.testing.assert_array_equal(encode(apt), expected)
    # a gate below 1 scales the prefixes: the output moves
    set_weights(apt, 'Prefix-Gate', lambda w: np.full(w.shape, 0.0 if w.shape != () else 1.0))
    assert np.abs(encode(apt) - expected).max() > 1e-4


def test_apt_token_gates_pool_over_real_tokens_only(tiny_models):
    tiny = tiny_models['bert']
    apt = build(tiny, 'apt')
    rng = np.random.RandomState(5)
    set_weights(apt, 'Prefix-Gate', lambda w: rng.normal(0, 1.0, w.shape))
    gates = K.function(apt.model.inputs, [apt.layers[gate_name(1)].gates])
    token_ids, segment_ids = padded_batch()
    padded = gates([token_ids, segment_ids])[0]
    for row, ids in enumerate(token_ids):
        real = ids != 0
        alone = gates([ids[real][None], segment_ids[row][real][None]])[0]
        np.testing.assert_allclose(padded[row], alone[0], atol=1e-6, rtol=0)
    assert np.all((padded > 0) & (padded < 1))


def test_prompt_vectors_enter_before_the_first_block_and_heads_see_only_real_tokens(tiny_models):
    for backbone in BACKBONES:
        K.clear_session()
        tiny = tiny_models[backbone]
        transformer = build(tiny, 'prompt')
        token_ids, segment_ids = padded_batch()
        first_block_input = transformer.model.get_layer('Input-Prompt').output
        embeddings = transformer.model.get_layer('Embedding-Dropout').output
        run = K.function(transformer.model.inputs, [first_block_input, embeddings])
        lengthened, real = run([token_ids, segment_ids])
        vectors = transformer.layers['Input-Prompt'].get_weights()[0]
        np.testing.assert_array_equal(lengthened[:, :SIZE], np.broadcast_to(vectors, (3,) + vectors.shape))
        np.testing.assert_array_equal(lengthened[:, SIZE:], real)
        output = transformer.model.get_layer(last_layer_name(transformer))
        assert output.output_shape == (None, None, tiny.config['hidden_size'])
        before = encode(transformer)
        assert before.shape == token_ids.shape + (tiny.config['hidden_size'],)
        set_weights(transformer, 'Input-Prompt', lambda w: w + 1.0)
        moved = np.abs(encode(transformer) - before).max(-1)
        assert np.all(moved[token_ids != 0] > 1e-4), backbone


def occurrences(token_ids, slots):
    return K.eval(special_token_occurrences(K.constant(np.array(token_ids), dtype='int32'), slots))


def slot_of(one_hot):
    """Per position: the slot it takes, or -1."""
    return np.where(one_hot.sum(-1) > 0, one_hot.argmax(-1), -1)


def test_pasta_finds_special_tokens_in_every_kind_of_encoding(tiny_models):
    from bert4keras.snippets import sequence_padding
    from fl_tuning.tasks.classification import Example
    from fl_tuning.tasks.multiple_choice import C3Example
    token_dict = Vocabulary(tiny_models['bert'].vocab_path).token_dict
    tokenizer = Tokenizer(token_dict)
    h = {'maxlen': 12}
    single = get_task('tnews').encode(Example((u'我们的学生', None), 0, None), tokenizer, h).inputs[0][0]
    pair = get_task('afqmc').encode(Example((u'花呗借呗', u'余额'), 0, None), tokenizer, h).inputs[0][0]
    truncated = get_task('afqmc').encode(
        Example((u'花呗借呗余额账户手机号码密码', u'登录注册充值提现'), 0, None), tokenizer, h).inputs[0][0]
    c3 = get_task('c3')
    choices = c3.encode(C3Example(u'我们的学生', u'什么', [u'学生', u'老师', u'无效答案', u'无效答案'], 0, '1'),
                        tokenizer, {'maxlen': 16}).inputs[0]
    assert len(truncated) == 12 and list(truncated).count(3) == 2  # truncation keeps both [SEP]
    rows = [single, pair, truncated] + list(choices)
    batch = sequence_padding(rows)  # padded to the longest row
    slots = occurrences(batch, 4)
    for row, ids in zip(slot_of(slots), batch):
        specials = [i for i, t in enumerate(ids) if t in (2, 3)]
        assert ids[specials[0]] == 2 and all(ids[i] == 3 for i in specials[1:])
        expected = -np.ones(len(ids), dtype=int)
        expected[specials] = np.arange(len(specials))
        np.testing.assert_array_equal(row, expected)
    assert [len([t for t in r if t in (2, 3)]) for r in rows] == [2, 3, 3, 4, 4, 4, 4]
    # an occurrence beyond the slots gets no vector
    assert slot_of(occurrences(batch, 2))[1].tolist().count(-1) == len(batch[1]) - 2


def test_pasta_slots_come_from_the_data(tiny_models):
    pasta = keras_methods(resolve_method_set('pasta'))[0]
    pasta.prepare([np.array([2, 5, 3]), np.array([2, 5, 3, 6, 3, 7, 3]), np.array([2, 3, 0, 0])])
    assert pasta.settings() == {'slots': 4}


def test_without_method_the_sizes_decide_as_before():
    assert resolve_method_set() == {'fl': {'ffn_prompt_size': 160}}
    assert resolve_method_set(ffn_prompt_size=0, prompt_size=160) == {'ptv2': {'prompt_size': 160}}
    assert resolve_method_set(ffn_prompt_size=8, prompt_size=2) == {
        'fl': {'ffn_prompt_size': 8}, 'ptv2': {'prompt_size': 2}}
    assert resolve_method_set(ffn_prompt_size=0) == {}
    assert resolve_method_set('ptv2,fl') == resolve_method_set(prompt_size=160)
    assert list(resolve_method_set('ln,fl', ffn_prompt_size=4, ln_embedding=True).items()) == [
        ('fl', {'ffn_prompt_size': 4}), ('ln', {'ln_embedding': True})]


@pytest.mark.parametrize('method,options,message', [
    ('finetune,ln', {}, 'finetune trains the whole backbone and combines with no other method'),
    ('fl,lora', {}, "unknown method lora"),
    ('fl,fl', {}, 'names a method twice'),
    ('ptv2,apt', {}, 'apt and ptv2 do not combine'),
    ('prompt,pasta', {}, 'pasta and prompt do not combine'),
    ('ln', {'prompt_size': 8}, '--prompt-size is not used by --method ln'),
    ('fl', {'ln_embedding': True}, '--ln-embedding is not used by --method fl'),
    ('ptv2', {'prompt_size': 0}, '--prompt-size 0 turns ptv2 off'),
    (None, {'ln_embedding': True}, '--ln-embedding is an option of LN-tuning: add --method ln'),
])
def test_method_sets_that_cannot_be_built_are_refused(method, options, message):
    with pytest.raises(InputError, match=message):
        resolve_method_set(method, **options)


def test_default_learning_rates():
    assert default_learning_rate(resolve_method_set('fl,ln'))[0] is None  # the task's table
    assert default_learning_rate(resolve_method_set('apt'))[0] is None
    assert default_learning_rate(resolve_method_set('ln'))[0] == 1e-3
    assert default_learning_rate(resolve_method_set('finetune'))[0] == 2e-5
    assert default_learning_rate(resolve_method_set('ln,pasta'))[0] == 1e-3


def params_json(tiny, *flags):
    output = subprocess.check_output(
        [sys.executable, '-m', 'fl_tuning', 'params', '--config', tiny.config_path, '--json'] + list(flags),
        stderr=subprocess.DEVNULL)
    return json.loads(output.decode('utf-8'))


def test_params_json_gives_the_closed_forms(tiny_models):
    tiny = tiny_models['nezha']
    report = params_json(tiny, '--backbone', 'nezha', '--method', 'apt,ln,fl', '--prompt-size', '3',
                         '--ffn-prompt-size', '3', '--ln-embedding')
    assert report['methods'] == {'fl': closed_form('fl', tiny), 'apt': closed_form('apt', tiny),
                                 'ln': closed_form('ln', tiny, ln_embedding=True)}
    assert report['trainable'] == sum(report['methods'].values())
    # params builds from the config alone: the whole vocabulary, not the simplified one
    backbone = closed_form('finetune', tiny, simplified_vocabulary=False)
    frozen = backbone + 129 * 8  # and NEZHA's fixed relative-position table
    assert report['total'] == frozen + report['methods']['fl'] + report['methods']['apt']
    report = params_json(tiny, '--backbone', 'nezha', '--method', 'finetune')
    assert report == {'methods': {'finetune': backbone}, 'trainable': backbone, 'total': frozen}


@pytest.mark.parametrize('backbone', BACKBONES)
def test_shared_counts_from_the_config_equal_the_built_models(tiny_models, backbone):
    """The framework-free formulas, fed the sizes read from bert_config.json, give the
    counts of the weights the Keras model really trains."""
    tiny = tiny_models[backbone]
    dimensions = Dimensions.of_config(tiny.config, backbone, len(Vocabulary(tiny.vocab_path).keep_tokens))
    for method in METHOD_SETS:
        K.clear_session()
        transformer = build(tiny, method)
        shared = [m.parameter_count(dimensions) for m in transformer.tuning_methods]
        assert shared == [closed_form(method, tiny)], method
        assert sum(shared) == parameter_report(transformer)['trainable'], method
