"""The batch on a Ray cluster (``--ray [ADDRESS]``): the same runs, on actors.

Each actor is a process that keeps its own model ``cache`` (models load once per actor)
and calls the same :func:`batch_photo.convert` -> :func:`run.run` as the local batch,
writing its result straight into the output folder (a path every node must reach) with the
same all-or-nothing commit (:mod:`outputs`).  The driver hands a photo to an actor whenever
it is free (a slow photo never holds up the rest), writes the manifest and the display.
An actor sends its photo's events (stages, warnings, the result) to a small
:class:`EventBox` actor that the driver empties while it waits, so the display and
``--json`` show each running photo's stage as the local batch does.  A photo whose actor
died (a crash, out of memory, a lost node) is tried once more on a fresh actor, then
reported as failed like any other failure.

Signals keep the local batch's promises: ``ray.init`` installs its own SIGTERM handler
(``sys.exit``), which :func:`run` puts back to the batch's, so SIGTERM, SIGINT and SIGHUP
stop the actors (their temporary files removed), shut down a Ray this driver started, and
end the batch with its ``batch`` event and 143, 130, 129.  A Ray started here (``--ray``
alone) shares the driver's fate: killed outright, its processes end with it (Ray's own
reaper and kernel fate-sharing).

Ray is optional (``pip install ".[ray]"`` in a checkout); this module imports it only
when ``--ray`` is given.  Every node needs this package installed (the same version).
"""

import logging
import os
import signal
import threading
import time

from ..errors import Img2MeshError
from ..output.result_files import clean_stale
from .photo import convert, record

INSTALL = 'pip install ".[ray]" in this project\'s checkout (or: pip install "ray[default]")'
#: a photo is tried this many times when its actor dies
ATTEMPTS = 2
#: test hook (comma-separated): ``NAME`` makes an actor process exit on the photo named
#: NAME; ``NAME:FILE`` only while FILE does not exist (it is created first: one crash)
CRASH_ENV = "IMG2MESH_TEST_CRASH"


def import_ray():
    try:
        import ray
    except ImportError:
        raise Img2MeshError("--ray needs Ray, which is not installed", hint=f"install it: "
                            f"{INSTALL}", kind="input") from None
    return ray


#: seconds the driver waits for a photo to finish before it shows the events it got
POLL = 0.2


class EventBox:
    """The actor that holds the photos' events until the driver takes them."""

    def __init__(self):
        self.events = []

    def put(self, index, event):
        self.events.append((index, event))

    def take(self):
        events, self.events = self.events, []
        return events


class PhotoWorker:
    """The actor: one model cache for every photo it converts; its photos' events go to
    ``box`` (an :class:`EventBox`)."""

    def __init__(self, box=None):
        self.cache, self.box = {}, box

    def convert(self, job):
        import ray

        _test_crash(job["photo"])
        sent = []
        sink = None if self.box is None else \
            lambda event: sent.append(self.box.put.remote(job["index"], event))
        status, result, error, seconds = convert(job, self.cache, sink)
        if sent:  # the box runs one caller's calls in order: the last one there = all
            ray.get(sent[-1])
        return {"status": status, "result": result, "error": error, "seconds": seconds,
                "node": ray.get_runtime_context().get_node_id(), "pid": os.getpid()}


def _test_crash(photo):
    for spec in filter(None, os.environ.get(CRASH_ENV, "").split(",")):
        name, _, marker = spec.partition(":")
        if os.path.basename(photo) != name:
            continue
        if marker:
            try:
                os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                return
        os._exit(1)


def connect(ray, address):
    """Connect (or start a local Ray); True when this call started it.  The signal
    handlers in place before ``ray.init`` are put back after it."""
    if ray.is_initialized():
        return False
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    saved = {} if threading.current_thread() is not threading.main_thread() else \
        {getattr(signal, n): signal.getsignal(getattr(signal, n)) for n in names
         if hasattr(signal, n)}
    try:
        return _init(ray, address)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)


