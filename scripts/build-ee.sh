#!/usr/bin/env bash
# Build the execution environment image (execution-environment.yml) with
# ansible-builder and podman:
#   localhost/twovalue-sla/ee:<hash>  (also tagged :current)
# from the Debian 12 base image of scripts/build-images.sh, this collection
# as `ansible-galaxy collection build` makes it, awx.awx from the `ansible`
# bundle in the venv, and the pinned Python packages. Nothing comes from
# Galaxy or a container registry. The tag is a hash of every input, so the
# image is rebuilt only when one of them changes. Prints the image name last.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

EE_REPO=localhost/twovalue-sla/ee
BASE_REPO=localhost/twovalue-sla/debian12
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
BIN=$(dirname "$PYTHON")

podman image exists "$BASE_REPO:current" || {
  echo "no $BASE_REPO:current: run scripts/build-images.sh (make images) first" >&2
  exit 1
}
base_id=$(podman image inspect -f '{{.Id}}' "$BASE_REPO:current")
base_tag=$(podman images --filter "id=$base_id" --format '{{.Tag}}' | grep -vx current | head -1)

work=$(mktemp -d /var/tmp/twovalue-sla-ee.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/collections"

# This collection, exactly as it ships.
"$BIN/ansible-galaxy" collection build --force --output-path "$work/built" >/dev/null
mv "$work"/built/twovalue-sla-*.tar.gz "$work/collections/twovalue-sla.tar.gz"

# awx.awx as the ansible bundle installed it. Its FILES.json lists files the
# bundle left out, so it goes in as a directory (MANIFEST.json marks it as an
# installed collection), not as a tarball that would fail its own checksums.
awx_dir=$("$PYTHON" -c 'import ansible_collections, os; print(os.path.join(ansible_collections.__path__[0], "awx", "awx"))')
[ -f "$awx_dir/MANIFEST.json" ] || { echo "awx.awx is not installed in the venv (pip install -r requirements.txt)" >&2; exit 1; }
cp -r "$awx_dir" "$work/collections/awx-awx"
find "$work/collections/awx-awx" -name __pycache__ -prune -exec rm -rf {} +

# Every input that decides the image's content. The collection tarball itself
# carries build times, so its FILES.json (a checksum per file) stands in for it.
ee_hash=$( {
  cat execution-environment.yml scripts/build-ee.sh scripts/ee/pkgmgr scripts/ee/pip_config.py
  echo "$base_id"
  tar -xzOf "$work/collections/twovalue-sla.tar.gz" FILES.json MANIFEST.json
  cat "$awx_dir/MANIFEST.json"
} | sha256sum | cut -c1-12)

if [ -z "${EE_NO_CACHE:-}" ] && podman image exists "$EE_REPO:$ee_hash"; then
  say "execution environment $EE_REPO:$ee_hash is up to date"
else
  say "building $EE_REPO:$ee_hash with ansible-builder (a few minutes the first time)"
  cp execution-environment.yml "$work/execution-environment.yml"
  cp scripts/ee/pkgmgr "$work/pkgmgr"
  # The base image by its hash tag, so the hash above names what was built on.
  sed -i "s|name: $BASE_REPO:current|name: $BASE_REPO:${base_tag:-current}|" "$work/execution-environment.yml"
  # pip in the build reaches the package index as pip here does: the
  # configuration is copied into the build context, never printed.
  "$PYTHON" scripts/ee/pip_config.py "$work/pip" /etc/twovalue-sla-pip >&2
  # EE_NO_CACHE=1 rebuilds every layer (a cold build).
  (cd "$work" && "$BIN/ansible-builder" build --container-runtime podman \
    -f execution-environment.yml --context "$work/context" \
    --tag "$EE_REPO:$ee_hash" ${EE_NO_CACHE:+--no-cache} -v 1 >"$work/build.log" 2>&1) || {
    # The log may show index locations: only the failing step's own lines.
    grep -v -i -E 'https?://|file://|index|cert' "$work/build.log" | tail -30 >&2
    exit 1
  }
fi
podman tag "$EE_REPO:$ee_hash" "$EE_REPO:current"
say "execution environment ready: $EE_REPO:current ($ee_hash)"
echo "$EE_REPO:$ee_hash"
