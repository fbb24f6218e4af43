"""The helper process that finds some views' SIFT features while this one finds the
others' (:func:`colmap._features`): ``pycolmap`` holds the GIL while it extracts, so a
second core needs a second process.

A plain child (``python -m`` this module, its own process group's member: a cancel that
kills the worker's group kills it too), not multiprocessing's "spawn", which would run the
caller's main script again in the child when it is not guarded.  The protocol: the
child reads ``(function, shared, items)`` pickled on its stdin (the function by its name,
:func:`colmap.features_of`: this module imports nothing of the pipeline) and writes
``[function(*shared, *item) for item in items]`` pickled on its stdout.
"""

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading

#: the folder that holds the ``blender_img2mesh`` package (for the child's imports)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


class _Helper:
    def __init__(self, proc, writer):
        self.proc, self.writer = proc, writer

    def result(self):
        """The items' results, or None when the child failed (its stderr says why)."""
        if self.proc is None:
            return None
        out = self.proc.stdout.read()
        self.writer.join()
        if self.proc.wait() != 0 or not out:
            return None
        return pickle.loads(out)


@contextlib.contextmanager
def started(function, shared, items):
    """A helper calling ``function(*shared, *item)`` for each of ``items`` (a module-level
    function, pickled by its name), or, with no items, one whose :meth:`result` is None;
    the child is gone on the way out, whatever happened."""
    if not len(items):
        yield _Helper(None, None)
        return
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    try:
        proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, env=env)
    except (OSError, ValueError):  # (no interpreter to start: all views here, then)
        yield _Helper(None, None)
        return
    data = pickle.dumps((function, tuple(shared), list(items)),
                        protocol=pickle.HIGHEST_PROTOCOL)

    def feed():
        try:
            proc.stdin.write(data)
            proc.stdin.close()
        except OSError:  # (the child is gone: result() says so)
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        yield _Helper(proc, writer)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            if not pipe.closed:
                pipe.close()


def main():
    # Ctrl+C reaches the whole process group: the parent stops this child itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    function, shared, items = pickle.load(sys.stdin.buffer)
    found = [function(*shared, *item) for item in items]
    pickle.dump(found, sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main()
