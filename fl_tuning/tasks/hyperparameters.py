"""Every task's hyperparameters, equal to the original scripts' (ORIGINAL_SPEC §1).

All tasks: no warm-up, weight decay 0.01 excluding 'Norm' and 'bias'. ``batch_size``
counts examples (a multiple-choice example is ``num_classes`` sequences). cluener's
class count is computed from the data (10 on CLUENER); cmrc2018's 119 is unused
(copied from iflytek in the original). chid's maxlen counts characters.
"""
from collections import OrderedDict

COLUMNS = ('num_classes', 'maxlen', 'batch_size', 'epochs', 'learning_rate',
           'num_warmup_steps', 'grad_accum_steps')

_TABLE = [
    # task       classes maxlen batch epochs  lr   warmup accum
    ('afqmc',       2,   128,   32,   10,   2e-4,   0,    1),
    ('tnews',      15,   128,   32,   30,   5e-5,   0,    1),
    ('iflytek',   119,   128,   32,   30,   5e-5,   0,    1),
    ('ocnli',       3,   128,   32,   30,   5e-4,   0,    1),
    ('cmnli',       3,   128,   32,   30,   1e-4,   0,    1),
    ('wsc',         2,   128,  128,   40,   3e-4,   0,    1),
    ('csl',         2,   128,   32,   30,   8e-5,   0,    1),
    ('cmrc2018',  119,   512,   16,   20,   2e-4,   0,    2),
    ('chid',       10,    64,   16,   30,   8e-5,   0,    2),
    ('c3',          4,   512,    4,   50,   1e-4,   0,    4),
    ('cluener',    10,   256,   32,   30,   1e-4,   0,    1),
]

HYPERPARAMETERS = OrderedDict(
    (row[0], OrderedDict(zip(COLUMNS, row[1:]))) for row in _TABLE
)
