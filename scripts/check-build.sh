#!/usr/bin/env bash
# The collection as it ships: build the tarball, install it into an empty
# path and use its plugins and roles by their full names from there.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build --force --output-path "$work" >/dev/null
tarball=$(ls "$work"/twovalue-sla-*.tar.gz)
if tar -tzf "$tarball" | grep -E "^(molecule|tests|inventories/demo|benchmarks|scripts|out|\.ci|\.config|\.hypothesis)/" >/dev/null; then
  echo "the tarball carries test or demo content" >&2
  exit 1
fi
# The documentation's default release catalogues are read from the installed roles,
# the documents' words from the installed texts files.
contents=$(tar -tzf "$tarball")
for data in roles/cms/files/release_catalogue.json roles/updates/files/release_catalogue.json \
  plugins/plugin_utils/texts/en.yml plugins/plugin_utils/texts/nl.yml; do
  grep -qx "$data" <<<"$contents" || { echo "the tarball lacks $data" >&2; exit 1; }
done
ansible-galaxy collection install --offline --force -p "$work/installed" "$tarball" >/dev/null 2>&1
export ANSIBLE_COLLECTIONS_PATH="$work/installed"
installed=$(ansible-doc -t filter twovalue.sla.sla_gate 2>&1)
case "$installed" in *"$work/installed"*) ;; *) echo "sla_gate not loaded from the installed tarball" >&2; exit 1 ;; esac
for module in host_probe apt_apply sla_context update_plan audit_event system_docs; do
  ansible-doc -t module "twovalue.sla.$module" >/dev/null
done
ansible-doc -t callback twovalue.sla.audit >/dev/null
ansible-doc -t role -l twovalue.sla | grep -q updates
echo "collection tarball $(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) files, installs, plugins and roles load by FQCN"
