"""Cameras recovered by COLMAP (through pycolmap): SIFT features on the object only (the
masks), exhaustive matching (or sequential, for the frames of a video), incremental
mapping with one shared pinhole camera (the EXIF focal length as its prior when the
photos carry one).

:func:`recover` works on the working-size images and returns cameras for that size.
"""

import os
import tempfile

import numpy as np
from PIL import Image
from scipy import ndimage

from . import hull
from .cameras import Camera

#: SIFT's contrast threshold (COLMAP's default is 0.0067): photos of objects at working
#: size have few strong corners, the lower threshold finds ~600 per view
PEAK_THRESHOLD = 0.002
#: features per view at most (matching time grows with its square)
MAX_FEATURES = 4000
#: the masks are widened by this share of the image's longer side (features on the
#: outline see the background in half their window, but still match)
MASK_MARGIN = 0.01

#: the attempts, in order, until one registers :data:`ENOUGH` of the views: (SIFT's options
#: beyond the above, the matcher's).  The second is for weak or dark texture: DSP-SIFT
#: (descriptors pooled over several scales), affine-adapted regions and matching guided by
#: the two-view geometry find ~2x the points, for ~1.5-2.5x the time
ATTEMPTS = (({}, {}),
            ({"domain_size_pooling": True, "estimate_affine_shape": True},
             {"guided_matching": True}))
#: the share of the views registered, and the cameras' agreement with the silhouettes
#: (:func:`hull.agreement`: 0.957-0.975 with the right cameras of the benchmark's four
#: sets and u2netp's masks; 0.42-0.79 with models that had a few views wrong, and 0.91
#: for an L-block model whose cameras were all turned ~90 degrees), that end the attempts
ENOUGH = 0.95
AGREE = 0.94


def _threads():
    return max(1, min(os.cpu_count() or 1, 4))


def stretched(rgb, mask, share=1.0):
    """``rgb`` with its levels stretched so that the object's (``mask``) run from black to
    white, ``share`` percent clipped at each end: SIFT's contrast threshold is absolute,
    and a dark or dull object gives few features.  Measured on the benchmark's dark
    L-block (true masks): 978 points instead of 799, the cameras' centres within 0.95% of
    the diagonal instead of 2.0% (median); on the mug 0.25% instead of 0.31%."""
    values = rgb[mask] if mask.any() else rgb.reshape(-1, 3)
    lo, hi = np.percentile(values, [share, 100.0 - share])
    scale = 255.0 / max(float(hi - lo), 1.0)
    return np.clip((rgb.astype(np.float32) - lo) * scale + 0.5, 0, 255).astype(np.uint8)


def _write_inputs(folder, images, masks, names):
    """The images (levels stretched: :func:`stretched`) as PNG and COLMAP's masks
    (``masks/NAME.png``, black = ignored)."""
    os.makedirs(os.path.join(folder, "images"))
    os.makedirs(os.path.join(folder, "masks"))
    for rgb, mask, name in zip(images, masks, names):
        Image.fromarray(stretched(rgb, mask)).save(os.path.join(folder, "images", name),
                                                   compress_level=1)
        grow = max(1, int(round(MASK_MARGIN * max(mask.shape))))
        wide = ndimage.binary_dilation(mask, iterations=grow)
        Image.fromarray(wide.astype(np.uint8) * 255).save(
            os.path.join(folder, "masks", name + ".png"), compress_level=1)


def recover(images, masks, names, reporter, focal_prior=None, sequential=False):
    """Cameras of ``images`` (working size, uint8 HxWx3) from their ``masks``.

    ``names``: unique file names (keys of the result).  Returns ``(cameras, points,
    agreement)``: ``{name: Camera}`` for the registered views, the sparse points (N, 3) in
    the same world frame, and how well the cameras agree with the silhouettes
    (:func:`hull.agreement`).  Of COLMAP's models, the largest; of the :data:`ATTEMPTS`,
    the first that registers :data:`ENOUGH` of the views with cameras that agree with
    the silhouettes (:data:`AGREE`), else the best (agreeing, then most views)."""
    import pycolmap

    pycolmap.logging.minloglevel = 2  # COLMAP's progress lines: errors only (stderr)
    n = len(names)
    best, best_key = ({}, np.zeros((0, 3)), 0.0), None
    for k, (sift, matcher) in enumerate(ATTEMPTS):
        again = f" (attempt {k + 1}: finer features)" if k else ""
        with tempfile.TemporaryDirectory(prefix="img2mesh-colmap-") as tmp:
            model = _attempt(pycolmap, tmp, images, masks, reporter, focal_prior,
                             sequential, sift, matcher, again)
        if model is None:
            continue
        cams, points = _cameras(model, names, images[0].shape)
        used = [i for i, name in enumerate(names) if name in cams]
        agree = hull.agreement([cams[names[i]] for i in used], [masks[i] for i in used]) \
            if len(used) >= 3 else 0.0
        key = (agree >= AGREE, len(cams), agree)
        if best_key is None or key > best_key:
            best, best_key = (cams, points, agree), key
        if agree >= AGREE and len(cams) >= ENOUGH * n:
            break
    reporter.update(1.0, f"Recovered {len(best[0])} of {n} cameras")
    return best


