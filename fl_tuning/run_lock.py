"""One process per run: a run holds an exclusive lock on ``records/<task>.lock`` in its
output folder while it works (``fcntl.flock``: the kernel releases it when the process
ends, however it ends: finished, failed, killed by ``scancel`` or out of memory). A second
process on the same run, a resubmitted array task, a second sweep or a ``run --resume``
beside a running one, stops at once, naming the holder, and writes nothing.

The lock file stays (removing it would race with a process opening it); what it holds
(the holder's process, host and start) is only for messages. flock works on local disks
and, on Linux, on NFS (as a whole-file POSIX lock); on a file system without locks the
run says so and stops.
"""
import fcntl
import os
import socket
import time

from fl_tuning.data_files import cannot_write, make_folder
from fl_tuning.errors import OutputError, RunInProgress


def lock_path(output_dir, task):
    return os.path.join(output_dir, 'records', '%s.lock' % task)


class RunLock(object):
    """``acquire()`` or RunInProgress; ``release()`` (also at the process' end)."""

    def __init__(self, output_dir, task):
        self.path, self.file, self.created = lock_path(output_dir, task), None, []

    def acquire(self):
        self.created = missing(self.path)
        make_folder(os.path.dirname(self.path), self.path)
        try:
            handle = open(self.path, 'a+')
        except OSError as error:
            raise cannot_write(self.path, error)
        if not locked(handle, self.path):
            handle.seek(0)
            holder = handle.read().strip() or 'another process'
            handle.close()
            raise RunInProgress('%s: this run is in progress in %s; wait for it or stop it (a run in '
                                'progress is never started twice)' % (self.path, holder))
        handle.seek(0)
        handle.truncate()
        handle.write('pid %d on %s since %s\n' % (os.getpid(), socket.gethostname(),
                                                  time.strftime('%Y-%m-%d %H:%M:%S')))
        handle.flush()
        self.file = handle

    def release(self, undo=False):
        """Let go of the lock; ``undo``: first remove the lock file and the folders made for
        it, if acquiring made them and they are empty (a run that failed to start, on bad
        input, leaves nothing behind)."""
        if self.file is None:
            return
        for path in reversed(self.created) if undo else ():  # still held: no one else is inside
            try:
                os.rmdir(path) if os.path.isdir(path) else os.remove(path)
            except OSError:
                break  # something else is there now
        self.file.close()  # closing the file releases the lock
        self.file = None


def missing(path):
    """``path`` and the folders above it that do not exist yet, outermost first."""
    created = []
    while path and not os.path.exists(path):
        created.insert(0, path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return created


def locked(handle, path):
    """Whether this process got the exclusive lock of ``handle`` (without waiting)."""
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as error:
        raise OutputError('%s: cannot lock it (%s): the run folder must be on a file system with locks'
                          % (path, error.strerror or error))


def holder_elsewhere(output_dir, task):
    """Who holds the run's lock, or None if no process does (the lock is let go at once)."""
    path = lock_path(output_dir, task)
    if not os.path.isfile(path):
        return None
    with open(path) as handle:
        if locked(handle, path):
            return None
        return handle.read().strip() or 'another process'
