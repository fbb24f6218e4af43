"""Write the option tables of docs/cli.md from the command line's parser, so that the page
cannot drift from the code.

    python tools/cli_table.py            rewrite the tables in docs/cli.md
    python tools/cli_table.py --check    exit 1 (saying so) when docs/cli.md is out of date

The tables are the text between ``<!-- options:begin -->`` and ``<!-- options:end -->``:
one table per argument group of ``batch.plan.build_parser()`` (the single run's options
plus the batch's), a row per option with its names, default, allowed values (the choices,
or the range from ``catalog.RANGES`` that the checks enforce) and its ``--help`` text.
Everything outside the markers is written by hand.
"""

import argparse
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from blender_img2mesh.pipeline.batch.plan import build_parser  # noqa: E402
from blender_img2mesh.pipeline.catalog import RANGES  # noqa: E402

PAGE = os.path.join(REPO, "docs", "cli.md")
BEGIN, END = "<!-- options:begin -->", "<!-- options:end -->"


def number(value):
    """A number as the tables write it: ``2.0`` -> ``2``, ``1e-06``, ``100000000``."""
    return str(value) if isinstance(value, int) else format(value, "g")


def names(action):
    """The option's names with its metavar, or a positional's name in capitals."""
    if not action.option_strings:
        return "`" + action.dest.upper() + "`"
    text = ", ".join(f"`{o}`" for o in action.option_strings)
    if action.nargs != 0 and not action.choices:
        metavar = action.metavar or action.dest.upper()
        text += f" {metavar}" if action.nargs != "?" else f" [{metavar}]"
    return text


def default(action):
    """The parser's default, or empty where there is none (the help says what happens)."""
    value = action.default
    if value is None or value is False or value == argparse.SUPPRESS or action.nargs == 0:
        return ""
    return f"`{number(value) if isinstance(value, (int, float)) else value}`"


def values(action):
    """Choices, or the range the checks enforce (``catalog.RANGES``)."""
    if action.choices:
        return ", ".join(f"`{c}`" for c in action.choices)
    limits = RANGES.get(action.dest)
    return f"{number(limits.low)} to {number(limits.high)}" if limits else ""


def meaning(parser, action):
    """The ``--help`` text, ``%(default)s`` filled in as argparse does."""
    text = action.help or ""
    if "%" in text:
        params = dict(vars(action), prog=parser.prog)
        params = {k: getattr(v, "__name__", v) for k, v in params.items()}
        text = text % params
    return text


#: argparse's own group titles, as the page's headings
TITLES = {"positional arguments": "Input", "options": "Output and display"}


def cell(text):
    """One table cell: one line, Markdown's special characters escaped."""
    text = " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
    return text.replace("*", "\\*")


def tables(parser=None):
    """The Markdown of every group's table (the text between the markers)."""
    parser = parser or build_parser()
    out = []
    for group in parser._action_groups:  # argparse keeps no public list of its groups
        actions = list(group._group_actions)
        if not actions:
            continue
        title = TITLES.get(group.title, group.title)
        out += ["", f"### {title[0].upper()}{title[1:]}", "",
                "| option | default | values | meaning |", "|---|---|---|---|"]
        out += [f"| {cell(names(a))} | {cell(default(a))} | {cell(values(a))} | "
                f"{cell(meaning(parser, a))} |" for a in actions]
    return "\n".join(out) + "\n"


def updated(page_text, parser=None):
    """``page_text`` with the tables between the markers replaced by fresh ones."""
    try:
        head, rest = page_text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise SystemExit(f"{PAGE} lacks the markers {BEGIN} ... {END}") from None
    return head + BEGIN + "\n" + tables(parser) + "\n" + END + tail


def main(argv=None):
    check = "--check" in (argv if argv is not None else sys.argv[1:])
    with open(PAGE, encoding="utf-8") as fh:
        text = fh.read()
    new = updated(text)
    if new == text:
        return 0
    if check:
        print("docs/cli.md's option tables are out of date: run python tools/cli_table.py",
              file=sys.stderr)
        return 1
    with open(PAGE, "w", encoding="utf-8") as fh:
        fh.write(new)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
