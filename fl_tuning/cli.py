"""The command line of the package, ``python -m fl_tuning COMMAND`` (run, tasks, demo,
predict, summarize, params, sweep, report, pack, gates, export, evaluate), and the
per-backbone task scripts (``fl_tuning_bert/afqmc.py`` ...)."""
import argparse
import json
import os
import sys
from collections import OrderedDict

from fl_tuning.arguments import backbone_dir, comma_list, count, file_names, named_file
from fl_tuning.backbones import BACKBONES

ORIGINAL_FOLDERS = {'bert': 'FL-Tuning-BERT', 'nezha': 'FL-Tuning-NEZHA', 'roformer': 'FL-Tuning-RoFormer'}

RUN_EXAMPLE = '''example:
  python -m fl_tuning run --backbone bert --task afqmc \\
      --data-dir clue_dataset --model-dir chinese_roberta_wwm_ext_L-12_H-768_A-12 \\
      --output-dir runs/bert'''


def quiet_warnings():
    """Library deprecation warnings are not the user's business (TensorFlow's own
    logs are quieted where the Keras side is imported)."""
    import warnings
    warnings.filterwarnings('ignore')


def add_run_arguments(parser, with_backbone_and_task=True):
    from fl_tuning.run_options import RUN_OPTIONS, add_options
    from fl_tuning.tasks import TASK_NAMES
    if with_backbone_and_task:
        parser.add_argument('--backbone', required=True, choices=BACKBONES)
        parser.add_argument('--task', required=True, choices=TASK_NAMES)
    groups = add_options(parser, [o.name for o in RUN_OPTIONS], installed_framework())
    add_method_arguments(groups['tuning method'])


def add_framework_options(parser, *names):
    """--framework (default: the installed one) and the other options ``names`` of a run
    that a command on a saved run takes too."""
    from fl_tuning.run_options import add_options
    add_options(parser, ('framework',) + names, installed_framework())


def installed_framework():
    from fl_tuning.framework import default_framework
    return {'framework': default_framework()}


def add_method_arguments(group):
    from fl_tuning.methods import METHOD_NAMES
    group.add_argument('--method', metavar='M[,M...]',
                       help='tuning method(s), comma-separated, from: %s (e.g. fl,ln). '
                       'Default: the sizes decide, as in the original (FL-tuning with 160 units)'
                       % ', '.join(METHOD_NAMES))
    group.add_argument('--ffn-prompt-size', type=count(0),
                       help='fl: hidden units added to every FFN (default 160; without --method, 0 '
                       'turns FL-tuning off)')
    group.add_argument('--prompt-size', type=count(0),
                       help='ptv2 and apt: key/value prefixes per layer; prompt: input vectors '
                       '(default 160 for a named method; without --method, default 0: off)')
    group.add_argument('--ln-embedding', action='store_true',
                       help='ln: also tune the embedding LayerNorm (default: only the two '
                       'LayerNorms of every layer)')


def method_set(args):
    from fl_tuning.methods import resolve_method_set
    return resolve_method_set(args.method, ffn_prompt_size=args.ffn_prompt_size,
                              prompt_size=args.prompt_size, ln_embedding=args.ln_embedding)


def run_config(args, backbone, task):
    from fl_tuning.run import RunConfig
    from fl_tuning.run_options import OPTIONS
    return RunConfig(backbone, task, method_set=method_set(args), **dict((name, getattr(args, name)) for name in OPTIONS))


def execute_run(config):
    from fl_tuning.framework import load_framework
    from fl_tuning.processes import run_processes
    from fl_tuning.run import Run
    summary = Run(config).execute()
    load_framework(config.framework).reset()
    if not run_processes().writer:
        return summary
    best = summary['best_dev'][summary['metric']]
    print('best dev %s: %.5f (epoch %s)' % (summary['metric'], best, summary['best_epoch']))
    for path in summary['submissions']:
        print('submission: %s' % path)
    return summary


def command_run(args):
    execute_run(run_config(args, args.backbone, args.task))


