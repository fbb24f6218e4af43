"""On a process's PYTHONPATH (tests/blender/test_py313.py puts this folder on Blender's, which
the add-on passes on to its worker): when the add-on's worker (``python -m
blender_img2mesh.pipeline.worker``) exits, it writes ``$IMG2MESH_PROBE_DIR/worker-<pid>.json``:
which of torch, transformers and diffusers it imported (``imported``) and tried to import
(``tried``), and whether it loaded onnxruntime.  Other processes write nothing."""

import atexit
import json
import os
import sys

WATCH = ("torch", "transformers", "diffusers")
_tried = set()


class _Watch:
    """A finder that only notes the watched names and lets the others find them."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in WATCH:
            _tried.add(name)
        return None


sys.meta_path.insert(0, _Watch())


def _write():
    argv0 = sys.argv[0] if sys.argv else ""
    folder = os.environ.get("IMG2MESH_PROBE_DIR")
    if not folder or not argv0.endswith(os.path.join("pipeline", "worker.py")):
        return
    data = {"imported": sorted(m for m in sys.modules if m.split(".")[0] in WATCH),
            "tried": sorted(_tried), "onnxruntime": "onnxruntime" in sys.modules,
            "argv0": argv0}
    with open(os.path.join(folder, f"worker-{os.getpid()}.json"), "w") as fh:
        json.dump(data, fh)


atexit.register(_write)
