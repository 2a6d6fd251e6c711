"""The report over a grid of runs: tables of the best dev metric (mean and spread over
seeds), the methods' sizes and speed, learning curves, convergence, and the paper's
headline claims beside what the runs give. Markdown, and the same as one HTML file,
with the curves as PNG files beside them.
"""
import csv
import html
import io
import os
from collections import OrderedDict, defaultdict

import numpy as np

from fl_tuning.errors import InputError
from fl_tuning.few_shot import few_shot_k
from fl_tuning.data_files import check_writable_folder, write_atomically, write_bytes_atomically
from fl_tuning.records import method_label, read_records, setting_label
from fl_tuning.tasks import TASK_NAMES, get_task

# The abstract's claims (arXiv 2206.15312); the paper's figures are CLUE test scores.
CONVERGENCE_SHARE = 0.99  # an epoch 'reaches' the best at 99% of it
PAPER_CONVERGENCE_RATIO = 1.17


class RunRecord(object):
    """One run's record, read once."""

    def __init__(self, record):
        run = record.run
        self.path = record.path
        self.backbone, self.task = run['backbone'], run['task']
        self.method = method_label(run)
        self.setting = setting_label(run)
        self.seed = run['seed']
        self.epochs = record.epochs
        summary = record.summary
        self.complete = summary is not None
        self.total_epochs = run['hyperparameters']['epochs']
        self.metric = summary['metric'] if summary else (next(iter(self.epochs[0]['dev'])) if self.epochs else '')
        self.curve = [epoch['dev'][self.metric] for epoch in self.epochs]
        self.best = max(self.curve) if self.curve else None
        self.parameters = summary['parameters'] if summary else None
        self.seconds_per_epoch = (float(np.mean([e['seconds'] for e in self.epochs]))
                                  if self.epochs else None)

    def converged_epoch(self):
        """The first epoch whose dev metric reaches 99% of this run's best."""
        if not self.curve:
            return None
        return next(i + 1 for i, value in enumerate(self.curve) if value >= CONVERGENCE_SHARE * self.best)


class ExternalRun(RunRecord):
    """One run of another implementation, from its results CSV: its method is shown as
    'method [name]' beside ours, in the same tables and curves."""

    def __init__(self, name, path, key, epochs):
        self.path = path
        self.backbone, self.task, method, self.setting, self.seed = key
        self.method = '%s [%s]' % (method, name)
        self.epochs = [{'epoch': epoch, 'dev': value} for epoch, value in sorted(epochs.items())]
        self.complete, self.total_epochs = True, len(self.epochs)
        self.metric = get_task(self.task).metric
        self.curve = [e['dev'] for e in self.epochs]
        self.best = max(self.curve)
        self.parameters = self.seconds_per_epoch = None


EXTERNAL_COLUMNS = ('task', 'backbone', 'method', 'setting', 'seed', 'epoch', 'dev')


