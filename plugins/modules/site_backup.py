#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: site_backup
short_description: Back up CMS sites, verify each backup by restoring it, and prune by retention
version_added: 0.1.0
description:
  - For every site in O(sites) (as twovalue.sla.probe reports them in C(sla_state.cms)), writes a
    backup set C(<backup_dir>/<site>/<UTC time>/) with the database dumped in one transaction
    (C(database.sql.gz)), the site's configuration, code and uploads (C(files.tar.gz)) and a
    C(manifest.json) with each file's size and SHA-256, written last. A releases layout is
    archived as C(current), its live release and C(shared/); a Debian-packaged MediaWiki as its
    configuration directory and uploads; a settings file or uploads linked from elsewhere are
    added at their real paths. Every archive restores with C(tar -xzf files.tar.gz -C /).
  - Verifies each new set before it counts as a restore point - dump decompressed whole, archive
    listed and holding the site's settings file, dump loaded into a scratch database that must
    have the site's tables - and drops the scratch database again.
  - A site whose newest verified backup is younger than O(max_age_hours) is left alone, so a
    second run changes nothing.
  - Removes sets older than O(retention_days), the remains of interrupted runs and failed sets but
    the newest, but never a site's newest verified set nor a set whose manifest cannot be read.
  - Writes no new set when the disk lacks room for the dump, the archive and the scratch copy,
    counting what removing old sets frees.
  - Fails when any site could not be backed up or verified; the other sites are still done, and
    O(sites) results say what happened to each.
author:
  - twovalue
options:
  sites:
    description: The CMS sites to back up, as in C(ansible_facts.sla_state.cms).
    type: list
    elements: dict
    required: true
  backup_dir:
    description: Where backup sets are kept on the host, readable by root only.
    type: path
    default: /var/backups/twovalue-sla/sites
  retention_days:
    description: Days a backup set is kept (the SLA target C(backup_retention_days)).
    type: int
    required: true
  max_age_hours:
    description: A site with a verified backup younger than this is not backed up again.
    type: int
    default: 20
  force:
    description: Back up every site now, however recent its last backup.
    type: bool
    default: false
  verify:
    description: Load each new dump into a scratch database. Without it no set counts as verified.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Back up the host's sites
  twovalue.sla.site_backup:
    sites: "{{ ansible_facts['sla_state']['cms'] }}"
    retention_days: "{{ ansible_facts['sla']['targets']['backup_retention_days'] }}"
"""

RETURN = r"""
sites:
  description: Per site - C(site_root), C(database), C(status) (C(backed up), C(recent), C(failed),
    C(would back up) and C(would fail) in check mode), C(reason), C(set), C(files) (bytes and SHA-256),
    C(verified) (C(ok), C(checks), C(tables), C(rows)), C(latest_verified) and C(pruned).
  returned: always
  type: list
  elements: dict
steps:
  description: What was done, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import run_on_host
from ansible_collections.twovalue.sla.plugins.module_utils.site_backup import SiteBackup


def main():
    module = AnsibleModule(
        argument_spec={
            "sites": {"type": "list", "elements": "dict", "required": True},
            "backup_dir": {"type": "path", "default": "/var/backups/twovalue-sla/sites"},
            "retention_days": {"type": "int", "required": True},
            "max_age_hours": {"type": "int", "default": 20},
            "force": {"type": "bool", "default": False},
            "verify": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    backup = SiteBackup(module.run_command, check_mode=module.check_mode)
    out_of_range = p["retention_days"] < 1 or p["max_age_hours"] < 0
    sites = run_on_host(
        module,
        backup,
        backup.run,
        p,
        input_errors=(
            ["retention_days must be 1 or more and max_age_hours 0 or more"] if out_of_range else []
        ),
        sites=[],
    )
    for site in sites:
        if site["status"] == "would fail":
            module.warn(f"{site['site_root']}: {site['reason']}")
    failed = [s for s in sites if s["status"] == "failed"]
    # In check mode the would-be backups and removals are the change.
    changed = any(s["status"] in ("backed up", "would back up") or s.get("pruned") for s in sites)
    if failed:
        module.fail_json(
            msg="; ".join(f"{s['site_root']}: {s['reason']}" for s in failed),
            changed=changed,
            sites=sites,
            steps=backup.steps,
        )
    module.exit_json(changed=changed, sites=sites, steps=backup.steps)


if __name__ == "__main__":
    main()
