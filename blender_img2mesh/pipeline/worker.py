"""The warm worker: many jobs in one process, models loaded once.

    python -m blender_img2mesh.pipeline.worker

Reads one JSON request per line on stdin -- ``{"id": ..., "args": [command-line args]}``,
``{"id": ..., "cmd": "preload", "args": [...]}`` (load a job's models, run nothing: see
:mod:`.preload`) or ``{"id": ..., "cmd": "shutdown"}`` -- and answers with the command
line's JSON events, each tagged with the request's ``id`` (see docs/protocol.md).  Every
request it cannot run (not a JSON object, an id that is not a string or a finite number,
an unknown ``cmd``, bad ``args``, a line longer than :data:`MAX_REQUEST` characters or
nested deeper than :data:`bounded_json.DEPTH`, several photos) gets one ``error`` event
and runs nothing; what it echoes of the request is cut short.
SIGINT, SIGTERM and SIGHUP end the running job cleanly and then the worker (exit 128 + the
signal).  Started by the add-on, it also ends when Blender dies (:mod:`.parent_watch`).
"""

import faulthandler
import json
import math
import sys

from . import bounded_json
from .command import parent_watch

try:  # Ctrl-C or SIGTERM while the libraries load: no traceback
    from .cli import run_cli
    from .command import signals
    from .command.arguments import build_parser, check_args
    from .command.console import stdout_for_events
    from .command.preload import serve_preload
    from .errors import Img2MeshError
    from .progress import Reporter, json_sink
except KeyboardInterrupt:
    raise SystemExit(130) from None

#: what a request may ask besides a job (``args``)
COMMANDS = ("shutdown", "preload")
#: longest request line read (a job's request is well under 1 KB); longest id echoed
MAX_REQUEST = bounded_json.LIMIT
MAX_ID = 200
#: longest message about a refused request (argparse repeats the values it refuses)
MAX_MESSAGE = 400


class _Tagged:
    """A text stream that adds ``"id"`` to every JSON line written through it."""

    def __init__(self, stream, job_id):
        self.stream, self.job_id = stream, job_id

    def write(self, line):
        if line.strip():
            event = json.loads(line)
            event["id"] = self.job_id
            self.stream.write(json.dumps(event, separators=(",", ":"), allow_nan=False) + "\n")

    def flush(self):
        self.stream.flush()


def parse(parser, argv):
    """A request's ``args`` as the command line's namespace (``--json`` implied), or
    Img2MeshError (also for several photos, a folder or a glob: a request is one photo)."""
    from .batch.plan import is_batch

    if not any(a in ("-h", "--help") for a in argv) and is_batch(argv):
        raise Img2MeshError("a request converts one photo, and this one asks for a batch "
                            "(several inputs, a folder, a glob or a batch option): nothing "
                            "was run", hint="send one request per photo (the models stay "
                            "loaded between requests), or run the batch on the command "
                            "line: img2mesh PHOTOS... -o FOLDER")
    try:
        return check_args(parser, parser.parse_args(argv + ["--json"]))
    except SystemExit:  # --help / --version inside a request
        raise Img2MeshError("--help/--version are not requests") from None


def _reply_error(out, job_id, message, hint=None, err=None):
    """One ``error`` event for request ``job_id`` (``err``'s file and kind, if given)."""
    reporter = Reporter(json_sink(_Tagged(out, job_id)))
    reporter.error(Img2MeshError(bounded_json.clip(message, MAX_MESSAGE),
                                 hint=hint and bounded_json.clip(hint, MAX_MESSAGE),
                                 file=err and err.file and bounded_json.clip(err.file, 300),
                                 kind=err.kind if err else "input"))


def _safe_id(value):
    """Ids are echoed in every event: a string (of at most :data:`MAX_ID` characters), a
    whole number, a finite number or null (a JSON number too large for a double, 1e999,
    would come back as Infinity)."""
    if isinstance(value, str):
        return len(value) <= MAX_ID
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _request(line, out):
    """The request on ``line`` (None: longer than :data:`MAX_REQUEST`) as a dict, or
    None after replying with an error."""
    if line is None:
        _reply_error(out, None, f"request is longer than {MAX_REQUEST} characters: nothing "
                     "was run", hint="a request is one job's arguments on one line")
        return None
    why = ""
    try:
        request = bounded_json.loads(line)
    except ValueError as exc:
        request, why = None, f" ({exc})"
    if not isinstance(request, dict):
        _reply_error(out, None, f"request is not a JSON object{why}: "
                     f"{bounded_json.clip(line.strip())}",
                     hint='send {"id": ..., "args": [...]} on one line')
        return None
    if not _safe_id(request.get("id")):
        _reply_error(out, None, f"request id must be a string of at most {MAX_ID} characters "
                     f"or a finite number, got {bounded_json.clip(line.strip())}",
                     hint="use a string id such as \"job-1\"")
        return None
    return request


def _lines(stdin, limit=MAX_REQUEST):
    """The lines of ``stdin``; None for one longer than ``limit`` (the rest of it read
    and dropped, never held whole)."""
    while True:
        line = stdin.readline(limit + 1)
        if not line:
            return
        if len(line) <= limit or line.endswith("\n"):
            yield line
            continue
        while line and not line.endswith("\n"):
            line = stdin.readline(limit)
        yield None


def serve(stdin, out):
    """Answer requests until end of input, ``shutdown`` or a signal; the exit code."""
    cache = {}
    parser = build_parser()
    Reporter(json_sink(_Tagged(out, None))).start()
    for line in _lines(stdin):
        if line is not None and not line.strip():
            continue
        request = _request(line, out)
        if request is None:
            continue
        job_id, cmd = request.get("id"), request.get("cmd")
        if cmd is not None:
            if cmd == "shutdown":
                break
            if cmd == "preload":  # load a job's models, run nothing (pipeline/command/preload.py)
                args = request.get("args", [])
                if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
                    _reply_error(out, job_id, "preload has no 'args' list of strings")
                    continue
                code = serve_preload(parser, args, _Tagged(out, job_id), cache)
                if code >= 128:
                    return code
                continue
            shown = bounded_json.clip(json.dumps(cmd), 60)
            _reply_error(out, job_id, f"unknown command {shown}: nothing was run",
                         hint="commands: " + ", ".join(COMMANDS) +
                         '; a job is {"id": ..., "args": [...]} without "cmd"')
            continue
        args = request.get("args")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            _reply_error(out, job_id, "request has no 'args' list of strings")
            continue
        try:
            parsed = parse(parser, args)
        except Img2MeshError as exc:
            _reply_error(out, job_id, f"bad arguments: {exc.message}", exc.hint, exc)
            continue
        except Exception as exc:  # a bug in the checks: answer it and go on
            _reply_error(out, job_id, f"internal error: {type(exc).__name__}: {exc}",
                         err=Img2MeshError("", kind="internal"))
            continue
        code = run_cli(parsed, _Tagged(out, job_id), cache=cache)
        if code >= 128:  # a signal ended the job: the worker ends too
            return code
    return 0


def main():
    # a native crash (a segfault in a library) prints every thread's Python stack on
    # stderr before the process dies: the add-on's "worker stopped unexpectedly" message
    # and the Info log then show where it happened
    faulthandler.enable(all_threads=True)
    with signals.handled():
        try:
            parent_watch.start()
            with stdout_for_events(keep=True) as out:  # (the process ends after it)
                return serve(sys.stdin, out)
        except KeyboardInterrupt as exc:  # idle (waiting for a request): end quietly
            return signals.exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