def read_external(name, path):
    """The runs of a results CSV with the columns EXTERNAL_COLUMNS, one row per epoch;
    ``dev`` is the run's dev metric as a fraction (as our records hold it)."""
    if not os.path.isfile(path):
        raise InputError('results file not found: %s' % path)
    runs = OrderedDict()
    with open(path, encoding='utf-8-sig', newline='') as f:
        reader = csv.DictReader(f)
        missing = [c for c in EXTERNAL_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError('%s: missing column(s) %s (expected %s)' % (path, ', '.join(missing),
                                                                         ', '.join(EXTERNAL_COLUMNS)))
        for number, row in enumerate(reader, 2):
            def value(column, kind):
                try:
                    return kind(row[column])
                except (TypeError, ValueError):
                    raise InputError('%s line %d: field %r: expected %s, got %r' % (
                        path, number, column, kind.__name__, row[column]))
            if row['task'] not in TASK_NAMES:
                raise InputError('%s line %d: field \'task\': unknown task %r' % (path, number, row['task']))
            dev = value('dev', float)
            if not 0 <= dev <= 1:
                raise InputError('%s line %d: field \'dev\': %r is not a fraction in [0, 1] (our records '
                                 'hold 0.75, not 75)' % (path, number, row['dev']))
            try:
                few_shot_k(row['setting'])
            except InputError as error:
                raise InputError('%s line %d: field \'setting\': %s' % (path, number, error))
            key = (row['backbone'], row['task'], row['method'], row['setting'], value('seed', int))
            runs.setdefault(key, {})[value('epoch', int)] = dev
    if not runs:
        raise InputError('%s: no rows' % path)
    return [ExternalRun(name, path, key, epochs) for key, epochs in runs.items()]


def collect(runs_dir):
    runs = [RunRecord(record) for record in read_records(runs_dir)]
    if not runs:
        raise InputError('no run records (records/*.jsonl) below %s' % runs_dir)
    return runs


def mean_and_spread(values):
    """(mean, sample standard deviation or None for one value, count)."""
    values = np.array(values, dtype=float)
    spread = float(values.std(ddof=1)) if len(values) > 1 else None
    return float(values.mean()), spread, len(values)


def method_curves(runs):
    """(method, runs, epochs, mean, min, max) per method of ``runs``: the dev metric by
    epoch in percent, as the tables give it, over the runs that reached each epoch
    (partial runs are shorter)."""
    found = []
    for method in ordered(r.method for r in runs):
        curves = [[100 * value for value in r.curve] for r in runs if r.method == method]
        at = [[c[e] for c in curves if len(c) > e] for e in range(max(len(c) for c in curves))]
        found.append((method, len(curves), list(range(1, len(at) + 1)), [float(np.mean(v)) for v in at],
                      [min(v) for v in at], [max(v) for v in at]))
    return found


def as_percent(value):
    return '%.2f' % (100 * value)


def cell(values):
    if not values:
        return ''
    mean, spread, count = mean_and_spread(values)
    return '%s ± %s (%d)' % (as_percent(mean), as_percent(spread), count) if spread is not None \
        else '%s (1)' % as_percent(mean)


def grouped(runs, *keys):
    groups = defaultdict(list)
    for run in runs:
        groups[tuple(getattr(run, key) for key in keys)].append(run)
    return groups


def ordered(values, preferred=('fl', 'ptv2', 'prompt', 'ln', 'pasta', 'apt', 'finetune')):
    values = sorted(set(values))
    return [v for v in preferred if v in values] + [v for v in values if v not in preferred]


def markdown_table(header, rows):
    lines = ['| %s |' % ' | '.join(header), '|%s' % ('---|' * len(header))]
    return '\n'.join(lines + ['| %s |' % ' | '.join(str(c) for c in row) for row in rows])


class Report(object):

    def __init__(self, runs, output_dir):
        self.runs, self.output_dir = runs, output_dir
        self.measured = [r for r in runs if r.curve]

    def best_table(self, backbone, setting):
        runs = [r for r in self.measured if (r.backbone, r.setting) == (backbone, setting)]
        methods = ordered(r.method for r in runs)
        tasks = sorted(set(r.task for r in runs))
        by = grouped(runs, 'task', 'method')
        rows = [[task] + [cell([r.best for r in by.get((task, m), [])]) for m in methods] for task in tasks]
        return markdown_table(['task'] + methods, rows)

    def method_table(self, backbone):
        rows = []
        runs = [r for r in self.runs if r.backbone == backbone]
        for method in ordered(r.method for r in runs):
            mine = [r for r in runs if r.method == method]
            sized = [r for r in mine if r.parameters]
            trainable = share = ''
            if sized:
                p = sized[0].parameters
                trainable = '{:,}'.format(p['trainable'])
                share = '%.2f%%' % (100.0 * p['trainable'] / p['total'])
            seconds = [r.seconds_per_epoch for r in mine if r.seconds_per_epoch is not None]
            rows.append([method, trainable, share, '%.1f' % np.mean(seconds) if seconds else ''])
        return markdown_table(['method', 'trainable (backbone)', 'share', 'seconds per epoch'], rows)

    def curves(self):
        """One PNG per (backbone, setting, task): dev metric by epoch, one line per method
        (mean over seeds, min-max band)."""
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
        written = OrderedDict()
        for (backbone, setting, task), runs in sorted(grouped(self.measured, 'backbone', 'setting', 'task').items()):
            figure, axes = plt.subplots(figsize=(6, 4))
            for method, count, epochs, mean, low, high in method_curves(runs):
                line, = axes.plot(epochs, mean, marker='o', markersize=3, label='%s (%d)' % (method, count))
                axes.fill_between(epochs, low, high, alpha=0.2, color=line.get_color())
            axes.xaxis.set_major_locator(MaxNLocator(integer=True))
            axes.set_xlabel('epoch')
            axes.set_ylabel('dev %s (%%)' % runs[0].metric)
            axes.set_title('%s, %s, %s' % (task, backbone, setting))
            axes.grid(alpha=0.3)
            axes.legend(fontsize=8)
            name = 'curve-%s-%s-%s.png' % (backbone, setting, task)
            figure.tight_layout()
            image = io.BytesIO()
            figure.savefig(image, format='png', dpi=100)
            plt.close(figure)
            write_bytes_atomically(os.path.join(self.output_dir, name), image.getvalue())
            written[(backbone, setting, task)] = name
        return written

    def convergence(self):
        """Per run its converged epoch; per (backbone, setting, task) the ratio of P-tuning
        v2's mean converged epoch to FL-tuning's."""
        rows, ratios = [], []
        for run in sorted(self.measured, key=lambda r: (r.backbone, r.setting, r.task, r.method, r.seed)):
            rows.append([run.backbone, run.setting, run.task, run.method, run.seed, run.converged_epoch(),
                         len(run.curve), as_percent(run.best)])
        for key, runs in sorted(grouped(self.measured, 'backbone', 'setting', 'task').items()):
            epochs = dict((m, [r.converged_epoch() for r in runs if r.method == m]) for m in ('fl', 'ptv2'))
            if epochs['fl'] and epochs['ptv2']:
                ratio = np.mean(epochs['ptv2']) / np.mean(epochs['fl'])
                ratios.append(list(key) + ['%.2f' % np.mean(epochs['ptv2']), '%.2f' % np.mean(epochs['fl']),
                                           '%.2f' % ratio])
        return rows, ratios

    def claim_gap(self, task, setting, first, second):
        """Mean best of ``first`` minus ``second`` (points), per backbone with both."""
        found = []
        for backbone in sorted(set(r.backbone for r in self.measured)):
            best = dict((m, [r.best for r in self.measured if (r.backbone, r.task, r.setting, r.method)
                             == (backbone, task, setting, m)]) for m in (first, second))
            if best[first] and best[second]:
                found.append('%s: %+.2f' % (backbone, 100 * (np.mean(best[first]) - np.mean(best[second]))))
        return '; '.join(found) or 'no runs'

    def claims(self, ratios):
        few = sorted(set(r.setting for r in self.measured if r.setting != 'full'))
        cluener = '; '.join('%s %s' % (s, self.claim_gap('cluener', s, 'fl', 'ptv2')) for s in few) or 'no runs'
        shares = sorted(set('%.2f%%' % (100.0 * r.parameters['trainable'] / r.parameters['total'])
                            for r in self.runs if r.method == 'fl' and r.parameters))
        ratio = ('%.2f (mean over %d task settings)' % (np.mean([float(r[-1]) for r in ratios]), len(ratios))
                 if ratios else 'no runs')
        rows = [
            ['FL-tuning beats P-tuning v2 on WSC (full data)', '+17.93 accuracy',
             self.claim_gap('wsc', 'full', 'fl', 'ptv2')],
            ['FL-tuning beats P-tuning v2 on CLUENER (few-shot)', '+16.142 F1', cluener],
            ['FL-tuning beats fine-tuning on WSC', '+12.9 (WSC 1.1)', self.claim_gap('wsc', 'full', 'fl', 'finetune')],
            ['FL-tuning converges faster than P-tuning v2', '%.2fx' % PAPER_CONVERGENCE_RATIO, ratio],
            ["FL-tuning's trainable share", 'about 3%', ', '.join(shares) or 'no runs'],
        ]
        return markdown_table(['claim (abstract)', 'paper (CLUE test)', 'our runs (dev)'], rows)

    def markdown(self, images):
        rows, ratios = self.convergence()
        partial = [r for r in self.runs if not r.complete]
        out = ['# FL-tuning runs: report', '',
               '%d runs (%d complete) below the runs folder. Dev metrics are in percent: mean ± sample '
               'standard deviation over seeds (number of seeds); each run counts its best epoch.'
               % (len(self.runs), len(self.runs) - len(partial)), '']
        if partial:
            out += ['**Partial runs** (still going or killed; their epochs so far are included):', '']
            out += ['- %s: %d of %d epochs' % (os.path.dirname(os.path.dirname(r.path)), len(r.epochs),
                                               r.total_epochs) for r in partial]
            out.append('')
        out += ["## The paper's claims beside our runs", '',
                "The paper's figures are CLUE test scores; ours are dev scores.", '', self.claims(ratios), '']
        for backbone in sorted(set(r.backbone for r in self.runs)):
            out += ['## %s' % backbone, '', '### Methods', '', self.method_table(backbone), '']
            for setting in sorted(set(r.setting for r in self.measured if r.backbone == backbone)):
                out += ['### Best dev metric, %s' % setting, '', self.best_table(backbone, setting), '']
        out += ['## Learning curves', '']
        for (backbone, setting, task), name in images.items():
            out += ['![%s, %s, %s](%s)' % (task, backbone, setting, name), '']
        out += ['## Convergence', '',
                'The epoch at which a run first reaches 99%% of its best dev metric; per task, '
                "P-tuning v2's mean over FL-tuning's (the paper: %.2f)." % PAPER_CONVERGENCE_RATIO, '']
        if ratios:
            out += [markdown_table(['backbone', 'setting', 'task', 'ptv2 epoch', 'fl epoch', 'ratio'], ratios), '']
        out += [markdown_table(['backbone', 'setting', 'task', 'method', 'seed', 'converged epoch', 'epochs',
                                'best'], rows), '']
        return '\n'.join(out)


def markdown_to_html(text):
    """The report's own Markdown (headings, paragraphs, lists, tables, images) as HTML."""
    body, table = [], []

    def flush_table():
        if table:
            rows = [[c.strip() for c in line.strip('|').split('|')] for line in table if '---|' not in line]
            body.append('<table>' + ''.join(
                '<tr>%s</tr>' % ''.join('<%s>%s</%s>' % (tag, html.escape(c), tag) for c in row)
                for tag, row in [('th', rows[0])] + [('td', r) for r in rows[1:]]) + '</table>')
            del table[:]

    for line in text.splitlines():
        if line.startswith('|'):
            table.append(line)
            continue
        flush_table()
        if line.startswith('#'):
            level = len(line) - len(line.lstrip('#'))
            body.append('<h%d>%s</h%d>' % (level, html.escape(line.lstrip('# ')), level))
        elif line.startswith('!['):
            alt, source = line[2:].split('](')
            body.append('<p><img src="%s" alt="%s"></p>' % (html.escape(source.rstrip(')')), html.escape(alt)))
        elif line.startswith('- '):
            body.append('<li>%s</li>' % html.escape(line[2:]))
        elif line.strip():
            body.append('<p>%s</p>' % html.escape(line).replace('**', ''))
    flush_table()
    style = ('body{font-family:sans-serif;max-width:70em;margin:auto}table{border-collapse:collapse}'
             'td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}')
    return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>FL-tuning report</title>'
            '<style>%s</style></head><body>\n%s\n</body></html>\n' % (style, '\n'.join(body)))


def write_report(runs_dir, output_dir, external=(), log=print):
    """report.md, report.html and the curves' PNG files in ``output_dir``; ``external``:
    (name, results CSV) of other implementations, shown beside our runs."""
    runs = collect(runs_dir)
    log('report: %d run record(s) below %s' % (len(runs), runs_dir))
    for name, path in external:
        theirs = read_external(name, path)
        log('report: %d run(s) of %s from %s' % (len(theirs), name, path))
        runs += theirs
    check_writable_folder(output_dir)
    report = Report(runs, output_dir)
    images = report.curves()
    text = report.markdown(images)
    markdown_path = os.path.join(output_dir, 'report.md')
    html_path = os.path.join(output_dir, 'report.html')
    write_atomically(markdown_path, text)
    write_atomically(html_path, markdown_to_html(text))
    return markdown_path, html_path, [os.path.join(output_dir, n) for n in images.values()]
