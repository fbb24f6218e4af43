"""SIGINT, SIGTERM and SIGHUP end a run the same way: as an exception in the main thread.

:func:`handled` makes each of them raise :class:`Interrupted` (a ``KeyboardInterrupt``,
so no ``except Exception`` swallows it) wherever the main thread is, so every ``finally``
and context manager on the way out runs -- temporary files are removed, nothing is left
half-written -- and the process exits with ``128 + signal number`` (130, 143, 129), as a
shell reports a process killed by that signal.  A second signal while the first one is
being cleaned up is ignored (SIGKILL always works; what it leaves is hidden ``.partial``
files, removed by the next run into the same folder).

Only the command line and the worker install these handlers (the add-on never does).
"""

import contextlib
import signal
import threading

#: the signals that end a run cleanly (SIGHUP does not exist on Windows)
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A run ended by a signal; ``signum`` says which."""

    def __init__(self, signum=signal.SIGINT):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = int(signum)


def exit_code(exc):
    """128 + the signal's number (130 for a plain ``KeyboardInterrupt``: Ctrl-C)."""
    return 128 + getattr(exc, "signum", int(signal.SIGINT))


def _raise(signum, frame):
    for sig in SIGNALS:  # the clean-up that follows must not be cut short by a repeat
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def handled():
    """Inside: SIGINT/SIGTERM/SIGHUP raise :class:`Interrupted`; the previous handlers
    come back on the way out.  Does nothing outside the main thread (where Python
    cannot set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
    for sig in SIGNALS:
        if saved[sig] is not signal.SIG_IGN:  # ignored by the parent (nohup): keep it so
            signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
