"""Cameras recovered by COLMAP (through pycolmap): SIFT features on the object only (the
masks), exhaustive matching (or sequential, for the frames of a video), incremental
mapping with one shared pinhole camera (the EXIF focal length as its prior when the
photos carry one), and a last bundle adjustment with a robust loss (:func:`refine`).

:func:`recover` works on the working-size images and returns cameras for that size.

Where the features are found: one view at a time by :func:`features_of`, in the box
around the object, written into COLMAP's database here (:func:`write_database`); with
``--ray`` on the cluster's actors (the per-view runner of :mod:`views_each`), without it in
this process and a helper process beside it (:func:`_features`).  Measured on the
benchmark's box (30 views, 640x480, true masks) on an idle 2-core machine: 4.1-4.3 s,
against 6.5-6.7 s for COLMAP's own threaded extraction of the whole views
(``pycolmap.extract_features`` on PNGs with mask files, what this module used before),
and 10.1 -> 6.0 s for the L-block's finer attempt (DSP-SIFT).  ``pycolmap.Sift.extract``
holds the GIL, so threads do not overlap it, and ``extract_features`` waits for its
threads in a loop that takes a core (its CPU time is twice its wall time).
"""

import os
import tempfile
import threading

import numpy as np
from PIL import Image
from scipy import ndimage

from . import features_helper, hull
from ..progress import counter
from .cameras import Camera

#: SIFT's contrast threshold (COLMAP's default is 0.0067): photos of objects at working
#: size have few strong corners, the lower threshold finds ~600 per view
PEAK_THRESHOLD = 0.002
#: features per view at most (matching time grows with its square)
MAX_FEATURES = 4000
#: the masks are widened by this share of the image's longer side (features on the
#: outline see the background in half their window, but still match)
MASK_MARGIN = 0.01
#: the features are looked for in the box around the (widened) mask grown by this share
#: of the image's longer side (:func:`crop_box`)
CROP_MARGIN = 0.05

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
#: the matched points a registered view sees on average (COLMAP's observations per image)
#: below which the next attempt is tried too: the benchmark's dark L-block has 135 with
#: the first attempt, and after :func:`refine` its cameras agree with the silhouettes but
#: are up to 3.0 % of the diagonal off (held-out PSNR 21.1 dB); the second attempt sees
#: 251 a view and is off by at most 1.5 %.  The mug, torus and box see 245-574 with the
#: first attempt
OBSERVED = 180
#: the features a view has on average (the first attempt's) below which the next attempt
#: is tried at once: about a third to a half of a view's features end up observed (the
#: benchmark's mug 752 -> 245, box 1108 -> 577), too few to reach :data:`OBSERVED`; the
#: dark L-block has 472 (135 observed)
FEW_FEATURES = 3 * OBSERVED
#: the last bundle adjustment's robust loss (Cauchy) and its scale in pixels: COLMAP's own
#: adjustments use squares, and the few matches that are still 1-4 px off (its filter's
#: limit) pull the cameras.  Measured on the benchmark's four sets (true masks): the camera
#: centres 0.12-1.16 % of the diagonal off (median) -> 0.05-0.59 %, the mug's focal length
#: 2.1 % short -> 0.7 %
ROBUST_SCALE = 0.5
#: its iterations at most: the box's (3,500 points) focal length is the same to 0.01 px
#: after 15 as after 100 (0.7 s against 4.5 s)
REFINE_ITERATIONS = 20


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


def sift_options(shape, extra=None):
    """SIFT's options for views of ``shape`` (H, W, ...) as a plain dict (it travels to
    Ray's actors): :data:`PEAK_THRESHOLD`, :data:`MAX_FEATURES`, the first octave (-1:
    the image doubled, up to 800 px) and an attempt's ``extra`` (:data:`ATTEMPTS`)."""
    return {"peak_threshold": PEAK_THRESHOLD, "max_num_features": MAX_FEATURES,
            "first_octave": -1 if max(shape[:2]) <= 800 else 0, **(extra or {})}


def _extraction(pycolmap, sift, threads=1):
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.num_threads = threads
    for key, value in sift.items():
        setattr(extraction.sift, key, value)
    return extraction


def widened(mask):
    """``mask`` grown by :data:`MASK_MARGIN` of the image's longer side: where features
    are kept."""
    grow = max(1, int(round(MASK_MARGIN * max(mask.shape))))
    return ndimage.binary_dilation(mask, iterations=grow)


