"""Who owns a file name: the results already in a folder.

A result is a mesh and the files its sidecar (``NAME.json`` beside the mesh) lists under
``outputs`` -- texture, ``.mtl``, the sidecar itself, the preview, a generated picture --
with ``sizes``, the size of each (all but the sidecar).  The naming rule built on it
(:class:`result_files.Result`):

* a result *owns* the names its sidecar lists; the result that writes a mesh name owns
  what the previous result of that mesh name owned: an overwrite replaces it whole (the
  old files it does not write again are removed at the commit);
* a name that a *different* existing result owns is refused before anything is written
  (a result whose mesh is gone no longer owns anything);
* a result is *complete* when its sidecar lists the mesh and every listed file is there
  with its recorded size (:func:`complete`).

Sidecars are read bounded (:mod:`bounded_json`); one that is not ours, too large or
damaged owns nothing.  A folder's sidecars are parsed once per process and again only
when they change (modification time, size, inode), so a batch of many photos into one
folder does not read every sidecar for every photo.
"""

import os
import threading

from .. import bounded_json

_parsed = {}  # sidecar path -> ((mtime_ns, size, inode), data or None)
_lock = threading.Lock()


def key(path):
    """What decides that two names are one file: the real path, case-folded where the
    file system folds case."""
    return os.path.normcase(os.path.realpath(path))


def _relocated(data, folder):
    """Outputs recorded beside the mesh are taken as beside the sidecar now (a folder
    moved or copied as a whole keeps its results)."""
    old = os.path.dirname(data["mesh"])
    if os.path.normcase(old) == os.path.normcase(folder):
        return data

    def move(p):
        return os.path.join(folder, os.path.basename(p)) if os.path.dirname(p) == old else p

    sizes = data["sizes"]
    return {**data, "mesh": move(data["mesh"]), "outputs": [move(p) for p in data["outputs"]],
            "sizes": {move(p): s for p, s in sizes.items()}}


def read_sidecar(path):
    """The sidecar ``path`` as a dict when it is one of ours (an object with
    ``img2mesh_version``, ``mesh`` and ``outputs``), paths relocated to its folder;
    else None (not ours, unreadable, damaged, too large or too deep)."""
    try:
        data = bounded_json.read(path)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or "img2mesh_version" not in data or \
            not isinstance(data.get("mesh"), str) or \
            not isinstance(data.get("outputs"), list) or \
            not all(isinstance(p, str) for p in data["outputs"]):
        return None
    sizes = data.get("sizes")
    data["sizes"] = {p: s for p, s in sizes.items() if isinstance(s, int)} \
        if isinstance(sizes, dict) else {}
    return _relocated(data, os.path.dirname(os.path.abspath(path)))


def sidecars(folder):
    """``{sidecar path: data}`` of the results in ``folder`` (see the module doc)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return {}
    found = {}
    for entry in entries:
        if not entry.name.endswith(".json") or entry.name.startswith("."):
            continue
        try:
            st = entry.stat()
        except OSError:
            continue
        if not entry.is_file() or st.st_size > bounded_json.LIMIT:
            continue
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        with _lock:
            cached = _parsed.get(entry.path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, read_sidecar(entry.path))
            with _lock:
                _parsed[entry.path] = cached
        if cached[1] is not None:
            found[entry.path] = cached[1]
    return found


class Index:
    """The names owned in some folders: ``owner(path)`` -> the data of the result (with
    an existing mesh) that lists ``path``, or None."""

    def __init__(self):
        self.folders, self.names = set(), {}

    def owner(self, path):
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in self.folders:
            self.folders.add(folder)
            for data in sidecars(folder).values():
                if not os.path.isfile(data["mesh"]):
                    continue  # its mesh is gone: the rest is an orphan, free to take
                for name in data["outputs"]:
                    self.names.setdefault(key(name), data)
        return self.names.get(key(path))


def describe(data, n=4):
    """The files of a result, for a message: ``a.ply, a_texture.jpg, a.json``."""
    names = [os.path.basename(p) for p in data["outputs"]]
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "")


def leftovers(previous, planned, inputs, index):
    """The files of ``previous`` (the data of the result being replaced) to remove once
    the new result is in place: those it listed that the new one does not write, that
    are still what it wrote (recorded size; without sizes, named after its mesh and
    beside it), that are no input and that no other result lists."""
    planned = {key(p) for p in planned}
    inputs = {key(p) for p in inputs}
    mesh_key = key(previous["mesh"])
    folder, stem = os.path.split(os.path.splitext(previous["mesh"])[0])
    gone = []
    for path in previous["outputs"]:
        k = key(path)
        if k in planned or k in inputs:
            continue
        other = index.owner(path)
        if other is not None and key(other["mesh"]) != mesh_key:
            continue
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if not os.path.isfile(path):
            continue
        recorded = previous["sizes"].get(path)
        if recorded is not None:
            if recorded != st.st_size:
                continue
        elif os.path.dirname(path) != folder or not os.path.basename(path).startswith(stem):
            continue
        gone.append(path)
    return gone


def complete(data, path_of_sidecar):
    """Whether the result of ``data`` (its sidecar at ``path_of_sidecar``) is complete:
    its mesh listed, every listed file a regular file with its recorded size (every
    file but the sidecar must have one)."""
    if data is None or data["mesh"] not in data["outputs"]:
        return False
    side = key(path_of_sidecar)
    for path in data["outputs"]:
        if key(path) == side:
            continue
        size = data["sizes"].get(path)
        try:
            if size is None or not os.path.isfile(path) or os.path.getsize(path) != size:
                return False
        except OSError:
            return False
    return True
