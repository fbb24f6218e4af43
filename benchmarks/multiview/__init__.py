"""The multi-view benchmark (``python -m benchmarks.multiview``, in :mod:`.run`): its
ground truth (scenes, objects, textures; bpy), measures, visual-hull floor and bad-input
checks.  See ``benchmarks/__init__.py`` for every command."""
