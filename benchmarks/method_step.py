"""Training-step time of every tuning method on the same small model.

Builds the model once per method set (random weights, a [CLS] classifier) and
prints its trainable parameters and milliseconds per training step, best of
``--rounds`` alternating rounds, so the methods can be compared on one machine.

    .venv/bin/python benchmarks/method_step.py --layers 4 --hidden 256 --steps 10
"""
import argparse
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fl_tuning.keras.compat import STACK, K, keras  # noqa: E402 (chooses the stack before bert4keras)

from fl_tuning.keras.models import build_model, parameter_report  # noqa: E402
from fl_tuning.keras.methods import keras_methods  # noqa: E402
from fl_tuning.methods import resolve_method_set  # noqa: E402
from fl_tuning.methods.base import CLS_ID, SEP_ID  # noqa: E402
from fl_tuning.testing.tiny import BERT_BASE_CONFIG, write_config  # noqa: E402

from training_step import time_training_step  # noqa: E402

METHOD_SETS = ['fl', 'ptv2', 'prompt', 'ln', 'pasta', 'apt', 'finetune', 'fl,ln']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--layers', type=int, default=4)
    parser.add_argument('--hidden', type=int, default=256, help='hidden size (heads of 64)')
    parser.add_argument('--size', type=int, default=160, help='FL units, prefixes, prompt vectors')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--length', type=int, default=128)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--methods', default=','.join(m.replace(',', '+') for m in METHOD_SETS),
                        help="comma list; '+' joins methods of one set (default: %(default)s)")
    args = parser.parse_args()
    config = dict(BERT_BASE_CONFIG, num_hidden_layers=args.layers, hidden_size=args.hidden,
                  num_attention_heads=args.hidden // 64, intermediate_size=4 * args.hidden)
    config_path = write_config('/tmp/fl_tuning_method_benchmark_config.json', config)
    method_sets = [m.replace('+', ',') for m in args.methods.split(',')]
    print('stack: %s' % STACK)
    print('%d layers x %d hidden (FFN %d), batch %d x %d tokens, size %d, %d steps per timing'
          % (args.layers, args.hidden, 4 * args.hidden, args.batch, args.length, args.size, args.steps))
    best, trainable = {}, {}
    for _ in range(args.rounds):
        for method in method_sets:
            names = method.split(',')
            sizes = {'ffn_prompt_size': args.size if 'fl' in names else None,
                     'prompt_size': args.size if set(names) & {'ptv2', 'apt', 'prompt'} else None}
            methods = keras_methods(resolve_method_set(method, **sizes))
            for m in methods:
                m.prepare([[CLS_ID, SEP_ID]])  # the benchmark's sequences: [CLS] ... [SEP]
            K.clear_session()
            transformer = build_model('bert', config_path, None, methods=methods)
            trainable[method] = parameter_report(transformer)['trainable']
            seconds = time_training_step(transformer, args)
            best[method] = min(seconds, best.get(method, seconds))
    for method in method_sets:
        print('%-10s %11s trainable  %7.1f ms/step  %6.1f examples/s' % (
            method.replace(',', '+'), '{:,}'.format(trainable[method]), best[method] * 1000,
            args.batch / best[method]))


if __name__ == '__main__':
    main()
