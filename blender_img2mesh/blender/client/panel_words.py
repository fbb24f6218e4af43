"""The worker's messages in the panel's words (no bpy here).

The worker speaks command line: ``bad arguments: --target-faces must be a whole number
from 4 to 100000000 (triangles), got 2``.  The panel has no flags: each flag becomes the
label of the field that sets it (the numeric ones from :data:`catalog.RANGES`, so they
cannot drift from the panel), and phrases naming a library or a command-line way are
said as the panel would say them.
"""

import re

from ...pipeline import catalog

#: the panel's label of each option it sets without a numeric range
OTHER_LABELS = {
    "--mask": "Mask", "--depth-map": "Depth Map", "--depth-model": "Depth",
    "--segmenter": "Background Model", "--models-dir": "Models Folder",
    "--offline": "Offline", "--device": "Device", "--back": "Back", "--mesher": "Surface",
    "--frame": "Frame", "--prompt": "Prompt", "--negative-prompt": "Negative Prompt",
    "--t2i-model": "Image Model", "--keep-background": "Remove Background off",
}

#: (what the worker says, what the panel says), replaced before the flags
PHRASES = (
    ("bad arguments: ", ""),
    ("is not an image file Pillow can read", "is not an image file that can be read"),
    ("drop --offline", "turn Offline off"),
    ("--depth-model inflate", "Depth: Inflate"),
    ("--mask FILE", "a Mask"),
    ("use --keep-background", "turn Remove Background off"),
    ("run with --verbose for details", "the system console has the details"),
)

_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def option_labels():
    """Flag -> the panel's label: every labelled :data:`catalog.RANGES` entry, then
    :data:`OTHER_LABELS`."""
    labels = {r.option: r.label for r in catalog.RANGES.values() if r.label}
    labels.update(OTHER_LABELS)
    return labels


def in_panel_words(text):
    """``text`` (a worker's error or warning) with no command-line flag and no library
    name the panel does not show: flags become the panel's labels (a flag the panel has
    no field for: its words, ``--depth-backend`` -> ``depth backend``)."""
    text = str(text)
    for old, new in PHRASES:
        text = text.replace(old, new)
    labels = option_labels()
    return _FLAG.sub(lambda m: labels.get(m.group(0), m.group(0)[2:].replace("-", " ")),
                     text)


def is_depth_fallback(warning):
    """Whether ``warning`` is the worker's "depth model ... is not available ...; used
    silhouette inflation instead" (the panel's depth line says that already)."""
    text = str(warning)
    return text.startswith("depth model ") and "used silhouette inflation instead" in text
