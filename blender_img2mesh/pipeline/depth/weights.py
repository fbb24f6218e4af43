"""Loading a transformers depth model's weights fast.

``from_pretrained`` in transformers 5 runs every checkpoint key through its weight
conversion machinery (rename and merge rules compiled as regular expressions, more
patterns than Python's ``re`` cache holds): for the 61 M-parameter GLPN-NYU that is
0.25-0.45 s of a 0.8 s forward pass on 2 CPU cores.  When a folder holds one
``model.safetensors`` of float32 weights whose names map one to one onto the model's
(as they are, or through transformers' own renaming rules for that model, e.g. Depth
Anything's older attention names), nothing needs converting, so :func:`load_exact` builds
the model on the meta device (no random initialisation) and assigns the file's tensors to
it (~0.08 s).  Anything else (sharded files, merged or split weights, tied or missing
weights, buffers the file does not hold, another dtype, a transformers without those
rules) returns None and the caller uses ``from_pretrained``, which handles all of those.
"""

import os

WEIGHTS = "model.safetensors"


def load_exact(folder, auto_class):
    """The model in ``folder`` with its weights, or None when it needs ``from_pretrained``.

    ``auto_class`` is e.g. ``AutoModelForDepthEstimation``.  Only ``use_safetensors``
    files are read (never pickles); the model is returned in eval mode on the CPU."""
    import torch
    from safetensors.torch import load_file
    from transformers import AutoConfig

    path = os.path.join(folder, WEIGHTS)
    if not os.path.isfile(path) or \
            os.path.isfile(os.path.join(folder, WEIGHTS + ".index.json")):
        return None
    config = AutoConfig.from_pretrained(folder, trust_remote_code=False)
    if getattr(config, "quantization_config", None):
        return None
    with torch.device("meta"):
        model = auto_class.from_config(config, trust_remote_code=False)
    state = _renamed(model, load_file(path))
    if state is None or set(state) != set(model.state_dict()) or \
            any(t.is_floating_point() and t.dtype != torch.float32 for t in state.values()):
        return None  # missing, extra or converted weights; another dtype
    model.load_state_dict(state, strict=True, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        return None  # a buffer the file does not hold (computed at init)
    return model.eval()


def _renamed(model, state):
    """``state`` with its keys renamed the way ``from_pretrained`` renames them, or None
    when a key needs more than a new name (or transformers' renaming is not there)."""
    try:
        from transformers.conversion_mapping import get_model_conversion_mapping
        from transformers.core_model_loading import (
            WeightConverter,
            WeightRenaming,
            rename_source_key,
        )
    except ImportError:
        return None
    rules = get_model_conversion_mapping(model)
    renamings = [r for r in rules if isinstance(r, WeightRenaming)]
    converters = [r for r in rules if isinstance(r, WeightConverter)]
    expected = model.state_dict()
    out = {}
    for key, tensor in state.items():
        new, converted = rename_source_key(key, renamings, converters,
                                           model.base_model_prefix, expected)
        if converted is not None or new in out:
            return None
        out[new] = tensor
    return out