def command_tasks(args):
    from fl_tuning.tasks.hyperparameters import COLUMNS, HYPERPARAMETERS
    if args.json:
        print(json.dumps(HYPERPARAMETERS, indent=2))
        return
    header = ('task',) + COLUMNS
    rows = [header] + [(name,) + tuple(str(v) for v in h.values()) for name, h in HYPERPARAMETERS.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def command_demo(args):
    from fl_tuning.demo import run_demo
    from fl_tuning.framework import load_framework
    load_framework(args.framework)  # a missing framework said before anything is written
    run_demo(args.output_dir, backbone=args.backbone, progress=args.progress, framework=args.framework)


def command_predict(args):
    from fl_tuning.framework import load_framework
    from fl_tuning.predict import predict
    for path in predict(args.weights, args.model_dir, data_dir=args.data_dir,
                        output_dir=args.output_dir, test_file=args.test_file, output=args.output,
                        checkpoint=args.checkpoint, progress=args.progress, framework=args.framework,
                        device=args.device, precision=args.precision):
        print('submission: %s' % path)
    load_framework(args.framework).reset()


def command_export(args):
    from fl_tuning.export import export
    from fl_tuning.framework import load_framework
    export(args.weights, args.model_dir, args.output_dir, data_dir=args.data_dir, texts=args.texts,
           golden_size=args.golden_size, checkpoint=args.checkpoint, framework=args.framework, device=args.device)
    load_framework(args.framework).reset()


def command_evaluate(args):
    from fl_tuning.evaluate import evaluate
    metrics = evaluate(args.task, args.data_dir, args.predictions, args.dev_file)
    if args.json:
        print(json.dumps(metrics, sort_keys=True))
        return
    scores = ', '.join(('%s %.5f' if isinstance(v, float) else '%s %d') % (k, v) for k, v in sorted(metrics.items())
                       if isinstance(v, (int, float)) and k != 'examples')
    print('%s: %s over %d dev examples' % (args.task, scores, metrics['examples']))
    if 'official' in metrics:
        print('as the official script prints it: %s' % metrics['official'])
    if 'scored_as' in metrics:
        print('scored as %s' % metrics['scored_as'])


def command_summarize(args):
    from fl_tuning.summary import summarize
    rows, text, csv_path, markdown_path = summarize(args.runs_dir, args.csv, args.markdown)
    print(text)
    print('%d run(s); written to %s and %s' % (len(rows), csv_path, markdown_path))


def command_gates(args):
    from fl_tuning.framework import load_framework
    from fl_tuning.gates import gates_table, probe_gates
    rows = probe_gates(args.weights, model_dir=args.model_dir, data_dir=args.data_dir,
                       checkpoint=args.checkpoint, progress=args.progress,
                       log=lambda line: print(line, file=sys.stderr if args.json else sys.stdout),
                       framework=args.framework, device=args.device)
    load_framework(args.framework).reset()
    print(json.dumps(rows, indent=2) if args.json else gates_table(rows))


def command_sweep(args):
    import shlex
    from fl_tuning.errors import InputError
    from fl_tuning.sweep import FULL, Grid, Sweep, check_cluster_fits, read_grid_file, slurm_script
    grid = read_grid_file(args.grid) if args.grid else None
    values = dict((key, getattr(grid, key)) for key in (
        'backbones', 'tasks', 'methods', 'seeds', 'settings', 'data_dir', 'output_dir',
        'few_shot_seed', 'run_args')) if grid else {'settings': [FULL], 'output_dir': 'runs',
                                                    'data_dir': './clue_dataset'}
    flags = {'backbones': args.backbone and dict(args.backbone), 'tasks': args.tasks,
             'methods': args.methods, 'seeds': args.seeds, 'settings': args.settings,
             'data_dir': args.data_dir, 'output_dir': args.output_dir,
             'few_shot_seed': args.few_shot_seed,
             'run_args': args.run_args and shlex.split(args.run_args)}
    values.update((key, value) for key, value in flags.items() if value is not None)
    missing = [key for key in ('backbones', 'tasks', 'methods', 'seeds') if not values.get(key)]
    if missing:
        raise InputError('sweep needs %s (flags or --grid FILE)' % ', '.join(missing))
    runs = Grid(**values).runs()
    if args.dry_run:
        for run in runs:
            print(run.shell_command())
        return
    if args.slurm:
        todo = [run for run in runs if not run.complete()]
        unchecked = check_cluster_fits(args.slurm_cpus, args.slurm_gpus)
        if unchecked:
            print('note: %s' % unchecked)
        path = slurm_script(todo, args.slurm, gpus_per_run=args.slurm_gpus, cpus_per_run=args.slurm_cpus,
                            time_limit=args.slurm_time, parallel=args.slurm_parallel)
        print('%s: %d of %d runs (the others are complete); submit with: sbatch %s' % (
            path, len(todo), len(runs), path))
        return
    sweep = Sweep(runs, workers=args.workers, gpus=args.gpus)
    if not sweep.execute():
        raise InputError('%d of %d runs failed (their logs are listed above)' % (len(sweep.failed), len(runs)))


def command_report(args):
    from fl_tuning.report import write_report
    markdown_path, html_path, images = write_report(args.runs_dir, args.output_dir, args.compare)
    print('report: %s, %s and %d curve(s) in %s' % (markdown_path, html_path, len(images), args.output_dir))


def command_pack(args):
    from fl_tuning.pack import pack
    found, missing, incomplete = pack(args.run_dirs, args.output)
    print('%s: %d submission file(s): %s' % (args.output, len(found), ', '.join(found)))
    if incomplete:
        print('tasks with a test file missing: %s' % ', '.join(incomplete))
    if missing:
        print('tasks missing from the submission: %s' % ', '.join(missing))


def command_params(args):
    from fl_tuning.framework import load_framework
    from fl_tuning.methods import create_methods, method_set_of
    from fl_tuning.methods.base import CLS_ID, SEP_ID
    methods = create_methods(method_set(args))
    for method in methods:
        method.prepare([[CLS_ID] + [SEP_ID] * (args.pasta_slots - 1)])
    report = load_framework(args.framework).parameter_report(args.backbone, args.config, method_set_of(methods))
    if args.json:
        print(json.dumps({'methods': report['by_method'], 'trainable': report['trainable'],
                          'total': report['total']}))
        return
    for method in methods:
        count = report['by_method'][method.name]
        print('{:<10} {:>13,}  {:7.4f}%  {!r}'.format(
            method.name, count, 100.0 * count / report['total'], method))
    print('trainable parameters: {:,} (closed form {:,})'.format(
        report['trainable'], report['expected_trainable']))
    print('backbone parameters:  {:,} (without the unused MLM head)'.format(report['total']))
    print('trainable share:      {:.2f}%'.format(report['trainable_percent']))


def run_parser(commands):
    run = commands.add_parser(
        'run', help='train a task on a backbone and write its CLUE submission',
        description='Train a CLUE task with FL-tuning (and/or P-tuning v2), keep the best '
                    'dev epoch and write the CLUE submission file(s).',
        epilog=RUN_EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(run)


def tasks_parser(commands):
    tasks = commands.add_parser(
        'tasks', help="print every task's hyperparameters",
        description="Print every task's hyperparameters (the original's). "
                    'Example: python -m fl_tuning tasks --json')
    tasks.add_argument('--json', action='store_true', help='as JSON keyed by task name')


def demo_parser(commands):
    demo = commands.add_parser(
        'demo', help='the bundled demo: a tiny random model on bundled tnews-format data',
        description='FL-tune a tiny random checkpoint on the bundled tnews-format data and '
                    'write the submission files. Example: python -m fl_tuning demo')
    demo.add_argument('--output-dir', default='demo_output')
    demo.add_argument('--backbone', default='bert', choices=BACKBONES)
    add_framework_options(demo, 'progress')


def predict_parser(commands):
    predict = commands.add_parser(
        'predict', help='write submission files from a tuned-weights file, without training',
        description='Write CLUE submission files from a saved run: its tuned-weights file '
                    'on the pretrained checkpoint it was tuned from.',
        epilog='examples:\n  python -m fl_tuning predict --weights runs/bert/weights/afqmc.weights \\\n'
               '      --model-dir chinese_roberta_wwm_ext_L-12_H-768_A-12 --data-dir clue_dataset '
               '--output-dir runs/bert\n'
               '  python -m fl_tuning predict --weights runs/bert/weights/afqmc.weights \\\n'
               '      --model-dir chinese_roberta_wwm_ext_L-12_H-768_A-12 '
               '--test-file afqmc/test.json --output afqmc_predict.json',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    predict.add_argument('--weights', required=True, help='weights/<task>.weights of a run')
    predict.add_argument('--model-dir', required=True, help='the pretrained model it was tuned from')
    predict.add_argument('--checkpoint', help='checkpoint prefix, if the model dir has several')
    predict.add_argument('--data-dir', default='./clue_dataset',
                         help="predict all the task's test files found here (default ./clue_dataset)")
    predict.add_argument('--output-dir', default='.', help='their submissions go to OUTPUT_DIR/results')
    predict.add_argument('--test-file', help='predict this one test file instead')
    predict.add_argument('--output', help='the submission file for --test-file')
    add_framework_options(predict, 'device', 'precision', 'progress')


def summarize_parser(commands):
    summarize = commands.add_parser(
        'summarize', help='one table over many runs (CSV and Markdown too)',
        description='Print one table over every run below RUNS_DIR (their records/*.jsonl) and '
                    'write it as RUNS_DIR/summary.csv and RUNS_DIR/summary.md. '
                    'Example: python -m fl_tuning summarize runs')
    summarize.add_argument('runs_dir', metavar='RUNS_DIR')
    summarize.add_argument('--csv', help='CSV path (default RUNS_DIR/summary.csv)')
    summarize.add_argument('--markdown', help='Markdown path (default RUNS_DIR/summary.md)')


def params_parser(commands):
    params = commands.add_parser(
        'params', help='trainable vs total parameters for a bert_config.json',
        description='Example: python -m fl_tuning params --config bert_config.json '
                    '--method fl,ln --json')
    params.add_argument('--config', required=True, help='path of bert_config.json')
    params.add_argument('--backbone', default='bert', choices=BACKBONES)
    add_method_arguments(params)
    params.add_argument('--pasta-slots', type=count(1), default=3,
                        help='pasta: special tokens per sequence (a run counts them in its data; '
                        'default 3, a sentence pair)')
    params.add_argument('--json', action='store_true',
                        help='as {"methods": {name: count}, "trainable": n, "total": n}')
    add_framework_options(params)


def sweep_parser(commands):
    sweep = commands.add_parser(
        'sweep', help='a grid of runs: backbones x tasks x methods x settings x seeds',
        description='Run every combination of a grid, each run in its own process under '
                    'OUTPUT_DIR/<backbone>/<task>/<method>/<setting>/seed<k>/ (its log: run.log '
                    'there); complete runs are skipped, killed ones resumed, failures listed at the end.',
        epilog='examples:\n'
               '  python -m fl_tuning sweep --backbone bert=chinese_roberta_wwm_ext_L-12_H-768_A-12 \\\n'
               '      --tasks wsc,afqmc --methods fl,ptv2,finetune --seeds 1,2,3 --settings full,few16 \\\n'
               '      --data-dir clue_dataset --output-dir runs --gpus 0,1,2,3\n'
               '  python -m fl_tuning sweep --grid grid.yaml --slurm grid.sbatch',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sweep.add_argument('--grid', help='a JSON or YAML file with keys backbones (name: model dir), tasks, '
                       'methods, seeds, settings, data_dir, output_dir, few_shot_seed, run_args; '
                       'flags override it')
    sweep.add_argument('--backbone', action='append', type=backbone_dir, metavar='NAME=MODEL_DIR')
    sweep.add_argument('--tasks', type=comma_list())
    sweep.add_argument('--methods', type=comma_list(), help="method sets, '+' inside one (fl,ptv2,fl+ln)")
    sweep.add_argument('--seeds', type=comma_list(int))
    sweep.add_argument('--settings', type=comma_list(), help="'full' and/or 'fewK' (e.g. few16) (default full)")
    sweep.add_argument('--few-shot-seed', type=count(0),
                       help="the sample seed of every few-shot run (default: the run's seed)")
    sweep.add_argument('--data-dir')
    sweep.add_argument('--output-dir', help='default: runs')
    sweep.add_argument('--run-args', help="more flags for every run, e.g. '--epochs 3'")
    where = sweep.add_mutually_exclusive_group()
    where.add_argument('--workers', type=count(1), default=1, help='runs at once (default 1)')
    where.add_argument('--gpus', type=comma_list(int), help='one run per GPU, each seeing only its GPU')
    where.add_argument('--dry-run', action='store_true', help='print one command per run')
    where.add_argument('--slurm', metavar='FILE', help='write a SLURM job array of the incomplete runs')
    sweep.add_argument('--slurm-gpus', type=count(0), default=1,
                       help='GPUs per array task (default 1); above 1 (--framework torch), torchrun spreads each '
                            'run over them')
    sweep.add_argument('--slurm-cpus', type=count(1), default=4, help='CPUs per array task (default 4)')
    sweep.add_argument('--slurm-time', default='24:00:00', help='time limit per run (default 24:00:00)')
    sweep.add_argument('--slurm-parallel', type=count(1), help='at most this many array tasks at once')


def report_parser(commands):
    report = commands.add_parser(
        'report', help='tables, learning curves and the paper\'s claims over many runs',
        description='Write REPORT/report.md and report.html (curves as PNG files beside them) '
                    'from every run record below RUNS_DIR. Example: python -m fl_tuning report runs '
                    '--output-dir report')
    report.add_argument('runs_dir', metavar='RUNS_DIR')
    report.add_argument('--output-dir', default='report', help='default: report')
    report.add_argument('--compare', type=named_file, action='append', default=[], metavar='NAME=CSV',
                        help="another implementation's results beside ours (columns task, backbone, method, "
                        'setting, seed, epoch, dev; dev a fraction); its methods show as "fl [NAME]"')


def pack_parser(commands):
    pack = commands.add_parser(
        'pack', help='the submission files of some runs as one zip for the CLUE leaderboard',
        description='Zip the results/ files of the given runs at the top level, as the CLUE '
                    'leaderboard takes them, and name the tasks missing. Example: python -m fl_tuning '
                    'pack runs/bert/*/fl/full/seed1 --output clue_submission.zip')
    pack.add_argument('run_dirs', metavar='RUN_DIR', nargs='+', help="runs' output dirs")
    pack.add_argument('--output', default='clue_submission.zip', help='default: clue_submission.zip')


def gates_parser(commands):
    gates = commands.add_parser(
        'gates', help="an APT run's learned layer weights and mean token gates per layer",
        description="Print an APT run's learned layer weight and its token gates, averaged over "
                    "the task's dev set, for every layer. Example: python -m fl_tuning gates "
                    'runs/bert/weights/afqmc.weights --data-dir clue_dataset')
    gates.add_argument('weights', metavar='WEIGHTS_FILE', help='weights/<task>.weights of an apt run')
    gates.add_argument('--model-dir', help='the pretrained model it was tuned from (default: the '
                       "folder of the checkpoint its manifest names)")
    gates.add_argument('--checkpoint', help='checkpoint prefix, if the model dir has several')
    gates.add_argument('--data-dir', default='./clue_dataset',
                       help="the dev set is read from here (default ./clue_dataset)")
    gates.add_argument('--json', action='store_true', help='one JSON object per layer')
    add_framework_options(gates, 'device', 'progress')


def export_parser(commands):
    export = commands.add_parser(
        'export', help='a tuned run as a plain backbone: Google-format and Hugging Face files, '
                       'its head and golden outputs',
        description='Fold what a run trained (fl, ln, finetune and their combinations) into a plain '
                    'backbone and write OUTPUT_DIR/tf (Google-format checkpoint, bert_config.json, '
                    'vocab.txt), OUTPUT_DIR/hf (transformers config.json, model.safetensors, '
                    'tokenizer files), head.json and head.safetensors, and golden.npz (inputs, '
                    'last-layer and head outputs). Check it with tools/compare_transformers.py.',
        epilog='example:\n  python -m fl_tuning export --weights runs/bert/weights/afqmc.weights '
               '--model-dir chinese_roberta_wwm_ext \\\n      --data-dir clue_dataset --output-dir export/afqmc',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument('--weights', required=True, help='weights/<task>.weights of a run')
    export.add_argument('--model-dir', required=True, help='the pretrained model it was tuned from')
    export.add_argument('--checkpoint', help='checkpoint prefix, if the model dir has several')
    export.add_argument('--output-dir', required=True, help='where the export goes (an earlier export '
                        'there is replaced)')
    export.add_argument('--data-dir', help="golden inputs: the first dev examples of the run's task here")
    export.add_argument('--texts', help="golden inputs: the records of this file, in the task's "
                        'test-file format (instead of --data-dir)')
    export.add_argument('--golden-size', type=int, help='how many examples (default 8)')
    add_framework_options(export, 'device')


def evaluate_parser(commands):
    evaluate = commands.add_parser(
        'evaluate', help='score a dev predictions file (CLUE submission format) the way our runs do',
        description="Score dev predictions in the CLUE submission format, from any implementation, "
                    "with the run's metric (cluener: entity F1 of the character spans; cmrc2018: the "
                    "official EM and F1). Dev records without ids are keyed as run --write-dev-predictions "
                    "writes them: a JSON-lines record by its 0-based line, a c3 question by "
                    "'<file>-<document>-<question>'.")
    from fl_tuning.tasks import TASK_NAMES
    evaluate.add_argument('--task', required=True, choices=TASK_NAMES)
    evaluate.add_argument('--data-dir', required=True, help='the folder of the CLUE task folders')
    evaluate.add_argument('--predictions', required=True, help='the dev predictions file')
    evaluate.add_argument('--dev-file', type=file_names, metavar='NAME[,NAME...]',
                          help='dev file(s) inside the task folder, as the run read them')
    evaluate.add_argument('--json', action='store_true', help='the metrics as one JSON object')


def build_parser():
    parser = argparse.ArgumentParser(
        prog='python -m fl_tuning',
        description='FL-Tuning (arXiv 2206.15312) on CLUE: the faithful bert4keras port (Keras) and '
                    'its PyTorch side (--framework).')
    commands = parser.add_subparsers(dest='command', metavar='COMMAND')
    for add_parser, _ in COMMANDS.values():
        add_parser(commands)
    return parser


# Each command: the function adding its parser and the one running it, in the help's order.
COMMANDS = OrderedDict([
    ('run', (run_parser, command_run)),
    ('tasks', (tasks_parser, command_tasks)),
    ('demo', (demo_parser, command_demo)),
    ('predict', (predict_parser, command_predict)),
    ('summarize', (summarize_parser, command_summarize)),
    ('params', (params_parser, command_params)),
    ('sweep', (sweep_parser, command_sweep)),
    ('report', (report_parser, command_report)),
    ('pack', (pack_parser, command_pack)),
    ('gates', (gates_parser, command_gates)),
    ('export', (export_parser, command_export)),
    ('evaluate', (evaluate_parser, command_evaluate)),
])


def guarded(function, args):
    """Run a command; bad input becomes its lines on stderr and exit code 2, an output
    that cannot be written one line and exit code 3, a run in progress in another process
    one line and exit code 4."""
    from fl_tuning.errors import (EXIT_BAD_INPUT, EXIT_CANNOT_WRITE, EXIT_RUNNING_ELSEWHERE, InputError, OutputError,
                                  RunInProgress)
    from fl_tuning.processes import says_bad_input
    codes = ((InputError, EXIT_BAD_INPUT), (OutputError, EXIT_CANNOT_WRITE), (RunInProgress, EXIT_RUNNING_ELSEWHERE))
    try:
        function(args)
    except (InputError, OutputError, RunInProgress) as error:
        if not isinstance(error, InputError) or says_bad_input():
            for line in str(error).splitlines():
                print('error: %s' % line, file=sys.stderr)
        return next(code for kind, code in codes if isinstance(error, kind))
    return 0


def one_process(command):
    """``command`` refused under torchrun: only ``run`` shares its work out over processes
    (the others would each do all of it, and write the same files)."""
    def checked(args):
        from fl_tuning.errors import InputError
        from fl_tuning.processes import run_processes
        world_size = run_processes().world_size
        if world_size > 1:
            raise InputError('WORLD_SIZE=%d: only the run command spreads over processes (torchrun); start '
                             '%s as one process' % (world_size, args.command))
        command(args)
    return checked


def main(argv=None):
    quiet_warnings()
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    command = COMMANDS[args.command][1]
    return guarded(command if args.command == 'run' else one_process(command), args)


def task_script_main(script_path, argv=None):
    """Entry of ``fl_tuning_<backbone>/<task>.py``: that task on that backbone."""
    quiet_warnings()
    folder = os.path.basename(os.path.dirname(os.path.abspath(script_path)))
    backbone = folder[len('fl_tuning_'):]
    task = os.path.splitext(os.path.basename(script_path))[0]
    parser = argparse.ArgumentParser(
        prog=os.path.join(folder, os.path.basename(script_path)),
        description="%s on %s, as the original %s/%s.py; the flags of "
                    "'python -m fl_tuning run'." % (task, backbone, ORIGINAL_FOLDERS[backbone], task),
        epilog='example:\n  python %s/%s.py --data-dir clue_dataset --model-dir MODEL_DIR'
               % (folder, task), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser, with_backbone_and_task=False)
    args = parser.parse_args(argv)
    return guarded(lambda a: execute_run(run_config(a, backbone, task)), args)
