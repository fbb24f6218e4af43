"""The panel's truthful lines, one line per message (the whole text in the line's
tooltip, its popup and the Info log): what depth will really come from (before
Generate), why a button cannot work, and the result box -- what the last action did: a
result, a batch's summary, a Cancel, or an error in the panel's words.  Each action
replaces the box (nothing stale stays)."""

import bpy

from ...pipeline.models import downloads_allowed, offline_variable
from ..addon_prefs import get_prefs, online_access
from ..client import depth_plan, panel_words
from .messages import Message, draw_message
from .text import file_name, first_sentence

#: the result box: the messages of the last action (a Generate, a batch, a Cancel, a
#: download, an error)
last = []
#: the last Generate's result: name, vertices, faces, seconds, depth, warnings (None
#: when the last action was another)
last_result = None


def show(messages, result=None):
    """The result box now says ``messages`` (and only them)."""
    global last, last_result
    last, last_result = list(messages), result


def warning_message(text):
    return Message("ERROR", first_sentence(text), text)


def shown_warnings(warnings):
    """The warnings for the box, each once; the depth fallback is left out (the depth
    line says it, and the Info log has it)."""
    seen = []
    for warning in warnings:
        if warning and warning not in seen and not panel_words.is_depth_fallback(warning):
            seen.append(warning)
    return [warning_message(w) for w in seen]


def record(obj, runner, notes=()):
    """The box: the result ``obj`` that ``runner`` made (and its warnings)."""
    result = runner.result or {}
    info = {"name": obj.name, "vertices": len(obj.data.vertices),
            "faces": len(obj.data.polygons), "seconds": runner.seconds,
            "depth": depth_name(result.get("depth_model")),
            "warnings": [w for w in [*runner.warnings, *notes] if w]}
    show([result_message(info), *shown_warnings(info["warnings"])], info)


def result_message(info):
    name, verts, secs = info["name"], info["vertices"], info["seconds"]
    return Message("INFO", (f"{name}: {verts:,} vertices, {secs:.1f} s",
                            f"{name}: {verts:,} vertices", name),
                   f"{name}: {verts:,} vertices, {info['faces']:,} faces in {secs:.1f} s; "
                   f"depth: {info['depth']}")


def record_error(text):
    """The box: an error, its first sentence on the line, all of it in the tooltip."""
    text = " ".join(panel_words.in_panel_words(text).split())
    show([Message("CANCEL", first_sentence(text), text)])


def cancelled_message(kept=None, total=None):
    """A Cancel (of a batch: how many of its photos were kept)."""
    if total is None:
        return Message("CANCEL", "Cancelled", "Cancelled: nothing was added")
    return Message("CANCEL", (f"Cancelled: {kept} of {total} kept", f"{kept} of {total} kept"),
                   f"Cancelled: {kept} of {total} photos kept, the rest not made")


def record_cancelled(kept=None, total=None):
    show([cancelled_message(kept, total)])


def record_batch(runner, collection, cancelled=False):
    """The box: a batch's summary (n of N done, its time), its failures by photo and
    its warnings; after a Cancel, how many were kept."""
    done, total, secs = len(runner.done), len(runner.photos), runner.seconds
    if cancelled:
        head = [cancelled_message(done, total)]
    else:
        head = [Message("INFO" if not runner.failed else "ERROR",
                        (f"Batch: {done} of {total} done, {secs:.1f} s",
                         f"{done} of {total} done, {secs:.0f} s", f"{done} of {total} done"),
                        f"Batch: {done} of {total} photos done in {secs:.1f} s, in the "
                        f"collection '{collection}'")]
    failures = [Message("ERROR", (f"{file_name(photo)} failed: {first_sentence(error)}",
                                  f"{file_name(photo)} failed"),
                        f"{file_name(photo)} failed: {error}")
                for photo, error in runner.failed]
    show([*head, *failures, *shown_warnings(runner.warnings)])


def depth_name(used):
    used = str(used or "")
    if used in ("", "inflate"):
        return "silhouette inflation" if used else "?"
    for alias, (repo_id, *_) in depth_plan.models.DEPTH_MODELS.items():
        if used in (alias, repo_id, depth_plan.catalog.DEPTH_ONNX_REPOS.get(alias)):
            return depth_plan.LABELS.get(alias, alias)
    return used.rstrip("/\\").rsplit("/", 1)[-1] if "/" in used and used.count("/") > 1 \
        else used


def settings_plan(s, context=None):
    """The :class:`depth_plan.Plan` of the panel's settings ``s``."""
    prefs = get_prefs(context)
    models_dir = s.models_dir or (getattr(prefs, "models_dir", "") if prefs else "")
    offline = s.offline or not online_access() or not downloads_allowed()
    return depth_plan.plan(
        s.depth_model, s.depth_model_custom, bpy.path.abspath(s.depth_map_path)
        if s.depth_map_path else "", bpy.path.abspath(models_dir) if models_dir else "",
        offline)


def downloads_off(s=None):
    """Why a download cannot run now, as a :class:`Message` (Blender's Online Access
    off, an offline environment variable, the panel's Offline), or None."""
    if not online_access():
        return Message("INFO", ("Downloads off: Online Access is off", "Online Access is off"),
                       "Downloads are off: Blender's Online Access is off (Preferences > "
                       "System > Network). Turn it on to download models.")
    var = offline_variable()
    if var:
        return Message("INFO", (f"Downloads off: {var} is set", f"{var} is set"),
                       f"Downloads are off: the environment variable {var} is set. Unset "
                       "it (and restart Blender) to download models.")
    if s is not None and s.offline:
        return Message("INFO", ("Downloads off: Offline is on", "Offline is on"),
                       "Downloads are off: Offline is on (Advanced > Network). Turn it "
                       "off to download the model.")
    return None


def generate_blocker(s, context=None, photo=True):
    """Why Generate (``photo`` False: a batch, which brings its own photos) cannot work
    with the settings ``s``, as a :class:`Message`, or None."""
    why = None
    if photo and s.source == "FILE" and not s.filepath.strip():
        why = ("No photo: choose one above", "No photo chosen")
    elif photo and s.source == "IMAGE" and s.image is None:
        why = ("No image: choose one above", "No image chosen")
    elif s.source == "TEXT" and not s.prompt.strip():
        why = ("No prompt: type one above", "No prompt")
    else:
        plan = settings_plan(s, context)
        if plan.fails:
            return Message("ERROR", plan.forms[1:], plan.text)
    return Message("INFO", why) if why else None


def draw_depth(layout, context, s):
    """The depth line (one line, all of it in its tooltip) and, when the model is
    missing, Download -- greyed out with the reason when downloads are off."""
    plan = settings_plan(s, context)
    col = layout.column()
    draw_message(col, context, "depth", Message("CHECKMARK" if plan.ok else "ERROR",
                                                plan.forms, plan.text))
    if plan.download and not plan.ok:
        why = downloads_off(s)
        row = col.row()
        row.enabled = why is None
        row.operator("img2mesh.download_model", text="Download", icon="IMPORT").name = \
            plan.download
        if why is not None:
            draw_message(col, context, "download_off", why)


def draw_last_result(layout, context):
    """The result box: the last action's messages, one line each."""
    if not last:
        return
    box = layout.box()
    for i, message in enumerate(last):
        draw_message(box, context, f"result{i}", message)
