"""Text for the sidebar and the reports (no bpy here): wrapped to the region's width,
the first sentence of an error for its popup, a file's name instead of its path."""

import os
import re
import textwrap

#: the end of a sentence: . ! or ? then a space (not "e.g. ", "i.e. ", "etc. ")
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)[.!?](?=\s+\S)")


def first_sentence(text):
    """The first sentence of ``text`` (all of it when it has one), stripped."""
    text = " ".join(str(text).split())
    match = _SENTENCE_END.search(text)
    return text[:match.end()] if match else text


def file_name(path):
    """The last part of ``path`` (a Blender ``//`` path too; a folder's own name)."""
    path = str(path or "").strip()
    return os.path.basename(path.rstrip("/\\").replace("\\", "/")) if path else ""


def chars_per_line(context):
    """About how many characters a label line of the region holds (nothing cut)."""
    region = getattr(context, "region", None)
    scale = getattr(getattr(context, "preferences", None), "view", None)
    scale = getattr(scale, "ui_scale", 1.0) or 1.0
    width = getattr(region, "width", 0) or 300
    # about 7 px a character of mixed text at scale 1 (capitals are wider: a margin is
    # kept), less the icon and the panel's margins
    return max(16, int((width - 56 * scale) / (7.0 * scale)))


def wrap(layout, context, text, icon="NONE", first_icon_only=True):
    """``text`` as as many label lines as the region's width needs (nothing cut)."""
    col = layout.column(align=True)
    lines = textwrap.wrap(text, chars_per_line(context), break_on_hyphens=False) or [""]
    for i, line in enumerate(lines):
        col.label(text=line, icon=icon if (i == 0 or not first_icon_only) else "BLANK1")


def report_error(operator, text, where="the Info log"):
    """An error for the user: the popup (and the status bar) gets its first sentence, the
    Info log the whole text, so the "what to do" part is never cut off mid-sentence."""
    text = " ".join(str(text).split())
    short = first_sentence(text)
    if short == text:
        operator.report({"ERROR"}, f"Img2Mesh: {text}")
        return
    operator.report({"INFO"}, f"Img2Mesh: {text}")  # the whole text, first in the log
    operator.report({"ERROR"}, f"Img2Mesh: {short} (all of it: {where})")
