"""A PNG picture of the mesh: two views, front and three-quarter, of the Blender-frame
mesh (Z up, front facing -Y), ray cast (:mod:`render`) with the texture at full
resolution (or the vertex colours) and a soft key light, laid out with matplotlib (Agg:
no display needed).
"""

import numpy as np

VIEWS = ((0, 0, "front"), (-40, 15, "three-quarter"))
HEIGHT_PX = 360


def _rotation(yaw_deg, pitch_deg):
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    rz = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rx @ rz


def render_preview(path, vertices, triangles, colors=None, title="", uv=None, image=None):
    """Write a PNG of the (Blender-frame) mesh to ``path``: textured when ``uv`` and
    ``image`` are given, else vertex-coloured."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    from .render import orthographic

    fig = Figure(figsize=(8, 4.2), dpi=100)
    fig.patch.set_facecolor("#3a3a3a")
    for i, (yaw, pitch, name) in enumerate(VIEWS):
        picture = orthographic(vertices, triangles, _rotation(yaw, pitch), HEIGHT_PX, uv=uv,
                               image=image, colors=colors)
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(picture, interpolation="antialiased")
        ax.set_title(name, fontsize=9, color="white")
        ax.axis("off")
    if title:
        fig.suptitle(title, color="white", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, format="png", facecolor=fig.get_facecolor())