def grey(rgb):
    """The grey image COLMAP extracts features from when it reads ``rgb`` from a file
    (FreeImage's conversion: Rec. 709 luma in float32, rounded); equal to
    ``pycolmap.Bitmap.read(path, as_rgb=False)`` for all 2^24 colours."""
    f = rgb.astype(np.float32)
    luma = (np.float32(0.2126) * f[..., 0] + np.float32(0.7152) * f[..., 1]
            + np.float32(0.0722) * f[..., 2] + np.float32(0.5))
    return luma.astype(np.uint8)


def features_of(sift, rgb, mask):
    """One view's SIFT features as COLMAP's extraction finds them in the box around the
    object (:func:`crop_box`) with a mask file, moved to the view's pixels: ``(keypoints
    (N, 4) float32: x, y, scale, orientation; descriptors (N, 128) uint8)``.  (The box is
    for speed: SIFT's time goes with the pixels, and the object fills about half a photo:
    0.43 -> 0.28 s a view of the benchmark's box.)

    ``sift``: :func:`sift_options`.  The image is :func:`stretched` and made :func:`grey`;
    COLMAP keeps the :data:`MAX_FEATURES` (its largest scales) first, then drops the
    keypoints whose pixel (``int(x), int(y)``) is outside the (:func:`widened`) mask, as
    here.  ``pycolmap.Sift.extract`` returns COLMAP's uint8 descriptors divided by 512
    (exact in float32): times 512 gives the database's bytes back.  (The affine shape of
    ``estimate_affine_shape`` comes back as a scale and an angle: COLMAP's exhaustive and
    sequential matching and its mapping use only ``x, y``.)"""
    import pycolmap

    pycolmap.logging.minloglevel = 2  # (on an actor too: no "Creating SIFT ..." lines)
    extraction = _extraction(pycolmap, sift)
    kept = widened(mask)
    rows, cols = crop_box(kept)
    image, scale = _fit(grey(stretched(rgb, mask))[rows, cols], extraction.max_image_size)
    keypoints, descriptors = pycolmap.Sift(extraction, device=pycolmap.Device.cpu) \
        .extract(np.ascontiguousarray(image))
    keypoints[:, :2] *= scale
    keypoints[:, 2] *= scale.mean()
    keypoints[:, 0] += cols.start
    keypoints[:, 1] += rows.start
    keep = _inside(keypoints, kept)
    return keypoints[keep], np.rint(descriptors[keep] * 512.0).astype(np.uint8)


def _fit(image, limit):
    """``(image, scale (x, y))``: ``image`` as COLMAP's extraction sees it, bilinearly
    shrunk to fit ``limit`` pixels (``max_image_size``, 3200) when larger (only with a
    ``--max-size`` above that), and the scale back to its pixels (not COLMAP's resampling
    bit for bit)."""
    h, w = image.shape
    if max(h, w) <= limit:
        return image, np.ones(2, np.float32)
    factor = limit / max(h, w)
    size = (int(w * factor), int(h * factor))
    small = np.asarray(Image.fromarray(image).resize(size, Image.BILINEAR))
    return small, np.array([w / size[0], h / size[1]], np.float32)


def _inside(keypoints, mask):
    """Which ``keypoints`` fall on ``mask``: their pixel is ``(int(x), int(y))`` (C's
    truncation, as COLMAP's ``MaskKeypoints``), off the image is outside."""
    x, y = keypoints[:, 0].astype(int), keypoints[:, 1].astype(int)
    h, w = mask.shape
    keep = (x >= 0) & (x < w) & (y >= 0) & (y < h)
    keep[keep] = mask[y[keep], x[keep]]
    return keep


def write_database(pycolmap, path, features, files, shape, focal_prior=None):
    """COLMAP's database at ``path`` with ``features`` (:func:`features_of`, one per view,
    named ``files``) as its feature extraction writes it: one shared SIMPLE_PINHOLE camera
    (the principal point at the centre; the focal length ``focal_prior`` as a prior, else
    COLMAP's default guess, 1.2 x the longer side, not a prior), its rig, and for each
    view an image, its frame, keypoints and descriptors."""
    h, w = shape[:2]
    default = pycolmap.ImageReaderOptions().default_focal_length_factor * max(w, h)
    camera = pycolmap.Camera.create(pycolmap.INVALID_CAMERA_ID,
                                    pycolmap.CameraModelId.SIMPLE_PINHOLE,
                                    focal_prior or default, w, h)
    camera.has_prior_focal_length = bool(focal_prior)
    db = pycolmap.Database.open(path)
    try:
        with pycolmap.DatabaseTransaction(db):
            camera.camera_id = db.write_camera(camera)
            rig = pycolmap.Rig()
            rig.add_ref_sensor(camera.sensor_id)
            rig_id = db.write_rig(rig)
            for name, (keypoints, descriptors) in zip(files, features):
                image = pycolmap.Image(name=name, camera_id=camera.camera_id)
                image.image_id = db.write_image(image)
                frame = pycolmap.Frame()
                frame.rig_id = rig_id
                frame.add_data_id(image.data_id)
                db.write_frame(frame)
                db.write_keypoints(image.image_id, keypoints)
                db.write_descriptors(image.image_id, descriptors)
    finally:
        db.close()


