"""Text for the sidebar and the reports (no bpy here): wrapped to the region's width, or
one line that fits it (the longest form that fits, else cut with an ellipsis), the first
sentence of an error for its popup, a file's name instead of its path."""

import os
import re

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


def _scale(context):
    view = getattr(getattr(context, "preferences", None), "view", None)
    return getattr(view, "ui_scale", 1.0) or 1.0


def region_px(context):
    """The region's width in px at scale 1 (300 without a region)."""
    region = getattr(context, "region", None)
    return (getattr(region, "width", 0) or 300) / _scale(context)


def text_width(context):
    """How wide a label's text may be in the region, in px: the region less the panel's
    and a box's margins and an icon."""
    region = getattr(context, "region", None)
    return (getattr(region, "width", 0) or 300) - 64 * _scale(context)


#: about how wide characters are in Blender's UI font at 11 pt, scale 1, in px (a little
#: more than they are: a line that fits here fits the label)
_NARROW, _WIDE = set("iljtfr.,:;'|!()[]/ -"), set("ABCDEFGHKMNOPQRUVWXYZmw@%&")


def char_px(char):
    return 4.0 if char in _NARROW else 9.0 if char in _WIDE else 7.0


def text_px(text):
    """About how wide ``text`` is in a label at scale 1, in px."""
    return sum(char_px(c) for c in text)


def lines_for(text, width, measure_px=text_px):
    """``text`` in lines no wider than ``width`` px (as ``measure_px`` tells): at spaces,
    and a word wider than a line (a path, a hub id) cut where it must."""
    lines, line = [], ""
    for word in " ".join(str(text).split()).split(" "):
        candidate = f"{line} {word}" if line else word
        if measure_px(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        line = ""
        if measure_px(word) <= width:
            line = word
            continue
        # a word longer than a line (a path, a hub id): after a - or /, else anywhere
        for part in re.findall(r"[^-/]+[-/]*|[-/]+", word):
            pieces = [part] if measure_px(part) <= width else list(part)
            for piece in pieces:
                if line and measure_px(line + piece) > width:
                    lines.append(line)
                    line = ""
                line += piece
    return lines + [line] if line or not lines else lines


#: how much narrower a label in a box is than one in the panel (the box's margins), px
BOX_INSET = 40


def wrap(layout, context, text, icon="NONE", first_icon_only=True, inset=0):
    """``text`` as as many label lines as the region's width needs (nothing cut);
    ``inset``: px less than a panel's line (:data:`BOX_INSET` in a box)."""
    col = layout.column(align=True)
    scale = _scale(context)
    for i, line in enumerate(lines_for(text, text_width(context) / scale - inset)):
        col.label(text=line, icon=icon if (i == 0 or not first_icon_only) else "BLANK1")


#: how much narrower a one-line message in the result box is than a panel's line, px
LINE_INSET = 16
ELLIPSIS = "\u2026"


def fit(forms, width, measure_px=text_px):
    """One line no wider than ``width`` px: the first of ``forms`` (a text, or texts from
    the most to the least detailed) that fits, else the last one cut at a word (or, for
    one long word, anywhere) with an ellipsis."""
    forms = [forms] if isinstance(forms, str) else list(forms)
    forms = [" ".join(str(f).split()) for f in forms] or [""]
    for form in forms:
        if measure_px(form) <= width:
            return form
    text = forms[-1]
    room = width - measure_px(ELLIPSIS)
    cut = ""
    for char in text:
        if measure_px(cut + char) > room:
            break
        cut += char
    word_end = cut.rstrip().rfind(" ")
    if word_end > len(cut) // 2:  # end at a word when that keeps most of the line
        cut = cut[:word_end]
    return cut.rstrip(" ,;:-") + ELLIPSIS


def line_width(context, inset=0):
    """How wide one line of text may be in the region, px at scale 1 (``inset``: less)."""
    return text_width(context) / _scale(context) - inset


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
