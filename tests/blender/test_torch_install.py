"""The optional PyTorch install (client/torch_install.py, ops/torch_install.py): pip in a
child process into ``optional/site-packages.partial``, renamed into place on success; a
failure or a Cancel leaves nothing; Blender's numpy is kept; the worker then sees it.

A stand-in ``pip`` package (first on the child's PYTHONPATH) plays pip: it prints pip's
lines, writes into --target, and ends as told ($FAKE_PIP_EXIT, $FAKE_PIP_SLEEP)."""

import os
import sys
import time

import pytest

from blender_img2mesh.blender.client import interpreter, torch_install, vendor

FAKE_PIP = '''
import os, sys, time
args = sys.argv[1:]
target = args[args.index("--target") + 1]
with open(os.environ["FAKE_PIP_ARGS"], "w") as fh:
    fh.write("\\n".join(args))
for name in ("torch", "numpy", "diffusers"):
    print(f"Collecting {name}", flush=True)
    print(f"  Downloading {name}-1.0-py3-none-any.whl (10 MB)", flush=True)
    time.sleep(float(os.environ.get("FAKE_PIP_SLEEP", "0")))
    os.makedirs(os.path.join(target, name), exist_ok=True)
    open(os.path.join(target, name, "__init__.py"), "w").write("VERSION = 'fake'\\n")
print("Installing collected packages: torch, numpy, diffusers", flush=True)
code = int(os.environ.get("FAKE_PIP_EXIT", "0"))
if code:
    print("ERROR: Could not install packages due to an OSError: disk full", flush=True)
else:
    print("Successfully installed torch numpy diffusers", flush=True)
sys.exit(code)
'''


@pytest.fixture
def fake(monkeypatch, tmp_path):
    pip = tmp_path / "fakepath" / "pip"
    pip.mkdir(parents=True)
    (pip / "__init__.py").write_text("")
    (pip / "__main__.py").write_text(FAKE_PIP)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "fakepath"))
    monkeypatch.setenv("FAKE_PIP_ARGS", str(tmp_path / "args.txt"))
    pkg = tmp_path / "addon" / "blender_img2mesh"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(vendor, "PACKAGE_DIR", str(pkg))
    return tmp_path, pkg


def run(job, timeout=60):
    end = time.monotonic() + timeout
    while not job.done and time.monotonic() < end:
        job.poll()
        time.sleep(0.05)
    assert job.done


def test_install_goes_into_the_addon_folder_and_on_the_workers_path(fake):
    tmp_path, pkg = fake
    assert not torch_install.installed()
    job = torch_install.Install(sys.executable, "2.2.6")
    run(job)
    assert job.ok and job.error is None and job.fraction == 1.0, job.error
    site = pkg / "optional" / "site-packages"
    assert (site / "torch" / "__init__.py").is_file() and (site / "diffusers").is_dir()
    assert not (site / "numpy").exists()  # Blender's own numpy stays the one imported
    assert not (pkg / "optional" / "site-packages.partial").exists()
    assert torch_install.installed()
    args = (tmp_path / "args.txt").read_text().splitlines()
    assert "numpy==2.2.6" in args and "torch==2.13.0" in args and "--only-binary=:all:" in args
    assert (torch_install.CPU_INDEX in args) == sys.platform.startswith("linux")
    assert str(site) in interpreter.child_env()["PYTHONPATH"].split(os.pathsep)


def test_failed_install_leaves_nothing_and_says_why(fake, monkeypatch):
    _, pkg = fake
    monkeypatch.setenv("FAKE_PIP_EXIT", "1")
    job = torch_install.Install(sys.executable, "2.2.6")
    run(job)
    assert not job.ok and "exit code 1" in job.error and "disk full" in job.error
    assert not (pkg / "optional" / "site-packages").exists()
    assert not (pkg / "optional" / "site-packages.partial").exists()
    assert not torch_install.installed()


def test_cancel_stops_pip_and_removes_its_files(fake, monkeypatch):
    _, pkg = fake
    monkeypatch.setenv("FAKE_PIP_SLEEP", "5")
    job = torch_install.Install(sys.executable, "2.2.6")
    end = time.monotonic() + 30
    while job.fraction < 0.1 and time.monotonic() < end:  # pip has started downloading
        job.poll()
        time.sleep(0.05)
    assert 0.1 <= job.fraction < 1 and "Downloading" in job.line
    job.cancel()
    assert job.done and job.error == "cancelled" and job.proc.returncode is not None
    assert not (pkg / "optional").exists() or not os.listdir(pkg / "optional")


def test_text_source_is_greyed_out_until_pytorch_is_there(addon, fake):
    from blender_img2mesh.blender.ops import torch_install as ops

    assert not ops.available(interpreter.FROM_BLENDER)
    assert ops.available(interpreter.FROM_PREFERENCE)  # a Python of the user's own
    run(torch_install.Install(sys.executable, "2.2.6"))
    assert ops.available(interpreter.FROM_BLENDER)
