"""Training-step time of the widened feed-forward layer: split form vs fused form.

The split form runs the pretrained and added units as two matmul pairs and sums
them; the fused form concatenates the kernels into one wide matmul pair. Both
compute the same function (tests/test_model.py). Prints milliseconds per training
step and examples per second for each form, on BERT-base-sized layers.

    .venv/bin/python benchmarks/training_step.py --layers 2 --steps 10
"""
import argparse
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from fl_tuning.keras.compat import STACK, K, keras  # noqa: E402 (chooses the stack before bert4keras)

from fl_tuning.keras.models import build_model, last_layer_name  # noqa: E402
from fl_tuning.methods.base import CLS_ID, SEP_ID  # noqa: E402
from fl_tuning.keras.optimizers import get_optimizer  # noqa: E402
from fl_tuning.testing.tiny import BERT_BASE_CONFIG, write_config  # noqa: E402


def time_training_step(transformer, args):
    """Seconds per training step of ``transformer`` with a [CLS] classifier (best of
    ``args.steps`` after warm-up), on random ids of ``args.batch`` x ``args.length``."""
    cls = keras.layers.Lambda(lambda x: x[:, 0])(transformer.model.get_layer(last_layer_name(transformer)).output)
    model = keras.models.Model(transformer.model.input, keras.layers.Dense(2, activation='softmax')(cls))
    model.compile(loss='sparse_categorical_crossentropy', optimizer=get_optimizer(1e-4, 0, 1000))
    rng = np.random.RandomState(0)
    token_ids = rng.randint(1, BERT_BASE_CONFIG['vocab_size'], size=(args.batch, args.length))
    token_ids[:, 0], token_ids[:, -1] = CLS_ID, SEP_ID
    inputs = [token_ids, np.zeros_like(token_ids)]
    labels = rng.randint(0, 2, size=(args.batch, 1))
    for _ in range(2):  # warm-up: graph building and first-run allocations
        model.train_on_batch(inputs, labels)
    start = time.time()
    for _ in range(args.steps):
        model.train_on_batch(inputs, labels)
    return (time.time() - start) / args.steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--layers', type=int, default=2, help='Transformer layers (BERT-base: 12)')
    parser.add_argument('--units', type=int, default=160, help='added FFN units')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--length', type=int, default=128)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=2, help='alternating timing rounds')
    args = parser.parse_args()
    config = dict(BERT_BASE_CONFIG, num_hidden_layers=args.layers)
    config_path = write_config('/tmp/fl_tuning_benchmark_config.json', config)
    print('stack: %s' % STACK)
    print('BERT-base-sized layers: %d, batch %d x %d tokens, %d added units, %d steps per timing'
          % (args.layers, args.batch, args.length, args.units, args.steps))
    results = {False: [], True: []}
    for _ in range(args.rounds):
        for fused in (False, True):
            K.clear_session()
            transformer = build_model('bert', config_path, None, ffn_prompt_size=args.units,
                                      fused_feed_forward=fused)
            results[fused].append(time_training_step(transformer, args))
    for fused in (False, True):
        seconds = min(results[fused])
        print('%-6s form: %7.1f ms/step, %6.1f examples/s (best of %d)' % (
            'fused' if fused else 'split', seconds * 1000, args.batch / seconds, args.rounds))


if __name__ == '__main__':
    main()
