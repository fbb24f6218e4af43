"""What the operators, panels and preferences share about the add-on's settings: its
preferences, the worker's interpreter they name, and Blender's Online Access (a small
module of its own, so that those modules import it instead of each other)."""

import bpy

from .client import interpreter

#: the add-on's module name ("blender_img2mesh", or "bl_ext.<repo>.blender_img2mesh")
ADDON_NAME = __package__.rpartition(".")[0]


def get_prefs(context=None):
    """The preferences, or None when the add-on was registered without being enabled
    through Blender (e.g. ``blender_img2mesh.register()`` in a script)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_NAME)
    return addon.preferences if addon else None


def python_for(prefs):
    return interpreter.resolve(getattr(prefs, "python_path", "") if prefs else "")


def online_access():
    """Blender 4.2+: the user's *Online Access* (Preferences > System > Network, or
    ``--online-mode``); older Blenders have no such setting: allowed."""
    return getattr(bpy.app, "online_access", True)
