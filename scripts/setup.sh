#!/usr/bin/env bash
# Bring a Debian 12 controller from nothing to ready: host packages, podman
# configuration, the project venv and the collection link. Safe to rerun; each
# step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

HOST_PACKAGES=(podman runc netavark aardvark-dns slirp4netns fuse-overlayfs uidmap
  iptables debootstrap python3-venv python3-dev gcc make git openssh-client rsync)
# The SLA report's HTML is checked in a real browser; the font gives its text glyphs.
HOST_PACKAGES+=(chromium fonts-dejavu-core)
# The audit trail's PostgreSQL backend is tested against a real server the tests start themselves.
HOST_PACKAGES+=(postgresql)

missing=()
for pkg in "${HOST_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing host packages: ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || { echo "setup needs root to install ${missing[*]}" >&2; exit 1; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# crun cannot run here (cgroups hybrid mode) and root lacks CAP_SYS_RESOURCE,
# so podman needs runc and ulimits below the hard limit.
CONF=/etc/containers/containers.conf
WANT="$ROOT/scripts/containers.conf"
if ! cmp -s "$WANT" "$CONF" 2>/dev/null; then
  say "configuring podman ($CONF)"
  mkdir -p /etc/containers
  # Keep the machine's own configuration once, never overwrite that copy.
  if [ -f "$CONF" ] && [ ! -f "$CONF.before-twovalue-sla" ]; then
    cp "$CONF" "$CONF.before-twovalue-sla"
  fi
  cp "$WANT" "$CONF"
fi

VENV="$ROOT/.venv"
STAMP="$VENV/.requirements.sha256"
req_hash=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$req_hash" ]; then
  say "installing the Python tool chain into .venv (pinned, several minutes the first time)"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements-dev.txt
  echo "$req_hash" >"$STAMP"
fi

# Playbooks and tests use the checkout as an installed collection.
LINK="$ROOT/.cache/collections/ansible_collections/twovalue/sla"
if [ ! -L "$LINK" ]; then
  mkdir -p "$(dirname "$LINK")"
  ln -sfn "$ROOT" "$LINK"
fi
say "controller ready"
