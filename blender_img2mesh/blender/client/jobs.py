"""One generation run as the operator and the panel see it (no bpy here).

A :class:`Runner` owns the job's temp folder, sends the request to the worker, folds its
events into ``stage``/``fraction``/``message`` for the progress bar, and cleans up.  The
modal operator calls :meth:`Runner.tick` from its timer; background mode calls
:meth:`Runner.wait`.  ``current`` is the run the panel shows (one at a time).
"""

import os
import re
import shutil
import tempfile
import time

from ...pipeline.output.result_files import dead_names  # (standard library only)
from . import panel_words, worker_client

_STALE_DIR = re.compile(r"^img2mesh-(?P<pid>\d+)-[A-Za-z0-9_]+$")

current = None  # the Runner in progress (the panel's progress bar and Cancel)

STAGE_LABELS = {
    "load": "Loading image", "prompt": "Generating image", "model": "Loading models",
    "segment": "Removing background", "depth": "Estimating depth", "points": "Building points",
    "surface": "Reconstructing surface", "trim": "Trimming", "export": "Writing mesh",
    "preview": "Drawing preview",
    # several photos of one object (the Views source)
    "features": "Finding features", "matching": "Matching photos",
    "cameras": "Recovering cameras", "texture": "Baking texture",
}


def running():
    return current is not None and not current.finished


def new_temp_dir():
    """A temp folder for one job, named after this Blender's pid (``img2mesh-PID-XXXX``)
    so that :func:`remove_stale_temp_dirs` can tell when its owner is gone."""
    return tempfile.mkdtemp(prefix=f"img2mesh-{os.getpid()}-")


def remove_stale_temp_dirs(folder=None):
    """Remove the job folders that a Blender which died (crash, ``kill -9``) left in the
    temp folder: ``img2mesh-PID-XXXX`` whose PID is no running process.  Folders of
    running Blenders, and of older versions (no pid in the name), stay.  POSIX only
    (on Windows ``os.kill(pid, 0)`` is not a harmless probe).  Returns what was removed."""
    if os.name == "nt":
        return []
    folder = folder or tempfile.gettempdir()
    removed = []
    for name in dead_names(folder, _STALE_DIR):
        path = os.path.join(folder, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class Runner:
    def __init__(self, python, args, temp_dir, keep_worker=True, leftovers=(), title=""):
        self.python, self.args, self.temp_dir = python, list(args), temp_dir
        #: what is being made, for the progress line: the photo's file name (never its
        #: path), the Blender image's name, the prompt
        self.title = title
        #: what the job may leave behind when it is killed (a download's ``.partial``
        #: folder): removed with the temp folder after Cancel
        self.leftovers = list(leftovers)
        self.keep_worker = keep_worker
        self.job = None
        self.stage, self.fraction, self.message = "start", 0.0, "Starting the worker"
        self.warnings = []
        self.result = None
        self.error = None  # one line, in the panel's words (client/panel_words.py)
        self.finished = False
        self.cancel_requested = False
        self.started = time.monotonic()

    def start(self):
        global current
        current = self
        try:
            self.job = worker_client.Job(self.python, self.args)
        except (OSError, worker_client.WorkerDied) as exc:
            self._fail(f"cannot start the worker with {self.python}: {exc}")
        else:
            if self.job.worker.preloads:  # queued behind the models started ahead
                self.stage, self.message = "model", "Loading models"
        return self

    @property
    def label(self):
        return STAGE_LABELS.get(self.stage, self.stage.capitalize())

    def _fold(self, event):
        kind = event["event"]
        if kind == "progress":
            self.stage = event.get("stage", self.stage)
            self.fraction = max(self.fraction, float(event.get("fraction", 0.0)))
            self.message = event.get("message") or self.label
        elif kind == "warning":
            self.warnings.append(panel_words.in_panel_words(event.get("message", "")))
        elif kind == "result":
            self.result = event
            self.fraction, self.message = 1.0, "Importing"
        elif kind == "error":
            self._fail(panel_words.in_panel_words(worker_client.error_text(event)))

    def tick(self):
        """Read what the worker said so far; True once the job is over."""
        if self.finished:
            return True
        if self.cancel_requested:
            self.cancel()
            return True
        for event in self.job.poll():
            self._fold(event)
        if self.job.done and not self.finished:
            if self.result is None and self.error is None:
                self._fail("the worker ended without a result")
            self._end()
        return self.finished

    def wait(self, on_event=None):
        """Block until the job is over (background mode)."""
        if not self.finished:
            try:
                while not self.job.done:
                    if self.cancel_requested:  # asked from elsewhere (another thread)
                        self.cancel()
                        break
                    for event in self.job.poll(timeout=0.5):
                        self._fold(event)
                        if on_event:
                            on_event(event)
            except KeyboardInterrupt:
                self.cancel()
                raise
            self.tick()
        return self.result

    def cancel(self):
        """Kill the worker and its children, remove the temp folder."""
        if self.job is not None and not self.job.done:
            self.job.cancel()
        self.error = self.error or "cancelled"
        self._end()
        self.cleanup()

    def _fail(self, message):
        self.error = message
        self.result = None
        self._end()

    def _end(self):
        global current
        self.finished = True
        if not self.keep_worker:
            worker_client.release()
        if current is self:
            current = None

    def mesh_path(self):
        path = (self.result or {}).get("mesh")
        if not path or not os.path.isfile(path):
            return None
        return path

    def cleanup(self):
        for path in [self.temp_dir, *self.leftovers]:
            if path and os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)

    @property
    def seconds(self):
        return time.monotonic() - self.started
