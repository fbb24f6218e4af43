"""Benchmarks of blender_img2mesh: measured, not asserted (each prints what it measured in
this run; none is a test).  Not part of the installed package.  Run them from the
repository's root, as modules.  Three packages, by what they measure, and one shared
module:

``speed/`` -- time and memory
-----------------------------

Our pipeline against the original prototype (per-stage table, then whole fresh
processes; ``speed/run.py``)::

    .venv/bin/python -m benchmarks.speed [--image PATH] [--repeat N] [--runs N] [--quick]

The depth network on ONNX Runtime against PyTorch::

    .venv/bin/python -m benchmarks.speed.onnx_vs_torch [--image PATH] [--repeat N] [--runs N]

A batch of photos: local batch, warm worker, separate runs and Ray::

    .venv/bin/python -m benchmarks.speed.batch [--photos 20] [--repeat 3] [--no-ray] [--fast]

The Blender add-on (Generate, the worker started ahead, importing a 300k-triangle mesh)::

    IMG2MESH_PYTHON=$PWD/.venv/bin/python \\
        .venv-blender/bin/python -m benchmarks.speed.blender_addon [--repeat 3]

Which network of a ready ONNX repository runs by default (fp32, fp16, int8)::

    .venv/bin/python -m benchmarks.speed.depth_variants [--work DIR] [--runs N] [--skip-generate]

Their parts: ``inputs`` (random-weight depth networks, plausible depth, big PLYs; also a
program, ``python -m benchmarks.speed.inputs WHAT TARGET``, for ``blender_addon``),
``workers``, ``report``, ``cold`` (the speed benchmark's processes, its table and its
cold-start section), ``prototype_baseline`` (the original prototype, re-implemented step
for step), ``onnx_variants`` (fp16/int8 variants made as the Hub's ONNX repositories are).

``accuracy/`` -- geometry and photo fidelity on ground truth
------------------------------------------------------------

Geometric accuracy on ground-truth renders (scenes made once with Blender's bpy;
``accuracy/run.py``)::

    .venv-blender/bin/python -m benchmarks.accuracy.make_scenes --out bench_data
    .venv/bin/python -m benchmarks.accuracy --scenes bench_data --out docs/benchmarks.md

Photo fidelity (the mesh seen through the photo's camera: PSNR, silhouette IoU)::

    .venv/bin/python -m benchmarks.accuracy.fidelity [--scenes bench_data] [--cost] [--out FILE]

Their parts: ``metrics`` and ``report`` (the accuracy benchmark's metrics and its report).

``multiview/`` -- whole objects from several photos
---------------------------------------------------

``img2mesh --views`` against ground truth and a visual hull (``multiview/run.py``)::

    .venv-blender/bin/python -m benchmarks.multiview.scenes --out bench_data/multiview
    .venv/bin/python -m benchmarks.multiview [--data bench_data/multiview] [--only mug,box]

Their parts: ``objects`` and ``textures`` (the scenes' objects and texture images; the
latter also ``python -m benchmarks.multiview.textures OUT``, run by ``scenes``), ``eval``
(the measures), ``hull`` (the visual-hull floor), ``bad`` (bad-input checks).

Shared
------

* ``fixtures`` -- a real photo and a grid mesh (shared with tests/blender)
"""
