"""The pipeline, start to end: photo (or text prompt -> picture) -> mask -> depth -> points
-> surface -> files.

``run(job, reporter, cache)`` takes a :class:`job.Job` or the command line's namespace
(build one with ``cli.parse_args([...])``; :meth:`job.Job.from_args` types it), reports
progress through ``reporter`` and returns the result dict that the ``result`` event carries.
``cache`` (a dict) keeps loaded models between runs of a warm worker."""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import stages
from .command import checks
from .job import as_job
from .geometry import reconstruct, surface
from .output import export
from .output import result_files as outputs
from .source import image_io

#: the text-to-image stage's share of the progress bar (the rest of the job weighs 1):
#: sd-turbo on 2 CPU cores takes ~60 s, the photo pipeline after it a few seconds
PROMPT_SHARE = 4.0


def run(job, reporter, cache=None):
    """One job: every file of its result appears together at the end, or none."""
    job = as_job(job)
    # no named pipe or device: a read that would never end
    checks.read_paths({"input": job.source.photo, "mask": job.mask.file,
                       "depth_map": job.depth.file})
    output = outputs.check_output(job.output.path, export.MESH_FORMATS, "output")
    preview = outputs.check_output(job.output.preview, (".png",), "preview") \
        if job.output.preview else None
    with outputs.Result(job.inputs, owner=output) as files:
        result = _run(job, reporter, cache, files, output, preview)
        files.commit()
    reporter.result(result)
    return result


def _run(job, reporter, cache, files, output, preview):
    cache = {} if cache is None else cache
    t0 = time.perf_counter()
    src, out = job.source, job.output
    color = export.color_mode(out.color, output)
    paths = export.plan_files(files, output)
    if preview:
        files.plan(preview, "preview")

    if src.prompt:  # text -> picture first (written beside the mesh at the end)
        from .source import text2image

        image_out = files.plan(outputs.check_output(text2image.image_path(output),
                                                    (".png",), "generated image"),
                               "generated image")
        fmt = export.texture_format(out.texture_format, False)
        export.plan_texture(files, paths, color, fmt)
        reporter.weigh(prompt=PROMPT_SHARE)
        picture, prompt_info = text2image.image_from_prompt(src.prompt, job.depth.device,
                                                            reporter, cache, job.models)
        rgb_full, alpha = np.asarray(picture), None
    else:
        image_out, prompt_info = None, {}
        reporter.stage("load", f"Loading {os.path.basename(src.photo)}")
        rgb_full, alpha = image_io.load_photo(src.photo)
        fmt = export.texture_format(out.texture_format, alpha is not None)
        export.plan_texture(files, paths, color, fmt)
    rgb = image_io.resize_rgb(rgb_full, src.max_size)
    photo_size = (rgb_full.shape[1], rgb_full.shape[0])
    # the mask (rembg's session and network) is made on a second thread while the depth
    # model loads (onnxruntime and torch release the GIL): loading is mostly
    # single-threaded, so this hides most of the background removal's time
    session = stages.segmenter(job.mask, alpha, reporter, cache, job.models)
    photo, reused = stages.photo_key(src.photo, rgb), []
    with ThreadPoolExecutor(1, thread_name_prefix="img2mesh-mask") as pool:
        masking = pool.submit(
            stages.reuse, cache, "mask", session and photo and (photo, job.mask.segmenter),
            lambda: stages.make_mask(job.mask, src.photo, rgb, alpha, session,
                                     exact_depth=bool(job.depth.file),
                                     photo_size=photo_size), reused)
        estimator = (None, None) if job.depth.file else \
            stages.depth_estimator(job.depth, reporter, cache, job.models)
        if session is not None:
            reporter.stage("segment", "Removing the background")
        mask, mask_source = masking.result()
    mask = mask.copy()  # (a kept mask stays as made: stages.metric_depth may narrow it)
    z, f, info = stages.metric_depth(
        job.depth, rgb, mask, estimator, reporter,
        lambda image: stages.predict(estimator, image, cache, photo, reused), photo_size)

    V, T, mesh_info = reconstruct.build_surface(job.geometry, z, mask, f, reporter)
    # a grid mesh is the visible surface only: open by construction
    watertight = mesh_info["mesher"] == "poisson" and surface.is_watertight(T)

    reporter.stage("export", f"Writing {os.path.basename(output)}")
    painted = export.paint(V, T, rgb_full, mask, f, rgb.shape[:2],
                           closed=job.geometry.back != "open",
                           split=color != "vertex")
    transform = export.frame_transform(painted.vertices, out.frame, out.size)
    Vout = export.orient(painted.vertices, transform)
    # where the photo's camera is in the output frame (the add-on's matched camera)
    camera_location = export.orient(np.zeros((1, 3)), transform)[0].round(6).tolist()
    texture_size = export.write_mesh_files(
        files, paths, Vout, painted, color, fmt, out.texture_size,
        z_up=out.frame == "blender", double_sided=job.geometry.back == "open",
        quality=out.texture_quality)
    if image_out:
        files.write(image_out, lambda tmp: text2image.save_image(picture, tmp, prompt_info))
    if preview:
        reporter.stage("preview", "Drawing the preview")
        from .output.preview import render_preview

        shown = Vout if out.frame == "blender" else \
            export.orient(painted.vertices,
                          export.frame_transform(painted.vertices, "blender", 2.0))
        textured = color != "vertex"
        files.write(preview, lambda tmp: render_preview(
            tmp, shown, painted.triangles, painted.colors,
            title=src.prompt.text if src.prompt else os.path.basename(src.photo),
            uv=painted.uv if textured else None,
            image=painted.texture.image if textured else None))
    reporter.close_stage()  # so the timings below include the last stage
    written = [p for p in (paths["mesh"], paths["texture"], paths["material"],
                           paths["sidecar"], image_out, preview) if p]
    result = {
        "mesh": output, "outputs": written, "preview": preview, "sidecar": paths["sidecar"],
        "texture": paths["texture"] if texture_size else None,
        "material": paths["material"], "color": color,
        "texture_size": texture_size, "texture_format": fmt if texture_size else None,
        "input": os.path.abspath(src.photo) if src.photo else image_out,
        "image": image_out, **prompt_info, "vertices": int(len(Vout)),
        "faces": int(len(painted.triangles)), "frame": out.frame,
        "size": out.size if out.frame == "blender" else None, "back": job.geometry.back,
        "watertight": watertight, "mask": mask_source, "segmenter": job.mask.segmenter
        if mask_source == job.mask.segmenter else None, "working_size": [rgb.shape[1],
                                                                     rgb.shape[0]],
        "camera_location": camera_location, "reused": sorted(reused), **mesh_info, **info,
        "bounds": [Vout.min(axis=0).round(5).tolist(), Vout.max(axis=0).round(5).tolist()],
        "timings": dict(reporter.timings), "seconds": round(time.perf_counter() - t0, 3),
    }
    result["sizes"] = files.sizes()  # every file but the sidecar: what "complete" means
    if job.batch_info:  # which photo of a batch, made with which settings
        result["batch"] = job.batch_info
    from .. import __version__

    files.write(paths["sidecar"], lambda tmp: export.write_json(
        tmp, {"img2mesh_version": __version__, **result}))
    return result