def recover(images, masks, names, reporter, focal_prior=None, sequential=False, each=None,
            meanwhile=None):
    """Cameras of ``images`` (working size, uint8 HxWx3) from their ``masks``.

    ``names``: unique file names (keys of the result).  Returns ``(cameras, points,
    agreement)``: ``{name: Camera}`` for the registered views, the sparse points (N, 3) in
    the same world frame, and how well the cameras agree with the silhouettes
    (:func:`hull.agreement`).  Of COLMAP's models, the largest; of the :data:`ATTEMPTS`,
    the first that registers :data:`ENOUGH` of the views with cameras that agree with
    the silhouettes (:data:`AGREE`) and sees :data:`OBSERVED` points a view, else the
    best (agreeing, then most views, then most points a view up to :data:`OBSERVED`).
    Each model is adjusted once more with a robust loss (:func:`refine`).
    ``each``: a per-view runner's ``each`` (:mod:`views_each`, on Ray's actors) that finds
    each view's features (:func:`features_of`); None: here and in a helper process
    (:func:`_features`).  ``meanwhile``: a function run
    on a thread while COLMAP's first mapping runs, which keeps one core busy and lets go of
    the GIL (the next stage's imports, say); it has finished when this returns."""
    import pycolmap

    pycolmap.logging.minloglevel = 2  # COLMAP's progress lines: errors only (stderr)
    n = len(names)
    side = [] if meanwhile is None else [threading.Thread(target=meanwhile, daemon=True)]
    try:
        best = _attempts(pycolmap, images, masks, names, reporter, focal_prior, sequential,
                         each, side)
    finally:
        for thread in side:
            if thread.ident is not None:
                thread.join()
    reporter.update(1.0, f"Recovered {len(best[0])} of {n} cameras")
    return best


def _attempts(pycolmap, images, masks, names, reporter, focal_prior, sequential, each,
              side):
    """:func:`recover`'s attempts, the best model's ``(cameras, points, agreement)``;
    ``side``: threads to start when the first mapping starts."""
    n = len(names)
    best, best_key = ({}, np.zeros((0, 3)), 0.0), None
    for k, (sift, matcher) in enumerate(ATTEMPTS):
        again = f" (attempt {k + 1}: finer features)" if k else ""
        with tempfile.TemporaryDirectory(prefix="img2mesh-colmap-") as tmp:
            db = os.path.join(tmp, "db.db")
            features = _features(images, masks, reporter, each, sift, again)
            if k + 1 < len(ATTEMPTS) and \
                    np.mean([len(kp) for kp, _ in features]) < FEW_FEATURES:
                continue  # (the next attempt's finer features it is)
            write_database(pycolmap, db, features, _files(n), images[0].shape, focal_prior)
            model = _attempt(pycolmap, tmp, db, n, reporter, sequential, matcher, again, side)
        if model is None:
            continue
        refine(pycolmap, model)
        cams, points = _cameras(model, names, images[0].shape)
        used = [i for i, name in enumerate(names) if name in cams]
        agree = hull.agreement([cams[names[i]] for i in used], [masks[i] for i in used]) \
            if len(used) >= 3 else 0.0
        observed = model.compute_mean_observations_per_reg_image()
        key = (agree >= AGREE, len(cams), min(observed, OBSERVED), agree)
        if best_key is None or key > best_key:
            best, best_key = (cams, points, agree), key
        if agree >= AGREE and len(cams) >= ENOUGH * n and observed >= OBSERVED:
            break
    return best


def crop_box(mask):
    """The box (rows, columns) around ``mask`` grown by :data:`CROP_MARGIN` of the image's
    longer side, within the image: where a view's features are looked for."""
    h, w = mask.shape
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return slice(0, h), slice(0, w)
    grow = int(round(CROP_MARGIN * max(h, w)))
    return (slice(max(0, rows[0] - grow), min(h, rows[-1] + 1 + grow)),
            slice(max(0, cols[0] - grow), min(w, cols[-1] + 1 + grow)))


