"""The add-on's optional part: PyTorch, transformers, diffusers and the multi-view part
(pycolmap, xatlas), installed on request with
pip from Blender's own Python into the add-on's folder (``optional/site-packages``), as
add-ons with heavy dependencies do.  No bpy here.

The light zips carry no PyTorch: depth runs from ONNX files.  PyTorch is needed for the text
prompt (diffusers), for a depth model with no ONNX file (the local export) and, with
pycolmap and xatlas, for the Views source (one object from several photos).  The install
runs in a child process (never blocking Blender), into ``<folder>.partial`` renamed into
place when pip succeeds: a cancelled or failed install leaves nothing behind.  Blender's own
numpy is kept (pinned for pip, and pip's copy removed), the folder goes on the worker's
PYTHONPATH only (``interpreter.child_env``).
"""

import os
import re
import shutil
import queue
import subprocess
import sys
import threading

from . import vendor

#: pinned as in requirements.txt (the command line's full install)
PACKAGES = ("torch==2.13.0", "transformers==5.24.0", "diffusers==0.42.1",
            "safetensors==0.8.0", "onnx==1.23.2",
            # the multi-view part (Views): COLMAP's cameras and xatlas's texture atlas
            "pycolmap==3.13.0", "xatlas==0.0.11")
#: PyPI's Linux torch is the multi-GB CUDA build: the CPU one comes from PyTorch's index
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: what the preferences say before the install (measured from the Linux x64 CPU wheels for
#: Python 3.11: 239 MB of wheels, 882 MB unpacked; pycolmap and xatlas add 20.6 MB of
#: wheels, 56 MB unpacked -- 15-19 MB of wheels on Windows and macOS)
SIZE_NOTE = "About 260 MB download, 0.95 GB on disk"
#: pip's lines that move the progress: (pattern, fraction reached)
_STEPS = ((re.compile(r"^Collecting (\S+)"), 0.05), (re.compile(r"^\s*Downloading (\S+)"), 0.1),
          (re.compile(r"^Installing collected packages"), 0.8),
          (re.compile(r"^Successfully installed"), 1.0))


def target_dir():
    return os.path.join(vendor.PACKAGE_DIR, "optional", "site-packages")


def installed(target=None):
    """PyTorch is in the add-on's optional folder."""
    return os.path.isdir(os.path.join(target or target_dir(), "torch"))


def pip_command(python, target, numpy_version, platform=sys.platform):
    """pip's argv installing :data:`PACKAGES` into ``target`` for ``python``."""
    cmd = [python, "-m", "pip", "install", "--target", target, "--only-binary=:all:",
           "--no-input", "--disable-pip-version-check", "--progress-bar", "off",
           *PACKAGES, f"numpy=={numpy_version}"]
    if platform.startswith("linux"):
        cmd += ["--extra-index-url", CPU_INDEX]
    return cmd


class Install:
    """One install in a child pip; :meth:`poll` reads its output (non-blocking), ``fraction``
    and ``line`` say where it is, ``done``/``ok``/``error`` how it ended."""

    def __init__(self, python, numpy_version, target=None):
        self.target = target or target_dir()
        self.partial = self.target + ".partial"
        shutil.rmtree(self.partial, ignore_errors=True)
        os.makedirs(os.path.dirname(self.target), exist_ok=True)
        self.fraction, self.line, self.done, self.ok, self.error = 0.0, "starting pip", False, \
            False, None
        self._downloads, self._ended = 0, False
        self._tail = []
        self.proc = subprocess.Popen(
            pip_command(python, self.partial, numpy_version), stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, bufsize=1,
            env=dict(os.environ, PYTHONNOUSERSITE="1"))
        self._lines = queue.Queue()  # a thread reads pip's output (pipes never block Blender)
        threading.Thread(target=self._pump, daemon=True, name="img2mesh-pip").start()

    def _pump(self):
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _drain(self):
        """Lines read so far; True once pip's output has ended."""
        ended, lines = False, []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                ended = True
            else:
                lines.append(line)
        self._read("".join(lines))
        return ended

    def _read(self, text):
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            self._tail = (self._tail + [line])[-5:]
            for pattern, reached in _STEPS:
                if pattern.search(line):
                    if "Downloading" in pattern.pattern:
                        self._downloads += 1  # 10% .. 75% over the downloads
                        reached = min(0.75, 0.1 + 0.05 * self._downloads)
                    self.fraction = max(self.fraction, reached)
                    self.line = line[:90]

    def poll(self):
        """Read what pip said; finish (rename into place) when it has ended."""
        if self.done:
            return
        self._ended = self._drain() or self._ended
        if not self._ended or self.proc.poll() is None:
            return
        self.proc.wait()
        if self.proc.returncode == 0:
            for name in os.listdir(self.partial):  # Blender's own numpy stays the one used
                if name == "numpy" or name.startswith(("numpy-", "numpy.libs")):
                    shutil.rmtree(os.path.join(self.partial, name), ignore_errors=True)
            if os.path.isdir(self.target):
                shutil.rmtree(self.target)
            os.replace(self.partial, self.target)
            self.ok, self.fraction, self.line = True, 1.0, "installed"
        else:
            shutil.rmtree(self.partial, ignore_errors=True)
            last = [l for l in self._tail if l.startswith("ERROR")] or self._tail[-1:]
            self.error = (f"pip failed (exit code {self.proc.returncode}): "
                          + (last[-1] if last else "no output"))
        self.done = True

    def cancel(self):
        """Stop pip and remove what it wrote."""
        if not self.done:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.partial, ignore_errors=True)
            self.done, self.error = True, "cancelled"
