"""The pipeline, start to end: photo -> mask -> depth -> points -> surface -> files.

``run(args, reporter, cache)`` takes the command line's namespace (build one with
``cli.parse_args([...])``), reports progress through ``reporter`` and returns the result
dict that the ``result`` event carries.  ``cache`` (a dict) keeps loaded models between
runs of a warm worker.
"""

import os
import time

import numpy as np
from scipy import ndimage

from . import camera, depth as depth_mod, image_io, models, segment, surface
from .errors import Img2MeshError, ModelUnavailable
from .export import (atomic_path, check_output, frame_transform, orient, sample_colors,
                     write_json, write_mesh)

DEFAULT_THICKNESS = 0.5


def _cached(cache, key, make):
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _segmenter(args, alpha, reporter, cache, models_dir, allow):
    """The rembg session, when background removal will really run (else None)."""
    if args.keep_background or args.mask or alpha is not None:
        return None
    reporter.stage("model", f"Loading background removal ({args.segmenter})")
    return _cached(cache, ("rembg", args.segmenter, models_dir),
                   lambda: segment.rembg_session(args.segmenter, models_dir, allow))


def _mask(args, rgb, alpha, session, reporter):
    """The object's mask at working size, and where it came from."""
    shape = rgb.shape[:2]
    if args.keep_background:
        return np.ones(shape, bool), "none"
    if args.mask:
        mask = image_io.load_mask(args.mask, shape)
        return segment.require_object(segment.clean_mask(mask), "mask", args.mask), "mask"
    if alpha is not None:
        mask = image_io.resize_mask(alpha, shape)
        return segment.require_object(segment.clean_mask(mask), "image's alpha channel",
                                      args.input), "alpha"
    reporter.stage("segment", "Removing the background")
    mask = segment.remove_background(rgb, session)
    return segment.require_object(segment.clean_mask(mask), "background removal's mask",
                                  args.input), args.segmenter


def _estimator(args, reporter, cache, models_dir, allow):
    """The depth model to use, or None for inflation (with a warning when ``auto``)."""
    name = args.depth_model
    if name == "inflate":
        return None, "inflate"
    wanted = models.DEFAULT_DEPTH_MODEL if name == "auto" else name
    reporter.stage("model", f"Loading depth model ({wanted})")
    try:
        folder, hub_id = models.resolve_depth_model(
            wanted, models_dir, allow, progress=lambda fr, msg: reporter.update(fr, msg))
    except ModelUnavailable as err:
        if name != "auto":
            raise
        reporter.warn(f"depth model {wanted} is not available ({err.message}); used "
                      f"silhouette inflation instead. For learned depth, allow downloads or "
                      f"put the model at {err.file}")
        return None, "inflate"
    est = _cached(cache, ("depth", folder, args.device),
                  lambda: depth_mod.DepthEstimator(folder, args.device))
    return est, hub_id or folder


def _depth(args, rgb, mask, estimator, reporter):
    """Metric depth (HxW, camera z), the focal length in px, and what made them."""
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
                                      thickness or DEFAULT_THICKNESS)
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
            raw, model_fov = est.predict(rgb)
            fov = args.fov or model_fov or camera.DEFAULT_FOV
            f = camera.focal_px(w, h, fov)
            kind = est.kind if args.depth_kind == "auto" else args.depth_kind
            if kind == "relative":
                z = depth_mod.relative_to_depth(raw, mask, f, thickness or DEFAULT_THICKNESS)
            else:
                z = np.maximum(raw, 1e-3)
                if thickness:
                    z = depth_mod.rescale_metric(z, mask, f, thickness)
        info.update(depth_model=label, depth_kind=kind)
    if not np.isfinite(z[mask]).all() or (z[mask] <= 0).any():
        raise Img2MeshError("depth has non-positive or invalid values inside the object",
                            file=args.depth_map, hint="check --depth-kind and --depth-scale")
    info.update(fov_deg=round(float(fov), 4), focal_px=round(float(f), 4))
    return z.astype(np.float32), f, info