def _cameras(model, names, shape):
    """``({name: Camera}, points (N, 3))`` of a pycolmap.Reconstruction."""
    h, w = shape[:2]
    files = _files(len(names))
    cams = {}
    for image in model.images.values():
        if not image.has_pose:
            continue
        pose = image.cam_from_world()
        K = model.cameras[image.camera_id].calibration_matrix()
        cams[names[files.index(image.name)]] = Camera(K, pose.rotation.matrix(),
                                                      pose.translation, (w, h))
    return cams, np.array([p.xyz for p in model.points3D.values()]).reshape(-1, 3)


def _files(n):
    return [f"{i:04d}.png" for i in range(n)]  # ASCII names whatever the photos'


def _attempt(pycolmap, tmp, images, masks, reporter, focal_prior, sequential, sift,
             matcher, again):
    """One run of features, matching and mapping in ``tmp``: COLMAP's largest model (a
    pycolmap.Reconstruction, kept in memory), or None."""
    n = len(images)
    h, w = images[0].shape[:2]
    files = _files(n)
    _write_inputs(tmp, images, masks, files)
    db = os.path.join(tmp, "db.db")
    reporter.stage("features", f"Finding features in {n} views{again}")
    reader = pycolmap.ImageReaderOptions()
    reader.mask_path = os.path.join(tmp, "masks")
    if focal_prior:
        reader.camera_params = f"{focal_prior:.4f},{w / 2:.4f},{h / 2:.4f}"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = _threads()
    extraction.sift.peak_threshold = PEAK_THRESHOLD
    extraction.sift.max_num_features = MAX_FEATURES
    extraction.sift.first_octave = -1 if max(h, w) <= 800 else 0
    for key, value in sift.items():
        setattr(extraction.sift, key, value)
    pycolmap.extract_features(db, os.path.join(tmp, "images"), files,
                              camera_mode=pycolmap.CameraMode.SINGLE,
                              camera_model="SIMPLE_PINHOLE", reader_options=reader,
                              extraction_options=extraction, device=pycolmap.Device.cpu)
    reporter.stage("matching", f"Matching {'consecutive' if sequential else 'all'} "
                   f"pairs of {n} views{again}")
    matching = pycolmap.FeatureMatchingOptions()
    matching.num_threads = _threads()
    for key, value in matcher.items():
        setattr(matching, key, value)
    if sequential:
        pycolmap.match_sequential(db, matching_options=matching, device=pycolmap.Device.cpu)
    else:
        pycolmap.match_exhaustive(db, matching_options=matching, device=pycolmap.Device.cpu)
    reporter.stage("cameras", f"Recovering the cameras (0/{n})")
    options = pycolmap.IncrementalPipelineOptions()
    options.num_threads = _threads()
    options.min_model_size = 3
    options.mapper.init_min_num_inliers = 30
    options.mapper.abs_pose_min_num_inliers = 15
    options.ba_refine_principal_point = False
    options.extract_colors = False
    count = [0]

    def next_image():
        count[0] += 1
        reporter.update(min(count[0], n) / n,
                        f"Recovering the cameras ({min(count[0], n)}/{n}){again}")

    models = pycolmap.incremental_mapping(db, os.path.join(tmp, "images"),
                                          os.path.join(tmp, "sparse"), options=options,
                                          next_image_callback=next_image)
    if not models:
        return None
    return max(models.values(), key=lambda r: r.num_reg_images())
