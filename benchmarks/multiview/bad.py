"""Bad input for ``img2mesh --views`` (issue 20): each case should end with one clear line,
exit 2, and nothing written.  Made from two ground-truth sets
(``benchmarks/multiview/scenes.py``):

* ``different objects`` -- half the views of one object, half of another;
* ``identical``         -- one photo copied 12 times;
* ``two photos``        -- only two views;
* ``textureless``       -- the views with the object painted one flat grey (its true mask),
  on the plain background: silhouettes, no features.
"""

import os
import shutil
import subprocess
import sys

from PIL import Image

from .eval import read_image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_cases(first, second, folder):
    """{case: folder of photos} under ``folder`` from the set folders ``first``, ``second``."""
    def views(s):
        return sorted(os.path.join(s, "images", n) for n in os.listdir(os.path.join(s, "images")))
    a, b = views(first), views(second)
    cases = {"different objects": a[::2][:8] + b[1::2][:8],
             "identical": [a[0]] * 12, "two photos": a[:2]}
    out = {}
    for case, photos in cases.items():
        sub = os.path.join(folder, case.replace(" ", "_"))
        os.makedirs(sub, exist_ok=True)
        for k, p in enumerate(photos):
            shutil.copy(p, os.path.join(sub, f"{k:02d}_{os.path.basename(p)}"))
        out[case] = sub
    sub = os.path.join(folder, "textureless")
    os.makedirs(sub, exist_ok=True)
    for p in a:
        img = read_image(p)[..., :3].copy()
        mask = read_image(os.path.join(first, "masks", os.path.basename(p))) > 127
        img[mask] = (128, 128, 128)
        Image.fromarray(img).save(os.path.join(sub, os.path.basename(p)))
    out["textureless"] = sub
    return out


def run_case(photos_dir, out_dir):
    """One fresh ``--views`` process: (exit code, its last stderr line, files written)."""
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.run([sys.executable, "-m", "blender_img2mesh", "--views", photos_dir,
                           "-o", os.path.join(out_dir, "object.ply"), "-q"], cwd=ROOT,
                          env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return proc.returncode, (lines[-1] if lines else ""), sorted(os.listdir(out_dir))


def check(first, second, folder):
    """Rows {case, rc, line, written, ok} (ok: exit 2, nothing written)."""
    rows = []
    for case, photos in make_cases(first, second, os.path.join(folder, "inputs")).items():
        rc, line, written = run_case(photos, os.path.join(folder, "out",
                                                          case.replace(" ", "_")))
        rows.append({"case": case, "rc": rc, "line": line, "written": written,
                     "ok": rc == 2 and not written})
    return rows


def table(rows):
    lines = ["| bad input | exit | nothing written | the message |", "|---|---|---|---|"]
    for r in rows:
        clean = "yes" if not r["written"] else "NO: " + ", ".join(r["written"])
        lines.append(f"| {r['case']} | {r['rc']} | {clean} | {r['line'].replace('|', '/')} |")
    return "\n".join(lines)
