"""Prediction by length in larger batches changes no prediction and no metric, and
background batch preparation changes no training batch."""
import os

import numpy as np
import pytest
from bert4keras.backend import K

from fl_tuning.keras.heads import build_task_model
from fl_tuning.keras.models import build_model
from fl_tuning.text import Tokenizer
from fl_tuning.vocab import Vocabulary
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.prediction import predict_results
from fl_tuning.data_files import BadLines
from fl_tuning.tasks import get_task
from fl_tuning.tasks.base import batches, collate, prefetched


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    return write_clue_fixtures(str(tmp_path_factory.mktemp('clue')),
                               tasks=['tnews', 'c3', 'chid', 'cluener', 'cmrc2018'], counts=(4, 40, 3))


def in_file_order(model, task, encoded, batch_size):
    """Results as the port computed them before: file order, training-sized batches."""
    results = []
    for batch in batches(encoded, batch_size, shuffle=False):
        inputs, _ = collate(task, batch)
        results.extend(task.reduce(model.predict_on_batch(inputs), batch))
    return results


@pytest.mark.parametrize('task_name', ['tnews', 'c3', 'chid', 'cluener', 'cmrc2018'])
def test_predictions_by_length_equal_those_in_file_order(tiny_models, data, task_name):
    tiny = tiny_models['bert']
    vocabulary = Vocabulary(tiny.vocab_path)
    token_dict, keep_tokens = vocabulary.token_dict, vocabulary.keep_tokens
    tokenizer = Tokenizer(token_dict)
    task = get_task(task_name)
    task.hyperparameters = dict(task.hyperparameters, batch_size=4)
    read = lambda split: task.read([os.path.join(data, task_name, n) for n in getattr(task, '%s_files' % split)],  # noqa: E731
                                   split, BadLines())
    train, dev = read('train'), read('dev')
    task.prepare(train, dev)
    encoded = [task.encode(e, tokenizer, task.hyperparameters).compact() for e in dev]
    lengths = [max(len(r) for r in e.inputs[0]) for e in encoded]
    assert len(set(lengths)) > 3  # so that the order and the padding really change
    model, _ = build_task_model(task, build_model('bert', tiny.config_path, tiny.checkpoint_path, ffn_prompt_size=4,
                                      keep_tokens=keep_tokens))
    before = in_file_order(model, task, encoded, 4)
    after = predict_results(model.predict_on_batch, task, encoded, 4, False, 'dev')
    assert task.evaluate(dev, encoded, after) == task.evaluate(dev, encoded, before)
    if task_name == 'c3':  # padded choices are identical: their tie may fall either way
        logits_before, logits_after = task.choice_logits(before), task.choice_logits(after)
        np.testing.assert_allclose(logits_after, logits_before, atol=1e-5)
        chosen = logits_before[np.arange(len(dev)), logits_after.argmax(1)]
        np.testing.assert_allclose(chosen, logits_before.max(1), atol=1e-5)
    else:
        assert task.submission(dev, encoded, after, tokenizer) == task.submission(dev, encoded, before, tokenizer)
    K.clear_session()


def test_prefetched_batches_are_the_same_batches_in_the_same_order():
    np.random.seed(3)
    plain = list(batches(list(range(23)), 5, shuffle=True))
    state_after_plain = np.random.get_state()[1].copy()
    np.random.seed(3)
    background = list(prefetched(batches(list(range(23)), 5, shuffle=True)))
    assert background == plain and plain != list(batches(list(range(23)), 5, shuffle=False))
    # one permutation drawn either way: the generator (saved with a run's state) agrees
    np.testing.assert_array_equal(np.random.get_state()[1], state_after_plain)


def test_an_error_while_preparing_batches_reaches_the_training_loop():
    def broken():
        yield 1
        raise ValueError('bad batch')
    consumed = prefetched(broken())
    assert next(consumed) == 1
    with pytest.raises(ValueError, match='bad batch'):
        next(consumed)
