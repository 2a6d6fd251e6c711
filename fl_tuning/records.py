"""Run records below a folder: every ``records/<task>.jsonl``, read once, for the
tables and reports over many runs."""
import json
import os

from fl_tuning.errors import InputError
from fl_tuning.methods import label, method_set_from_sizes


def read_records(runs_dir):
    """[(path, lines)] of every readable run record below ``runs_dir``, in path order."""
    if not os.path.isdir(runs_dir):
        raise InputError('runs dir not found: %s' % runs_dir)
    records = []
    for root, _, names in sorted(os.walk(runs_dir)):
        if os.path.basename(root) != 'records':
            continue
        for name in sorted(names):
            if name.endswith('.jsonl'):
                path = os.path.join(root, name)
                with open(path, encoding='utf-8') as f:
                    lines = [json.loads(line) for line in f if line.strip()]
                if lines and 'run' in lines[0]:
                    records.append((path, lines))
    return records


def method_label(run):
    """A run header's method label (records from before methods were named: its sizes)."""
    return run.get('method') or label(method_set_from_sizes(run['ffn_prompt_size'], run['prompt_size']))
