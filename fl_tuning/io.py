"""Reading the CLUE files with errors that name file, line and field, and writing
outputs atomically (a crash never leaves a half-written file)."""
import contextlib
import json
import os
import tempfile

from fl_tuning.errors import InputError


class DataError(InputError):
    """A problem in a data file, located by file, line and field."""

    def __init__(self, path, line, field, problem):
        location = '%s:%d' % (path, line) if line else path
        field_part = ' field %r:' % field if field else ''
        super(DataError, self).__init__('%s:%s %s' % (location, field_part, problem))
        self.path, self.line, self.field = path, line, field


def read_json_lines(path):
    """[(line number, object)] of a JSON-lines file; blank lines are skipped."""
    records = []
    with open_text(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                records.append((number, json.loads(line)))
            except ValueError as e:
                raise DataError(path, number, None, 'not valid JSON (%s)' % e)
            if not isinstance(records[-1][1], dict):
                raise DataError(path, number, None, 'expected a JSON object')
    return records


def read_json(path):
    with open_text(path) as f:
        try:
            return json.load(f)
        except ValueError as e:
            raise DataError(path, 0, None, 'not valid JSON (%s)' % e)


def open_text(path):
    if not os.path.isfile(path):
        raise InputError('data file not found: %s' % path)
    return open(path, encoding='utf-8')


def field(record, name, path, line, kind=None):
    """``record[name]``, which must exist (and be a ``kind`` if given)."""
    if name not in record:
        raise DataError(path, line, name, 'missing')
    value = record[name]
    if kind is not None and not isinstance(value, kind):
        raise DataError(path, line, name, 'expected %s, got %r' % (
            kind.__name__ if isinstance(kind, type) else ' or '.join(k.__name__ for k in kind), value))
    return value


def write_atomically(path, text):
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    with atomic_path(path) as temporary:
        with open(temporary, 'w', encoding='utf-8') as f:
            f.write(text)


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` that replaces it when the block succeeds
    (and is removed when it fails)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    handle, temporary = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', dir=folder)
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
