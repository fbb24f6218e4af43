#!/usr/bin/env bash
# Set up the project's environment in .venv/ (idempotent; safe to run again).
#   scripts/setup.sh          runtime + test dependencies, the u2netp model
# Needs: python3 (3.11 or newer: numpy 2.4 needs it) with venv; on Linux, libusb-1.0 for
# open3d (installed with apt-get when run as root, otherwise you are told the command).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

if [ "$(uname -s)" = Linux ] && ! ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0'; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing libusb-1.0 (open3d needs it)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libusb-1.0-0 >/dev/null
  else
    echo "open3d needs libusb-1.0: run  sudo apt-get install libusb-1.0-0" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating .venv"
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import torch, open3d, rembg, transformers, diffusers, pycolmap, xatlas, pytest, skimage, pygltflib, trimesh, mkdocs, material, blender_img2mesh" 2>/dev/null; then
  echo "== installing dependencies into .venv (a few minutes the first time)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
fi
if ! ls .venv/lib/python3*/site-packages/pymatting/util/__pycache__/*.nbi >/dev/null 2>&1; then
  # rembg imports pymatting, whose numba kernels compile on the first import (about a
  # minute, cached in the venv): do it here, not in the user's first run
  echo "== compiling rembg's numba kernels (once, about a minute)"
  .venv/bin/python -c "import rembg"
fi
echo "== background-removal model"
.venv/bin/python scripts/get_models.py
if [ ! -d .venv/node/node_modules/gltf-validator ]; then
  if command -v npm >/dev/null; then
    echo "== Khronos glTF-Validator (npm, for the tests)"
    npm install --silent --no-audit --no-fund --prefix .venv/node gltf-validator@2.0.0-dev.3.10
  else
    echo "note: npm not found: the tests that validate .glb files need Node.js and npm" >&2
  fi
fi
