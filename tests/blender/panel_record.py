"""What the panels draw, recorded without a window: a stand-in UILayout (labels, buttons,
each property with its text and whether it sits in a split row), and the progress lines a
runner shows at a sidebar's width.  Shared by the panel tests."""

import types

import bpy

from blender_img2mesh.blender.ui import panels

#: the default sidebar is 229 px wide at UI scale 1 (tests/blender/gui_panel_shot.py
#: prints it); a split row gives its label 40% of that, less margins: about 75 px, which
#: holds "Background" but cuts "Depth Model" (the screenshots in docs/ show it)
SPLIT_LABEL_CHARS = 10


class Layout:
    """A stand-in UILayout that records what is drawn: labels, buttons, and each
    property with the text it shows and whether it sits in a split row."""

    def __init__(self, record, split=False, heading=""):
        object.__setattr__(self, "record", record)
        object.__setattr__(self, "split", split)
        object.__setattr__(self, "heading", heading)
        # a row with a heading: the heading labels its first property, the rest of the
        # row sits right of it (as Blender draws it)
        object.__setattr__(self, "labelled", False)

    def __setattr__(self, name, value):
        if name == "use_property_split":
            object.__setattr__(self, "split", bool(value))

    def __getattr__(self, name):
        return None

    def _child(self, heading=""):
        return Layout(self.record, self.split, heading)

    def row(self, heading="", **kw):
        return self._child(heading)

    def column(self, heading="", **kw):
        return self._child(heading)

    box = split = row

    def label(self, text="", icon="NONE"):
        self.record.append(("label", text, False))

    def prop(self, data, name, text=None, **kw):
        rna = data.bl_rna.properties[name]
        shown = rna.name if text is None else text
        if self.labelled:  # right of a heading's first property: no label of its own
            self.record.append(("value", shown, False))
        elif self.split and rna.type == "BOOLEAN":  # the heading is its label, the text right
            self.record.append(("prop", self.heading, True))
            self.record.append(("check", shown, False))
        else:
            self.record.append(("prop", shown, self.split and not kw.get("expand")))
        if self.heading:
            object.__setattr__(self, "labelled", True)
        self.record.append(("name", name, False))

    def template_ID(self, *a, **kw):
        pass

    progress = separator = template_ID

    def operator(self, idname, text="", icon="NONE", emboss=True):
        if idname == "img2mesh.message":  # a one-line message: a label with a tooltip
            self.record.append(("label", text, False))
        else:
            self.record.append(("operator", text or idname, False))
        return types.SimpleNamespace()


def draw(panel_class, context=None):
    record = []
    panel_class.draw(types.SimpleNamespace(layout=Layout(record)), context or bpy.context)
    return record


def names(record):
    return [text for kind, text, _ in record if kind == "name"]


def stage_lines(runner, width=229):
    """What the progress block says (labels), drawn in a region ``width`` px wide."""
    record = []
    context = types.SimpleNamespace(region=types.SimpleNamespace(width=width),
                                    preferences=bpy.context.preferences)
    panels.draw_progress(Layout(record), runner, context)
    return [text for kind, text, _ in record if kind == "label"]


def stage_text(lines):
    """The stage's words of :func:`stage_lines` (without 3.x's "42%  |||..." line and the
    photo's name under them)."""
    if lines and "%  " in lines[0] and set(lines[0].split("%  ")[1]) <= {"|", "."}:
        lines = lines[1:]
    return " ".join(lines[:-1])
