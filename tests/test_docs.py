"""The docs against the code: docs/cli.md's option tables against the command line's
parser (names, defaults, ranges and choices), the panel labels that docs/blender.md quotes
against the add-on's UI code (read with ast: no bpy), the README's size and links."""

import argparse
import ast
import importlib.util
import pathlib
import re

import pytest

from blender_img2mesh.pipeline.batch.plan import build_parser
from blender_img2mesh.pipeline.catalog import RANGES

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- docs/cli.md -----------------------------------------------------------------------

def option_rows():
    """{option string or positional NAME: (default cell, values cell)} of every table row
    between the markers, and the rows' names in order (a name twice shows up twice)."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    body = text.split("<!-- options:begin -->", 1)[1].split("<!-- options:end -->", 1)[0]
    rows, seen = {}, []
    for line in body.splitlines():
        if not line.startswith("| ") or line.startswith(("| option ", "|---")):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        assert len(cells) == 4, f"docs/cli.md: a row without 4 cells: {line}"
        names = re.findall(r"`(--?[A-Za-z][\w-]*|[A-Z]+)`", cells[0])
        assert names, f"docs/cli.md: a row names no option: {line}"
        for name in names:
            seen.append(name)
            rows[name] = (cells[1], cells[2])
    return rows, seen


def parser_options():
    """{name: action} of the batch parser (the single run's options and the batch's)."""
    parser = build_parser()
    options = {}
    for action in parser._actions:  # argparse has no public list of its actions
        for name in action.option_strings or [action.dest.upper()]:
            options[name] = action
    return options


def spellings(value):
    """How a default or a limit may be written: ``2.0`` as ``2`` or ``2.0``."""
    out = {str(value)}
    if isinstance(value, float):
        out.add(format(value, "g"))
    return out


def test_cli_md_lists_exactly_the_parsers_options():
    rows, seen = option_rows()
    options = parser_options()
    assert sorted(set(seen)) == sorted(seen), "docs/cli.md names an option twice"
    missing = sorted(set(options) - set(rows))
    unknown = sorted(set(rows) - set(options))
    assert not missing, f"options missing from docs/cli.md's tables: {missing}"
    assert not unknown, f"docs/cli.md's tables name options the parser lacks: {unknown}"


def test_cli_md_defaults_ranges_and_choices_are_the_parsers():
    rows, _ = option_rows()
    for name, action in parser_options().items():
        if name not in rows:
            continue  # test_cli_md_lists_exactly_the_parsers_options says so
        default_cell, values_cell = rows[name]
        value = action.default
        if value in (None, False, argparse.SUPPRESS) or action.nargs == 0:
            assert default_cell == "", f"{name}: docs/cli.md gives a default the parser lacks"
        else:
            shown = default_cell.strip("`")
            assert shown in spellings(value), \
                f"{name}: docs/cli.md's default {default_cell!r}, the parser's {value!r}"
        limits = RANGES.get(action.dest)
        if limits is not None:
            words = values_cell.split(" to ")
            assert len(words) == 2 and words[0] in spellings(limits.low) and \
                words[1] in spellings(limits.high), \
                f"{name}: docs/cli.md's range {values_cell!r}, catalog.RANGES' " \
                f"{limits.low}-{limits.high}"
        if action.choices:
            assert re.findall(r"`([^`]+)`", values_cell) == list(action.choices), \
                f"{name}: docs/cli.md's choices {values_cell!r}, the parser's {action.choices}"


def test_cli_md_tables_are_generated_from_the_parser():
    """tools/cli_table.py writes the tables; they are up to date."""
    tool = load_tool("cli_table")
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert tool.updated(text) == text, \
        "docs/cli.md's option tables are out of date: run python tools/cli_table.py"


def test_every_range_is_an_option():
    """catalog.RANGES names real options (its flag is the parser's for that dest)."""
    options = parser_options()
    for dest, limits in RANGES.items():
        assert limits.option in options and options[limits.option].dest == dest


# ---- docs/blender.md -------------------------------------------------------------------

def ui_labels():
    """Every label the add-on shows, read from blender_img2mesh/blender/**/*.py with ast
    (no bpy): a property's ``name=`` where some ``layout.prop(owner, "attr")`` draws it
    without a ``text=`` of its own, every constant ``text=`` and ``heading=``, operators'
    ``bl_label`` (a button without ``text=`` shows it) and the labels of enum items
    (``(id, label, description)``) and of panels.ADVANCED's ``(property, label)``."""
    names, drawn, labels = {}, set(), set()

    def const(node):
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
            else None

    for path in (REPO / "blender_img2mesh" / "blender").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        made = {f.name: r.value for f in tree.body if isinstance(f, ast.FunctionDef)
                for r in ast.walk(f) if isinstance(r, ast.Return) and
                isinstance(r.value, ast.Call)}  # functions that return a property
        for node in ast.walk(tree):
            if isinstance(node, ast.AnnAssign) and isinstance(node.annotation, ast.Call) \
                    and isinstance(node.target, ast.Name):  # x: StringProperty(name=...)
                call = node.annotation
                if isinstance(call.func, ast.Name) and call.func.id in made:
                    call = made[call.func.id]  # x: _color_property(): its EnumProperty
                for kw in call.keywords:
                    if kw.arg == "name" and const(kw.value):
                        names.setdefault(node.target.id, set()).add(const(kw.value))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                keywords = {kw.arg: kw.value for kw in node.keywords}
                for arg in ("text", "heading"):
                    if const(keywords.get(arg)):
                        labels.add(const(keywords[arg]))
                if node.func.attr == "prop" and "text" not in keywords and \
                        len(node.args) >= 2 and const(node.args[1]):
                    drawn.add(const(node.args[1]))
            elif isinstance(node, ast.Assign) and any(
                    isinstance(t, ast.Name) and t.id == "bl_label" for t in node.targets) \
                    and const(node.value):
                labels.add(node.value.value)
            elif isinstance(node, ast.Tuple) and len(node.elts) in (3, 4) and \
                    all(const(e) is not None for e in node.elts[:3]):
                labels.add(node.elts[1].value)
            elif path.name == "panels.py" and isinstance(node, ast.Tuple) and \
                    len(node.elts) == 2 and all(const(e) is not None for e in node.elts):
                labels.add(node.elts[1].value)
    for attr in drawn:
        labels |= names.get(attr, set())
    return labels


def test_ui_labels_are_what_the_panel_draws():
    """A property drawn with a label of its own shows that label, not its name."""
    labels = ui_labels()
    assert {"Add", "Replace Last", "Texture", "Resolution", "Image to Mesh",
            "Beside Previous", "Python Interpreter"} <= labels
    assert not {"Add Camera", "Replace Last Result", "Texture Size"} & labels


def quoted_labels(text):
    """The *italic* spans of a page: docs/blender.md writes the add-on's own labels in
    italics (and Blender's own menus in bold)."""
    return re.findall(r"(?<![*\w\\])\*([^*\n]+?)\*(?![*\w])", text)


def test_quoted_labels_finds_italics_only():
    assert quoted_labels("*Generate Mesh* and **Edit > Preferences**, *Faces*.") == \
        ["Generate Mesh", "Faces"]


def test_blender_md_panel_labels_exist_in_the_ui_code():
    text = (DOCS / "blender.md").read_text(encoding="utf-8")
    quoted = quoted_labels(text)
    assert len(quoted) > 30, "docs/blender.md quotes the panel's labels in *italics*"
    labels = ui_labels()
    wrong = sorted({q for q in quoted if q not in labels})
    assert not wrong, f"docs/blender.md quotes labels the add-on does not have: {wrong}"


# ---- README ----------------------------------------------------------------------------

def test_readme_is_short_and_its_links_exist():
    readme = REPO / "README.md"
    assert readme.stat().st_size <= 8192, f"README.md is {readme.stat().st_size} bytes"
    links = re.findall(r"\]\(([^)#\s]+)", readme.read_text(encoding="utf-8"))
    local = [link for link in links if "://" not in link]
    assert "docs/blender.md" in local
    for link in local:
        assert (REPO / link).exists(), f"README.md links to {link}, which does not exist"


@pytest.mark.parametrize("page", ["index", "install", "blender", "cli", "batch",
                                  "text-prompt", "models", "how-it-works", "guarantees",
                                  "protocol", "benchmarks", "development"])
def test_every_page_is_in_the_nav(page):
    assert (DOCS / f"{page}.md").is_file()
    assert f" {page}.md" in (REPO / "mkdocs.yml").read_text(encoding="utf-8")
