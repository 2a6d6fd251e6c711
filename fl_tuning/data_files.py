"""Reading the CLUE files with errors that name file, line and field, and writing
outputs atomically (a crash never leaves a half-written file)."""
import contextlib
import json
import os
import shutil
import tempfile

from fl_tuning.errors import InputError, OutputError

# Temporary files of atomic writes: '.<name>.<random>.partial' beside the target.
PARTIAL_PREFIX, PARTIAL_SUFFIX = '.', '.partial'


class Location(object):
    """Where a record is: a file and a line number, or a place inside a JSON document."""

    def __init__(self, path, line=None, item=None):
        self.path, self.line, self.item = path, line, item

    def __str__(self):
        if self.line is not None:
            return '%s:%d' % (self.path, self.line)
        if self.item is not None:
            return '%s: %s' % (self.path, self.item)
        return self.path

    def __eq__(self, other):
        return isinstance(other, Location) and self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def key(self):
        return (self.path, self.line, self.item)

    def inside(self, item):
        """A place inside this record (for JSON documents: item paths)."""
        if self.line is not None:
            return self
        return Location(self.path, item=item if self.item is None else '%s%s' % (self.item, item))


class DataError(InputError):
    """A problem in a data file, located by file, line (or item) and field."""

    def __init__(self, location, field, problem):
        field_part = ' field %r:' % field if field else ''
        super(DataError, self).__init__('%s:%s %s' % (location, field_part, problem))
        self.location, self.field, self.problem = location, field, problem


class DataErrors(InputError):
    """Every problem found in the data files, one per line."""

    shown = 20

    def __init__(self, problems):
        problems = in_file_order(problems)
        lines = grouped(problems)
        if len(lines) > self.shown:
            lines = lines[:self.shown] + ['... and %d more problems' % (len(lines) - self.shown)]
        lines.append('%d bad line(s) in the data; --skip-bad-lines skips them' % len(problems))
        super(DataErrors, self).__init__('\n'.join(lines))
        self.problems = problems


def grouped(problems):
    """One line per problem, but one for all the lines (or items) of a file with the same
    problem in the same field (every test line lacking 'id'): its count and range."""
    groups = {}
    for problem in problems:
        groups.setdefault((problem.location.path, problem.field, problem.problem), []).append(problem)
    lines = []
    for same in groups.values():
        first, last = same[0].location, same[-1].location
        field_part = ' field %r:' % same[0].field if same[0].field else ''
        if len(same) == 1:
            lines.append(str(same[0]))
        elif first.line is not None:
            lines.append('%s:%d-%d:%s %s (%d lines)' % (first.path, first.line, last.line, field_part,
                                                       same[0].problem, len(same)))
        else:  # items of one JSON document
            lines.append('%s: %s to %s:%s %s (%d items)' % (first.path, first.item, last.item, field_part,
                                                           same[0].problem, len(same)))
    return lines


def in_file_order(problems):
    return sorted(problems, key=lambda p: (p.location.path, p.location.line or 0, p.location.item or ''))


class BadLines(object):
    """Collects the data problems found while reading. Reading goes on past a bad
    record, so that all of them are reported at once; with ``skip`` the bad records
    are left out and counted instead of stopping the run.

    ``notices`` are records the original reads without complaint although a check
    finds them odd (an entity span whose text differs from its label, say): they are
    read as the original reads them, and counted and reported."""

    def __init__(self, skip=False):
        self.skip = skip
        self.problems = []
        self.notices = []

    def notice(self, location, field, message):
        self.notices.append(DataError(location, field, message))

    @contextlib.contextmanager
    def guard(self):
        """Run the reading of one record; a DataError in it is recorded."""
        try:
            yield
        except DataError as problem:
            self.problems.append(problem)


def read_json_lines(path, bad_lines):
    """[(location, object)] of a JSON-lines file; blank lines are ignored."""
    records, lines = [], 0
    with open_binary(path) as f:
        for number, raw in enumerate(f, 1):
            location = Location(path, number)
            with bad_lines.guard():
                text = decode(raw, location, first=number == 1)
                if not text.strip():
                    continue
                lines += 1
                try:
                    record = json.loads(text)
                except ValueError as e:
                    raise DataError(location, None, 'not valid JSON (%s)' % e)
                if not isinstance(record, dict):
                    raise DataError(location, None, 'expected a JSON object, got %s' % type(record).__name__)
                records.append((location, record))
    if not lines and not bad_lines.problems:
        raise DataError(Location(path), None, 'empty file')
    return records


