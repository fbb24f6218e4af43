"""What the windowed checks (gui_check.py, gui_batch_check.py, gui_browse_check.py,
gui_replace_check.py, gui_panel_shot.py) share: they run inside a real Blender window
under Xvfb (``blender -P SCRIPT -- ARGS``), step through phases on a timer, look at the
3D viewport's sidebar and quit.

Each script starts with::

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import gui_window  # puts the repository first on sys.path, registers the add-on

Runs in Blender's Python (bpy, numpy), never under pytest: tests run the scripts through
``helpers.run_in_window``.
"""

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

import bpy  # noqa: E402

import blender_img2mesh  # noqa: E402

if not hasattr(bpy.types.Scene, "img2mesh"):  # unless enabled as an add-on before
    blender_img2mesh.register()
from blender_img2mesh.blender.ui import panels
from blender_img2mesh.blender.client import worker_client  # noqa: E402


def script_args():
    """The arguments after ``--`` on Blender's command line."""
    return sys.argv[sys.argv.index("--") + 1:]


def override():
    """A context override for the first window's 3D viewport (its main region)."""
    win = bpy.context.window_manager.windows[0]
    area = next(a for a in win.screen.areas if a.type == "VIEW_3D")
    region = next(r for r in area.regions if r.type == "WINDOW")
    return dict(window=win, screen=win.screen, area=area, region=region)


def sidebar():
    """The 3D viewport's sidebar region."""
    return next(r for r in override()["area"].regions if r.type == "UI")


def show_sidebar(open_advanced=False, open_batch=False):
    """Open the sidebar on our panels (Advanced, Batch open if asked).  Blender 3.x has no
    API to pick a sidebar tab, so the panels move to the "Item" tab (shown by default),
    under its Transform panel."""
    override()["area"].spaces[0].show_region_ui = True
    ours = (panels.IMG2MESH_PT_main, panels.IMG2MESH_PT_advanced, panels.IMG2MESH_PT_batch)
    for cls in reversed(ours):
        bpy.utils.unregister_class(cls)
    if open_advanced:
        panels.IMG2MESH_PT_advanced.bl_options = set()
    if open_batch:
        panels.IMG2MESH_PT_batch.bl_options = set()
    for cls in ours:
        cls.bl_category = "Item"
        bpy.utils.register_class(cls)


def screenshot(path):
    """The whole main window, saved to ``path``."""
    with bpy.context.temp_override(**override()):
        bpy.ops.screen.screenshot(filepath=path)


def our_rows(rows, x=10):
    """The rows (top-down: first, end) of ``rows`` (a sidebar's pixels, bottom-up as
    Blender keeps them) that our panels fill, with a small margin.  Down column ``x`` a
    panel is one flat colour (an open sub-panel's body another) and the viewport behind
    is dithered: the Item tab's Transform panel comes first (and maybe a closed Properties
    panel), ours from the next long run of the panels' colour to the last flat run."""
    column = rows[::-1, x, :3]  # top-down
    runs, start = [], 0  # (first, end, colour) of each flat stretch
    for y in range(1, len(column) + 1):
        if y == len(column) or (column[y] != column[start]).any():
            if y - start > 6:
                runs.append((start, y, tuple(column[start])))
            start = y
    panel = runs[0][2]  # the Transform panel's
    top = next(first for first, end, colour in runs[1:] if colour == panel and
               end - first > 40)
    return max(top - 4, 0), min(runs[-1][1] + 4, len(column))


def screenshot_sidebar(path):
    """Our panels as the user sees them in their own tab, saved to ``path``: a screenshot
    of the window, cropped to the sidebar region at its width, and to the height of our
    panels (the Item tab's Transform panel above them and the viewport below left out)."""
    import numpy as np

    screenshot(path)
    ui = sidebar()
    image = bpy.data.images.load(path)
    w, h = image.size
    pixels = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(pixels)
    crop = pixels.reshape(h, w, 4)[ui.y:ui.y + ui.height, ui.x:ui.x + ui.width]
    top, bottom = our_rows(crop)
    crop = crop[::-1][top:bottom][::-1]  # rows are bottom-up
    out = bpy.data.images.new("shot", crop.shape[1], crop.shape[0])
    out.pixels.foreach_set(np.ascontiguousarray(crop).ravel())
    out.filepath_raw, out.file_format = path, "PNG"
    out.save()
    bpy.data.images.remove(image)
    bpy.data.images.remove(out)


def process_alive(pid):
    """Whether ``pid`` is a live process (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


def quit_blender():
    worker_client.release()
    bpy.ops.wm.quit_blender()


def run_phases(step, report=None, out=None, timeout=240.0, first=1.0):
    """Call ``step()`` on a timer until it returns None (it returns the seconds to the
    next call).  An exception or ``timeout`` seconds end the run, noted in
    ``report["errors"]``; at the end ``report`` is written to ``out`` (JSON) and Blender
    quits."""
    t0 = time.monotonic()

    def finish():
        if out is not None:
            with open(out, "w") as f:
                json.dump(report, f)
        quit_blender()

    def tick():
        try:
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"timeout after {timeout:.0f} s")
            wait = step()
        except Exception as exc:  # record and stop
            if report is not None:
                report.setdefault("errors", []).append(f"{type(exc).__name__}: {exc}")
            else:
                import traceback

                traceback.print_exc()
            finish()
            return None
        if wait is None:
            finish()
        return wait

    bpy.app.timers.register(tick, first_interval=first)
