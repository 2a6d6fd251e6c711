"""The eleven CLUE tasks, by name, each configured from the hyperparameter table."""
from collections import OrderedDict

from fl_tuning.tasks.base import TestFile
from fl_tuning.tasks.classification import (
    IntegerLabels, NamedLabels, SentenceClassification, keywords_and_abstract,
    marked_wsc_text, single_text, text_pair,
)
from fl_tuning.tasks.hyperparameters import HYPERPARAMETERS
from fl_tuning.tasks.multiple_choice import C3, Chid
from fl_tuning.tasks.spans import Cluener, Cmrc2018

TNEWS_LABELS = ['100', '101', '102', '103', '104', '106', '107', '108', '109', '110',
                '112', '113', '114', '115', '116']
NLI_LABELS = ['entailment', 'neutral', 'contradiction']


def _tasks():
    h = HYPERPARAMETERS
    return [
        SentenceClassification('afqmc', h['afqmc'], text_pair('sentence1', 'sentence2'),
                               IntegerLabels(2), tests=[TestFile('test.json', 'afqmc_predict.json')]),
        SentenceClassification('tnews', h['tnews'], single_text('sentence'),
                               NamedLabels(TNEWS_LABELS, default='100'),
                               tests=[TestFile('test1.0.json', 'tnews10_predict.json'),
                                      TestFile('test.json', 'tnews11_predict.json')]),
        SentenceClassification('iflytek', h['iflytek'], single_text('sentence'), IntegerLabels(119),
                               tests=[TestFile('test.json', 'iflytek_predict.json')]),
        SentenceClassification('ocnli', h['ocnli'], text_pair('sentence1', 'sentence2'),
                               NamedLabels(NLI_LABELS, default='neutral', drop_unknown=True),
                               train='train.50k.json',
                               tests=[TestFile('test.json', 'ocnli_50k_predict.json')]),
        SentenceClassification('cmnli', h['cmnli'], text_pair('sentence1', 'sentence2'),
                               NamedLabels(NLI_LABELS, default='neutral', drop_unknown=True),
                               tests=[TestFile('test.json', 'cmnli_predict.json')]),
        SentenceClassification('wsc', h['wsc'], marked_wsc_text,
                               NamedLabels(['false', 'true'], default='false'),
                               tests=[TestFile('test1.0.json', 'cluewsc10_predict.json'),
                                      TestFile('test.json', 'cluewsc11_predict.json')]),
        SentenceClassification('csl', h['csl'], keywords_and_abstract, IntegerLabels(2),
                               tests=[TestFile('test.json', 'csl_predict.json')]),
        Cmrc2018('cmrc2018', h['cmrc2018'], tests=[TestFile('test.json', 'cmrc2018_predict.json')]),
        Chid('chid', h['chid'], tests=[TestFile('test1.0.json', 'chid10_predict.json'),
                                       TestFile('test1.1.json', 'chid11_predict.json')]),
        C3('c3', h['c3'], tests=[TestFile('test1.0.json', 'c310_predict.json'),
                                 TestFile('test1.1.json', 'c311_predict.json')]),
        Cluener('cluener', h['cluener'], tests=[TestFile('test.json', 'cluener_predict.json')]),
    ]


TASK_NAMES = list(HYPERPARAMETERS)


def get_task(name, hyperparameters=None, train_files=None, dev_files=None):
    """A fresh task object (tasks keep state learned from data, e.g. categories), with
    the run's ``hyperparameters`` (default: its row of the table) and the file names it
    reads instead of its CLUE files, if given."""
    tasks = OrderedDict((task.name, task) for task in _tasks())
    if name not in tasks:
        raise ValueError('unknown task %r: choose one of %s' % (name, ', '.join(tasks)))
    return tasks[name].configured(hyperparameters, train_files, dev_files)
