"""Training-step time of the tuning methods on both frameworks, side by side in one run:
the Keras side in .venv (TensorFlow 1.15) and the PyTorch side in .venv-modern, each
through its framework's Trainer (the code a run uses) on the same checkpoint (random
weights, written once), the same batches (random token ids, an afqmc head).

    python3 benchmarks/framework_step.py --layers 4 --hidden 256 --steps 10

Prints milliseconds per step (best of --rounds) and the PyTorch/Keras ratio.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
METHOD_SETS = ['fl', 'ptv2', 'ln', 'finetune']
VENVS = (('keras', '.venv'), ('torch', '.venv-modern'))


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--layers', type=int, default=4)
    parser.add_argument('--hidden', type=int, default=256, help='hidden size (heads of 64)')
    parser.add_argument('--size', type=int, default=160, help='FL units, prefixes')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--length', type=int, default=128)
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--methods', default=','.join(METHOD_SETS), help='comma list (default: %(default)s)')
    parser.add_argument('--framework', help=argparse.SUPPRESS)  # a worker: time one framework
    parser.add_argument('--model-dir', help=argparse.SUPPRESS)
    return parser.parse_args()


def model_dir(args):
    folder = '/tmp/fl_tuning_framework_step_%dx%d' % (args.layers, args.hidden)
    if not os.path.isfile(os.path.join(folder, 'bert_config.json')):
        script = ('from fl_tuning.testing.tiny import write_tiny_model; write_tiny_model(%r, %r, '
                  'num_hidden_layers=%d, hidden_size=%d, num_attention_heads=%d, intermediate_size=%d)'
                  % ('bert', folder, args.layers, args.hidden, args.hidden // 64, 4 * args.hidden))
        subprocess.check_call([os.path.join(ROOT, '.venv', 'bin', 'python'), '-c', script], cwd=ROOT)
    return folder


def time_framework(args):
    """Worker: {method set: best milliseconds per training step} on ``args.framework``."""
    import numpy as np
    from fl_tuning.framework import load_framework
    from fl_tuning.methods import resolve_method_set
    from fl_tuning.tasks import get_task
    framework = load_framework(args.framework)
    files = framework.ModelFiles(args.model_dir, None, 'bert', lambda message: None)
    vocab_size = sum(1 for _ in open(files.vocab, encoding='utf-8'))
    rng = np.random.RandomState(0)
    token_ids = rng.randint(106, vocab_size, size=(args.batch, args.length))
    token_ids[:, 0], token_ids[:, -1] = 101, 102
    batch = ([token_ids, np.zeros_like(token_ids)], rng.randint(0, 2, size=(args.batch, 1)))
    task = get_task('afqmc')
    best = {}
    for _ in range(args.rounds):
        for method in args.methods.split(','):
            sizes = {'ffn_prompt_size': args.size if method == 'fl' else None,
                     'prompt_size': args.size if method == 'ptv2' else None}
            framework.reset()
            trainer = framework.Trainer('bert', files, resolve_method_set(method, **sizes), None, task, 0,
                                        args.steps + 2)
            for step in range(2):  # warm-up: graphs, allocations
                trainer.train_step(*batch, step=step)
            started = time.time()
            for step in range(2, 2 + args.steps):
                trainer.train_step(*batch, step=step)
            seconds = (time.time() - started) / args.steps
            best[method] = min(best.get(method, seconds), seconds)
    device, stack = framework.describe_device()
    print(json.dumps({'stack': stack, 'device': device,
                      'milliseconds': dict((m, 1000 * s) for m, s in best.items())}))


def main():
    args = arguments()
    if args.framework:
        return time_framework(args)
    folder = model_dir(args)
    print('%d layers x %d hidden (FFN %d), batch %d x %d tokens, size %d, %d steps per timing, best of %d'
          % (args.layers, args.hidden, 4 * args.hidden, args.batch, args.length, args.size, args.steps,
             args.rounds))
    results = {}
    for framework, venv in VENVS:
        command = [os.path.join(ROOT, venv, 'bin', 'python'), os.path.abspath(__file__), '--framework', framework,
                   '--model-dir', folder] + sys.argv[1:]
        output = subprocess.run(command, stdout=subprocess.PIPE, cwd=ROOT, check=True,
                                env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='3')).stdout
        results[framework] = json.loads(output.decode().strip().splitlines()[-1])
        print('%s: %s on %s' % (framework, results[framework]['stack'], results[framework]['device']))
    print('| method | Keras (TF 1.15) ms/step | PyTorch ms/step | PyTorch / Keras |')
    print('| --- | ---: | ---: | ---: |')
    for method in args.methods.split(','):
        keras, torch = (results[f]['milliseconds'][method] for f in ('keras', 'torch'))
        print('| %s | %.1f | %.1f | %.2f |' % (method, keras, torch, torch / keras))


if __name__ == '__main__':
    main()
