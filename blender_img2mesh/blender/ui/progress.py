"""The progress of a worker job drawn in a layout (the sidebar, the preferences): a bar
with the percentage, one line of text for the stage (wrapped, never cut), what is being
made (the photo's file name), Cancel."""

from .text import wrap

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
    wrap(col, context, runner.message or runner.label, icon="TIME")
    if getattr(runner, "title", ""):
        col.label(text=runner.title, icon="IMAGE_DATA")
    layout.operator("img2mesh.cancel", icon="CANCEL")
