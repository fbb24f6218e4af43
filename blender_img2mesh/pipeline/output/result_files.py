"""One result, written as a whole.

Every file of a run -- the mesh, its texture and material, the sidecar, the preview, the
picture generated from a prompt -- is written under a hidden temporary name in its own
destination folder, and renamed into place only when all of them are complete:

* a failure or an interrupt before the commit removes the temporary files: nothing at
  the destination changes;
* the commit renames the files in one short step with SIGINT/SIGTERM/SIGHUP held back
  until it is over; should a rename fail midway, the files it already replaced are put
  back (from hard links made before), so the previous result stays whole;
* commits into one folder are serialised by an advisory lock on the folder, so of two
  runs writing the same result the last complete one wins as a whole;
* inputs are never outputs: real paths are compared (symlinks resolved, the same file
  under another case or another hard link found by ``os.path.samefile``);
* temporary names are ``.NAME.img2mesh-HOST-PID-XXXX.partial``: what a run killed with
  SIGKILL leaves behind is removed by the next run into the same folder once that
  process is gone;
* one owner per name (:mod:`.owners`): a name that another existing result lists in its
  sidecar is refused before anything is written; the previous result of the same mesh
  name is replaced whole (its files that this result does not write again are removed
  at the commit);
* every file is flushed to the disk (fsync) before the rename that publishes it, and the
  folder after the renames;
* an error while writing (disk full, read-only file system, permission refused) is an
  :class:`Img2MeshError` naming the output and what to do, not an internal error.
"""

import contextlib
import errno
import os
import secrets

from ..catalog import control_character
from ..errors import Img2MeshError
from . import owners
from .disk import HOST, clean_stale, dead_names, folder_lock, fsync, pid_alive, signals_held

__all__ = ["Result", "check_output", "clean_stale", "dead_names", "pid_alive", "write_error"]

_TAG = f".img2mesh-{HOST}-{os.getpid()}-"

_HINTS = {
    errno.ENOSPC: "the disk is full: free some space or choose another folder",
    errno.EDQUOT: "the disk quota is used up: free some space or choose another folder",
    errno.EROFS: "the file system is read-only: choose another folder",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "permission denied: choose a folder you can write to",
    errno.EISDIR: "a folder has that name: choose another output name",
    errno.ENAMETOOLONG: "the name is too long: choose a shorter output name",
}


def write_error(path, exc, what="output"):
    """The :class:`Img2MeshError` for an ``OSError`` met while writing ``path``."""
    reason = exc.strerror or str(exc)
    hint = _HINTS.get(exc.errno, "check free disk space and permissions")
    return Img2MeshError(f"cannot write the {what} {path}: {reason}", file=path, hint=hint,
                         kind="output")


def _same_file(a, b):
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def check_output(path, formats, what="output"):
    """``path`` made absolute, or an error (before any heavy work) when it cannot be
    written: wrong extension, missing or read-only folder, a folder by that name."""
    path = os.path.abspath(os.fspath(path))
    ext = os.path.splitext(path)[1].lower()
    if ext not in formats:
        stem = os.path.splitext(os.path.basename(path))[0]
        raise Img2MeshError(f"{what} must end in {', '.join(formats)}: {path}", file=path,
                            hint=f"e.g. {stem}{formats[0]}", kind="output")
    bad = control_character(os.path.basename(path))
    if bad:
        raise Img2MeshError(f"{what} name holds a control character ({bad}): {path!r}",
                            file=path, hint="choose a name without line breaks, tabs or other "
                            "control characters (the mesh names its texture and material "
                            "inside its header)", kind="output")
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise Img2MeshError(f"{what} folder does not exist: {folder}", file=path,
                            hint="create it first or choose another path", kind="output")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Img2MeshError(f"{what} folder is not writable: {folder}", file=path,
                            hint="choose a folder you can write to", kind="output")
    if os.path.isdir(path):
        raise Img2MeshError(f"{what} is a folder: {path}", file=path,
                            hint="give a file name", kind="output")
    return path