def _init(ray, address):
    kwargs = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == "local":
            ray.init(include_dashboard=False, **kwargs)
        else:
            ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise Img2MeshError(f"cannot connect to the Ray cluster '{address}': "
                            f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                            hint="start one with 'ray start --head' (then --ray auto), or "
                            "give its HOST:PORT", kind="input") from None
    return True


def actor_options(args, resources):
    """(number of actors, ray options of one): one CPU each (one GPU with --device
    cuda) as far as the cluster has them; more actors than that share them."""
    gpu = args.device == "cuda"
    have = float(resources.get("GPU" if gpu else "CPU", 0))
    if have <= 0:
        raise Img2MeshError(f"the Ray cluster has no {'GPU' if gpu else 'CPU'}s",
                            hint="add nodes or run without --ray", kind="input")
    n = max(1, args.ray_actors or int(have))
    share = min(1.0, have / n)
    return n, ({"num_gpus": share, "num_cpus": 0} if gpu else {"num_cpus": share})


def run(args, jobs, finish, display):
    """Convert ``jobs`` on Ray actors; ``finish(job, record)`` for each as it ends."""
    ray = import_ray()
    started, actors = not ray.is_initialized(), []
    try:
        connect(ray, args.ray)
        if not jobs:
            return
        n, options = actor_options(args, ray.cluster_resources())
        n = min(n, len(jobs))
        box = ray.remote(num_cpus=0)(EventBox).remote()
        actors.append(box)  # stopped with the workers
        worker = ray.remote(**options, max_restarts=0)(PhotoWorker)

        def make():
            return worker.remote(box)

        display.stage = f"on {n} Ray actor{'s' * (n > 1)}"
        queue = list(jobs)
        attempts = {j["index"]: 0 for j in jobs}
        running = {}  # object ref -> (actor, job, start time)
        sinks = {j["index"]: display.photo_sink(j) for j in jobs}
        idle = [make() for _ in range(n)]
        actors.extend(idle)
        while queue or running:
            while queue and idle:
                actor, job = idle.pop(), queue.pop(0)
                attempts[job["index"]] += 1
                running[actor.convert.remote(job)] = (actor, job, time.perf_counter())
                display.photo_start(job, display.stage)
            ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL)
            for index, event in ray.get(box.take.remote()):  # before the photos' ends
                sinks[index](event)
            for ref in ready:
                actor, job, t0 = running.pop(ref)
                tries = attempts[job["index"]]
                try:
                    out = ray.get(ref)
                except ray.exceptions.RayError as exc:  # the actor died with the photo
                    ray.kill(actor)
                    actors.remove(actor)
                    replacement = make()
                    actors.append(replacement)
                    idle.append(replacement)
                    if tries < ATTEMPTS:
                        queue.insert(0, job)
                        continue
                    error = Img2MeshError(
                        f"the Ray worker converting this photo died {tries} times "
                        f"({type(exc).__name__})", file=job["photo"], kind="internal",
                        hint="run this photo alone to see what happens").as_dict()
                    finish(job, record(job, "failed", error=error, attempts=tries,
                                       seconds=round(time.perf_counter() - t0, 3)))
                    continue
                idle.append(actor)
                finish(job, record(job, out["status"], out["result"], out["error"],
                                   out["seconds"], node=out["node"], pid=out["pid"],
                                   attempts=tries))
    except KeyboardInterrupt:
        _ignore_signals()  # a repeat must not cut the clean-up short
        _stop(ray, actors)  # an actor killed mid-photo leaves temporary files: removed
        if jobs:
            time.sleep(0.5)
            clean_stale(os.path.dirname(jobs[0]["args"].output))
        raise
    finally:
        release(ray, actors, started)


def _ignore_signals():
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGINT", "SIGTERM", "SIGHUP"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_IGN)


def _stop(ray, actors):
    while actors:
        ray.kill(actors.pop())


def release(ray, actors, started):
    """The end of a run on Ray (the batch's, --views'): its actors stopped, and a Ray
    that this run ``started`` shut down."""
    _stop(ray, actors)
    if started and ray.is_initialized():
        ray.shutdown()
