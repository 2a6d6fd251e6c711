"""One table over many runs: every ``records/<task>.jsonl`` below a folder."""
import csv
import io
import os

from fl_tuning.data_files import write_atomically
from fl_tuning.records import method_label, read_records, setting_label

COLUMNS = ('task', 'backbone', 'method', 'setting', 'ffn_prompt_size', 'prompt_size', 'seed', 'metric',
           'best_dev', 'best_epoch', 'epochs', 'trainable_parameters', 'seconds', 'status', 'record')


def record_row(record):
    """A table row from one run record (finished or not)."""
    run, epochs, summary = record.run, record.epochs, record.summary
    row = {
        'task': run['task'], 'backbone': run['backbone'],
        'method': method_label(run), 'setting': setting_label(run),
        'ffn_prompt_size': run['ffn_prompt_size'], 'prompt_size': run['prompt_size'],
        'seed': run['seed'], 'epochs': '%d/%d' % (len(epochs), run['hyperparameters']['epochs']),
        'seconds': round(sum(e['seconds'] for e in epochs), 1), 'record': record.path,
    }
    if summary is not None:
        row.update(metric=summary['metric'], best_dev=summary['best_dev'][summary['metric']],
                   best_epoch=summary['best_epoch'], status='complete',
                   trainable_parameters=summary['parameters']['trainable'] + summary['parameters']['head'])
    else:
        improved = [e for e in epochs if e['improved']]
        best = improved[-1] if improved else None
        metric = next(iter(best['dev'])) if best else ''
        row.update(metric=metric, best_dev=best['dev'][metric] if best else '',
                   best_epoch=best['epoch'] if best else '', status='incomplete',
                   trainable_parameters='')
    return row


def collect(runs_dir):
    rows = [record_row(record) for record in read_records(runs_dir)]
    rows.sort(key=lambda r: (r['task'], r['backbone'], r['method'], r['setting'], str(r['seed']), r['record']))
    return rows


def cell(row, column):
    value = row[column]
    return '%.5f' % value if column == 'best_dev' and isinstance(value, float) else str(value)


def as_csv(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator='\n')
    writer.writeheader()
    writer.writerows(dict((k, cell(r, k)) for k in COLUMNS) for r in rows)
    return buffer.getvalue()


def as_markdown(rows):
    lines = ['| %s |' % ' | '.join(COLUMNS), '|%s' % ('---|' * len(COLUMNS))]
    lines += ['| %s |' % ' | '.join(cell(r, k) for k in COLUMNS) for r in rows]
    return '\n'.join(lines) + '\n'


def as_text(rows):
    shown = [c for c in COLUMNS if c != 'record']
    table = [shown] + [[cell(r, k) for k in shown] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(shown))]
    return '\n'.join('  '.join(v.ljust(w) for v, w in zip(line, widths)).rstrip() for line in table)


def summarize(runs_dir, csv_path=None, markdown_path=None):
    """Print the table of every run below ``runs_dir`` and write it as CSV and Markdown."""
    rows = collect(runs_dir)
    csv_path = csv_path or os.path.join(runs_dir, 'summary.csv')
    markdown_path = markdown_path or os.path.join(runs_dir, 'summary.md')
    write_atomically(csv_path, as_csv(rows))
    write_atomically(markdown_path, as_markdown(rows))
    return rows, as_text(rows), csv_path, markdown_path