class Result:
    """The files of one result.  ``plan`` each final path first (cheap checks, before
    the work), ``write`` each, then ``commit``; leaving the ``with`` block without a
    commit (an error, an interrupt) removes every temporary file.  ``owner``: the mesh
    path naming this result (the previous result of that name is replaced whole; see
    :mod:`.owners`)."""

    def __init__(self, inputs=(), owner=None):
        self.inputs = [os.path.abspath(p) for p in inputs if p]
        self.owner = owners.key(owner) if owner else None
        self.planned = {}  # final path -> what it is
        self.temps = {}  # final path -> temporary path (written)
        self.committed = False
        self.removed = []  # files of the previous result removed by the commit
        self._cleaned = set()
        self._index = owners.Index()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.committed:
            self.discard()
        return False

    def plan(self, path, what):
        """Reserve ``path`` (absolute) for ``what``; errors for a clash with an input or
        with another output of this result."""
        path = os.path.abspath(path)
        for other, other_what in self.planned.items():
            if _same_file(other, path):
                raise Img2MeshError(f"the {what} and the {other_what} would be the same file: "
                                    f"{path}", file=path, hint="choose other output names",
                                    kind="output")
        for source in self.inputs:
            if _same_file(source, path):
                raise Img2MeshError(f"the {what} would overwrite an input file: {path}",
                                    file=path, hint="choose another output name (inputs are "
                                    "never overwritten)", kind="output")
        if os.path.isdir(path):
            raise Img2MeshError(f"the {what} would replace a folder: {path}", file=path,
                                hint="move the folder or choose another output name",
                                kind="output")
        other = self._index.owner(path)
        if other is not None and owners.key(other["mesh"]) != self.owner:
            raise Img2MeshError(
                f"the {what} {path} belongs to another result, {other['mesh']}: nothing was "
                "written", file=path, hint=f"choose another output name, or delete that "
                f"result first ({owners.describe(other)})", kind="output")
        folder = os.path.dirname(path)
        if folder not in self._cleaned:
            self._cleaned.add(folder)
            clean_stale(folder)
        self.planned[path] = what
        return path

    def previous(self):
        """The sidecar data of the result this one replaces (same mesh name), or None."""
        if self.owner is None:
            return None
        found = [d for d in owners.sidecars(os.path.dirname(self.owner)).values()
                 if owners.key(d["mesh"]) == self.owner]
        return found[0] if found else None

    def sizes(self):
        """``{final path: bytes}`` of the files written so far (for the sidecar)."""
        return {p: os.path.getsize(t) for p, t in self.temps.items()}

    def temp_path(self, path):
        """A new hidden temporary name beside planned ``path`` (the file is created)."""
        path = os.path.abspath(path)
        if path not in self.planned:
            raise ValueError(f"not planned: {path}")
        folder, name = os.path.split(path)
        # (the name shortened: a final name near the file system's limit still has room)
        tmp = os.path.join(folder, f".{name[:100]}{_TAG}{secrets.token_hex(4)}.partial")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except OSError as exc:
            raise write_error(path, exc, self.planned[path]) from None
        self.temps[path] = tmp
        return tmp

    def write(self, path, writer):
        """``writer(temporary_path)`` writes the file for ``path``; an ``OSError`` becomes
        an :class:`Img2MeshError` naming ``path``."""
        tmp = self.temp_path(path)
        try:
            writer(tmp)
            fsync(tmp)
            if hasattr(os, "umask"):  # the file mode a plain open() would give
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
        except OSError as exc:
            raise write_error(path, exc, self.planned[path]) from None
        return path

    def discard(self):
        for tmp in self.temps.values():
            with contextlib.suppress(OSError):
                os.remove(tmp)
        self.temps.clear()

    def commit(self):
        """Rename every written file into place, all or none."""
        folders = sorted({os.path.dirname(p) for p in self.temps})
        with signals_held(), contextlib.ExitStack() as stack:
            for folder in folders:
                stack.enter_context(folder_lock(folder))
            previous = self.previous()
            backups, done, current = {}, [], None
            try:
                for final in self.temps:
                    if os.path.lexists(final):
                        backup = f"{self.temps[final][:-len('.partial')]}.old"
                        try:
                            os.link(final, backup)
                            backups[final] = backup
                        except OSError:  # no hard links here: replace without a backup
                            pass
                for current, tmp in self.temps.items():
                    os.replace(tmp, current)
                    done.append(current)
            except OSError as exc:
                for final in done:  # put back what was there
                    with contextlib.suppress(OSError):
                        if final in backups:
                            os.replace(backups.pop(final), final)
                        else:
                            os.remove(final)
                current = current or next(iter(self.temps))
                raise write_error(current, exc, self.planned[current]) from None
            finally:
                for backup in backups.values():
                    with contextlib.suppress(OSError):
                        os.remove(backup)
                self.discard()
            if previous is not None:  # the old result's files not written again
                for path in owners.leftovers(previous, done, self.inputs, owners.Index()):
                    with contextlib.suppress(OSError):
                        os.remove(path)
                        self.removed.append(path)
            for folder in folders:
                fsync(folder, directory=True)
            self.committed = True
        return done
