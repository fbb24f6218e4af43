"""Where the command line's output goes: JSON events on the real stdout (everything else
on stderr), and an argument error as one line or as events.  Shared by the single run
(:mod:`cli`), the batch (:mod:`batch`) and the warm worker.
"""

import contextlib
import os
import sys

from ..progress import Reporter, json_sink


@contextlib.contextmanager
def stdout_for_events(keep=False):
    """Keep the real stdout for JSON events only: whatever else is printed -- by Python
    code or by C++ libraries writing to file descriptor 1 -- goes to stderr.  ``keep``:
    descriptor 1 stays on stderr afterwards (a process about to exit: what native
    libraries print as it ends -- Open3D's memory statistics after a job cut short --
    must not land among the events)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    real = sys.stdout
    sys.stdout = sys.stderr
    events = os.fdopen(os.dup(saved), "w", encoding="utf-8", buffering=1)
    try:
        yield events
    finally:
        events.flush()
        events.close()
        sys.stdout = real
        if not keep:
            os.dup2(saved, 1)
        os.close(saved)


def wants_json(argv):
    """Whether a command line that may not parse asks for ``--json`` (or an abbreviation
    argparse accepts: ``--j``, ``--js``, ``--jso``)."""
    return any(len(a) > 2 and "--json".startswith(a) for a in argv if isinstance(a, str))


def refuse(err, as_json, out=None):
    """Report an argument error: one ``error:`` line on stderr, or with ``--json`` the
    ``start`` and ``error`` events on ``out`` (stdout).  Returns the exit code."""
    if as_json:
        reporter = Reporter(json_sink(out or sys.stdout))
        reporter.start()
        reporter.error(err)
    else:
        print(f"error: {err.one_line()}", file=sys.stderr)
    return err.exit_code
