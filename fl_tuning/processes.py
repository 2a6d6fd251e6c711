"""The processes one run is spread over, as torchrun (and torch.distributed's other
launchers) describe them in the environment: RANK, WORLD_SIZE, LOCAL_RANK. Without them
a run is one process. Rank 0 is the writer: it alone takes the run lock and writes the
log, records, weights, state and submissions; every rank reads the same inputs, keeps
the same progress and takes its share of every batch (the framework's part)."""
import collections
import os

from fl_tuning.errors import InputError


class Processes(collections.namedtuple('Processes', 'rank world_size local_rank')):

    @property
    def writer(self):
        return self.rank == 0

    def rows(self, count, unit=1):
        """(start, stop) of this process's contiguous share of ``count`` rows, in whole
        units of ``unit`` rows (a multiple-choice example's sequences stay together);
        shares differ by one unit at most, and a share may be empty."""
        units = count // unit
        start, stop = units * self.rank // self.world_size, units * (self.rank + 1) // self.world_size
        return start * unit, stop * unit


ONE_PROCESS = Processes(rank=0, world_size=1, local_rank=0)


def run_processes(environ=None):
    """This process's place among the run's processes, from torchrun's environment."""
    environ = os.environ if environ is None else environ
    if 'WORLD_SIZE' not in environ:
        return ONE_PROCESS
    values = {}
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK'):
        text = environ.get(name, '0')
        if not text.isdigit():
            raise InputError('%s=%r in the environment: torchrun sets it to a whole number' % (name, text))
        values[name] = int(text)
    if values['WORLD_SIZE'] < 1 or values['RANK'] >= values['WORLD_SIZE']:
        raise InputError('RANK=%d, WORLD_SIZE=%d in the environment: a rank is below the world size'
                         % (values['RANK'], values['WORLD_SIZE']))
    return Processes(values['RANK'], values['WORLD_SIZE'], values['LOCAL_RANK'])


def says_bad_input():
    """Every process of a run reads the same input and meets the same bad input: the
    writer alone says it."""
    try:
        return run_processes().writer
    except InputError:
        return True
