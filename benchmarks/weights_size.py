"""Size of a tuned-weights file against the original's full-weights file, for a
BERT-base-sized model (random weights; the sizes do not depend on the values).

    .venv/bin/python benchmarks/weights_size.py --ffn-prompt-size 160
"""
import argparse
import os
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fl_tuning.keras.heads import build_task_model  # noqa: E402
from fl_tuning.keras.models import build_model  # noqa: E402
from fl_tuning.tasks import get_task  # noqa: E402
from fl_tuning.testing.tiny import BERT_BASE_CONFIG, write_config  # noqa: E402
from fl_tuning.keras.weights import save_tuned_weights  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--ffn-prompt-size', type=int, default=160)
    parser.add_argument('--prompt-size', type=int, default=0)
    parser.add_argument('--task', default='afqmc')
    parser.add_argument('--vocab-size', type=int, default=BERT_BASE_CONFIG['vocab_size'],
                        help='rows of the embedding table (RoBERTa-wwm-ext: 21128 before simplification)')
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix='fl_tuning_sizes_')
    config = write_config(os.path.join(folder, 'bert_config.json'),
                          dict(BERT_BASE_CONFIG, vocab_size=args.vocab_size))
    transformer = build_model('bert', config, None, ffn_prompt_size=args.ffn_prompt_size,
                              prompt_size=args.prompt_size)
    model, _ = build_task_model(get_task(args.task), transformer)
    tuned = os.path.join(folder, 'tuned.weights')
    full = os.path.join(folder, 'full.weights')
    save_tuned_weights(model, tuned, {'task': args.task})
    model.save_weights(full)  # what the original saves
    tuned_size, full_size = os.path.getsize(tuned), os.path.getsize(full)
    print('BERT-base, %s head, ffn_prompt_size %d, prompt_size %d, vocabulary %d' % (
        args.task, args.ffn_prompt_size, args.prompt_size, args.vocab_size))
    print('tuned-weights file: %12s bytes' % '{:,}'.format(tuned_size))
    print('full-weights file:  %12s bytes (the original\'s model.save_weights)' % '{:,}'.format(full_size))
    print('ratio:              %11.2f%%' % (100.0 * tuned_size / full_size))
    for path in (tuned, full):
        os.remove(path)
    os.remove(config)
    os.rmdir(folder)


if __name__ == '__main__':
    main()
