"""One photo of a batch, wherever it runs (this process or a Ray actor): its conversion
through :func:`run.run` with a shared model cache, and its manifest line."""

import datetime
import os
import time

from ..errors import Img2MeshError
from ..progress import Reporter


def record(job, status, result=None, error=None, seconds=None, outputs=(), **extra):
    """One manifest line."""
    result = result or {}
    return {"photo": job["index"], "input": job["photo"], "name": job["stem"],
            "status": status, "outputs": list(result.get("outputs", outputs)),
            "error": error, "timings": result.get("timings", {}), "seconds": seconds,
            "settings": job["key"], "node": None, "pid": os.getpid(), "attempts": 1,
            "time": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            **extra}


def error_dict(exc):
    if isinstance(exc, Img2MeshError):
        return exc.as_dict()
    return Img2MeshError(f"internal error: {type(exc).__name__}: {exc}", kind="internal",
                         hint="run this photo alone with --verbose for details").as_dict()


def convert(job, cache, sink=None):
    """One photo through the pipeline: ``(status, result, error, seconds)``."""
    from ..run import run

    reporter = Reporter(sink)
    t0 = time.perf_counter()
    try:
        result = run(job["args"], reporter, cache=cache)
        return "ok", result, None, round(time.perf_counter() - t0, 3)
    except Exception as exc:  # noqa: BLE001 -- every failure is that photo's, the batch goes on
        err = exc if isinstance(exc, Img2MeshError) else Img2MeshError(
            error_dict(exc)["message"], kind="internal", hint=error_dict(exc)["hint"])
        reporter.error(err)
        return "failed", None, err.as_dict(), round(time.perf_counter() - t0, 3)
