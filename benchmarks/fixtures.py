"""Small inputs the benchmarks share with the tests (``tests/blender/helpers.py`` imports
them from here): a real photo and a colored grid mesh.

numpy only (and the standard library): it is imported by Blender's bpy Python too, which
has neither Pillow nor scikit-image.
"""

import glob
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def photo(name="coffee.png"):
    """A real photo shipped by scikit-image in the pipeline's venv (``.venv``)."""
    found = glob.glob(os.path.join(REPO, ".venv", "lib", "python3*", "site-packages",
                                   "skimage", "data", name))
    assert found, f"{name} not found: install the pipeline venv (.venv) first"
    return found[0]


def grid_mesh(n):
    """An n x n vertex grid: (n-1)^2 * 2 triangles, colors from the position."""
    ys, xs = np.mgrid[0:n, 0:n]
    verts = np.column_stack([xs.ravel() / n, np.zeros(n * n), ys.ravel() / n]).astype(np.float32)
    colors = np.column_stack([xs.ravel() * 255 // (n - 1), ys.ravel() * 255 // (n - 1),
                              np.full(n * n, 77)]).astype(np.uint8)
    i = (ys[:-1, :-1] * n + xs[:-1, :-1]).ravel()
    tris = np.concatenate([np.column_stack([i, i + 1, i + n + 1]),
                           np.column_stack([i, i + n + 1, i + n])])
    return verts, colors, tris.astype(np.int32)
