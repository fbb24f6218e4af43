#!/usr/bin/env bash
# Set up what the Blender tests need (idempotent):
#   .venv-blender/  Blender 5.0 as a Python module (PyPI bpy==5.0.1, Python 3.11, numpy<2)
#   blender         Debian's Blender 3.4 binary, python3-numpy for it, xvfb for a real window
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v blender >/dev/null || ! command -v xvfb-run >/dev/null || \
   ! dpkg -s python3-numpy >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Debian's blender, python3-numpy, xvfb"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq blender python3-numpy xvfb >/dev/null
  else
    echo "the Blender tests need: sudo apt-get install blender python3-numpy xvfb" >&2
    exit 1
  fi
fi
PY311=${PYTHON311:-python3.11}
if [ ! -x .venv-blender/bin/python ]; then
  echo "== creating .venv-blender (bpy 5.0.1, about 1 GB)"
  "$PY311" -m venv .venv-blender
fi
if ! .venv-blender/bin/python -c "import bpy, pytest" 2>/dev/null; then
  .venv-blender/bin/python -m pip install --quiet --disable-pip-version-check \
    bpy==5.0.1 "numpy<2" pytest
fi
