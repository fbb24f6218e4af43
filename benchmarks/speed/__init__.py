"""Speed benchmarks: our pipeline against the original prototype (``python -m
benchmarks.speed``, in :mod:`.run`), the depth backends, batches, the Blender add-on and
the depth network's variants, with the inputs they make.  See ``benchmarks/__init__.py``
for every command."""
