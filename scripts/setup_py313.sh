#!/usr/bin/env bash
# Set up (idempotent, cached) a Debian 13 root for the add-on's tests on Blender 5.1+'s
# Python 3.13: .venv-py313-root/ holds Debian trixie (python3.13), the libraries the bpy
# wheel needs, and /opt/bpy, a venv with bpy==5.2.3 (Blender 5.2 LTS as a module) and pytest.
# scripts/in_py313_root.sh runs a command inside it with this checkout at /repo.
#   bash scripts/setup_py313.sh      (root only: debootstrap and chroot need it; ~2 minutes
#                                     the first time, nothing after)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${IMG2MESH_PY313_ROOT:-$PWD/.venv-py313-root}
BPY=5.2.3
STAMP="$ROOT/.img2mesh-root-ready"
WANT="trixie python3.13 bpy==$BPY libusb libidn2 v3"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "the Python 3.13 tests need a Debian 13 root (debootstrap, chroot): run as root" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null; then
  echo "== installing debootstrap"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
LIBS=python3,python3-venv,ca-certificates,libx11-6,libxrender1,libxxf86vm1,libxfixes3,libxi6
LIBS=$LIBS,libxkbcommon0,libsm6,libgl1,libegl1,libxext6,libgomp1
# open3d's wheel links libusb-1.0 and libidn2 (a desktop Linux has them; a minimal root not)
EXTRA="libusb-1.0-0 libidn2-0"
if [ ! -x "$ROOT/usr/bin/python3.13" ]; then
  echo "== debootstrap trixie into $ROOT (about a minute)"
  rm -rf --one-file-system "$ROOT.partial"
  debootstrap --variant=minbase --include="$LIBS" trixie "$ROOT.partial" \
    http://deb.debian.org/debian >"$ROOT.partial.log" 2>&1 || {
      echo "debootstrap failed (log: $ROOT.partial.log)" >&2; exit 1; }
  rm -rf --one-file-system "$ROOT" && mv "$ROOT.partial" "$ROOT" && mv "$ROOT.partial.log" "$ROOT/debootstrap.log"
fi
# bpy's wheel: downloaded once on the host into .cache/bpy (build.py reads its metadata there too)
WHEEL=$(ls .cache/bpy/bpy-$BPY-cp313-cp313-manylinux_*_x86_64.whl 2>/dev/null | head -1 || true)
if [ -z "$WHEEL" ]; then
  echo "== downloading bpy $BPY (400 MB, once)"
  mkdir -p .cache/bpy
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.13 \
    --platform manylinux_2_28_x86_64 -d .cache/bpy "bpy==$BPY"
  WHEEL=$(ls .cache/bpy/bpy-$BPY-cp313-cp313-manylinux_*_x86_64.whl | head -1)
fi
cp -f /etc/resolv.conf "$ROOT/etc/resolv.conf"
# this machine's own certificate authorities (a proxy's), so pip in the root trusts them too
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  cp -f /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  bash scripts/in_py313_root.sh --no-repo update-ca-certificates >/dev/null 2>&1 || true
fi
mkdir -p "$ROOT/tmp/wheel"
cp -f "$WHEEL" "$ROOT/tmp/wheel/"
if ! bash scripts/in_py313_root.sh --no-repo dpkg -s $EXTRA >/dev/null 2>&1; then
  echo "== apt-get install $EXTRA in the root"
  bash scripts/in_py313_root.sh --no-repo sh -c "apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $EXTRA >/dev/null"
fi
echo "== venv /opt/bpy in the root: bpy $BPY, pytest"
bash scripts/in_py313_root.sh --no-repo sh -c "
  set -e
  [ -x /opt/bpy/bin/python ] || python3 -m venv /opt/bpy
  /opt/bpy/bin/python -m pip install --quiet --disable-pip-version-check \
    /tmp/wheel/$(basename "$WHEEL") pytest
  /opt/bpy/bin/python -c 'import bpy; print(\"   bpy\", bpy.app.version_string)'"
rm -rf "$ROOT/tmp/wheel"
echo "$WANT" >"$STAMP"
