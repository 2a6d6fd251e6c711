"""Training throughput of one run spread over 1, 2, ... processes with torchrun (the
PyTorch side, in .venv-modern): the same afqmc run (random-weight BERT written once,
generated data, dropout off) under each process count, its examples per second read from
its record (the best epoch after the first), and the step losses checked equal.

    .venv-modern/bin/python benchmarks/torchrun_throughput.py --processes 1,2 --layers 4 --hidden 256

On CPUs each process gets its share of the cores (OMP_NUM_THREADS); on GPUs add
--device cuda (a process per GPU).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PYTHON = sys.executable


def arguments():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--processes', default='1,2', help='process counts (default: %(default)s)')
    parser.add_argument('--layers', type=int, default=4)
    parser.add_argument('--hidden', type=int, default=256, help='hidden size (heads of 64)')
    parser.add_argument('--examples', type=int, default=512, help='training examples')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def write_inputs(args, folder):
    from fl_tuning.testing.fixtures import write_clue_fixtures
    from fl_tuning.testing.tiny import write_tiny_model
    write_tiny_model('bert', os.path.join(folder, 'model'), hidden_size=args.hidden, num_hidden_layers=args.layers,
                     num_attention_heads=args.hidden // 64, intermediate_size=4 * args.hidden)
    write_clue_fixtures(os.path.join(folder, 'data'), tasks=['afqmc'], counts=(args.examples, 64, 8))


def timed_run(args, folder, processes):
    output = os.path.join(folder, 'run%d' % processes)
    launcher = [PYTHON, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', str(processes)]
    command = (launcher if processes > 1 else [PYTHON]) + [
        '-m', 'fl_tuning', 'run', '--framework', 'torch', '--device', args.device, '--backbone', 'bert',
        '--task', 'afqmc', '--data-dir', os.path.join(folder, 'data'), '--model-dir', os.path.join(folder, 'model'),
        '--output-dir', output, '--epochs', str(args.epochs), '--batch-size', str(args.batch), '--seed', '1',
        '--no-dropout', '--step-losses', '--no-progress', '--method', 'fl']
    threads = max(1, (os.cpu_count() or 1) // processes)
    result = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS=str(threads)))
    if result.returncode != 0:
        sys.exit(result.stdout.decode())
    with open(os.path.join(output, 'records', 'afqmc.jsonl')) as f:
        epochs = [line for line in map(json.loads, f) if 'epoch' in line]
    losses = [loss for epoch in epochs for loss in epoch['losses']]
    return max(epoch['examples_per_second'] for epoch in epochs[1:] or epochs), losses


def main():
    args = arguments()
    folder = tempfile.mkdtemp(prefix='fl_tuning_torchrun_')
    try:
        write_inputs(args, folder)
        print('afqmc, BERT %d layers x %d, %d examples, batch %d, %s, %d CPU cores' % (
            args.layers, args.hidden, args.examples, args.batch, args.device, os.cpu_count() or 1))
        baseline = None
        for processes in [int(n) for n in args.processes.split(',')]:
            speed, losses = timed_run(args, folder, processes)
            baseline = baseline or (speed, losses)
            difference = max(abs(a - b) for a, b in zip(losses, baseline[1]))
            print('%d process(es): %8.1f examples/s (x%.2f), step losses within %.1e of the first count' % (
                processes, speed, speed / baseline[0], difference))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == '__main__':
    main()
