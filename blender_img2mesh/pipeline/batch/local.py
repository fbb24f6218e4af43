"""Many photos in one command: ``img2mesh a.jpg b.png photos/ 'shots/*.jpg' -o out/``.

A thin driver over :func:`run.run` (the pipeline): every photo is one ordinary run with its
own output names (:mod:`batch_plan`), all runs share one model ``cache`` (models load
once), each result is committed whole (:mod:`outputs`).  A photo that fails is reported
and the batch goes on; a photo whose complete result is already there with the same
settings is skipped; ``OUT/manifest.jsonl`` gets one line per photo.  ``--ray`` hands the
same runs to actors on a Ray cluster (:mod:`batch_ray`).

Exit codes: 0 every photo done (or skipped), 2 some failed (or a bad command line, no
photos), 130 interrupted (SIGINT), 143 terminated (SIGTERM), 129 hang-up (SIGHUP).
"""

import contextlib
import json
import os
import signal
import sys
import threading

from ..command.arguments import check_args
from ..command.console import refuse, stdout_for_events, wants_json
from ..errors import Img2MeshError
from . import plan as batch_plan
from .ahead import Ahead
from .discover import expand
from .display import Display
from .photo import convert, record

MANIFEST = "manifest.jsonl"


class Stopped(KeyboardInterrupt):
    """SIGTERM/SIGHUP turned into an interrupt, so every open result is cleaned up."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals():
    """SIGTERM/SIGHUP raise :class:`Stopped`; yields a list that gets each signal's
    number (a library that turns the exception into a plain ``KeyboardInterrupt`` --
    Ray's blocking calls do -- does not lose which signal it was)."""
    received = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    saved = {}

    def handler(signum, frame):
        received.append(signum)
        raise Stopped(signum)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            saved[name] = signal.signal(getattr(signal, name), handler)
    try:
        yield received
    finally:
        for name, old in saved.items():
            signal.signal(getattr(signal, name), old)


class Manifest:
    """``manifest.jsonl``: one JSON line per photo, appended with one ``write`` and
    synced, so a killed batch leaves whole lines (a torn last line of an earlier crash
    is cut off when the next batch opens the file)."""

    def __init__(self, folder):
        self.path = os.path.join(folder, MANIFEST)
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
            size = end = os.fstat(self.fd).st_size
            if size and os.pread(self.fd, 1, size - 1) != b"\n":
                while end > 0:  # back, 1 MB at a time, to the last whole line's end
                    start = max(0, end - (1 << 20))
                    cut = os.pread(self.fd, end - start, start).rfind(b"\n")
                    end = start + cut + 1 if cut >= 0 else start
                    if cut >= 0:
                        break
                os.ftruncate(self.fd, end)
        except OSError as exc:
            from ..output.result_files import write_error

            raise write_error(self.path, exc, "manifest") from None

    def add(self, record):
        os.write(self.fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())
        os.fsync(self.fd)

    def close(self):
        os.close(self.fd)


def _local(todo, finish, display):
    """Photo after photo, one model cache; the next photo's mask is made on a second
    thread while the current one finishes (:mod:`batch_ahead`)."""
    cache = {}
    ahead = Ahead(cache)
    try:
        for i, job in enumerate(todo):
            display.photo_start(job)
            sink = ahead.sink(display.photo_sink(job), todo[i + 1] if i + 1 < len(todo)
                              else None)
            status, result, error, seconds = convert(job, cache, sink)
            finish(job, record(job, status, result, error, seconds))
            ahead.wait()
    finally:
        ahead.close()


def plan(args):
    """The output folder, the jobs (one per photo, in order) and how many image files
    discovery passed over (results' files: :mod:`.discover`)."""
    folder = batch_plan.output_folder(args.output)
    previews = [args.preview] if isinstance(args.preview, str) else []
    photos, passed = expand(args.input, args.recursive, [folder, *previews])
    jobs = []
    stems = batch_plan.stems(photos, lambda stem: batch_plan.result_names(
        stem, folder, args.format, args.preview))
    for index, (photo, stem) in enumerate(zip(photos, stems)):
        key = batch_plan.settings_key(args, photo)
        ns = batch_plan.photo_args(args, photo, stem, folder, index, key)
        done = None if args.overwrite else batch_plan.finished(ns)
        jobs.append({"index": index, "photo": photo, "stem": stem, "key": key, "args": ns,
                     "done": done})
    return folder, jobs, passed


def run_batch(args, out):
    """The whole batch; returns the exit code."""
    display = Display(args, out)
    try:
        folder, jobs, passed = plan(args)
        if args.preview and args.preview is not True:
            batch_plan.output_folder(args.preview)
        manifest = Manifest(folder)
    except Img2MeshError as err:
        display.fatal(err)
        return err.exit_code
    todo = [j for j in jobs if not j["done"]]
    display.begin(folder, len(jobs), len(todo), passed)
    counts = {"ok": 0, "failed": 0, "skipped": 0}

    def finish(job, rec):
        counts[rec["status"]] += 1
        manifest.add(rec)
        display.photo_done(job, rec)

    code, received = 0, []
    try:
        with _stop_on_signals() as received:
            for job in jobs:
                if job["done"]:
                    finish(job, record(job, "skipped", outputs=job["done"], seconds=0.0))
            if args.ray is not None:
                from . import on_ray as batch_ray

                batch_ray.run(args, todo, finish, display)
            else:
                _local(todo, finish, display)
    except KeyboardInterrupt as exc:
        code = 128 + getattr(exc, "signum", received[0] if received else signal.SIGINT)
    except Img2MeshError as err:  # Ray missing or unreachable
        display.fatal(err)
        code = err.exit_code
    finally:
        manifest.close()
    if not code and counts["failed"]:
        code = 2
    display.end(counts, len(jobs), manifest.path, interrupted=code not in (0, 2))
    return code


def main(argv=None):
    """``img2mesh`` with several inputs, a folder or a glob (dispatched from :mod:`cli`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    p = batch_plan.build_parser()
    try:
        args = p.parse_intermixed_args(argv)
        batch_plan.check(p, args)
        # the single run's checks, once, on a stand-in for every photo
        probe = batch_plan.photo_args(args, "photo.png", "photo", os.path.abspath("."), 0,
                                      "")
        probe.preview = None
        check_args(p, probe)
    except Img2MeshError as err:  # one line (or an error event), exit 2
        return refuse(err, wants_json(argv))
    with stdout_for_events() as out:
        try:
            return run_batch(args, out)
        except KeyboardInterrupt:  # before the photos started (reading folders, sidecars)
            return 130
