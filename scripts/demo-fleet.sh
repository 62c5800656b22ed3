#!/usr/bin/env bash
# Start or stop the demo fleet: one container per host of inventories/demo,
# from the LAMP image, with systemd, on one podman network. "up" also enables
# the Debian updates and security suites so the hosts have real pending
# updates, exactly as a server that has not been patched for a while.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/poll.sh
. scripts/lib/poll.sh

NETWORK=twovalue-sla-demo
IMAGE=localhost/twovalue-sla/lamp:current
HOSTS=(twovalue-demo-acme-staging twovalue-demo-acme-prod twovalue-demo-globex-prod)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

up() {
  podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null
  for name in "${HOSTS[@]}"; do
    if [ "$(podman container inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" = true ]; then
      continue
    fi
    podman rm -f "$name" >/dev/null 2>&1 || true
    say "starting demo host $name"
    podman run -d --name "$name" --hostname "$name" --network "$NETWORK" \
      --systemd=always "$IMAGE" >/dev/null
    podman exec "$name" sed -i '/^Enabled: no$/d' /etc/apt/sources.list.d/debian.sources
  done
  for name in "${HOSTS[@]}"; do
    poll_until 60 "systemd in $name" systemd_settled podman exec "$name"
  done
}

down() {
  for name in "${HOSTS[@]}"; do
    podman rm -f -t 5 "$name" >/dev/null 2>&1 || true
  done
  podman network rm "$NETWORK" >/dev/null 2>&1 || true
}

# First day of the calendar quarter today is in: the demo's report period starts there.
quarter_start() {
  local month
  month=$(date +%-m)
  printf '%s-%02d-01\n' "$(date +%Y)" $(( (month - 1) / 3 * 3 + 1 ))
}

case "${1:-up}" in
  up) up ;;
  down) down ;;
  quarter-start) quarter_start ;;
  *) echo "usage: $0 [up|down|quarter-start]" >&2; exit 2 ;;
esac
