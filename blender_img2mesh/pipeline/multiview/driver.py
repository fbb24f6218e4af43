"""One object from several photos (``img2mesh --views PHOTO... -o OUT``): photos -> masks ->
cameras (COLMAP, or given) -> one closed surface -> texture atlas -> files.

Same outputs, atomicity (:class:`output.result_files.Result`), progress stages and result
event as a single photo; the sidecar adds ``"cameras"`` (each registered photo's ``K``,
``R``, ``t`` in the written mesh's frame and units, keyed by file name), ``"registered"``,
``"unregistered"`` and ``"learned_depth"``: null, or the depth model used as weak evidence
where the photos match nothing and for how many views its depth could be aligned
(``{"model": LABEL, "views": K}``; :mod:`learned`: ``--depth-model auto`` uses the default
model only when it is on disk, a name loads it as for one photo).
"""

import hashlib
import os
import time
import types

import numpy as np
from scipy import ndimage

from .. import stages
from ..batch.discover import expand
from ..command import checks
from ..command.arguments import VIEWS_MAX_SIZE
from ..errors import Img2MeshError
from ..job import Job
from ..output import export
from ..output import result_files as outputs
from ..source import image_io
from . import atlas, cameras, colmap, fusion, hull, learned, surface, views_each
from ..progress import counter

MIN_VIEWS = 3
#: fewer registered photos than this share of those given: refused (photos of another
#: object, most likely), not a mesh from the few that agree
MIN_SHARE = 0.5
#: the progress bar's shares of a multi-view job's stages
SHARES = dict(load=0.03, model=0.02, segment=0.1, features=0.12, matching=0.08, cameras=0.05,
              depth=0.04, points=0.0, surface=0.36, trim=0.0, texture=0.15, export=0.05)
#: faces of the written mesh unless --target-faces says otherwise
DEFAULT_FACES = 20000  # xatlas: ~15 s for 20k faces on a busy 2-core machine


def photos_of(views):
    """The photo files of ``--views`` (files, folders, globs), at least :data:`MIN_VIEWS`
    with distinct file names."""
    photos = expand(views)[0]  # (results' files in those folders passed over)
    if len(photos) < MIN_VIEWS:
        raise Img2MeshError(f"--views needs at least {MIN_VIEWS} photos of the object, got "
                            f"{len(photos)}", hint="take photos all around it (8 to 40 work "
                            "best), or use one photo without --views")
    names = [os.path.basename(p) for p in photos]
    if len(set(names)) < len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise Img2MeshError(f"two photos are named {dup}: the cameras are keyed by file name",
                            hint="rename one of them")
    return photos


def working_size(args):
    """The longer side of the views' working images: ``--max-size`` when given, else the
    photos' own up to :data:`arguments.VIEWS_MAX_SIZE` (features need the pixels)."""
    return args.max_size if getattr(args, "max_size_given", False) else VIEWS_MAX_SIZE


def _load(photos, args, reporter):
    full, work, alphas = [], [], []
    digests = set()
    for i, path in enumerate(photos):
        reporter.update(i / len(photos), f"Loading {os.path.basename(path)}")
        rgb, alpha = image_io.load_photo(path)
        full.append(rgb)
        small = image_io.resize_rgb(rgb, working_size(args))
        work.append(small)
        alphas.append(alpha)
        digests.add(hashlib.sha1(small.tobytes()).hexdigest())
    if len(digests) == 1:
        raise Img2MeshError(f"all {len(photos)} photos are the same picture", file=photos[0],
                            hint="the views must show the object from different sides")
    shapes = {im.shape for im in work}
    if len(shapes) > 1:
        raise Img2MeshError("the photos have different sizes: one camera takes them all",
                            file=photos[0], hint="give photos from one camera at one size")
    return full, work, alphas


def _masks(job, photos, work, alphas, reporter, cache, each):
    """Each photo's object mask at working size (its alpha, or background removal with the
    job's segmenter: :mod:`stages`), and where they came from."""
    if any(a is None for a in alphas):  # (a bad segmenter name fails here, at once)
        stages.segmenter(job.mask, None, reporter, cache, job.models)
    reporter.stage("segment", "Removing the backgrounds")
    done = counter(reporter, len(photos), "Removing the background ({k}/{n})")
    made = each.each("mask", list(zip(photos, work, alphas)), done,
                     shared=(job.mask, job.models))
    return [m for m, _ in made], sorted({source for _, source in made})


