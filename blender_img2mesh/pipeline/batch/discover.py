"""The photos of a batch's inputs (files, folders, globs), and what discovery passes over.

A file named on the command line is taken as it is (a missing or unreadable one fails as
that photo).  Files *found* in a folder or by a glob are photos unless they are results'
files -- so a batch into its own input folder, run again, settles instead of taking its
own textures for photos:

* every file a sidecar lists (``outputs``) in that folder or in the batch's output
  folders;
* a file named like a companion of a mesh beside it: ``NAME_texture.jpg|png``,
  ``NAME_preview.png``, ``NAME_image.png`` where ``NAME.ply|obj|glb`` is there.

:func:`expand` returns the photos and how many image files it passed over, which the
batch's summary reports.
"""

import glob
import os
import re

from ..catalog import MESH_FORMATS, PHOTO_EXTENSIONS
from ..errors import Img2MeshError
from ..output import owners

_COMPANION = re.compile(r"^(?P<stem>.+)_(texture\.(jpg|png)|preview\.png|image\.png)$",
                        re.IGNORECASE)


def _is_glob(text):
    return any(c in text for c in "*?[")


class _Results:
    """The names results own or would have as companions, folder by folder."""

    def __init__(self, output_folders):
        self.listed, self.meshes, self.seen = set(), {}, set()
        for folder in output_folders:
            self._read(folder)

    def _read(self, folder):
        folder = os.path.abspath(folder)
        if folder in self.seen:
            return
        self.seen.add(folder)
        for data in owners.sidecars(folder).values():
            self.listed.update(owners.key(p) for p in data["outputs"])
        try:
            names = os.listdir(folder)
        except OSError:
            names = []
        self.meshes[folder] = {os.path.splitext(n)[0].lower() for n in names
                               if n.lower().endswith(MESH_FORMATS)}

    def owned(self, path):
        """Whether ``path`` is a result's file (see the module doc)."""
        folder = os.path.dirname(os.path.abspath(path))
        self._read(folder)
        if owners.key(path) in self.listed:
            return True
        m = _COMPANION.match(os.path.basename(path))
        return bool(m) and m["stem"].lower() in self.meshes[folder]


def expand(inputs, recursive=False, output_folders=()):
    """``(photos, passed over)``: the photos of ``inputs`` in order, each once, and the
    number of image files found that are results' files (see the module doc)."""
    photos, seen, results, passed = [], set(), _Results(output_folders), 0
    for item in inputs:
        if os.path.isdir(item):
            pattern = os.path.join(glob.escape(item), "**" if recursive else "", "*")
            found = [f for f in sorted(glob.glob(pattern, recursive=recursive))
                     if os.path.isfile(f) and f.lower().endswith(PHOTO_EXTENSIONS)]
            if not found:
                raise Img2MeshError(f"no photos in the folder {item}", file=item,
                                    hint="image files: " + ", ".join(PHOTO_EXTENSIONS) +
                                    ("" if recursive else "; --recursive for subfolders"))
        elif _is_glob(item) and not os.path.exists(item):
            found = [f for f in sorted(glob.glob(os.path.expanduser(item), recursive=True))
                     if os.path.isfile(f)]
            if not found:
                raise Img2MeshError(f"no files match {item}", file=item,
                                    hint="check the pattern (quote it so the shell passes it "
                                    "on)")
        else:
            found = [item]  # named: taken as it is
        if found != [item]:
            kept = [f for f in found if not results.owned(f)]
            passed += len(found) - len(kept)
            found = kept
        for f in found:
            key = os.path.realpath(f)
            if key not in seen:
                seen.add(key)
                photos.append(os.path.abspath(f))
    return photos, passed
