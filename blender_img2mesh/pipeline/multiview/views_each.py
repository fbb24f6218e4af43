"""The per-view stages of ``--views``, run one view at a time here or on a Ray cluster's
actors (``--ray [ADDRESS]``): each photo's mask (background removal), each view's depth map
(plane sweep) and, on Ray, each view's SIFT features (:func:`colmap.features_of`; here,
this process and a helper process find them: pycolmap's SIFT holds the GIL, so threads
would not help; :func:`colmap._features`).  COLMAP's matching and
mapping, the fusion and the texture stay in this process: COLMAP reads one database
(written here from the views' features), and the others need every view at once.

Both runners call the same functions (:func:`mask_of`, :func:`colmap.features_of`,
:func:`surface.view_depth`); ``each(name, items, done)`` returns their results in the order
of ``items`` and calls ``done(k)`` as the k-th finishes, for progress; ``remote`` says
whether the work leaves this process; ``info`` says where it ran (the sidecar's
``"per_view"``: ``runner`` here or ray, the ``stages`` it ran, in order, and on Ray the
``actors`` and the ``nodes`` that did work).  On Ray, every actor keeps its own model
cache (the segmenter loads once per actor), the arguments shared by all views go to the
object store once, and the connection follows the batch's rules
(:mod:`batch.on_ray`: ``local``, ``auto``, ``HOST:PORT``; a Ray started here is shut down
after the job; the actors are stopped on any exit).
"""

import contextlib
import queue
from concurrent.futures import ThreadPoolExecutor

from .. import stages
from ..progress import Reporter

#: here, the masks are made this many at a time, each by a one-thread onnxruntime session
#: of its own: u2netp's small convolutions do not keep two cores busy (30 photos of the
#: benchmark's mug, 640x480: 0.38 s a photo one at a time on both cores, 0.31 s two at a
#: time; the same masks)
MASK_THREADS = 2


def mask_of(spec, models, photo, rgb, alpha, cache):
    """One photo's silhouette at working size and where it came from
    (:func:`stages.make_mask`), its segmenter session from ``cache``."""
    session = stages.segmenter(spec, alpha, Reporter(), cache, models)
    return stages.make_mask(spec, photo, rgb, alpha, session, silhouette=True)


def _call(name, shared, item, cache):
    """One view's work: ``name``'s function on the shared and the view's own arguments
    (the mask also gets the model cache of the process it runs in)."""
    from . import colmap, surface

    if name == "mask":
        return mask_of(*shared, *item, cache=cache)
    if name == "features":
        return colmap.features_of(*shared, *item)
    return surface.view_depth(*shared, *item)


def _ran(info, name):
    """Record stage ``name`` in a runner's ``info["stages"]`` (once, in order)."""
    if name not in info["stages"]:
        info["stages"].append(name)


class _Local:
    remote = False

    def __init__(self, cache):
        self.cache = cache
        self.info = {"runner": "here", "stages": []}

    def each(self, name, items, done=None, shared=()):
        _ran(self.info, name)
        if name == "mask" and MASK_THREADS > 1 and len(items) > 1:
            return self._side_by_side(name, items, done, shared)
        out = []
        for k, item in enumerate(items):
            out.append(_call(name, shared, item, self.cache))
            if done:
                done(k)
        return out

    def _side_by_side(self, name, items, done, shared):
        """``each`` on :data:`MASK_THREADS` threads, each with a model cache of its own
        (kept in this runner's cache for the next job): one-thread sessions, sleeping
        between operators, without onnxruntime's memory arena."""
        caches = queue.SimpleQueue()
        for k in range(MASK_THREADS):
            caches.put(stages.cached(self.cache, ("side by side", k), lambda: {
                stages.ORT_THREADS: 1, stages.ORT_SPIN: False, stages.ORT_ARENA: False}))

        def one(item):
            cache = caches.get()
            try:
                return _call(name, shared, item, cache)
            finally:
                caches.put(cache)

        with ThreadPoolExecutor(MASK_THREADS, thread_name_prefix="img2mesh-mask") as pool:
            futures = [pool.submit(one, item) for item in items]
            try:
                out = []
                for k, future in enumerate(futures):
                    out.append(future.result())
                    if done:
                        done(k)
                return out
            finally:  # an error: the views not started yet are not started
                for future in futures:
                    future.cancel()


class ViewActor:
    """A Ray actor: the per-view functions with a model cache of its own."""

    def __init__(self):
        self.cache = {}

    def run(self, name, shared, item):
        import ray

        return (_call(name, shared, item, self.cache),
                ray.get_runtime_context().get_node_id())


class _OnRay:
    remote = True

    def __init__(self, ray, actors):
        self.ray, self.actors, self.nodes = ray, actors, set()
        self.info = {"runner": "ray", "actors": len(actors), "nodes": 0, "stages": []}

    def each(self, name, items, done=None, shared=()):
        _ran(self.info, name)
        ray = self.ray
        shared_ref = ray.put(tuple(shared))  # once, not once per view
        refs = [self.actors[k % len(self.actors)].run.remote(name, shared_ref, item)
                for k, item in enumerate(items)]
        index = {ref: k for k, ref in enumerate(refs)}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            if done:
                done(index[ready[0]])
        out = ray.get(refs)
        self.nodes.update(node for _, node in out)
        self.info["nodes"] = len(self.nodes)
        return [value for value, _ in out]


@contextlib.contextmanager
def runner(args, cache):
    """The per-view runner of a ``--views`` job: on Ray's actors with ``--ray``, else here."""
    if getattr(args, "ray", None) is None:
        yield _Local(cache)
        return
    from ..batch import on_ray

    ray = on_ray.import_ray()
    started = not ray.is_initialized()
    actors = []
    try:
        on_ray.connect(ray, args.ray)
        n, options = on_ray.actor_options(args, ray.cluster_resources())
        actor = ray.remote(**options, max_restarts=0)(ViewActor)
        actors.extend(actor.remote() for _ in range(n))
        yield _OnRay(ray, actors)
    finally:
        on_ray.release(ray, actors, started)
