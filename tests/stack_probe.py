"""What one TensorFlow stack computes, saved for tests/test_stacks.py to compare with
the other stack: the last-layer outputs of every backbone and method on the same
weights, the losses of the first epoch of seeded runs, and complete runs whose
tuned-weights files the other stack predicts with.

    python tests/stack_probe.py WORK_DIR OUTPUT.npz

WORK_DIR receives the tiny checkpoints and data (written the same on every stack).
"""
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from fl_tuning.compat import STACK, K  # noqa: E402 (chooses the stack before bert4keras)
from fl_tuning.determinism import SeededInitialValues  # noqa: E402
from fl_tuning.fixtures import write_clue_fixtures  # noqa: E402
from fl_tuning.methods import METHOD_NAMES, create_methods, resolve_method_set  # noqa: E402
from fl_tuning.models import build_model, last_layer_name  # noqa: E402
from fl_tuning.run import Run, RunConfig  # noqa: E402
from fl_tuning.tiny import write_tiny_model  # noqa: E402
from fl_tuning.vocab import load_vocabulary  # noqa: E402

BACKBONES = ['bert', 'nezha', 'roformer']
TASKS = ['afqmc', 'c3', 'cluener', 'cmrc2018']
# Seeded training on each stack: every method on BERT (afqmc), and FL-tuning with the
# other heads on every backbone (c3 and cmrc2018 with gradient accumulation).
LOSS_RUNS = {
    'bert': [(method, 'afqmc') for method in METHOD_NAMES] + [('fl', 'cmrc2018')],
    'nezha': [('fl', 'c3')],
    'roformer': [('fl', 'cluener')],
}
# Runs whose tuned-weights file the other stack loads to predict the same submission.
CROSSING_RUNS = [('bert', 'fl', 'afqmc'), ('roformer', 'fl,ln', 'cluener')]
SIZE = 3  # FL units, prefixes and prompt vectors
SEED = 11
STEPS = 3
TOKEN_IDS = np.array([[101, 120, 130, 140, 150, 160, 102], [101, 121, 131, 141, 102, 0, 0]])
SEGMENT_IDS = np.zeros_like(TOKEN_IDS)


def method_set(method):
    size_flag = {'fl': 'ffn_prompt_size', 'ptv2': 'prompt_size', 'prompt': 'prompt_size',
                 'apt': 'prompt_size'}.get(method)
    return resolve_method_set(method, **({size_flag: SIZE} if size_flag else {}))


def last_layer_outputs(backbone, model_dir, method):
    """On the checkpoint, with the method's weights drawn from the seed."""
    K.clear_session()
    _, keep_tokens = load_vocabulary(os.path.join(model_dir, 'vocab.txt'))
    methods = create_methods(method_set(method))
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
    return RunConfig(backbone, task, data_dir, model_dir, output_dir, seed=SEED, batch_size=2,
                     method_set=method_set(method), progress=False, **hyperparameters)


def first_losses(*config_args):
    """The loss of every step of the first epoch."""
    K.clear_session()
    run = Run(run_config(*config_args), log=lambda message: None)
    run.start()
    return np.array(run.train_epoch(1))


def probe(work_dir):
    data_dir = write_clue_fixtures(os.path.join(work_dir, 'data'), tasks=TASKS, counts=(12, 4, 2))
    results = {'stack': np.array(STACK)}
    for backbone in BACKBONES:
        model_dir = os.path.join(work_dir, 'models', backbone)
        write_tiny_model(backbone, model_dir)
        for method in METHOD_NAMES:
            results['outputs/%s/%s' % (backbone, method)] = last_layer_outputs(backbone, model_dir, method)
        for method, task in LOSS_RUNS[backbone]:
            output_dir = os.path.join(work_dir, 'runs', backbone, method, task)
            results['losses/%s/%s/%s' % (backbone, method, task)] = first_losses(
                backbone, model_dir, data_dir, output_dir, method, task)
    for backbone, method, task in CROSSING_RUNS:
        K.clear_session()
        model_dir = os.path.join(work_dir, 'models', backbone)
        config = run_config(backbone, model_dir, data_dir, crossing_dir(work_dir, backbone, method, task),
                            method, task, epochs=1)
        Run(config, log=lambda message: None).execute()
    return results


def crossing_dir(work_dir, backbone, method, task):
    """Where the run of CROSSING_RUNS writes its weights and submission."""
    return os.path.join(work_dir, 'crossing', backbone, method, task)


if __name__ == '__main__':
    work_dir, output_path = sys.argv[1:3]
    partial = output_path + '.partial.npz'
    np.savez(partial, **probe(work_dir))
    os.replace(partial, output_path)
