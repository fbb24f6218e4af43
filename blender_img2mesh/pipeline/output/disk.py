"""Small file-system steps of a result's commit: flushing to the disk, holding signals
back, the folder lock, and the temporary files of processes that are gone."""

import contextlib
import os
import re
import signal
import socket
import threading

#: this machine's name as temporary file names carry it
HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:32] or "host"
_STALE = re.compile(r"^\..*\.img2mesh-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]+"
                    r"\.(partial|old)$")
_HELD = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}


def pid_alive(pid):
    """Whether process ``pid`` exists on this machine (True when it cannot be told: on
    Windows ``os.kill(pid, 0)`` would end the process, so there nothing counts as gone)."""
    if os.name == "nt":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def dead_names(folder, pattern):
    """The names in ``folder`` that ``pattern`` matches (its group ``pid``, and
    ``host`` when it has one) whose process, on this machine, is gone."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    dead = []
    for name in names:
        m = pattern.match(name)
        if not m or m.groupdict().get("host", HOST) != HOST or \
                int(m["pid"]) == os.getpid() or pid_alive(int(m["pid"])):
            continue
        dead.append(name)
    return dead


def clean_stale(folder):
    """Remove temporary files that runs on this machine left in ``folder`` when they
    were killed (their process is gone).  Returns the names removed."""
    removed = []
    for name in dead_names(folder, _STALE):
        with contextlib.suppress(OSError):
            os.remove(os.path.join(folder, name))
            removed.append(name)
    return removed


@contextlib.contextmanager
def signals_held():
    """SIGINT/SIGTERM/SIGHUP wait until the block is over (main thread, POSIX)."""
    if not hasattr(signal, "pthread_sigmask") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@contextlib.contextmanager
def folder_lock(folder):
    """An advisory lock on the folder itself (no lock file is left behind)."""
    try:
        import fcntl
    except ImportError:  # Windows: renames are still atomic one by one
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def fsync(path, directory=False):
    """Flush ``path`` (a written file, or a folder after renames) to the disk; a file
    system that cannot sync a folder is left as it is."""
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0))
    except OSError:
        if directory:
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not directory:
            raise
    finally:
        os.close(fd)
