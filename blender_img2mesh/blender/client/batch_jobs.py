"""A batch of photos as the operator and the panel see it (no bpy here): one
:class:`jobs.Runner` per photo, one after another, through the warm worker (models load
once); ``on_done(photo, runner)`` is called for each finished photo (the operator imports
it), failures are kept and the batch goes on; Cancel stops the photo in progress and keeps
what is finished.
"""

import os
import time

from ...pipeline.catalog import PHOTO_EXTENSIONS
from . import jobs


def photos_in(paths):
    """Image files of ``paths`` (files, or folders: their image files, sorted), each once."""
    found, seen = [], set()
    for path in paths:
        path = os.path.abspath(path)
        if os.path.isdir(path):
            items = [os.path.join(path, n) for n in sorted(os.listdir(path))
                     if n.lower().endswith(PHOTO_EXTENSIONS)]
        else:
            items = [path]
        for item in items:
            if os.path.isfile(item) and os.path.realpath(item) not in seen:
                seen.add(os.path.realpath(item))
                found.append(item)
    return found


class BatchRunner:
    def __init__(self, python, photos, make_args, on_done, keep_worker=True):
        self.python, self.photos = python, list(photos)
        self.make_args, self.on_done = make_args, on_done
        self.keep_worker = keep_worker
        self.index = 0  # the photo in progress
        self.inner = None
        self.done, self.failed = [], []  # photos; (photo, error)
        self.error = None
        self.finished = False
        self.cancel_requested = False
        self.warnings = []
        self.started = time.monotonic()

    @property
    def seconds(self):
        return time.monotonic() - self.started

    # what the panel draws (as for a Runner)
    @property
    def fraction(self):
        inner = self.inner.fraction if self.inner is not None and not self.inner.finished \
            else 0.0
        return min(1.0, (self.index + inner) / max(1, len(self.photos)))

    @property
    def label(self):
        stage = self.inner.label if self.inner is not None else "Starting"
        return f"{min(self.index + 1, len(self.photos))} / {len(self.photos)}: {stage}"

    @property
    def message(self):
        if self.inner is None or self.index >= len(self.photos):
            return ""
        return os.path.basename(self.photos[self.index])

    def parts(self):
        """The panel's progress words: (``k / N``, the photo's file name, its stage, its
        percent), said together as ``k / N \u2014 photo \u2014 stage \u2014 percent``."""
        total = len(self.photos)
        inner = self.inner if self.inner is not None and not self.inner.finished else None
        stage = inner.label if inner is not None else "Starting"
        pct = int((inner.fraction if inner is not None else 0.0) * 100 + 0.5)
        return (f"{min(self.index + 1, total)} / {total}", self.message, stage, f"{pct}%")

    @property
    def line(self):
        return " \u2014 ".join(p for p in self.parts() if p)

    def start(self):
        self._next()
        return self

    def _next(self):
        if self.index >= len(self.photos):
            self._end()
            return
        photo = self.photos[self.index]
        temp_dir = jobs.new_temp_dir()
        try:
            args = self.make_args(photo, temp_dir)
        except ValueError as exc:
            self.error = str(exc)
            self._end()
            return
        self.inner = jobs.Runner(self.python, args, temp_dir,
                                 keep_worker=self.keep_worker).start()
        jobs.current = self  # the panel shows the batch, not the photo

    def _collect(self):
        runner, photo = self.inner, self.photos[self.index]
        try:
            if runner.error:
                self.failed.append((photo, runner.error))
            else:
                self.warnings += runner.warnings
                try:
                    self.on_done(photo, runner)
                    self.done.append(photo)
                except (ValueError, OSError, RuntimeError) as exc:
                    self.failed.append((photo, f"cannot import: {exc}"))
        finally:
            runner.cleanup()
        self.index += 1

    def tick(self):
        """Advance; True once the batch is over (done or cancelled)."""
        if self.finished:
            return True
        if self.cancel_requested:
            self.cancel()
            return True
        if self.inner.tick():
            self._collect()
            self._next()
        return self.finished

    def wait(self, on_event=None):
        """Block until the batch is over (background mode).  A Cancel asked meanwhile
        (``cancel_requested``, from an import or another thread) stops the photo in
        progress, or the batch after the photo that was being imported."""
        def forward(event):
            if self.cancel_requested:
                self.inner.cancel_requested = True
            if on_event:
                on_event(event)

        while not self.finished:
            try:
                self.inner.wait(forward)
            finally:
                jobs.current = self
            if not (self.cancel_requested and self.inner.error == "cancelled"):
                self._collect()
            if self.cancel_requested:
                self.cancel()
            else:
                self._next()

    def cancel(self):
        if self.inner is not None and not self.inner.finished:
            self.inner.cancel()
        self.error = self.error or "cancelled"
        self._end()

    def _end(self):
        self.finished = True
        if jobs.current is self:
            jobs.current = None

    def cleanup(self):
        if self.inner is not None:
            self.inner.cleanup()
