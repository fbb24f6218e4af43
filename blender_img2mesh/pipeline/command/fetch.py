"""``img2mesh --download NAME``: put a model into the models folder ahead of use (the
add-on's Download button), with progress events, and nothing else.

NAME is a background-removal model (rembg's names: ``u2netp``, ``u2net``, ...), a
text-to-image model (``sd-turbo``, ``sdxl-turbo``) or a depth model (an alias such as
``depth-anything-v2-small`` or ``glpn-nyu``, or a hub id ``org/name``; its ready ONNX
repository's network when it has one, as a job would take it).  A model already
there (models folder, Hugging Face cache, the package's bundled ``models/``) is reported
at once; otherwise it is downloaded only when downloads are allowed, else a clear error.
"""

import os

from .. import models
from ..mask import segment


def kind_of(name):
    """``segmenter``, ``t2i`` or ``depth``: where NAME is looked for."""
    if name in segment.REMBG_MODELS:
        return "segmenter"
    if name in models.T2I_MODELS:
        return "t2i"
    return "depth"


def fetch(args, reporter):
    """Resolve (and when needed download) ``args.download``; returns the result dict."""
    name = args.download
    models_dir = models.models_folder(args.models_dir)
    allow = models.downloads_allowed(args.offline)
    kind = kind_of(name)
    reporter.stage("model", f"Getting {name}")

    def progress(fraction, message):
        reporter.update(fraction, message)

    hub_id = None
    if kind == "segmenter":
        if allow:
            os.makedirs(models_dir, exist_ok=True)
        segment.rembg_session(name, models_dir, allow)  # downloads into models_dir
        path = os.path.join(os.environ["U2NET_HOME"], f"{name}.onnx")
    elif kind == "t2i":
        from ..source.text2image import resolve_t2i_model

        path, hub_id = resolve_t2i_model(name, models_dir, allow, progress)
    else:
        from ..depth import onnx_repo

        path, hub_id, _ = onnx_repo.locate(name, models_dir, allow, progress,
                                           args.depth_backend, args.depth_variant)
    reporter.close_stage()
    result = {"download": name, "kind": kind, "path": path, "hub_id": hub_id,
              "models_dir": models_dir}
    reporter.result(result)
    return result
