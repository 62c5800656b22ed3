#!/usr/bin/env bash
# Build the local container images the demo fleet and molecule use, from
# Debian's packages only (no registry is needed):
#   localhost/twovalue-sla/debian12:current  systemd + sshd + python3
#   localhost/twovalue-sla/lamp:current      + Apache, PHP 8.2, MariaDB, MediaWiki 1.39
# Both come from Debian 12's main suite alone; the updates and security suites
# are present but disabled, so enabling them brings real pending updates.
# Each image is tagged with a hash of its recipe and rebuilt only when the
# recipe changes.
set -euo pipefail
cd "$(dirname "$0")"
HERE=$PWD
# shellcheck source=scripts/lib/poll.sh
. "$HERE/lib/poll.sh"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

HOST_SOURCES=/etc/apt/sources.list.d/debian.sources
[ -f "$HOST_SOURCES" ] || HOST_SOURCES=/etc/apt/sources.list
BASE_REPO=localhost/twovalue-sla/debian12
LAMP_REPO=localhost/twovalue-sla/lamp
BASE_PACKAGES=python3,sudo,ca-certificates,procps,iproute2,systemd,systemd-sysv,dbus,openssh-server,curl,less

base_hash=$( { cat "$HERE/build-images.sh" "$HERE/images/apt_sources.py"; echo "$BASE_PACKAGES"; } | sha256sum | cut -c1-12)
lamp_hash=$( { echo "$base_hash"; cat "$HERE/images/lamp-provision.sh" "$HERE/lib/poll.sh"; } | sha256sum | cut -c1-12)

work=$(mktemp -d /var/tmp/twovalue-sla-image.XXXXXX)
trap 'rm -rf "$work"; podman rm -f twovalue-sla-lamp-build >/dev/null 2>&1 || true' EXIT

build_base() {
  if podman image exists "$BASE_REPO:$base_hash"; then
    say "base image $BASE_REPO:$base_hash is up to date"
    return
  fi
  say "building $BASE_REPO:$base_hash with debootstrap (about a minute)"
  python3 "$HERE/images/apt_sources.py" "$HOST_SOURCES" --main-uri "$work/mirror"
  rootfs="$work/rootfs"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$(cat "$work/mirror")" \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" | grep -v -i 'http' >&2; exit 1; }

  # apt inside the image talks to the controller's mirror; copy only the files
  # that configure how apt reaches it, never print them.
  rm -f "$rootfs/etc/apt/sources.list"
  python3 "$HERE/images/apt_sources.py" "$HOST_SOURCES" "$rootfs/etc/apt/sources.list.d/debian.sources"
  for f in /etc/apt/apt.conf.d/*; do
    case "$(basename "$f")" in docker-*) continue ;; esac  # image tuning, not mirror access
    # Hooks call programs the image does not have.
    grep -qs "Invoke" "$f" && continue
    grep -qs "Acquire::" "$f" && cp "$f" "$rootfs/etc/apt/apt.conf.d/"
  done
  if [ -d /etc/apt/auth.conf.d ]; then
    mkdir -p "$rootfs/etc/apt/auth.conf.d"
    cp -a /etc/apt/auth.conf.d/. "$rootfs/etc/apt/auth.conf.d/"
  fi

  # Container hygiene: no getty, no hardware units, a fresh machine id per container.
  for unit in getty.target systemd-udevd.service systemd-udev-trigger.service \
      systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
      systemd-remount-fs.service; do
    ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
  done
  : >"$rootfs/etc/machine-id"
  chroot "$rootfs" systemctl enable ssh.service >/dev/null 2>&1
  echo 'LANG=C.UTF-8' >"$rootfs/etc/default/locale"

  tar -C "$rootfs" -c . | podman import -q \
    --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    - "$BASE_REPO:$base_hash" >/dev/null
}

build_lamp() {
  if podman image exists "$LAMP_REPO:$lamp_hash"; then
    say "LAMP image $LAMP_REPO:$lamp_hash is up to date"
    return
  fi
  say "building $LAMP_REPO:$lamp_hash: Apache, PHP 8.2, MariaDB, MediaWiki (about 3 minutes)"
  podman rm -f twovalue-sla-lamp-build >/dev/null 2>&1 || true
  podman run -d --name twovalue-sla-lamp-build --systemd=always "$BASE_REPO:$base_hash" >/dev/null
  poll_until 60 "systemd in the LAMP build container" systemd_settled podman exec twovalue-sla-lamp-build
  podman cp "$HERE/images/lamp-provision.sh" twovalue-sla-lamp-build:/root/lamp-provision.sh
  podman cp "$HERE/lib/poll.sh" twovalue-sla-lamp-build:/root/poll.sh
  podman exec twovalue-sla-lamp-build bash /root/lamp-provision.sh
  podman exec twovalue-sla-lamp-build rm -f /root/lamp-provision.sh /root/poll.sh
  podman stop -t 30 twovalue-sla-lamp-build >/dev/null
  podman commit -q --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' \
    twovalue-sla-lamp-build "$LAMP_REPO:$lamp_hash" >/dev/null
  podman rm -f twovalue-sla-lamp-build >/dev/null
}

build_base
podman tag "$BASE_REPO:$base_hash" "$BASE_REPO:current"
build_lamp
podman tag "$LAMP_REPO:$lamp_hash" "$LAMP_REPO:current"
say "images ready: $BASE_REPO:current ($base_hash), $LAMP_REPO:current ($lamp_hash)"
