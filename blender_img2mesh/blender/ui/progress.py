"""The progress of a worker job drawn in a layout (the sidebar, the preferences): a bar
with the percentage, one line of text for the stage (wrapped, never cut), what is being
made (the photo's file name), Cancel.  A batch says ``k / N \u2014 photo \u2014 stage
\u2014 percent`` (on two lines where one is too narrow)."""

from .messages import Message, draw_message
from .text import LINE_INSET, line_width, text_px, wrap

#: the text bar's length on Blender 3.x (fits the default sidebar beside "100%")
BAR = 20


def draw_progress(layout, runner, context=None):
    """A progress bar (``layout.progress``, Blender 4.0+) or a text bar, the stage's line
    (the worker's message: the phase of a model being loaded too), the photo, Cancel."""
    pct = int(runner.fraction * 100 + 0.5)
    col = layout.column(align=True)
    if hasattr(col, "progress"):
        col.progress(factor=runner.fraction, type="BAR", text=f"{pct}%")
    else:  # Blender 3.x: the number and a text bar, no words (they are on the next line)
        filled = int(runner.fraction * BAR + 0.5)
        col.label(text=f"{pct}%  " + "|" * filled + "." * (BAR - filled))
    if hasattr(runner, "parts"):  # a batch
        draw_batch_line(col, context, runner)
    else:
        wrap(col, context, runner.message or runner.label, icon="TIME")
    if getattr(runner, "title", ""):
        col.label(text=runner.title, icon="IMAGE_DATA")
    layout.operator("img2mesh.cancel", icon="CANCEL")


def draw_batch_line(layout, context, runner):
    """``k / N \u2014 photo \u2014 stage \u2014 percent``: one line when it fits, else
    ``k / N \u2014 photo`` over ``stage \u2014 percent``; the tooltip has all of it."""
    count, photo, stage, pct = runner.parts()
    full = runner.line
    sep = " \u2014 "
    if text_px(full) <= line_width(context, LINE_INSET):
        draw_message(layout, context, "batch", Message("TIME", full))
        return
    draw_message(layout, context, "batch", Message("IMAGE_DATA", sep.join(
        p for p in (count, photo) if p), full))
    # the percent is never cut off: a long stage gives its first word ("Reconstructing")
    draw_message(layout, context, "batch_stage", Message(
        "TIME", (sep.join((stage, pct)), sep.join((stage.split()[0], pct)), pct), full))
