#!/usr/bin/env bash
# Builds the scenario's release artifacts from the wiki code of a running
# host, the way a CI pipeline would: one top directory, a version marker.
# Usage: build-artifacts.sh <container> <output directory>
set -euo pipefail
container=$1 out=$2
[ -f "$out/site-5.0.tar.gz" ] && exit 0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
podman exec "$container" tar -C /usr/share -ch --exclude=mediawiki/LocalSettings.php \
  --exclude=mediawiki/images --exclude=mediawiki/config mediawiki | tar -C "$work" -x
build() {  # build <version> <broken: yes|no>
  mv "$work/mediawiki" "$work/site-$1"
  printf '%s\n' "$1" >"$work/site-$1/sla-version.txt"
  if [ "$2" = yes ]; then mv "$work/site-$1/api.php" "$work/api.php.aside"; fi
  tar -C "$work" -c "site-$1" | gzip -1 >"$out/site-$1.tar.gz"
  if [ "$2" = yes ]; then mv "$work/api.php.aside" "$work/site-$1/api.php"; fi
  mv "$work/site-$1" "$work/mediawiki"
}
build 1.0 no
build 2.0 no
build 3.0 yes
build 4.0 no
build 5.0 no