def _features(images, masks, reporter, each, extra, again):
    """Every view's :func:`features_of`, in the views' order (the "features" stage, ``k/N``
    as the views finish): through the per-view runner ``each`` (Ray's actors), or, with
    None, here: this process finds the first views' and a helper process
    (:mod:`features_helper`) the last :func:`_helper_share`'s at the same time (should it
    fail, they are found here after all).  ``pycolmap.Sift.extract`` holds the GIL, so
    threads would not overlap; COLMAP's own threaded extraction (``extract_features``)
    waits for its threads in a loop that takes a core (the benchmark's box: 6.5-6.7 s
    against 4.1-4.3 s here, the same features (the test
    ``test_one_views_features_are_colmaps_with_its_mask``) in the box around the object)."""
    n = len(images)
    reporter.stage("features", f"Finding features in {n} views{again}")
    done = counter(reporter, n, "Finding features ({k}/{n})" + again)
    sift = sift_options(images[0].shape, extra)
    if each is not None:
        return each("features", list(zip(images, masks)), done, shared=(sift,))
    mine = n - _helper_share(n)
    features = []
    with features_helper.started(features_of, (sift,),
                                 list(zip(images[mine:], masks[mine:]))) as helper:
        for rgb, mask in zip(images[:mine], masks[:mine]):
            features.append(features_of(sift, rgb, mask))
            done(None)
        theirs = helper.result()
    if theirs is None:  # (no helper, or it failed)
        theirs = [features_of(sift, rgb, mask) for rgb, mask in zip(images[mine:],
                                                                    masks[mine:])]
    for found in theirs:
        features.append(found)
        done(None)
    return features


#: a view's features take ~0.3 s here and the helper process ~0.5 s to start (Python,
#: NumPy, pycolmap): it is given :data:`HELPER_START` views fewer than half
HELPER_START = 2


def _helper_share(n):
    """How many of ``n`` views the helper process takes (0: no helper, one core)."""
    if (os.cpu_count() or 1) < 2:
        return 0
    return max(0, (n - HELPER_START) // 2)


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


def refine(pycolmap, model):
    """``model`` (a pycolmap.Reconstruction) adjusted once more, in place: cameras, shared
    focal length and points, with a robust loss (:data:`ROBUST_SCALE`) that lets the
    matches COLMAP kept but that are off by a pixel or more weigh little."""
    options = pycolmap.BundleAdjustmentOptions()
    options.refine_principal_point = False
    options.loss_function_type = pycolmap.LossFunctionType.CAUCHY
    options.loss_function_scale = ROBUST_SCALE
    options.solver_options.num_threads = _threads()
    options.solver_options.max_num_iterations = REFINE_ITERATIONS
    options.print_summary = False
    pycolmap.bundle_adjustment(model, options)


def _files(n):
    return [f"{i:04d}.png" for i in range(n)]  # ASCII names whatever the photos'


def _attempt(pycolmap, tmp, db, n, reporter, sequential, matcher, again, side=()):
    """Matching and mapping of the ``n`` views' features in the database ``db`` (working
    folder ``tmp``): COLMAP's largest model (a pycolmap.Reconstruction, kept in memory),
    or None.  The threads ``side`` not yet started start with the mapping: it runs on one
    core (measured on the benchmark's box: 8.0 s, the process's CPU time the same) and
    lets go of the GIL."""
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
    # the global adjustments skip points that add no coverage (the last one, refine, uses
    # all): the box's mapping 13.6 s -> 7.5 s; the cameras as precise (four sets, after
    # refine: the centres' median error 0.05-0.49% of the diagonal, against 0.05-0.60%)
    options.mapper.ba_global_ignore_redundant_points3D = True
    # ... more of them (a point's coverage gain 0.05 -> 0.2), and each adjustment once, not
    # again while the cameras still move (local 2 -> 1, global 5 -> 1 times): the mapping
    # of the same matches (two runs each, after refine) box 11.9-13.4 s -> 7.5-7.6 s,
    # torus 4.2-4.5 -> 3.1-4.2 s, mug 2.7-2.8 -> 2.0 s; the centres' median error the same
    # (box 0.12 -> 0.11 %, torus 0.042 -> 0.041 %, mug 0.158 -> 0.154 % of the diagonal)
    options.mapper.ba_global_prune_points_min_coverage_gain = 0.2
    options.ba_local_max_refinements = 1
    options.ba_global_max_refinements = 1
    count = [0]

    def next_image():
        count[0] += 1
        reporter.update(min(count[0], n) / n,
                        f"Recovering the cameras ({min(count[0], n)}/{n}){again}")

    for thread in side:
        if thread.ident is None:
            thread.start()
    # (the images' folder is read only for the points' colours, not extracted)
    models = pycolmap.incremental_mapping(db, tmp, os.path.join(tmp, "sparse"),
                                          options=options, next_image_callback=next_image)
    if not models:
        return None
    return max(models.values(), key=lambda r: r.num_reg_images())
