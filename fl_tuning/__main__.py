"""Command line: ``python -m fl_tuning {demo,params} ...``."""
import argparse
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


def quiet_tensorflow():
    import warnings
    warnings.filterwarnings('ignore')
    import tensorflow as tf
    tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)


def command_demo(args):
    from bert4keras.backend import K
    from fl_tuning.demo import run_demo
    for backbone in (['bert', 'nezha', 'roformer'] if args.backbone == 'all' else [args.backbone]):
        K.clear_session()
        result = run_demo(backbone, output_dir=args.output_dir, epochs=args.epochs)
        print('%s: final dev accuracy %.3f on the synthetic task (tiny random model)'
              % (backbone, result['dev_accuracy'][-1]))


def command_params(args):
    from bert4keras.backend import K
    from fl_tuning.models import build_model, parameter_report
    report = parameter_report(build_model(
        args.backbone, args.config, None,
        ffn_prompt_size=args.ffn_prompt_size, prompt_size=args.prompt_size))
    K.clear_session()
    print('methods: %s' % (', '.join(report['methods']) or 'none (head only)'))
    print('trainable parameters: {:,} (closed form {:,})'.format(
        report['trainable'], report['expected_trainable']))
    print('backbone parameters:  {:,} (without the unused MLM head)'.format(report['total']))
    print('trainable share:      {:.2f}%'.format(report['trainable_percent']))


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m fl_tuning', description=__doc__)
    commands = parser.add_subparsers(dest='command')
    demo = commands.add_parser(
        'demo', help='FL-tune a tiny random model on a synthetic task (about a minute on a CPU)',
        description='Example: python -m fl_tuning demo --backbone all')
    demo.add_argument('--backbone', default='bert', choices=['bert', 'nezha', 'roformer', 'all'])
    demo.add_argument('--output-dir', default='demo_output', help='where the tiny checkpoint goes')
    demo.add_argument('--epochs', type=int, default=10)
    params = commands.add_parser(
        'params', help='trainable vs total parameters for a bert_config.json, no checkpoint needed',
        description='Example: python -m fl_tuning params --config bert_config.json --ffn-prompt-size 160')
    params.add_argument('--config', required=True, help='path of bert_config.json')
    params.add_argument('--backbone', default='bert', choices=['bert', 'nezha', 'roformer'])
    params.add_argument('--ffn-prompt-size', type=int, default=160, help='FL-tuning units (0: off)')
    params.add_argument('--prompt-size', type=int, default=0, help='P-tuning v2 prefixes (0: off)')
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    quiet_tensorflow()
    from fl_tuning.errors import InputError
    try:
        {'demo': command_demo, 'params': command_params}[args.command](args)
    except InputError as error:
        print('error: %s' % error, file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
