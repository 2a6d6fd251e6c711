"""What one TensorFlow stack computes, saved for tests/test_stacks.py to compare with
the other stack: the last-layer outputs of every backbone and method on the same
weights, and the losses of the first epoch of seeded runs, two of which go on to write
the tuned-weights files and submissions that the other stack must reproduce.

    python tests/stack_probe.py WORK_DIR OUTPUT.npz

WORK_DIR receives the tiny checkpoints and data (written the same on every stack).
"""
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from fl_tuning.keras.compat import STACK, K  # noqa: E402 (chooses the stack before bert4keras)
from fl_tuning.keras.determinism import SeededInitialValues  # noqa: E402
from fl_tuning.testing.fixtures import write_clue_fixtures  # noqa: E402
from fl_tuning.keras.methods import keras_methods  # noqa: E402
from fl_tuning.methods import METHOD_NAMES, resolve_method_set  # noqa: E402
from fl_tuning.keras.models import build_model, last_layer_name  # noqa: E402
from fl_tuning.run import Run, RunConfig  # noqa: E402
from fl_tuning.testing.tiny import write_tiny_model  # noqa: E402
from fl_tuning.vocab import Vocabulary  # noqa: E402

BACKBONES = ['bert', 'nezha', 'roformer']
TASKS = ['afqmc', 'c3', 'cluener', 'cmrc2018']
# Seeded training on each stack: every method on BERT (afqmc), and FL-tuning (with
# LN-tuning on RoFormer) with the other heads on every backbone (c3 and cmrc2018 with
# gradient accumulation).
LOSS_RUNS = {
    'bert': [(method, 'afqmc') for method in METHOD_NAMES] + [('fl', 'cmrc2018')],
    'nezha': [('fl', 'c3')],
    'roformer': [('fl,ln', 'cluener')],
}
# Loss runs trained to the end (one epoch): the other stack predicts with their
# tuned-weights files and must write the same submission.
CROSSING_RUNS = [('bert', 'fl', 'afqmc'), ('roformer', 'fl,ln', 'cluener')]
SIZE = 3  # FL units, prefixes and prompt vectors
SEED = 11
TOKEN_IDS = np.array([[101, 120, 130, 140, 150, 160, 102], [101, 121, 131, 141, 102, 0, 0]])
SEGMENT_IDS = np.zeros_like(TOKEN_IDS)


def method_set(method):
    """The methods with SIZE units, prefixes or prompt vectors."""
    names = method.split(',')
    sizes = {'ffn_prompt_size': SIZE} if 'fl' in names else {}
    if set(names) & {'ptv2', 'prompt', 'apt'}:
        sizes['prompt_size'] = SIZE
    return resolve_method_set(method, **sizes)


def last_layer_outputs(backbone, model_dir, method):
    """On the checkpoint, with the method's weights drawn from the seed."""
    K.clear_session()
    keep_tokens = Vocabulary(os.path.join(model_dir, 'vocab.txt')).keep_tokens
    methods = keras_methods(method_set(method))
    for m in methods:
        m.prepare(TOKEN_IDS)  # PASTA: its special tokens
    initial_values = SeededInitialValues(SEED)
    with initial_values.recorded():
        transformer = build_model(backbone, os.path.join(model_dir, 'bert_config.json'),
                                  os.path.join(model_dir, 'bert_model.ckpt'),
                                  keep_tokens=keep_tokens, methods=methods)
    initial_values.assign(keep=transformer.loaded_weights)
    output = transformer.model.get_layer(last_layer_name(transformer)).output
    return K.function(transformer.model.inputs, [output])([TOKEN_IDS, SEGMENT_IDS])[0]


def run_config(backbone, model_dir, data_dir, output_dir, method, task, **hyperparameters):
    # maxlen 128: c3's and cmrc2018's 512 cost time and no stack difference depends on it
    return RunConfig(backbone, task, data_dir, model_dir, output_dir, seed=SEED, batch_size=2, maxlen=128,
                     method_set=method_set(method), progress=False, **hyperparameters)


class LossRecordingRun(Run):
    """A run that keeps the loss of every step of its first epoch."""

    def train_epoch(self, epoch):
        losses = super(LossRecordingRun, self).train_epoch(epoch)
        if epoch == 1:
            self.first_losses = np.array(losses)
        return losses


def first_losses(backbone, model_dir, data_dir, output_dir, method, task, complete=False):
    """The loss of every step of the first epoch; with ``complete``, the run goes on to
    write its tuned-weights file and submission."""
    K.clear_session()
    run = LossRecordingRun(run_config(backbone, model_dir, data_dir, output_dir, method, task, epochs=1),
                           log=lambda message: None)
    if complete:
        run.execute()
    else:
        run.start()
        run.train_epoch(1)
    return run.first_losses


def probe(work_dir):
    data_dir = write_clue_fixtures(os.path.join(work_dir, 'data'), tasks=TASKS, counts=(12, 4, 2))
    results = {'stack': np.array(STACK)}
    for backbone in BACKBONES:
        model_dir = os.path.join(work_dir, 'models', backbone)
        write_tiny_model(backbone, model_dir)
        for method in METHOD_NAMES:
            results['outputs/%s/%s' % (backbone, method)] = last_layer_outputs(backbone, model_dir, method)
        for method, task in LOSS_RUNS[backbone]:
            crossing = (backbone, method, task) in CROSSING_RUNS
            output_dir = (crossing_dir(work_dir, backbone, method, task) if crossing
                          else os.path.join(work_dir, 'runs', backbone, method, task))
            results['losses/%s/%s/%s' % (backbone, method, task)] = first_losses(
                backbone, model_dir, data_dir, output_dir, method, task, complete=crossing)
    return results


def crossing_dir(work_dir, backbone, method, task):
    """Where the run of CROSSING_RUNS writes its weights and submission."""
    return os.path.join(work_dir, 'crossing', backbone, method, task)


if __name__ == '__main__':
    work_dir, output_path = sys.argv[1:3]
    partial = output_path + '.partial.npz'
    np.savez(partial, **probe(work_dir))
    os.replace(partial, output_path)
