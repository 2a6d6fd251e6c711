"""A CLUE leaderboard submission: the submission files of a set of runs in one zip,
each at the top level under the name CLUE expects (afqmc_predict.json, ...)."""
import os
import zipfile
from collections import OrderedDict

from fl_tuning.errors import InputError
from fl_tuning.data_files import atomic_path
from fl_tuning.tasks import TASK_NAMES, get_task


def expected_files():
    """{submission file name: task} over every task's test files."""
    return OrderedDict((t.submission, name) for name in TASK_NAMES for t in get_task(name).test_files)


def pack(run_dirs, output):
    """Zip the runs' ``results/*`` submission files; returns (files packed, tasks missing)."""
    expected = expected_files()
    found = OrderedDict()
    for run_dir in run_dirs:
        results = os.path.join(run_dir, 'results')
        if not os.path.isdir(results):
            raise InputError('%s has no results folder: is it a run\'s output dir?' % run_dir)
        for name in sorted(os.listdir(results)):
            if name not in expected:
                continue
            path = os.path.join(results, name)
            if name in found:
                raise InputError('%s is in two runs (%s and %s): give only one run per task' % (
                    name, found[name], path))
            found[name] = path
    if not found:
        raise InputError('no submission files in %s' % ', '.join(run_dirs))
    with atomic_path(output) as temporary:
        with zipfile.ZipFile(temporary, 'w', zipfile.ZIP_DEFLATED) as archive:
            for name, path in found.items():
                archive.write(path, name)
    missing = sorted(set(expected.values()) - set(expected[name] for name in found))
    incomplete = sorted(set(expected[name] for name in found if any(
        task == expected[name] and other not in found for other, task in expected.items())))
    return found, missing, incomplete