def _points(z, mask, f, keep_background, octree_depth):
    """Camera-frame points and normals of the masked depth: flying pixels and outliers
    removed, thinned to what the octree can use."""
    zx = z if keep_background else camera.extend_outside(z, mask)
    pts = camera.backproject(zx, f)
    normals = camera.grid_normals(pts)
    valid = mask & ~camera.depth_edges(zx, f) & ~camera.depth_outliers(zx, mask, f)
    stride = camera.sample_stride(mask, octree_depth)
    if stride > 1:
        grid = np.zeros_like(valid)
        grid[stride // 2::stride, stride // 2::stride] = True
        valid &= grid
    P, N = pts[valid], normals[valid]
    if len(P) < 100:
        raise Img2MeshError(f"too few usable depth points ({len(P)}) to build a surface",
                            hint="use a larger image or a bigger object in the frame")
    return P, N, zx


def _surface(args, P, N, zx, mask, f, reporter):
    reporter.stage("surface", f"Poisson reconstruction (depth {args.poisson_depth})")
    P2, N2 = surface.add_back(P, N, args.back)
    V, T, D = surface.poisson(P2, N2, args.poisson_depth,
                              scale=1.1 if args.back == "open" else 1.5)
    reporter.stage("trim", "Trimming unsupported surface")
    if args.back == "open":
        extent = float(np.ptp(P, axis=0).max())
        tol = max(4.0 * extent / 2 ** args.poisson_depth, 0.01 * extent)
        support = ndimage.binary_dilation(mask, iterations=2)
        keep = surface.trim_to_view(V, D, zx, support, f, tol)
        V, T = surface.keep_vertices(V, T, keep)
    V, T = surface.drop_small_parts(V, T)
    if args.target_faces and len(T) > args.target_faces:
        V, T = surface.decimate(V, T, args.target_faces)
    if len(T) == 0:
        raise Img2MeshError("the surface came out empty after trimming",
                            hint="try --back mirror, a larger --poisson-depth, or another "
                            "--depth-model")
    return V, T


def run(args, reporter, cache=None):
    cache = {} if cache is None else cache
    t0 = time.perf_counter()
    output = check_output(args.output)
    preview = check_output(args.preview, (".png",), "preview") if args.preview else None
    models_dir = os.path.abspath(os.path.expanduser(args.models_dir)) if args.models_dir \
        else models.default_models_dir()
    allow = models.downloads_allowed(args.offline)

    reporter.stage("load", f"Loading {os.path.basename(args.input)}")
    rgb_full, alpha = image_io.load_photo(args.input)
    rgb = image_io.resize_rgb(rgb_full, args.max_size)
    # both models load first (one "model" stage), then they run
    session = _segmenter(args, alpha, reporter, cache, models_dir, allow)
    estimator = (None, None) if args.depth_map else \
        _estimator(args, reporter, cache, models_dir, allow)
    mask, mask_source = _mask(args, rgb, alpha, session, reporter)
    z, f, info = _depth(args, rgb, mask, estimator, reporter)

    reporter.stage("points", "Back-projecting depth to points")
    P, N, zx = _points(z, mask, f, args.keep_background, args.poisson_depth)
    V, T = _surface(args, P, N, zx, mask, f, reporter)

    reporter.stage("export", f"Writing {os.path.basename(output)}")
    colors = sample_colors(V, rgb_full, f, rgb.shape[:2])
    watertight = surface.is_watertight(T)
    transform = frame_transform(V, args.frame, args.size)
    Vout = orient(V, transform)
    # where the photo's camera is in the output frame (the add-on's matched camera)
    camera_location = orient(np.zeros((1, 3)), transform)[0].round(6).tolist()
    write_mesh(output, Vout, T, colors, z_up=args.frame == "blender")
    sidecar = os.path.splitext(output)[0] + ".json"
    outputs = [output, sidecar]
    if preview:
        reporter.stage("preview", "Drawing the preview")
        from .preview import render_preview

        with atomic_path(preview) as tmp:
            shown = Vout if args.frame == "blender" else \
                orient(V, frame_transform(V, "blender", 2.0))
            render_preview(tmp, shown, T, colors, title=os.path.basename(args.input))
        outputs.append(preview)
    reporter.close_stage()  # so the timings below include the last stage
    result = {
        "mesh": output, "outputs": outputs, "preview": preview, "sidecar": sidecar,
        "input": os.path.abspath(args.input), "vertices": int(len(Vout)),
        "faces": int(len(T)), "points": int(len(P)), "frame": args.frame,
        "size": args.size if args.frame == "blender" else None, "back": args.back,
        "watertight": watertight, "mask": mask_source, "segmenter": args.segmenter
        if mask_source == args.segmenter else None, "working_size": [rgb.shape[1],
                                                                     rgb.shape[0]],
        "poisson_depth": args.poisson_depth, "camera_location": camera_location, **info,
        "bounds": [Vout.min(axis=0).round(5).tolist(), Vout.max(axis=0).round(5).tolist()],
        "timings": dict(reporter.timings), "seconds": round(time.perf_counter() - t0, 3),
    }
    from .. import __version__

    write_json(sidecar, {"img2mesh_version": __version__, **result})
    reporter.result(result)
    return result
