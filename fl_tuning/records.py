"""Run records, the one format every run writes and every table reads: JSON lines in
``<output dir>/records/<task>.jsonl``, a ``run`` line (the settings, the device and
stack), one line per finished epoch, and a ``summary`` line once the run is complete.
The run writes them (after every epoch, atomically); summary, report and sweep's
completeness check read them, all through this module."""
import json
import os

from fl_tuning.data_files import write_atomically
from fl_tuning.errors import InputError
from fl_tuning.methods import label, method_set_from_sizes


class Record(object):
    """One run's record, read once: its ``run`` header, its epochs, its summary (None
    while the run is incomplete)."""

    def __init__(self, path, run, epochs, summary):
        self.path, self.run, self.epochs, self.summary = path, run, epochs, summary

    @property
    def complete(self):
        return self.summary is not None


def record_path(output_dir, task):
    return os.path.join(output_dir, 'records', '%s.jsonl' % task)


def write_record(path, run, epochs, summary=None):
    lines = [{'run': run}] + list(epochs) + ([{'summary': summary}] if summary is not None else [])
    write_atomically(path, ''.join(json.dumps(line, sort_keys=True) + '\n' for line in lines))


def read_record(path):
    """The record at ``path``; None when there is none (no file, or no ``run`` line)."""
    if not os.path.isfile(path):
        return None
    with open(path, encoding='utf-8') as f:
        lines = [json.loads(line) for line in f if line.strip()]
    if not lines or 'run' not in lines[0]:
        return None
    summary = lines[-1].get('summary') if len(lines) > 1 else None
    return Record(path, lines[0]['run'], [line for line in lines[1:] if 'epoch' in line], summary)


def read_records(runs_dir):
    """Every run record below ``runs_dir``, in path order."""
    if not os.path.isdir(runs_dir):
        raise InputError('runs dir not found: %s' % runs_dir)
    records = []
    for root, _, names in sorted(os.walk(runs_dir)):
        if os.path.basename(root) != 'records':
            continue
        for name in sorted(names):
            if name.endswith('.jsonl'):
                record = read_record(os.path.join(root, name))
                if record is not None:
                    records.append(record)
    return records


def setting_label(run):
    """'full', or 'fewK' for a run trained on a few-shot sample of K per unit."""
    sample = (run.get('few_shot') or {}).get('train')
    return 'few%d' % sample['k'] if sample else 'full'


def method_label(run):
    """A run header's method label (records from before methods were named: its sizes),
    with the framework where it is not the faithful port: 'fl', 'fl (torch)'; so tables
    and reports put both frameworks' runs side by side."""
    method = run.get('method') or label(method_set_from_sizes(run['ffn_prompt_size'], run['prompt_size']))
    framework = run.get('framework', 'keras')
    return method if framework == 'keras' else '%s (%s)' % (method, framework)
