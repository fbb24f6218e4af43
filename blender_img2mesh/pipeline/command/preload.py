"""A warm worker's ``preload`` request: load the models a job would use, run nothing.

``{"id": ..., "cmd": "preload", "args": [...]}`` takes a job's arguments (the photo and
``-o`` may be left out): the background-removal session and the depth model that such a job
would load are loaded into the worker's ``cache`` under the keys the job looks them up with
(:func:`stages.segmenter` / :func:`stages.depth_estimator`), so the next job skips the
loading.  It reports ``progress`` events of the ``model`` stage and a ``result`` with
``preloaded`` (what was loaded) and ``seconds``; it writes no files.  The offline rules are
the job's."""

import time

from ..errors import Img2MeshError
from ..progress import Reporter, json_sink
from . import checks, signals


def parse(parser, argv):
    """A preload's ``args`` as the command line's namespace: a job's arguments, the photo
    (or prompt) and ``-o`` optional.  Img2MeshError when they would not parse."""
    try:
        args = parser.parse_args(list(argv) + ["--json"])
    except SystemExit:  # --help / --version
        raise Img2MeshError("--help/--version are not requests") from None
    checks.check_all(args)
    if args.download is not None:
        raise checks.UsageError("preload loads a job's models: drop --download")
    return args


def load_models(args, reporter, cache):
    """Load the segmenter session and the depth estimator a job with ``args`` would use
    into ``cache``; the list of what was loaded (``"segmenter:NAME"``, ``"depth:LABEL"``)."""
    from .. import stages
    from ..job import Job

    job = Job.from_args(args)
    loaded, est = [], None
    session = stages.segmenter(job.mask, None, reporter, cache, job.models)
    if session is not None:
        session()  # the job's lambda: the session lands in the cache under the job's key
        loaded.append(f"segmenter:{args.segmenter}")
    if not args.depth_map:
        est, label = stages.depth_estimator(job.depth, reporter, cache, job.models)
        if est is not None:
            loaded.append(f"depth:{label}")
    if loaded:
        warm_up(session and session(), est, reporter)
    reporter.close_stage()
    return loaded


def warm_up(session, estimator, reporter):
    """One pass of each network on a small blank picture: a session's first run allocates
    its buffers (and imports what the run needs), which the first job then skips.  Nothing
    is kept: the job's results never come from here."""
    import numpy as np

    from ..mask import segment

    reporter.update(0.9, "Warming up the models (their first run)", phase="first_run")
    rgb = np.full((240, 320, 3), 96, np.uint8)
    rgb[60:180, 100:220] = 200
    if session is not None:
        segment.remove_background(rgb, session)
    if estimator is not None:
        estimator.predict(rgb)


def serve_preload(parser, argv, out, cache):
    """Answer one preload request (events written through ``out``, tagged by the caller);
    the exit code a signal asks for (>= 128), else 0.  Errors are events, never a crash."""
    reporter = Reporter(json_sink(out))
    t0 = time.perf_counter()
    try:
        args = parse(parser, argv)
        loaded = load_models(args, reporter, cache)
    except Img2MeshError as err:
        reporter.error(err)
        return 0
    except KeyboardInterrupt as exc:  # SIGTERM/SIGINT/SIGHUP while loading
        reporter.error(Img2MeshError(f"{exc or 'interrupted'}", kind="cancelled"))
        return signals.exit_code(exc)
    except Exception as exc:  # a library failure: one line, the worker goes on
        reporter.error(Img2MeshError(f"internal error: {type(exc).__name__}: {exc}",
                                     kind="internal"))
        return 0
    reporter.result({"preloaded": loaded, "timings": dict(reporter.timings),
                     "seconds": round(time.perf_counter() - t0, 3)})
    return 0
