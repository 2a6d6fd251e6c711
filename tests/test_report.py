"""The report over a grid's records (tables, curves, convergence, the paper's claims)
and the CLUE submission zip."""
import copy
import json
import os
import zipfile
from collections import namedtuple

import pytest
from bert4keras.backend import K

from fl_tuning.errors import InputError
from fl_tuning.testing.fixtures import write_clue_fixtures
from fl_tuning.pack import pack
from fl_tuning.report import method_curves, write_report
from fl_tuning.run import Run, RunConfig

# dev accuracy per epoch: (task, method, seed) -> curve
CURVES = {
    ('wsc', 'fl', 1): [0.50, 0.60, 0.70], ('wsc', 'fl', 2): [0.55, 0.65, 0.80], ('wsc', 'fl', 3): [0.60, 0.75, 0.75],
    ('wsc', 'ptv2', 1): [0.40, 0.45, 0.50], ('wsc', 'ptv2', 2): [0.42, 0.44, 0.60],
    ('afqmc', 'fl', 1): [0.60, 0.70, 0.69], ('afqmc', 'finetune', 1): [0.65, 0.66, 0.70],
}


@pytest.fixture(scope='module')
def real_run(tiny_models, tmp_path_factory):
    """One tiny run, the template of the records below (the real record format)."""
    data = write_clue_fixtures(str(tmp_path_factory.mktemp('clue')), tasks=['afqmc', 'wsc'], counts=(6, 4, 3))
    output = str(tmp_path_factory.mktemp('real'))
    K.clear_session()
    Run(RunConfig('bert', 'afqmc', data, tiny_models['bert'].directory, output, ffn_prompt_size=4,
                  epochs=3, seed=1, progress=False), log=lambda m: None).execute()
    K.clear_session()
    with open(os.path.join(output, 'records', 'afqmc.jsonl')) as f:
        return output, [json.loads(line) for line in f]


def write_record(runs_dir, template, task, method, seed, curve, complete=True):
    lines = copy.deepcopy(template)
    run = lines[0]['run']
    run.update(task=task, method=method, seed=seed)
    run['hyperparameters']['epochs'] = 3
    epochs = [dict(lines[1], epoch=i + 1, dev={'accuracy': value}) for i, value in enumerate(curve)]
    summary = dict(lines[-1]['summary'], task=task, metric='accuracy', seed=seed)
    folder = os.path.join(runs_dir, 'bert', task, method, 'full', 'seed%d' % seed, 'records')
    os.makedirs(folder)
    with open(os.path.join(folder, '%s.jsonl' % task), 'w') as f:
        for line in [lines[0]] + epochs + ([{'summary': summary}] if complete else []):
            f.write(json.dumps(line) + '\n')


def table_rows(text, heading):
    """The rows of the first table after ``heading``, as lists of cells."""
    block = next(b for b in text.split(heading, 1)[1].strip().split('\n\n') if b.startswith('|'))
    return [[c.strip() for c in line.strip('|').split('|')] for line in block.splitlines() if '---' not in line]


def test_curves_plot_the_dev_metric_in_percent_over_the_runs_that_reached_each_epoch():
    run = namedtuple('run', 'method curve')
    runs = [run('fl', [0.5, 0.7]), run('ptv2', [0.2, 0.4]), run('fl', [0.6])]  # the second fl run is partial
    (fl, count, epochs, mean, low, high), ptv2 = method_curves(runs)
    assert (fl, count, epochs) == ('fl', 2, [1, 2])
    assert (mean, low, high) == (pytest.approx([55, 70]), pytest.approx([50, 70]), pytest.approx([60, 70]))
    assert ptv2[3] == pytest.approx([20, 40])


