"""The command line: ``img2mesh INPUT -o OUT.ply [options]`` or ``img2mesh --prompt TEXT
-o OUT.ply [options]`` (= ``python -m blender_img2mesh``).

Exit codes: 0 done, 2 a problem with the arguments, the input, a model or the output (one
line ``error: ...`` on stderr, or an ``error`` event with ``--json``), 1 an unexpected
internal error, 128 + the signal's number when ended by SIGINT (130), SIGTERM (143) or
SIGHUP (129), after cleaning up.
"""

import sys
import traceback

try:  # Ctrl-C while numpy/scipy load (the first half second): no traceback
    from .batch import plan as batch_plan
    from .command import checks, signals
    from .command.arguments import build_parser, check_args, parse_args  # noqa: F401 -- callers' names
    from .command.console import refuse, stdout_for_events, wants_json
    from .errors import Img2MeshError
    from .progress import Reporter, json_sink, terminal_sink
except KeyboardInterrupt:
    raise SystemExit(130) from None


def run_cli(args, out, cache=None):
    """Run one job, printing events to ``out`` (JSON) or stderr; returns the exit code."""
    from .command.fetch import fetch
    from .run import run

    sink = json_sink(out) if args.json else terminal_sink(quiet=args.quiet)
    reporter = Reporter(sink)
    if args.json:
        reporter.start()
    try:
        unused = checks.unused_device(args)
        if unused:
            reporter.warn(unused)
        if args.download:
            result = fetch(args, reporter)
        elif getattr(args, "views", None):
            from .multiview.driver import run_views

            result = run_views(args, reporter, cache=cache)
        else:
            result = run(args, reporter, cache=cache)
    except Img2MeshError as err:
        reporter.error(err)
        if not args.json:
            print(f"error: {err.one_line()}", file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return err.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP (signals.Interrupted)
        reporter.error(Img2MeshError(f"{exc or 'interrupted'}", kind="cancelled"))
        return signals.exit_code(exc)
    except Exception as exc:  # a bug or a library failure: say so in one line
        err = Img2MeshError(f"internal error: {type(exc).__name__}: {exc}", kind="internal",
                            hint=None if args.verbose else "run with --verbose for details")
        reporter.error(err)
        if not args.json:
            print(f"error: {err.one_line()}", file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return 1
    if args.download and not args.json and not args.quiet:
        print(f"{args.download} is ready: {result['path']}", file=sys.stderr)
    elif not args.json and not args.quiet:
        print(f"wrote {result['mesh']} ({result['vertices']} vertices, {result['faces']} "
              f"faces) in {result['seconds']:.1f} s", file=sys.stderr)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    views = any(a == "--views" or a.startswith("--views=") for a in argv)
    if not views and batch_plan.is_batch(argv):  # several photos, a folder, a glob
        from .batch.local import main as batch_main

        return batch_main(argv)
    with signals.handled():
        try:
            try:
                args = parse_args(argv)
            except Img2MeshError as err:
                return refuse(err, wants_json(argv))
            except Exception as exc:  # a bug in the checks: still one line
                err = Img2MeshError(f"internal error: {type(exc).__name__}: {exc}",
                                    kind="internal")
                refuse(err, wants_json(argv))
                return 1
            with stdout_for_events() as out:
                return run_cli(args, out)
        except KeyboardInterrupt as exc:  # before or after the job: nothing to report
            return signals.exit_code(exc)
