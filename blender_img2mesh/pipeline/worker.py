"""The warm worker: many jobs in one process, models loaded once.

    python -m blender_img2mesh.pipeline.worker

Reads one JSON request per line on stdin -- ``{"id": ..., "args": [command-line args]}``
or ``{"id": ..., "cmd": "shutdown"}`` -- and answers with the command line's JSON events,
each tagged with the request's ``id`` (see docs/protocol.md).
"""

import json
import sys

from .cli import build_parser, check_args, run_cli, stdout_for_events
from .errors import Img2MeshError
from .progress import Reporter, json_sink


class _Tagged:
    """A text stream that adds ``"id"`` to every JSON line written through it."""

    def __init__(self, stream, job_id):
        self.stream, self.job_id = stream, job_id

    def write(self, line):
        if line.strip():
            event = json.loads(line)
            event["id"] = self.job_id
            self.stream.write(json.dumps(event, separators=(",", ":")) + "\n")

    def flush(self):
        self.stream.flush()


class _ArgError(Exception):
    pass


class _Parser:
    """argparse that raises instead of exiting on a bad argument list."""

    def __init__(self):
        self.p = build_parser()
        self.p.exit_on_error = False
        self.p.error = self._error

    @staticmethod
    def _error(message):
        raise _ArgError(message)

    def parse(self, argv):
        try:
            return check_args(self.p, self.p.parse_args(argv + ["--json"]))
        except SystemExit:  # --help / --version inside a request
            raise _ArgError("--help/--version are not requests")


def _reply_error(out, job_id, message, hint=None):
    reporter = Reporter(json_sink(_Tagged(out, job_id)))
    reporter.error(Img2MeshError(message, hint=hint))


def serve(stdin, out):
    cache = {}
    parser = _Parser()
    Reporter(json_sink(_Tagged(out, None))).start()
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            job_id = request.get("id")
        except (ValueError, AttributeError):
            _reply_error(out, None, f"request is not a JSON object: {line.strip()[:80]}",
                         hint='send {"id": ..., "args": [...]} on one line')
            continue
        if request.get("cmd") == "shutdown":
            break
        args = request.get("args")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            _reply_error(out, job_id, "request has no 'args' list of strings")
            continue
        try:
            parsed = parser.parse(args)
        except _ArgError as exc:
            _reply_error(out, job_id, f"bad arguments: {exc}", hint="see img2mesh --help")
            continue
        run_cli(parsed, _Tagged(out, job_id), cache=cache)
    return 0


def main():
    with stdout_for_events() as out:
        return serve(sys.stdin, out)


if __name__ == "__main__":
    sys.exit(main())
