"""Benchmarks of blender_img2mesh: measured, not asserted (each prints what it measured in
this run; none is a test).  Not part of the installed package.  Run them from the
repository's root, as modules:

Speed, our pipeline against the original prototype (per-stage table, then whole fresh
processes)::

    .venv/bin/python -m benchmarks.speed [--image PATH] [--repeat N] [--runs N] [--quick]

Geometric accuracy on ground-truth renders (scenes made once with Blender's bpy)::

    .venv-blender/bin/python -m benchmarks.make_scenes --out bench_data
    .venv/bin/python -m benchmarks.accuracy --scenes bench_data --out docs/benchmarks.md

Photo fidelity (the mesh seen through the photo's camera: PSNR, silhouette IoU)::

    .venv/bin/python -m benchmarks.fidelity [--scenes bench_data] [--cost] [--out FILE]

The depth network on ONNX Runtime against PyTorch::

    .venv/bin/python -m benchmarks.onnx_vs_torch [--image PATH] [--repeat N] [--runs N]

A batch of photos: local batch, warm worker, separate runs and Ray::

    .venv/bin/python -m benchmarks.batch [--photos 20] [--repeat 3] [--no-ray] [--fast]

The Blender add-on (Generate, the worker started ahead, importing a 300k-triangle mesh)::

    IMG2MESH_PYTHON=$PWD/.venv/bin/python \\
        .venv-blender/bin/python -m benchmarks.blender_addon [--repeat 3]

Their parts (imported, not run on their own):

* ``inputs``             -- random-weight depth networks, plausible depth, big PLYs (also
  a program: ``python -m benchmarks.inputs WHAT TARGET``, for ``blender_addon``)
* ``fixtures``           -- a real photo and a grid mesh (shared with tests/blender)
* ``speed_workers``, ``speed_report``, ``speed_cold`` -- the speed benchmark's processes,
  its table and its cold-start section
* ``prototype_baseline`` -- the original prototype, re-implemented step for step
* ``metrics``, ``accuracy_report`` -- the accuracy benchmark's metrics and its report
"""
