"""The progress of a worker job drawn in a layout (the sidebar, the preferences)."""


def draw_progress(layout, runner):
    """A progress bar (``layout.progress``, Blender 4.0+) or a text bar, and Cancel."""
    pct = int(runner.fraction * 100 + 0.5)
    text = f"{runner.label} {pct}%"
    if hasattr(layout, "progress"):
        layout.progress(factor=runner.fraction, type="BAR", text=text)
    else:  # Blender 3.x: the stage on one line, a text bar under it
        filled = int(runner.fraction * 24 + 0.5)
        layout.label(text=f"{pct}% {runner.label}", icon="TIME")  # the number survives
        # truncation in a narrow sidebar
        layout.label(text="|" * filled + "." * (24 - filled))
    if runner.message and runner.message != runner.label:
        layout.label(text=runner.message)
    layout.operator("img2mesh.cancel", icon="CANCEL")