def read_json(path):
    """The JSON document in ``path``; errors name the line they are on."""
    with open_binary(path) as f:
        raw = f.read()
    try:
        text = raw.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b'\n') + 1
        raise DataError(Location(path, line), None, 'not UTF-8 text (byte 0x%02x)' % raw[e.start])
    if not text.strip():
        raise DataError(Location(path), None, 'empty file')
    try:
        return json.loads(text)
    except ValueError as e:
        raise DataError(Location(path, getattr(e, 'lineno', None)), None, 'not valid JSON (%s)' % e)


def decode(raw, location, first=False):
    try:
        return raw.decode('utf-8-sig' if first else 'utf-8')
    except UnicodeDecodeError as e:
        raise DataError(location, None, 'not UTF-8 text (byte 0x%02x at column %d)' % (
            raw[e.start], e.start + 1))


def check_data_files(paths, why=None):
    """Every one of ``paths`` is a file, else the first missing one named (and ``why`` it
    is needed)."""
    for path in paths:
        if not os.path.isfile(path):
            raise InputError('data file not found: %s%s' % (path, ' (%s)' % why if why else ''))


def open_binary(path):
    check_data_files([path])
    return open(path, 'rb')


def field(record, name, location, kind=None):
    """``record[name]``, which must exist (and be a ``kind`` if given)."""
    if not isinstance(record, dict):
        raise DataError(location, None, 'expected a JSON object, got %r' % (record,))
    if name not in record:
        raise DataError(location, name, 'missing')
    value = record[name]
    if kind is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else ' or '.join(k.__name__ for k in kind)
        raise DataError(location, name, 'expected %s, got %s' % (names, json.dumps(value, ensure_ascii=False)))
    return value


def list_of(record, name, location, kind):
    """``record[name]``: a list whose items are all ``kind``."""
    return checked_list(field(record, name, location, list), kind, location, name)


def checked_list(values, kind, location, name):
    if not isinstance(values, list):
        raise DataError(location, name, 'expected a list, got %s' % json.dumps(values, ensure_ascii=False))
    for value in values:
        if not isinstance(value, kind):
            raise DataError(location, name, 'expected a list of %s, got %s' % (
                kind.__name__, json.dumps(value, ensure_ascii=False)))
    return values


def write_atomically(path, text):
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    write_bytes_atomically(path, text.encode('utf-8'))


def write_bytes_atomically(path, data):
    """Bytes made in memory first (HDF5 and safetensors crash on a full disk when
    they write to it themselves), then written by Python, which reports it."""
    with atomic_path(path) as temporary:
        with open(temporary, 'wb') as f:
            f.write(data)


def cannot_write(path, error):
    """The OutputError of an OSError met while writing ``path``."""
    cause = error.strerror or str(error)
    where = error.filename if getattr(error, 'filename', None) not in (None, path) else None
    if where is not None and PARTIAL_SUFFIX in os.path.basename(str(where)):
        where = None  # the temporary file: the path itself says enough
    return OutputError('cannot write %s: %s%s' % (path, cause, ' (%s)' % where if where else ''))


def make_folder(folder, path):
    """``folder`` (and its parents) for writing ``path``."""
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise cannot_write(path, error)


@contextlib.contextmanager
def atomic_path(path):
    """A temporary path beside ``path`` that replaces it when the block succeeds
    (and is removed when it fails). An OSError becomes an OutputError naming ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    make_folder(folder, path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=PARTIAL_PREFIX + os.path.basename(path) + '.',
                                             suffix=PARTIAL_SUFFIX, dir=folder)
        os.close(handle)
    except OSError as error:
        raise cannot_write(path, error)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, OSError):
            raise cannot_write(path, error)
        raise


@contextlib.contextmanager
def atomic_directory(path):
    """A temporary folder beside ``path`` that replaces it when the block succeeds
    (and is removed when it fails): no half-written folder of outputs."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    make_folder(parent, path)
    try:
        temporary = tempfile.mkdtemp(prefix=PARTIAL_PREFIX + os.path.basename(path) + '.',
                                     suffix=PARTIAL_SUFFIX, dir=parent)
    except OSError as error:
        raise cannot_write(path, error)
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~current_umask())
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.rename(temporary, path)
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, OSError):
            raise cannot_write(path, error)
        raise


def check_writable_folder(path, flag='--output-dir'):
    """Before any work: ``path`` is a folder, or can be made one, that this process may
    write in (a full disk shows only when writing)."""
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise OutputError('%s %s: %s is not a directory' % (flag, path, existing))
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError('%s %s: no permission to write in %s' % (flag, path, existing))


def remove_partial_files(folder):
    """Remove what a killed process left in ``folder`` of interrupted atomic writes."""
    if not os.path.isdir(folder):
        return
    for name in os.listdir(folder):
        if name.startswith(PARTIAL_PREFIX) and name.endswith(PARTIAL_SUFFIX):
            os.remove(os.path.join(folder, name))


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask
