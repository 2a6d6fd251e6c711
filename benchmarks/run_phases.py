"""Wall time of a whole run, phase by phase (start-up, encoding, training, dev
evaluation, saving, prediction), on a small model and tnews-format data.

Writes a random 4-layer, 256-wide BERT and fixture data once (under --work-dir),
then times ``--repeats`` runs and prints each phase's best time.

    .venv/bin/python benchmarks/run_phases.py --train 2000 --dev 500 --test 500 --epochs 3
"""
import argparse
import os
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fl_tuning.keras.compat import STACK, K, keras  # noqa: E402 (chooses the stack before bert4keras)

from fl_tuning.testing.fixtures import write_clue_fixtures  # noqa: E402
from fl_tuning.run import PHASES, Run, RunConfig  # noqa: E402
from fl_tuning.testing.tiny import write_tiny_model  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--work-dir', default='/tmp/fl_tuning_phase_benchmark')
    parser.add_argument('--train', type=int, default=2000)
    parser.add_argument('--dev', type=int, default=500)
    parser.add_argument('--test', type=int, default=500)
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--repeats', type=int, default=2)
    parser.add_argument('--task', default='tnews')
    args = parser.parse_args()
    model_dir = os.path.join(args.work_dir, 'model')
    data_dir = os.path.join(args.work_dir, 'data-%d-%d-%d' % (args.train, args.dev, args.test))
    if not os.path.isdir(model_dir):
        write_tiny_model('bert', model_dir, num_hidden_layers=4, hidden_size=256, num_attention_heads=4,
                         intermediate_size=1024)
    if not os.path.isdir(os.path.join(data_dir, args.task)):
        write_clue_fixtures(data_dir, tasks=[args.task], counts=(args.train, args.dev, args.test))
    print('stack: %s' % STACK)
    print('%s: %d train / %d dev / %d test examples, 4 layers x 256, FL 160 units, %d epochs, batch 32'
          % (args.task, args.train, args.dev, args.test, args.epochs))
    best = {}
    for repeat in range(args.repeats):
        K.clear_session()
        started = time.time()
        summary = Run(RunConfig('bert', args.task, data_dir, model_dir,
                                os.path.join(args.work_dir, 'out-%d' % repeat), epochs=args.epochs,
                                batch_size=32, seed=1, progress=False), log=lambda message: None).execute()
        phases = dict(summary['phase_seconds'], whole=time.time() - started)
        for phase, seconds in phases.items():
            best[phase] = min(seconds, best.get(phase, seconds))
    for phase in PHASES + ('whole',):
        print('%-11s %8.2f s' % (phase, best[phase]))
    print('dev %s of the last epoch: %s' % (summary['metric'], summary['best_dev']))


if __name__ == '__main__':
    main()
