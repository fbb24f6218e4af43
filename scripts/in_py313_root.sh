#!/usr/bin/env bash
# Run a command in the Debian 13 root made by scripts/setup_py313.sh, with /proc mounted and
# this checkout bound at /repo (unmounted again on exit, whatever the command does).
#   bash scripts/in_py313_root.sh [--no-repo] COMMAND [ARGS...]
# The environment inside is clean (HOME=/root, PATH=/opt/bpy/bin:..., pip and ssl use the
# root's certificate store, which setup_py313.sh gives this machine's own CAs), plus any variable
# named in $IMG2MESH_ROOT_ENV (space-separated names copied from here).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
ROOT=${IMG2MESH_PY313_ROOT:-$REPO/.venv-py313-root}
BIND_REPO=1
if [ "${1:-}" = --no-repo ]; then BIND_REPO=0; shift; fi
if [ ! -x "$ROOT/usr/bin/python3.13" ]; then
  echo "no Debian 13 root at $ROOT: run bash scripts/setup_py313.sh" >&2
  exit 2
fi
MOUNTS=()
cleanup() {
  for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do umount -l "${MOUNTS[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mount_once() {  # mount_once TARGET mount-args...
  local target=$1; shift
  mkdir -p "$target"
  mount "$@" "$target"
  MOUNTS+=("$target")
}
mount_once "$ROOT/proc" -t proc proc
if [ "$BIND_REPO" = 1 ]; then
  mount_once "$ROOT/repo" --bind "$REPO"
fi
ENV=(HOME=/root PATH=/opt/bpy/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LANG=C.UTF-8 TMPDIR=/tmp
     PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt)
for name in ${IMG2MESH_ROOT_ENV:-}; do
  if [ -n "${!name+x}" ]; then ENV+=("$name=${!name}"); fi
done
status=0
chroot "$ROOT" /usr/bin/env -i "${ENV[@]}" "$@" || status=$?
exit $status
