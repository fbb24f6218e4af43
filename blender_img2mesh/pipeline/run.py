"""The pipeline, start to end: photo (or text prompt -> picture) -> mask -> depth -> points
-> surface -> files.

``run(args, reporter, cache)`` takes the command line's namespace (build one with
``cli.parse_args([...])``), reports progress through ``reporter`` and returns the result
dict that the ``result`` event carries.  ``cache`` (a dict) keeps loaded models between
runs of a warm worker.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import (camera, depth as depth_mod, export, image_io, models, outputs, reconstruct,
               segment, surface)
from .errors import Img2MeshError, ModelUnavailable

DEFAULT_THICKNESS = 0.5
#: the text-to-image stage's share of the progress bar (the rest of the job weighs 1):
#: sd-turbo on 2 CPU cores takes ~60 s, the photo pipeline after it a few seconds
PROMPT_SHARE = 4.0
#: a ``cache`` entry: False makes the onnxruntime sessions made for that cache sleep
#: between operators (:func:`onnx_depth.session`): the local batch's, which runs two
#: stages side by side (:mod:`batch_ahead`)
ORT_SPIN = "ort_spin"


def model_places(args):
    """The models folder (absolute) and whether downloads are allowed, for ``args``."""
    models_dir = os.path.abspath(os.path.expanduser(args.models_dir)) if args.models_dir \
        else models.default_models_dir()
    return models_dir, models.downloads_allowed(args.offline)


def _cached(cache, key, make):
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _photo_key(args, rgb):
    """Which photo at which working size (None for a generated picture): a warm worker
    keeps the last photo's mask and raw depth under it, so a second job on the same file
    with other settings (thickness, back, detail ...) skips both networks."""
    if args.prompt:
        return None
    st = os.stat(args.input)
    return os.path.realpath(args.input), st.st_mtime_ns, st.st_size, rgb.shape


def _reused(cache, slot, key, make, reused):
    """``make()``, or the value kept in ``cache[slot]`` when it was made for ``key`` (one
    value per slot: the last photo's).  Appends ``slot`` to ``reused`` on a hit."""
    if key is not None and cache.get(slot, (None,))[0] == key:
        reused.append(slot)
        return cache[slot][1]
    value = make()
    if key is not None:
        cache[slot] = (key, value)
    return value


def _segmenter(args, alpha, reporter, cache, models_dir, allow):
    """A function giving the rembg session, when background removal will really run
    (else None); it runs on the mask's thread."""
    if args.keep_background or args.mask or alpha is not None:
        return None
    reporter.stage("model", f"Loading background removal ({args.segmenter})")
    home = segment.rembg_home(args.segmenter, models_dir, allow)  # a bad name fails at once
    segment.import_runtime(args.segmenter, home)
    return lambda: _cached(cache, ("rembg", args.segmenter, models_dir),
                           lambda: segment.rembg_session(args.segmenter, models_dir, allow,
                                                         cache.get(ORT_SPIN, True)))


def _mask(args, rgb, alpha, session):
    """The object's mask at working size, and where it came from (runs on a thread: no
    progress reporting here).  ``session``: what :func:`_segmenter` gave."""
    shape = rgb.shape[:2]
    if args.keep_background:
        return np.ones(shape, bool), "none"
    # a given mask with a given depth map: both exact, keep the outline (the erosion is
    # for estimated depth, least reliable there; flying pixels are removed later anyway)
    erode = 0 if args.depth_map else 1
    if args.mask:
        mask = image_io.load_mask(args.mask, shape)
        return segment.require_object(segment.clean_mask(mask, erode, fill_holes=False),
                                      "mask", args.mask), "mask"
    if alpha is not None:
        mask = image_io.resize_mask(alpha, shape)
        return segment.require_object(segment.clean_mask(mask, erode, fill_holes=False),
                                      "image's alpha channel",
                                      args.input), "alpha"
    mask = segment.remove_background(rgb, session())
    return segment.require_object(segment.clean_mask(mask), "background removal's mask",
                                  args.input), args.segmenter


def _predict(estimator, rgb, cache, photo, reused):
    """The model's raw output and fov, kept for the next job on the same photo."""
    est, label = estimator
    return _reused(cache, "depth", photo and (photo, label, est.device, est.backend),
                   lambda: est.predict(rgb), reused)


def _is_path(name):
    """A model given as a folder (not an alias or a hub id ``org/name``)."""
    name = os.path.expanduser(name)
    return os.path.isabs(name) or name.startswith(".") or os.path.isdir(name)


def _estimator(args, reporter, cache, models_dir, allow):
    """The depth model to use, or None for inflation (with a warning when ``auto``)."""
    name = args.depth_model
    if name == "inflate":
        return None, "inflate"
    wanted = models.DEFAULT_DEPTH_MODEL if name == "auto" else name
    short = os.path.basename(os.path.normpath(wanted)) if _is_path(wanted) else wanted
    reporter.stage("model", f"Loading depth model ({short})")
    reporter.update(0.0, f"Reading the depth model's files ({short})", phase="read")
    try:  # a download moves the first half of the stage
        folder, hub_id = models.resolve_depth_model(
            wanted, models_dir, allow,
            progress=lambda fr, msg: reporter.update(0.5 * fr, msg, phase="read"))
    except ModelUnavailable as err:
        if name != "auto":
            raise
        reporter.warn(f"depth model {wanted} is not available ({err.message}); used "
                      f"silhouette inflation instead. For learned depth, allow downloads or "
                      f"put the model at {err.file}")
        return None, "inflate"
    est = _cached(cache, ("depth", folder, args.device, args.depth_backend),
                  lambda: depth_mod.load_estimator(folder, args.device, args.depth_backend,
                                                   models_dir, reporter,
                                                   cache.get(ORT_SPIN, True)))
    return est, hub_id or folder


def _depth(args, rgb, mask, estimator, reporter, predict):
    """Metric depth (HxW, camera z), the focal length in px, and what made them;
    ``predict(rgb)`` runs the model (or gives its kept output)."""
    h, w = rgb.shape[:2]
    thickness = args.thickness
    info = {}
    if args.depth_map:
        values = image_io.load_depth_map(args.depth_map, (h, w))
        kind = "metric" if args.depth_kind == "auto" else args.depth_kind
        scale = args.depth_scale
        if scale is None:
            scale = 0.001 if values.max() > 255 and np.all(values == np.round(values)) and \
                not args.depth_map.lower().endswith((".npy", ".exr")) else 1.0
        fov = args.fov or camera.DEFAULT_FOV
        f = camera.focal_px(w, h, fov)
        reporter.stage("depth", "Reading the depth map")
        z = depth_mod.depth_from_file(values, kind, scale, mask, f,
                                      thickness or DEFAULT_THICKNESS, file=args.depth_map)
        mask &= depth_mod.valid_depth(values, kind)  # in place: no depth = not the object
        info.update(depth_model="depth-map", depth_kind=kind, depth_scale=scale)
    else:
        est, label = estimator
        if est is None:
            fov = args.fov or camera.DEFAULT_FOV
            f = camera.focal_px(w, h, fov)
            reporter.stage("depth", "Inflating the silhouette")
            z = depth_mod.inflate_depth(mask, f, thickness or DEFAULT_THICKNESS)
            kind = "inflate"
        else:
            reporter.stage("depth", f"Estimating depth ({est.model_type}, {est.device})")
            raw, model_fov = predict(rgb)
            fov = args.fov or model_fov or camera.DEFAULT_FOV
            f = camera.focal_px(w, h, fov)
            kind = est.kind if args.depth_kind == "auto" else args.depth_kind
            if kind == "relative":
                z = depth_mod.relative_to_depth(raw, mask, f, thickness or DEFAULT_THICKNESS)
            else:
                z = np.maximum(raw, 1e-3)
                if thickness:
                    z = depth_mod.rescale_metric(z, mask, f, thickness)
        info.update(depth_model=label, depth_kind=kind,
                    depth_backend=est.backend if est is not None else None)
    if not np.isfinite(z[mask]).all() or (z[mask] <= 0).any():
        raise Img2MeshError("depth has non-positive or invalid values inside the object",
                            file=args.depth_map, hint="check --depth-kind and --depth-scale")
    info.update(fov_deg=round(float(fov), 4), focal_px=round(float(f), 4))
    return z.astype(np.float32), f, info


def run(args, reporter, cache=None):
    """One job: every file of its result appears together at the end, or none."""
    output = outputs.check_output(args.output, export.MESH_FORMATS, "output")
    preview = outputs.check_output(args.preview, (".png",), "preview") \
        if args.preview else None
    with outputs.Result([args.input, args.mask, args.depth_map]) as files:
        result = _run(args, reporter, cache, files, output, preview)
        files.commit()
    reporter.result(result)
    return result


def _run(args, reporter, cache, files, output, preview):
    cache = {} if cache is None else cache
    t0 = time.perf_counter()
    models_dir, allow = model_places(args)
    color = export.color_mode(args.color, output)
    paths = export.plan_files(files, output)
    if preview:
        files.plan(preview, "preview")

    if args.prompt:  # text -> picture first (written beside the mesh at the end)
        from . import text2image

        image_out = files.plan(outputs.check_output(text2image.image_path(output),
                                                    (".png",), "generated image"),
                               "generated image")
        fmt = export.texture_format(args.texture_format, False)
        export.plan_texture(files, paths, color, fmt)
        reporter.weigh(prompt=PROMPT_SHARE)
        picture, prompt_info = text2image.image_from_prompt(args, reporter, cache, models_dir,
                                                            allow)
        rgb_full, alpha = np.asarray(picture), None
    else:
        image_out, prompt_info = None, {}
        reporter.stage("load", f"Loading {os.path.basename(args.input)}")
        rgb_full, alpha = image_io.load_photo(args.input)
        fmt = export.texture_format(args.texture_format, alpha is not None)
        export.plan_texture(files, paths, color, fmt)
    rgb = image_io.resize_rgb(rgb_full, args.max_size)
    # the mask (rembg's session and network) is made on a second thread while the depth
    # model loads (onnxruntime and torch release the GIL): loading is mostly
    # single-threaded, so this hides most of the background removal's time
    session = _segmenter(args, alpha, reporter, cache, models_dir, allow)
    photo, reused = _photo_key(args, rgb), []
    with ThreadPoolExecutor(1, thread_name_prefix="img2mesh-mask") as pool:
        masking = pool.submit(
            _reused, cache, "mask", session and photo and (photo, args.segmenter),
            lambda: _mask(args, rgb, alpha, session), reused)
        estimator = (None, None) if args.depth_map else \
            _estimator(args, reporter, cache, models_dir, allow)
        if session is not None:
            reporter.stage("segment", "Removing the background")
        mask, mask_source = masking.result()
    mask = mask.copy()  # (a kept mask stays as it was made: _depth may narrow this one)
    z, f, info = _depth(args, rgb, mask, estimator, reporter,
                        lambda image: _predict(estimator, image, cache, photo, reused))

    V, T, mesh_info = reconstruct.build_surface(args, z, mask, f, reporter)
    # a grid mesh is the visible surface only: open by construction
    watertight = mesh_info["mesher"] == "poisson" and surface.is_watertight(T)

    reporter.stage("export", f"Writing {os.path.basename(output)}")
    painted = export.paint(V, T, rgb_full, mask, f, rgb.shape[:2], closed=args.back != "open",
                           split=color != "vertex")
    transform = export.frame_transform(painted.vertices, args.frame, args.size)
    Vout = export.orient(painted.vertices, transform)
    # where the photo's camera is in the output frame (the add-on's matched camera)
    camera_location = export.orient(np.zeros((1, 3)), transform)[0].round(6).tolist()
    texture_size = export.write_mesh_files(
        files, paths, Vout, painted, color, fmt, args.texture_size,
        z_up=args.frame == "blender", double_sided=args.back == "open",
        quality=args.texture_quality)
    if image_out:
        files.write(image_out, lambda tmp: text2image.save_image(picture, tmp, prompt_info))
    if preview:
        reporter.stage("preview", "Drawing the preview")
        from .preview import render_preview

        shown = Vout if args.frame == "blender" else \
            export.orient(painted.vertices,
                          export.frame_transform(painted.vertices, "blender", 2.0))
        textured = color != "vertex"
        files.write(preview, lambda tmp: render_preview(
            tmp, shown, painted.triangles, painted.colors,
            title=args.prompt or os.path.basename(args.input),
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
        "input": os.path.abspath(args.input) if args.input else image_out,
        "image": image_out, **prompt_info, "vertices": int(len(Vout)),
        "faces": int(len(painted.triangles)), "frame": args.frame,
        "size": args.size if args.frame == "blender" else None, "back": args.back,
        "watertight": watertight, "mask": mask_source, "segmenter": args.segmenter
        if mask_source == args.segmenter else None, "working_size": [rgb.shape[1],
                                                                     rgb.shape[0]],
        "camera_location": camera_location, "reused": sorted(reused), **mesh_info, **info,
        "bounds": [Vout.min(axis=0).round(5).tolist(), Vout.max(axis=0).round(5).tolist()],
        "timings": dict(reporter.timings), "seconds": round(time.perf_counter() - t0, 3),
    }
    if getattr(args, "batch_info", None):  # which photo of a batch, made with which settings
        result["batch"] = args.batch_info
    from .. import __version__

    files.write(paths["sidecar"], lambda tmp: export.write_json(
        tmp, {"img2mesh_version": __version__, **result}))
    return result
