"""The panel's truthful lines: what depth will really come from (before Generate), and
the last result with its warnings (after it) -- in the panel itself, not only in the
Info log."""

import bpy

from ...pipeline.models import downloads_allowed
from ..addon_prefs import get_prefs, online_access
from ..client import depth_plan
from .text import BOX_INSET, wrap

#: the last finished Generate: name, vertices, faces, seconds, depth, warnings
last_result = None


def record(obj, runner, notes=()):
    """Keep what the panel shows about the run that made ``obj``."""
    global last_result
    result = runner.result or {}
    last_result = {
        "name": obj.name, "vertices": len(obj.data.vertices),
        "faces": len(obj.data.polygons), "seconds": runner.seconds,
        "depth": depth_name(result.get("depth_model")),
        "warnings": [w for w in [*runner.warnings, *notes] if w]}


def record_error(text):
    """The panel shows the last run's error in full (the popup has its first words)."""
    global last_result
    last_result = {"error": text}


def depth_name(used):
    used = str(used or "")
    if used in ("", "inflate"):
        return "silhouette inflation" if used else "?"
    for alias, (repo_id, *_) in depth_plan.models.DEPTH_MODELS.items():
        if used in (alias, repo_id, depth_plan.catalog.DEPTH_ONNX_REPOS.get(alias)):
            return depth_plan.LABELS.get(alias, alias)
    return used.rstrip("/\\").rsplit("/", 1)[-1] if "/" in used and used.count("/") > 1 \
        else used


def result_text(info):
    return (f"{info['name']}: {info['vertices']:,} vertices, {info['seconds']:.1f} s, "
            f"{info['depth']}")


def settings_plan(s, context=None):
    """The :class:`depth_plan.Plan` of the panel's settings ``s``."""
    prefs = get_prefs(context)
    models_dir = s.models_dir or (getattr(prefs, "models_dir", "") if prefs else "")
    offline = s.offline or not online_access() or not downloads_allowed()
    return depth_plan.plan(
        s.depth_model, s.depth_model_custom, bpy.path.abspath(s.depth_map_path)
        if s.depth_map_path else "", bpy.path.abspath(models_dir) if models_dir else "",
        offline)


def draw_depth(layout, context, s):
    plan = settings_plan(s, context)
    row = layout.column()
    wrap(row, context, plan.text, icon="CHECKMARK" if plan.ok else "ERROR")
    if plan.download and not plan.ok:
        row.operator("img2mesh.download_model", text="Download", icon="IMPORT").name = \
            plan.download


def draw_last_result(layout, context):
    info = last_result
    if info is None:
        return
    box = layout.box()
    if "error" in info:
        wrap(box, context, info["error"], icon="CANCEL", inset=BOX_INSET)
        return
    wrap(box, context, result_text(info), icon="INFO", inset=BOX_INSET)
    for warning in info["warnings"]:
        wrap(box, context, warning, icon="ERROR", inset=BOX_INSET)
