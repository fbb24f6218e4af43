"""The warm worker: many jobs in one process, models loaded once.

    python -m blender_img2mesh.pipeline.worker

Reads one JSON request per line on stdin -- ``{"id": ..., "args": [command-line args]}``,
``{"id": ..., "cmd": "preload", "args": [...]}`` (load a job's models, run nothing: see
:mod:`.preload`) or ``{"id": ..., "cmd": "shutdown"}`` -- and answers with the command
line's JSON events, each tagged with the request's ``id`` (see docs/protocol.md).  Every
request it cannot run (not a JSON object, an id that is not a string or a finite number,
an unknown ``cmd``, bad ``args``) gets one ``error`` event and runs nothing.
SIGINT, SIGTERM and SIGHUP end the running job cleanly and then the worker (exit 128 + the
signal).  Started by the add-on, it also ends when Blender dies (:mod:`.parent_watch`).
"""

import json
import math
import sys

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
    Img2MeshError."""
    try:
        return check_args(parser, parser.parse_args(argv + ["--json"]))
    except SystemExit:  # --help / --version inside a request
        raise Img2MeshError("--help/--version are not requests") from None


def _reply_error(out, job_id, message, hint=None, err=None):
    """One ``error`` event for request ``job_id`` (``err``'s file and kind, if given)."""
    reporter = Reporter(json_sink(_Tagged(out, job_id)))
    reporter.error(Img2MeshError(message, hint=hint, file=err and err.file,
                                 kind=err.kind if err else "input"))


def _no_constants(name):
    raise ValueError(f"{name} is not JSON")


def _safe_id(value):
    """Ids are echoed in every event: a string, a whole number, a finite number or null
    (a JSON number too large for a double, 1e999, would come back as Infinity)."""
    if value is None or isinstance(value, str) or \
            (isinstance(value, int) and not isinstance(value, bool)):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _request(line, out):
    """The request on ``line`` as a dict, or None after replying with an error."""
    try:
        request = json.loads(line, parse_constant=_no_constants)
    except ValueError:
        request = None
    if not isinstance(request, dict):
        _reply_error(out, None, f"request is not a JSON object: {line.strip()[:80]}",
                     hint='send {"id": ..., "args": [...]} on one line')
        return None
    if not _safe_id(request.get("id")):
        _reply_error(out, None, f"request id must be a string or a finite number, got "
                     f"{line.strip()[:80]}", hint="use a string id such as \"job-1\"")
        return None
    return request


def serve(stdin, out):
    """Answer requests until end of input, ``shutdown`` or a signal; the exit code."""
    cache = {}
    parser = build_parser()
    Reporter(json_sink(_Tagged(out, None))).start()
    for line in stdin:
        if not line.strip():
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
            _reply_error(out, job_id, f"unknown command {json.dumps(cmd)[:60]}: nothing "
                         "was run", hint="commands: " + ", ".join(COMMANDS) +
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
    with signals.handled():
        try:
            parent_watch.start()
            with stdout_for_events() as out:
                return serve(sys.stdin, out)
        except KeyboardInterrupt as exc:  # idle (waiting for a request): end quietly
            return signals.exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
