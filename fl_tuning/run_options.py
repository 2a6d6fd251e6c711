"""Every option of a run, declared once: the command line's flags
(``add_options``), ``RunConfig``'s settings and what the run record keeps
(``recorded``) all follow from this table, so a new run flag is one line here plus
the code that reads it.

An option's ``name`` is the RunConfig attribute and the argparse ``dest``; ``default``
is the value of both; ``recorded`` options go verbatim into the run's settings (what a
resumed run must share); options of the ``hyperparameters`` group override the task's
row of the table where given.
"""
from collections import namedtuple

from fl_tuning.arguments import count, file_names, positive_number
from fl_tuning.framework import FRAMEWORKS

Option = namedtuple('Option', 'name flag group default recorded argparse')
HYPERPARAMETERS = 'hyperparameters'
PRECISIONS = ('fp32', 'tf32', 'bf16', 'mixed_bf16', 'mixed_fp16')


def option(name, flag, group, default=None, recorded=False, **argparse):
    return Option(name, flag, group, default, recorded, argparse)


RUN_OPTIONS = (
    option('data_dir', '--data-dir', 'paths', './clue_dataset',
           help='folder with one subfolder per task (default: ./clue_dataset)'),
    option('model_dir', '--model-dir', 'paths', required=True,
           help='folder with bert_config.json, vocab.txt and a TensorFlow checkpoint; with --framework torch '
           'also a Hugging Face folder (config.json, model.safetensors, vocab.txt)'),
    option('checkpoint', '--checkpoint', 'paths', help='checkpoint prefix, if the model dir has several '
           '(e.g. model.ckpt-691689); default: found in the model dir'),
    option('output_dir', '--output-dir', 'paths', '.',
           help='where weights/, results/ and records/ go (default: .)'),
    option('train_files', '--train-file', 'paths', type=file_names, metavar='NAME[,NAME...]',
           help="training file(s) inside the task folder instead of the task's CLUE files (e.g. FewCLUE: "
           'train_0.json; chid: questions,answers)'),
    option('dev_files', '--dev-file', 'paths', type=file_names, metavar='NAME[,NAME...]',
           help='dev file(s) inside the task folder (e.g. FewCLUE: dev_0.json)'),
    option('few_shot', '--few-shot', 'few-shot setting', type=count(1), metavar='K',
           help='train on a sample drawn from (K, --few-shot-seed): K examples per label (see README for '
           'cluener, c3, chid, cmrc2018); written to OUTPUT_DIR/few_shot'),
    option('few_shot_seed', '--few-shot-seed', 'few-shot setting', 0, type=count(0), metavar='S',
           help='the sample seed (default 0); the same K and S give the same sample anywhere'),
    option('few_shot_dev', '--few-shot-dev', 'few-shot setting', type=count(1), metavar='K',
           help='sample the dev set the same way (default: the full dev set)'),
    option('fused_feed_forward', '--fused-feed-forward', 'tuning method', False, recorded=True,
           action='store_true', help='concatenate the FFN kernels (same function; slower to train on CPU)'),
    option('epochs', '--epochs', HYPERPARAMETERS, type=count(1)),
    option('batch_size', '--batch-size', HYPERPARAMETERS, type=count(1), help='examples per batch'),
    option('learning_rate', '--learning-rate', HYPERPARAMETERS, type=positive_number),
    option('maxlen', '--maxlen', HYPERPARAMETERS, type=count(8)),
    option('grad_accum_steps', '--grad-accum-steps', HYPERPARAMETERS, type=count(1)),
    option('num_warmup_steps', '--warmup-steps', HYPERPARAMETERS, type=count(0)),
    option('seed', '--seed', HYPERPARAMETERS, type=count(0),
           help='makes a run repeatable (default: a random seed, recorded in the record and the weights file)'),
    option('resume', '--resume', 'many runs', False, action='store_true',
           help='continue a killed run from its last completed epoch (same settings)'),
    option('skip_bad_lines', '--skip-bad-lines', 'many runs', False, recorded=True, action='store_true',
           help='skip (and count) bad training/dev records instead of stopping'),
    option('write_dev_predictions', '--write-dev-predictions', 'many runs', False, action='store_true',
           help="the best epoch's dev predictions in the submission format, to "
           'OUTPUT_DIR/dev_predictions/<task>.json (score them with evaluate)'),
    option('framework', '--framework', 'framework', 'keras', recorded=True, choices=tuple(FRAMEWORKS),
           help='keras: the faithful TensorFlow port; torch: PyTorch and transformers (default here: '
           '%(default)s, from the installed libraries)'),
    option('device', '--device', 'framework', help='torch: cpu, cuda, cuda:1 ... (default: the GPU when there is one)'),
    option('precision', '--precision', 'framework', 'fp32', recorded=True, choices=PRECISIONS,
           help='fp32 (TF32 off: the faithful numbers, default) or tf32; torch: bf16 autocast; keras on '
           'TensorFlow 2.15: mixed_bf16, mixed_fp16 (loss scaling), head and loss float32'),
    option('deterministic_ops', '--deterministic-ops', 'framework', False, recorded=True, action='store_true',
           help='repeatable GPU kernels (slower): TensorFlow op determinism or PyTorch deterministic algorithms'),
    option('dropout', '--no-dropout', 'framework', True, recorded=True, action='store_false',
           help='every dropout off, on either framework (for step-by-step comparisons)'),
    option('step_losses', '--step-losses', 'framework', False, action='store_true',
           help="every step's loss in the record"),
    option('progress', '--no-progress', None, True, action='store_false', help='no progress bars'),
)
OPTIONS = dict((o.name, o) for o in RUN_OPTIONS)
OVERRIDABLE = tuple(o.name for o in RUN_OPTIONS if o.group == HYPERPARAMETERS and o.name != 'seed')
FRAMEWORK_OPTIONS = ('framework', 'device', 'precision')


def add_options(parser, names, defaults=None):
    """The flags of the options ``names`` on ``parser``, in their groups (``defaults``:
    {name: default} where a command's differs, e.g. the installed framework); returns
    the groups by title."""
    groups = {}
    for name in names:
        spec = OPTIONS[name]
        if spec.group is not None and spec.group not in groups:
            title = spec.group + (" (default: the task's, see 'tasks')" if spec.group == HYPERPARAMETERS else '')
            groups[spec.group] = parser.add_argument_group(title)
        target = groups[spec.group] if spec.group is not None else parser
        default = (defaults or {}).get(name, spec.default)
        target.add_argument(spec.flag, dest=name, default=default, **spec.argparse)
    return groups


def recorded(config):
    """{name: value} of the options a run's settings keep as given."""
    return dict((o.name, getattr(config, o.name)) for o in RUN_OPTIONS if o.recorded)
