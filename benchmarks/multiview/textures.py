"""Texture images for the multi-view ground truth (``benchmarks/multiview/scenes.py``).

    .venv/bin/python -m benchmarks.multiview.textures OUT_FOLDER

Runs with the pipeline's venv (scikit-image); Blender's bpy Python has neither
scikit-image nor Pillow, so the scene maker calls this once and loads the PNGs.

Each texture is a photo shipped with scikit-image (no download), resized to 1024 x 1024,
multiplied by a multi-octave colour noise (so that no two places of a repeated or
mirrored photo look alike: SIFT finds distinct features everywhere) and given a faint
grid of thin lines.  Deterministic (fixed seeds).  Writes ``<name>.png`` for each name
in :data:`TEXTURES`.
"""

import os
import sys

import numpy as np

SIZE = 1024
# texture name -> the scikit-image photo it starts from
TEXTURES = {"astronaut": "astronaut", "coffee": "coffee", "chelsea": "chelsea",
            "rocket": "rocket", "hubble": "hubble_deep_field"}


def colour_noise(size, seed, octaves=5):
    """HxWx3 float in [0.55, 1.0]: a sum of bilinearly upsampled random grids (value
    noise), one independent field per channel."""
    from skimage.transform import resize

    rng = np.random.default_rng(seed)
    out = np.zeros((size, size, 3))
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = 4 * 2 ** o
        grid = rng.random((cells, cells, 3))
        out += amp * resize(grid, (size, size, 3), order=1, mode="reflect")
        total += amp
        amp *= 0.6
    out /= total
    out = (out - out.min()) / max(out.max() - out.min(), 1e-9)
    return 0.55 + 0.45 * out


def make_texture(photo_name, seed, size=SIZE):
    """uint8 size x size x 3: the photo times colour noise, with a faint 16-cell grid."""
    from skimage import data
    from skimage.color import gray2rgb
    from skimage.transform import resize

    img = getattr(data, photo_name)()
    if img.ndim == 2:
        img = gray2rgb(img)
    img = resize(img[..., :3], (size, size), anti_aliasing=True)
    img = img * colour_noise(size, seed)
    step = size // 16
    img[::step, :, :] *= 0.6
    img[:, ::step, :] *= 0.6
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def write_all(folder):
    """Writes every texture of :data:`TEXTURES` into ``folder``; returns the paths."""
    from skimage.io import imsave

    os.makedirs(folder, exist_ok=True)
    paths = []
    for k, (name, photo) in enumerate(TEXTURES.items()):
        path = os.path.join(folder, name + ".png")
        imsave(path, make_texture(photo, seed=100 + k), check_contrast=False)
        paths.append(path)
    return paths


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    usage = "usage: python -m benchmarks.multiview.textures OUT_FOLDER"
    if argv[:1] in (["-h"], ["--help"]):
        print(usage)
        return 0
    if len(argv) != 1 or argv[0].startswith("-"):
        print(usage, file=sys.stderr)
        return 2
    for path in write_all(argv[0]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
