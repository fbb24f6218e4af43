"""The files the ONNX depth backend keeps beside an exported network, and their clean-up.

* ``<stem>.onnx`` -- the exported network (:mod:`.onnx_export`), ``<stem>.onnx.failed``
  when the export did not work;
* ``<stem>.ort<version>-cpu.onnx`` -- the same network after onnxruntime's graph
  optimisations (fusions, constant folding; level *extended*, which does not depend on
  the processor), saved by the first session so that later sessions skip that work (it
  took 0.5-1 s of each run's start with full-size networks).  onnxruntime's own offline
  mode: ``SessionOptions.optimized_model_filepath``.  Kept for the CPU provider only
  (the optimised graph is specific to the execution provider) and per onnxruntime
  version; sessions still run the hardware-specific *all*-level passes when they load it;
* ``<stem>.source`` -- in ``<models>/onnx/`` (networks of models given by path), the
  model folder the network was made from;
* ``<stem>.onnx.sha256`` -- the exported network's size and SHA-256 when it was written:
  :func:`damage` compares the size at every load and the hash whenever the optimised
  form is to be made (once per onnxruntime version, when that pass costs far more than
  the hash); a damaged network (cut short by a full disk, overwritten) is removed with
  its files by :func:`discard` and exported again once (:mod:`.estimate`).

:func:`prune` runs after a file is written: it removes the files of other versions of
the same model (another config, weights, opset, exporter or onnxruntime), those whose
model folder is gone, and temporary files of processes that died.
"""

import contextlib
import hashlib
import os
import re
import socket

from ..output import result_files as outputs

SOURCE = ".source"
RECORD = ".sha256"
_HOST = re.sub(r"[^A-Za-z0-9_]", "_", socket.gethostname())[:32] or "host"
# <base>.depth-<key>  +  .onnx | .onnx.failed | .onnx.sha256 | .ort<version>-<provider>.onnx
#                     | .source
_FILE = re.compile(r"^(?P<base>.+)\.depth-(?P<key>[0-9a-f]{16})"
                   r"(?P<kind>\.onnx|\.onnx\.failed|\.onnx\.sha256|"
                   r"\.ort(?P<ort>[^-]+)-[a-z]+\.onnx|\.source)$")
_TMP = re.compile(r"^.+\.(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)\.tmp$")


def tmp_name(path):
    """A temporary name beside ``path`` for this process (see :func:`prune`)."""
    return f"{path}.{_HOST}-{os.getpid()}.tmp"


def _ort_version():
    import onnxruntime

    return onnxruntime.__version__


def optimized_path(path):
    """Where the CPU-optimised form of the exported network ``path`` is kept."""
    return f"{path[:-len('.onnx')]}.ort{_ort_version()}-cpu.onnx"


def write_optimized(path):
    """Save onnxruntime's optimised form of ``path`` (see the module doc); returns its
    path, or None when it could not be made (sessions then load ``path`` itself)."""
    if not os.access(os.path.dirname(path) or ".", os.W_OK):
        return None  # a read-only models folder: not an optimisation pass per run for naught
    import onnxruntime as ort

    target = optimized_path(path)
    tmp = tmp_name(target)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = tmp
    try:
        ort.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])
        os.replace(tmp, target)
    except Exception:  # no space, read-only folder, a graph it cannot save: not needed
        with contextlib.suppress(OSError):
            os.remove(tmp)
        return None
    prune(os.path.dirname(path), keep=path)
    return target


def _sha256(path):
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def record_export(path):
    """Keep the size and hash of the network just exported to ``path`` beside it."""
    record = path + RECORD
    tmp = tmp_name(record)
    with contextlib.suppress(OSError):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(f"{os.path.getsize(path)} {_sha256(path)}\n")
        os.replace(tmp, record)


def damage(path, full=False):
    """Why the exported network ``path`` is not what was written -- its size, and with
    ``full`` its hash, differ from the record -- or None (intact, or no record: a file
    from before records were kept, which only a failed load can tell)."""
    try:
        with open(path + RECORD, encoding="utf-8") as fh:
            size, digest = fh.read(200).split()
        size = int(size)
    except (OSError, ValueError):
        return None
    try:
        have = os.path.getsize(path)
    except OSError as exc:
        return exc.strerror or "unreadable"
    if have != size:
        return f"{have} bytes instead of the {size} written"
    if full and _sha256(path) != digest:
        return "its content changed since it was written"
    return None


def discard(path):
    """Remove the exported network ``path`` with its record and optimised form."""
    for name in (path, path + RECORD, optimized_path(path)):
        with contextlib.suppress(OSError):
            os.remove(name)


def record_source(path, folder):
    """Note which model folder the network ``path`` came from (for those in
    ``<models>/onnx/``: models given by path, which may be deleted)."""
    if os.path.basename(os.path.dirname(path)) != "onnx":
        return
    record = f"{path[:-len('.onnx')]}{SOURCE}"
    if os.path.isfile(record):
        return
    tmp = tmp_name(record)
    with contextlib.suppress(OSError):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(os.path.realpath(folder) + "\n")
        os.replace(tmp, record)


def _source_of(folder, base, key):
    try:
        with open(os.path.join(folder, f"{base}.depth-{key}{SOURCE}"),
                  encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        return None


def prune(folder, keep=None):
    """Remove from ``folder`` what no run will use again (see the module doc); ``keep``:
    an exported network's path whose files stay in any case.  Returns the names
    removed."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    ort = _ort_version()
    groups = {}  # base -> {key: [names]}
    for name in names:
        m = _FILE.match(name)
        if m:
            groups.setdefault(m["base"], {}).setdefault(m["key"], []).append((name, m))
    in_onnx_dir = os.path.basename(os.path.normpath(folder)) == "onnx"
    gone = []
    kept = _FILE.match(os.path.basename(keep)) if keep else None
    for base, keys in groups.items():
        is_kept = kept is not None and kept["base"] == base
        if is_kept:
            current = kept["key"]
        else:  # the most recently written version of this model
            current = max(keys, key=lambda k: max(_mtime(folder, n) for n, _ in keys[k]))
        for key, files in keys.items():
            if key == current:
                if in_onnx_dir and not is_kept:
                    source = _source_of(folder, base, key)
                    if source is None or not os.path.isdir(source):
                        gone += [n for n, _ in files]  # its model folder is gone
                        continue
                gone += [n for n, m in files if m["ort"] is not None and m["ort"] != ort]
            else:
                gone += [n for n, _ in files]  # another version of the same model
    gone += outputs.dead_names(folder, _TMP)
    removed = []
    for name in gone:
        with contextlib.suppress(OSError):
            os.remove(os.path.join(folder, name))
            removed.append(name)
    return removed


def _mtime(folder, name):
    try:
        return os.stat(os.path.join(folder, name)).st_mtime_ns
    except OSError:
        return 0
