"""The local batch's stage overlap: the next photo's work started on a second thread while
the current one finishes, into the cache slots that :mod:`stages` fills and :func:`run.run`
looks in (one value per slot, the last photo's), so the next photo's run finds it there
(``"reused"`` in its result).

* ``mask`` (the default): once the current photo is at its depth stage, the next photo
  is read and its background removed (a small network beside the big one);
* ``depth``: that, and once the current photo's depth is done (its ``points`` stage or
  later: meshing and writing files, mostly one core), the next photo's depth network
  runs too -- onnxruntime and torch release the GIL.

``IMG2MESH_BATCH_OVERLAP`` = ``0`` (none), ``mask`` or ``depth``; ``python -m
benchmarks.speed.batch`` measures them against each other (docs/benchmarks.md, Batch: the mask
overlap 0.83x the batch's time without one, ``depth`` no faster than ``mask`` on 2 shared
cores, so the simpler one is the default). With an overlap the batch's onnxruntime sessions
sleep between operators instead of spin-waiting on the cores the other stage needs
(``IMG2MESH_ORT_SPIN=1``: they spin). The main thread waits for the work ahead before it
starts the next photo, so a photo's network never runs twice.
"""

import os
from concurrent.futures import ThreadPoolExecutor

from ..progress import Reporter

MODES = ("0", "mask", "depth")
#: the stages after the depth network: its output is there, meshing and writing run
_AFTER_DEPTH = ("points", "surface", "trim", "export", "preview")


def mode():
    value = os.environ.get("IMG2MESH_BATCH_OVERLAP", "mask")
    return {"1": "mask", "": "mask"}.get(value, value if value in MODES else "mask")


class Ahead:
    """One thread for the whole batch that works ahead on the next photo."""

    def __init__(self, cache, how=None):
        from ..stages import ORT_SPIN

        self.cache, self.how = cache, how or mode()
        # two stages side by side: onnxruntime's threads sleep between operators
        cache[ORT_SPIN] = os.environ.get("IMG2MESH_ORT_SPIN", "1" if self.how == "0"
                                         else "0") != "0"
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="img2mesh-ahead") \
            if self.how != "0" else None
        self.pending = []

    def sink(self, sink, upcoming):
        """``sink`` wrapped: starts the work on ``upcoming`` (a job, or None) as the
        current photo's stages pass."""
        if self.pool is None or upcoming is None:
            return sink
        started = set()
        ns = upcoming["args"]

        def wrapped(event):
            stage = event.get("stage")
            if stage == "depth" and "mask" not in started:
                started.add("mask")
                self.pending.append(self.pool.submit(_mask_ahead, ns, self.cache))
            elif stage in _AFTER_DEPTH and self.how == "depth" and "depth" not in started \
                    and not (ns.depth_map or ns.depth_model == "inflate"):
                started.add("depth")
                self.pending.append(self.pool.submit(_depth_ahead, ns, self.cache))
            sink(event)

        return wrapped

    def wait(self):
        """Until the work ahead is done (before the next photo runs)."""
        while self.pending:
            self.pending.pop(0).result()

    def close(self):
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def _photo(source):
    from ..source import image_io

    rgb_full, alpha = image_io.load_photo(source.photo)
    return image_io.resize_rgb(rgb_full, source.max_size), alpha


def _mask_ahead(ns, cache):
    from .. import stages
    from ..job import Job

    try:
        job = Job.from_args(ns)
        if job.mask.keep_background or job.mask.file:
            return
        rgb, alpha = _photo(job.source)
        if alpha is not None:
            return
        session = stages.segmenter(job.mask, alpha, Reporter(), cache, job.models)
        stages.reuse(cache, "mask", (stages.photo_key(job.source.photo, rgb), job.mask.segmenter),
                     lambda: stages.make_mask(job.mask, job.source.photo, rgb, alpha, session),
                     [])
    except Exception:  # noqa: BLE001 -- the photo's own run meets (and reports) it again
        return


def _depth_ahead(ns, cache):
    import dataclasses

    from .. import stages
    from ..job import Job

    try:
        job = Job.from_args(ns)
        rgb, _ = _photo(job.source)
        key = ("depth",)  # only a model the batch has loaded already: no loading here
        no_download = dataclasses.replace(job.models, allow_download=False)
        estimator = stages.depth_estimator(job.depth, Reporter(), _Only(cache, key),
                                           no_download)
        if estimator[0] is not None:
            stages.predict(estimator, rgb, cache, stages.photo_key(job.source.photo, rgb), [])
    except Exception:  # noqa: BLE001 -- as above
        return


class _Only(dict):
    """The cache for looking up a loaded depth model: a model that is not loaded yet is
    not loaded here (the photo's own run loads it, with its progress)."""

    def __init__(self, cache, prefix):
        super().__init__()
        self.cache, self.prefix = cache, prefix

    def __contains__(self, key):
        if key[:len(self.prefix)] == self.prefix and key in self.cache:
            return True
        raise LookupError("not loaded yet")

    def __getitem__(self, key):
        return self.cache[key]
