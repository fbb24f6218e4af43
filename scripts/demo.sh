#!/usr/bin/env bash
# The main job, from a fresh clone: set up .venv (first time only) and turn a photo into
# a colored mesh, offline.  With no argument it uses a real photo that ships with
# scikit-image (coffee.png).
#   bash scripts/demo.sh [PHOTO] [img2mesh options...]
# Writes out/<name>.ply, out/<name>.json and the picture out/<name>.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -ge 1 ]; then photo=$1; shift; else
  photo=$(.venv/bin/python -c "import os, skimage; print(os.path.join(os.path.dirname(skimage.__file__), 'data', 'coffee.png'))")
fi
name=$(basename "${photo%.*}")
mkdir -p out
.venv/bin/img2mesh "$photo" -o "out/$name.ply" --preview "out/$name.png" --offline "$@"
echo "open out/$name.png to see it; out/$name.ply is the mesh"