def _cameras(args, photos, work, masks, reporter, each):
    """``(cameras, method, agreement, points)``: COLMAP's with its :func:`hull.agreement`
    (which chose among its attempts) and sparse points, or the given ones (agreement
    None: not measured yet; no points)."""
    names = [os.path.basename(p) for p in photos]
    size = (work[0].shape[1], work[0].shape[0])
    if args.cameras:
        reporter.stage("cameras", "Reading the given cameras")
        full = [image_io.open_image(p).size for p in photos]
        given, _ = cameras.load_given(args.cameras, names, full)
        return {n: c.scaled(size) for n, c in given.items()}, "given", None, None
    cams, points, agree = colmap.recover(work, masks, names, reporter,
                                         focal_prior=focal_prior(photos, size),
                                         sequential=args.sequential,
                                         each=each.each if each.remote else None,
                                         meanwhile=surface.warm_up)
    return cams, "colmap", agree, points


def focal_prior(photos, size):
    """COLMAP's starting focal length (pixels at ``size``, (w, h)) from the first photo
    whose EXIF gives a 35 mm equivalent (36 mm across the longer side), else None."""
    for path in photos:
        mm = image_io.focal_35mm(path)
        if mm:
            return mm / 36.0 * max(size)
    return None


def check_registered(cams, names, method, photos):
    missing = [n for n in names if n not in cams]
    if len(cams) >= MIN_VIEWS and (method == "given" or len(cams) >= MIN_SHARE * len(names)):
        return missing
    if len(cams) >= MIN_VIEWS:  # the photos fall into sets that do not see one another
        raise Img2MeshError(
            f"cameras found for only {len(cams)} of {len(names)} photos; the others do not "
            f"match them: {', '.join(missing[:5])}{', ...' if len(missing) > 5 else ''}",
            file=photos[0], hint="are they photos of another object, or far apart? give "
            "photos of one object, each overlapping its neighbours")
    if method == "given":
        raise Img2MeshError(f"the cameras file gives cameras for {len(cams)} of the "
                            f"{len(names)} photos; at least {MIN_VIEWS} are needed",
                            hint="its keys are the photos' file names")
    raise Img2MeshError(
        f"cameras found for only {len(cams)} of {len(names)} photos (tried: SIFT features on "
        "the object, matched between every pair, incremental mapping; then finer features: "
        "DSP-SIFT, affine regions, guided matching)", file=photos[0],
        hint="the photos must show one object, sharp and with visible texture, each "
        "overlapping its neighbours (about 10-30 degrees apart)")


def run_views(args, reporter, cache=None):
    """The multi-view job; returns the result dict (also the ``result`` event)."""
    cache = {} if cache is None else cache
    t0 = time.perf_counter()
    photos = photos_of(args.views)
    for path in photos:  # no named pipe or device: a read that would never end
        checks.read_paths({"input": path})
    output = outputs.check_output(args.output, export.MESH_FORMATS, "output")
    reporter.weigh(**SHARES)
    with outputs.Result(photos + [args.cameras], owner=output) as files:
        result = _run(args, reporter, cache, files, photos, output, t0)
        files.commit()
    reporter.result(result)
    return result


def _learned(depth_model, spec, images, points, reporter):
    """The registered views' learned depth (:class:`learned.ViewsDepth`), or None without a
    depth model (``depth_model``: :func:`learned.estimator`'s)."""
    est, _ = depth_model
    if est is None:
        return None
    return learned.ViewsDepth(learned.predict_views(est, images, reporter),
                              learned.kind_of(est, spec), points)


def _shape(args, photos, work, masks, reporter, each, job, depth_model):
    """Cameras (recovered or given) and the closed surface of the registered views:
    ``(cameras, method, surface, unregistered, used indices, file names)``; with a depth
    model (:func:`learned.estimator`), its depth of each registered view is evidence too."""
    cams, method, agree, points = _cameras(args, photos, work, masks, reporter, each)
    names = [os.path.basename(p) for p in photos]
    missing = check_registered(cams, names, method, photos)
    if missing:
        reporter.warn(f"cameras found for {len(cams)} of {len(names)} photos; not used: "
                      + ", ".join(missing))
    used = [i for i, n in enumerate(names) if n in cams]
    if agree is None:
        agree = hull.agreement([cams[names[i]] for i in used], [masks[i] for i in used])
    if agree < colmap.AGREE:
        reporter.warn(f"the cameras and the photos' outlines agree poorly ({agree:.2f} of 1): "
                      "the object may come out wrong; more photos, with more texture, help")
    views_depth = _learned(depth_model, job.depth, [work[i] for i in used], points, reporter)
    reporter.stage("surface", "Building the surface")
    built = surface.reconstruct([cams[names[i]] for i in used], [work[i] for i in used],
                                [masks[i] for i in used], reporter, each.each,
                                target_faces=args.target_faces or DEFAULT_FACES,
                                learned_depth=views_depth)
    if built is None:
        raise Img2MeshError("the silhouettes do not agree on any common volume",
                            file=photos[0], hint="the photos must show one object")
    built[3]["silhouette_agreement"] = round(agree, 4)
    return cams, method, built, missing, used, names


