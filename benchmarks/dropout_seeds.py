"""With dropout on, the two frameworks draw different masks; this compares what they
reach: the bundled tnews demo (its tiny random BERT checkpoint, its data and
settings) for several seeds on each framework, the best dev accuracy's mean and
standard deviation per framework.

    .venv/bin/python benchmarks/dropout_seeds.py --seeds 0,1,2,3,4   # the PyTorch side from .venv-modern
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from fl_tuning.demo import DEMO_DATA, DEMO_SETTINGS  # noqa: E402

VENVS = (('keras', '.venv'), ('torch', '.venv-modern'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seeds', default='0,1,2,3,4')
    parser.add_argument('--output-dir', default='/tmp/fl_tuning_dropout_seeds')
    args = parser.parse_args()
    model_dir = os.path.join(args.output_dir, 'tiny_bert')
    subprocess.check_call([os.path.join(ROOT, '.venv', 'bin', 'python'), '-c',
                           'from fl_tuning.testing.tiny import write_tiny_model; write_tiny_model("bert", %r)'
                           % model_dir], cwd=ROOT)
    settings = dict(DEMO_SETTINGS)
    flags = ['--task', settings.pop('task'), '--ffn-prompt-size', str(settings.pop('ffn_prompt_size'))]
    settings.pop('seed')
    for name, value in settings.items():
        flags += ['--' + name.replace('_', '-'), str(value)]
    best = dict((framework, []) for framework, _ in VENVS)
    for seed in args.seeds.split(','):
        for framework, venv in VENVS:
            output_dir = os.path.join(args.output_dir, framework, seed)
            subprocess.run([os.path.join(ROOT, venv, 'bin', 'python'), '-m', 'fl_tuning', 'run', '--backbone', 'bert',
                            '--data-dir', DEMO_DATA, '--model-dir', model_dir, '--output-dir', output_dir,
                            '--framework', framework, '--seed', seed, '--no-progress'] + flags,
                           cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL='3'))
            with open(os.path.join(output_dir, 'records', 'tnews.jsonl')) as f:
                summary = json.loads(f.read().splitlines()[-1])['summary']
            best[framework].append(summary['best_dev']['accuracy'])
            print('seed %s %s: best dev accuracy %.4f (epoch %s)' % (seed, framework, best[framework][-1],
                                                                    summary['best_epoch']))
    print('| framework | seeds | best dev accuracy, mean | standard deviation |')
    print('| --- | ---: | ---: | ---: |')
    for framework, values in best.items():
        print('| %s | %d | %.4f | %.4f |' % (framework, len(values), np.mean(values), np.std(values, ddof=1)))
    difference = abs(np.mean(best['keras']) - np.mean(best['torch']))
    print('difference of the means %.4f; within one standard deviation of each: %s' % (
        difference, difference <= min(np.std(v, ddof=1) for v in best.values())))


if __name__ == '__main__':
    main()
