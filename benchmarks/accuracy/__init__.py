"""Accuracy benchmarks on ground-truth renders: geometric accuracy (``python -m
benchmarks.accuracy``, in :mod:`.run`), photo fidelity, the scene maker (bpy) and the
metrics.  See ``benchmarks/__init__.py`` for every command."""
