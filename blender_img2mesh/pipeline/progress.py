"""Progress reporting: one event stream, rendered for a terminal or as JSON lines.

Every event is a dict with an ``"event"`` key (see ``docs/protocol.md``):

``start``     protocol and version, sent once
``progress``  ``stage``, ``fraction`` (0..1 of the whole job), ``message`` (and ``phase``
              while a model loads: ``read``, ``build``, ``first_run``)
``warning``   ``message``
``result``    where the outputs are and what they hold
``error``     ``message``, ``file``, ``hint``, ``kind``

The pipeline only calls :meth:`Reporter.stage` / :meth:`Reporter.update` /
:meth:`Reporter.warn`; a *sink* decides what the user sees.
"""

import json
import math
import sys
import threading
import time

from .. import __version__

PROTOCOL = 1

# (stage, share of the whole job).  Shares are rough CPU-time proportions, so the bar
# moves evenly; stages a run skips simply count as done.
STAGES = (
    ("load", 0.02),
    ("prompt", 0.0),  # text-to-image (added by the prompt feature; zero share when unused)
    ("model", 0.12),
    ("segment", 0.08),
    # several photos of one object (--views): zero shares unless the job weighs them
    ("features", 0.0),
    ("matching", 0.0),
    ("cameras", 0.0),
    ("depth", 0.38),
    ("points", 0.06),
    ("surface", 0.22),
    ("trim", 0.04),
    ("texture", 0.0),  # --views: the atlas baked from the photos
    ("export", 0.04),
    ("preview", 0.04),
)
#: the phases of loading a model (``progress`` events of the ``model`` stage): finding and
#: reading (or downloading) its files, building the network (PyTorch) or its ONNX Runtime
#: session (exporting it first, once), its first run on a blank picture (a preload)
PHASES = ("read", "build", "first_run")

_START = {}
_acc = 0.0
for _name, _share in STAGES:
    _START[_name] = _acc
    _acc += _share
_TOTAL = _acc
_SHARE = dict(STAGES)


class Reporter:
    """Turns pipeline calls into events and hands each to ``sink(event)``."""

    def __init__(self, sink=None):
        self.sink = sink or (lambda event: None)
        self.current = None
        self.events = []  # kept for tests and the sidecar's timings
        self.timings = {}
        self._t0 = None
        self._start, self._share, self._total = _START, _SHARE, _TOTAL
        self._done = 0.0  # the highest overall fraction sent: progress never goes back
        self._lock = threading.Lock()  # downloads report from several threads

    def weigh(self, **shares):
        """Give stages other shares of the bar (before the first stage starts), e.g. the
        text-to-image stage ``prompt`` when a run has one."""
        self._share = {**self._share, **shares}
        self._start, acc = {}, 0.0
        for name, _ in STAGES:
            self._start[name] = acc
            acc += self._share[name]
        self._total = acc

    def _emit(self, event):
        self.events.append(event)
        self.sink(event)

    def start(self):
        self._emit({"event": "start", "protocol": PROTOCOL, "version": __version__})

    def stage(self, name, message):
        """Begin stage ``name`` (one of :data:`STAGES`)."""
        self.close_stage()
        self.current = name
        self._t0 = time.perf_counter()
        self.update(0.0, message)

    def update(self, fraction, message=None, phase=None):
        """Progress inside the current stage, ``fraction`` from 0 to 1.  The job's
        overall fraction never goes below one already sent (a stage that reports less
        than before -- a download whose total grows as files start -- holds the bar).
        ``phase``: which part of loading a model this is (:data:`PHASES`), sent as the
        event's ``phase`` (absent otherwise)."""
        with self._lock:
            name = self.current
            fraction = float(fraction)
            fraction = min(max(fraction, 0.0), 1.0) if math.isfinite(fraction) else 0.0
            overall = (self._start[name] + self._share[name] * fraction) / self._total
            overall = max(round(overall, 4), self._done)
            self._done = overall
            event = {"event": "progress", "stage": name, "fraction": overall,
                     "stage_fraction": round(fraction, 4), "message": message or ""}
            if phase is not None:
                event["phase"] = phase
            self._emit(event)

    def warn(self, message):
        self._emit({"event": "warning", "message": message})

    def close_stage(self):
        if self.current is not None and self._t0 is not None:
            self.timings[self.current] = round(
                self.timings.get(self.current, 0.0) + time.perf_counter() - self._t0, 4)
        self.current, self._t0 = None, None

    def result(self, payload):
        self.close_stage()
        self._emit({"event": "result", **payload})

    def error(self, err):
        self.close_stage()
        self._emit({"event": "error", **err.as_dict()})


def json_sink(stream):
    """One JSON object per line, flushed at once (the add-on reads these).  Strict JSON:
    a NaN or infinity in an event is a bug (ValueError), never written as ``NaN``."""

    def sink(event):
        stream.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")
        stream.flush()

    return sink


def terminal_sink(stream=None, quiet=False):
    """Human progress on stderr: a redrawn bar on a TTY, one line per stage otherwise."""
    stream = stream or sys.stderr
    tty = hasattr(stream, "isatty") and stream.isatty()
    state = {"stage": None, "drawn": False}

    def sink(event):
        kind = event["event"]
        if kind == "progress" and not quiet:
            if tty:
                bar = "#" * int(event["fraction"] * 30)
                stream.write(f"\r[{bar:<30}] {event['fraction'] * 100:3.0f}%  "
                             f"{event['message'][:60]:<60}")
                state["drawn"] = True
            elif event["stage"] != state["stage"]:
                stream.write(f"{event['fraction'] * 100:3.0f}%  {event['message']}\n")
            state["stage"] = event["stage"]
        elif kind in ("warning", "error", "result"):
            if state["drawn"]:
                stream.write("\n")
                state["drawn"] = False
            if kind == "warning":
                stream.write(f"warning: {event['message']}\n")
        stream.flush()

    return sink


def counter(reporter, n, message, start=0.0, span=1.0):
    """A ``done`` callback for ``n`` views (the runners of :mod:`multiview.views_each`):
    progress ``start + span * k / n`` and ``message`` with ``{k}`` the views finished so
    far and ``{n}`` their count."""
    finished = [0]

    def done(_):
        finished[0] += 1
        reporter.update(start + span * finished[0] / n, message.format(k=finished[0], n=n))

    return done
