#!/usr/bin/env bash
# Set up (first time only) and run the whole test suite: the docs site built strictly
# (a broken link fails), the pipeline's tests in .venv, then the Blender add-on's tests in
# .venv-blender (bpy 5.0) and Debian's blender 3.4, and (tests/blender/test_py313.py)
# bpy 5.2.3 on Python 3.13 in a cached Debian 13 root.
#   bash scripts/test.sh [pytest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_blender.sh
bash scripts/setup_py313.sh
status=0
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet || status=$?
.venv/bin/python -m pytest tests --ignore=tests/blender "$@" || status=$?
IMG2MESH_PYTHON="$PWD/.venv/bin/python" .venv-blender/bin/python -m pytest tests/blender "$@" || status=$?
exit $status