def test_report_tables_curves_convergence_and_claims(real_run, tmp_path):
    _, template = real_run
    runs_dir = str(tmp_path / 'runs')
    for (task, method, seed), curve in CURVES.items():
        write_record(runs_dir, template, task, method, seed, curve)
    write_record(runs_dir, template, 'wsc', 'ptv2', 3, [0.30], complete=False)  # still going
    markdown, html_path, images = write_report(runs_dir, str(tmp_path / 'report'), log=lambda m: None)
    with open(markdown, encoding='utf-8') as f:
        text = f.read()

    rows = table_rows(text, '### Best dev metric, full')
    assert rows[0] == ['task', 'fl', 'ptv2', 'finetune']
    # wsc fl: best 0.70, 0.80, 0.75 -> mean 75.00, sample sd 5.00; ptv2: 0.50, 0.60 and the
    # partial run's 0.30 -> mean 46.67, sd 15.28
    assert rows[2] == ['wsc', '75.00 ± 5.00 (3)', '46.67 ± 15.28 (3)', '']
    assert rows[1] == ['afqmc', '70.00 (1)', '', '70.00 (1)']
    assert '**Partial runs**' in text and 'bert/wsc/ptv2/full/seed3: 1 of 3 epochs' in text

    # converged epoch: first epoch >= 99% of the run's best
    convergence = dict(((r[2], r[3], r[4]), r[5]) for r in table_rows(text, 'converged epoch')[1:]
                       if len(r) == 8)
    assert convergence[('wsc', 'fl', '1')] == '3' and convergence[('wsc', 'fl', '3')] == '2'
    assert convergence[('afqmc', 'fl', '1')] == '2' and convergence[('wsc', 'ptv2', '3')] == '1'
    ratio = table_rows(text, 'the paper: 1.17).')
    assert ratio[1] == ['bert', 'full', 'wsc', '2.33', '2.67', '0.88']  # ptv2 (3, 3, 1) / fl (3, 3, 2)

    claims = dict((r[0], r[2]) for r in table_rows(text, "## The paper's claims beside our runs")[1:])
    assert claims['FL-tuning beats P-tuning v2 on WSC (full data)'] == 'bert: +28.33'
    assert claims['FL-tuning beats fine-tuning on WSC'] == 'no runs'
    assert claims['FL-tuning converges faster than P-tuning v2'] == '0.88 (mean over 1 task settings)'
    assert "FL-tuning's trainable share" in claims

    names = sorted(os.path.basename(p) for p in images)
    assert names == ['curve-bert-full-afqmc.png', 'curve-bert-full-wsc.png']
    for path in images:
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        from PIL import Image
        with Image.open(path) as image:
            image.verify()
            assert image.size == (600, 400)
        assert '](%s)' % os.path.basename(path) in text
    with open(html_path, encoding='utf-8') as f:
        page = f.read()
    tables = sum(1 for line in text.splitlines() if line.startswith('|---'))
    assert page.count('<table>') == tables == 5 and '<img src="curve-bert-full-wsc.png"' in page


def test_report_without_runs_is_refused(tmp_path):
    with pytest.raises(InputError, match='no run records'):
        write_report(str(tmp_path), str(tmp_path / 'report'))


def test_pack_zips_the_submissions_and_names_the_missing_tasks(real_run, tmp_path):
    output, _ = real_run
    found, missing, incomplete = pack([output], str(tmp_path / 'clue.zip'))
    with zipfile.ZipFile(str(tmp_path / 'clue.zip')) as archive:
        assert archive.namelist() == ['afqmc_predict.json']
        with open(os.path.join(output, 'results', 'afqmc_predict.json'), 'rb') as f:
            assert archive.read('afqmc_predict.json') == f.read()
    assert 'afqmc' not in missing and len(missing) == 10 and 'cluener' in missing and not incomplete
    with pytest.raises(InputError, match='afqmc_predict.json is in two runs'):
        pack([output, output], str(tmp_path / 'twice.zip'))
    assert not os.path.exists(str(tmp_path / 'twice.zip'))


def test_another_implementations_results_show_beside_ours(real_run, tmp_path):
    _, template = real_run
    runs_dir = str(tmp_path / 'runs')
    for (task, method, seed), curve in CURVES.items():
        write_record(runs_dir, template, task, method, seed, curve)
    theirs = tmp_path / 'port.csv'
    rows = ['task,backbone,method,setting,seed,epoch,dev']
    for seed, curve in ((1, [0.52, 0.62, 0.72]), (2, [0.50, 0.70, 0.66])):
        rows += ['wsc,bert,fl,full,%d,%d,%s' % (seed, epoch + 1, value) for epoch, value in enumerate(curve)]
    theirs.write_text('\n'.join(rows) + '\n')
    markdown, _, images = write_report(runs_dir, str(tmp_path / 'report'), external=[('port', str(theirs))],
                                       log=lambda m: None)
    with open(markdown, encoding='utf-8') as f:
        text = f.read()
    table = table_rows(text, '### Best dev metric, full')
    assert table[0] == ['task', 'fl', 'ptv2', 'finetune', 'fl [port]']
    wsc = dict(zip(table[0], next(r for r in table if r[0] == 'wsc')))
    assert wsc['fl [port]'] == '71.00 ± 1.41 (2)'  # best 0.72 and 0.70
    assert wsc['fl'] == '75.00 ± 5.00 (3)'  # ours (bests 0.70, 0.80, 0.75) unchanged beside theirs
    assert any('curve-bert-full-wsc.png' in path for path in images)

    theirs.write_text('task,backbone,method,setting,seed,epoch,dev\nwsc,bert,fl,full,1,1,72\n')
    with pytest.raises(InputError, match=r"port.csv line 2: field 'dev': '72' is not a fraction"):
        write_report(runs_dir, str(tmp_path / 'r2'), external=[('port', str(theirs))], log=lambda m: None)
    theirs.write_text('task,backbone,method,seed,epoch,dev\n')
    with pytest.raises(InputError, match='port.csv: missing column.s. setting'):
        write_report(runs_dir, str(tmp_path / 'r3'), external=[('port', str(theirs))], log=lambda m: None)