def _run(args, reporter, cache, files, photos, output, t0):
    job = Job.from_args(args)  # (the parts a single photo's job has: masks, models, output)
    color = export.color_mode(args.color, output)
    paths = export.plan_files(files, output)
    reporter.stage("load", f"Loading {len(photos)} photos")
    full, work, alphas = _load(photos, args, reporter)
    fmt = export.texture_format(args.texture_format, any(a is not None for a in alphas))
    export.plan_texture(files, paths, color, fmt)
    depth_model = learned.estimator(job, reporter, cache)  # (a wrong name fails here, at once)
    with views_each.runner(args, cache) as each:
        masks, mask_sources = _masks(job, photos, work, alphas, reporter, cache, each)
        cams, method, built, missing, used, names = _shape(args, photos, work, masks,
                                                           reporter, each, job, depth_model)
        per_view = dict(each.info)
    verts, faces, closed, info, _ = built
    aligned = info.pop("learned_views", None)
    learned_info = None if depth_model[0] is None else {"model": depth_model[1],
                                                        "views": aligned or 0}
    reporter.stage("texture", "Painting the texture from the photos")
    full_cams = [cams[names[i]].scaled((full[i].shape[1], full[i].shape[0])) for i in used]
    baked = atlas.bake(verts, faces, full_cams, [full[i] for i in used],
                       [ndimage.binary_erosion(masks[i]) for i in used],
                       size=args.texture_size or 2048)
    # (xatlas splits vertices along its seams: the surface is the welded one)
    closed = closed and fusion.welded_closed(baked.vertices, baked.triangles)
    frame = cameras.orientation(cams, verts, args.size) if args.frame == "blender" else \
        (np.eye(3), np.zeros(3), 1.0)
    Vout = cameras.transform_points(baked.vertices, frame)
    reporter.stage("export", f"Writing {os.path.basename(output)}")
    painted = export.Surface(Vout, baked.triangles, atlas_colors(baked), baked.uv,
                             types.SimpleNamespace(image=baked.image))
    texture_size = export.write_mesh_files(
        files, paths, Vout, painted, color, fmt, args.texture_size,
        z_up=args.frame == "blender", double_sided=False, quality=args.texture_quality)
    y_up = output.lower().endswith(".glb") and args.frame == "blender"
    full_by_name = {names[i]: full_cams[k] for k, i in enumerate(used)}
    reporter.close_stage()
    written = [p for p in (paths["mesh"], paths["texture"], paths["material"],
                           paths["sidecar"]) if p]
    result = {
        "mesh": output, "outputs": written, "preview": None, "sidecar": paths["sidecar"],
        "texture": paths["texture"] if texture_size else None,
        "material": paths["material"], "color": color, "texture_size": texture_size,
        "texture_format": fmt if texture_size else None, "input": None,
        "views": [os.path.abspath(p) for p in photos], "vertices": int(len(Vout)),
        "faces": int(len(baked.triangles)), "frame": args.frame,
        "size": args.size if args.frame == "blender" else None, "watertight": closed,
        "mask": mask_sources[0] if len(mask_sources) == 1 else mask_sources,
        "camera_method": method, "per_view": per_view, "registered": [names[i] for i in used],
        "unregistered": missing, "working_size": [work[0].shape[1], work[0].shape[0]],
        "learned_depth": learned_info, **info,
        "cameras": cameras.sidecar(full_by_name, names, frame, y_up),
        "bounds": [Vout.min(axis=0).round(5).tolist(), Vout.max(axis=0).round(5).tolist()],
        "timings": dict(reporter.timings), "seconds": round(time.perf_counter() - t0, 3),
    }
    result["sizes"] = files.sizes()  # every file but the sidecar: what "complete" means
    from ... import __version__

    files.write(paths["sidecar"], lambda tmp: export.write_json(
        tmp, {"img2mesh_version": __version__, **result}))
    return result


def atlas_colors(baked):
    """Per-vertex sRGB colours: the atlas at each vertex's UV (nearest texel)."""
    image = baked.image
    H, W = image.shape[:2]
    x = np.clip((baked.uv[:, 0] * W).astype(np.int64), 0, W - 1)
    y = np.clip(((1.0 - baked.uv[:, 1]) * H).astype(np.int64), 0, H - 1)
    return image[y, x]
