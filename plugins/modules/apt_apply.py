#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: apt_apply
short_description: Back up, apply, health-check and roll back an exact set of Debian package updates
version_added: 0.1.0
description:
  - Applies exactly the package versions it is given, in one module invocation
    on the host, as the last step of a planned and approved SLA update.
  - "Before changing anything it checks that every package is still installed
    at its O(packages[].previous) version (otherwise the plan is stale), that
    apt would install exactly the planned versions and nothing else, that
    there is enough free disk, that dpkg was not interrupted, and waits for
    the dpkg lock."
  - "It then backs up into C(<backup_dir>/<run_id>/): the previous versions'
    C(.deb) files in C(debs/) (downloaded with C(apt-get download), or rebuilt
    with C(dpkg-repack) when the old version is no longer downloadable), a
    C(manifest.json), and with O(db_dump) a gzipped dump of all databases in
    C(databases.sql.gz). When no rollback is possible it stops there."
  - "It installs with C(apt-get install --only-upgrade), never prompting (old
    configuration files are kept), restarts the services C(needrestart)
    names, and runs the O(health_checks). A package with no
    O(packages[].previous) version is new (an upgrade needs it, such as a new
    kernel ABI package): the install then runs without C(--only-upgrade), the
    new package is marked as automatically installed, and it has nothing to
    back up."
  - "When the install, a service restart or a health check fails and
    O(rollback) is true, it reinstalls the backed-up packages from their
    files with C(apt-get install --allow-downgrades --no-remove), which
    orders them by their pre-dependencies, then purges the new packages with
    C(dpkg --purge) (which refuses to take anything that still needs them along),
    restarts the services again, re-runs the health checks and fails the task
    with a message saying what failed and whether the host is healthy after
    the rollback."
  - "The backup directory is never deleted; C(manifest.json) records its
    status: C(backing_up), C(aborted) (nothing changed), C(backed_up),
    C(applying), C(applied), C(rolled_back) or C(failed)."
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.health_checks
options:
  packages:
    description:
      - The packages to update, each with the exact version to install and the
        version the plan found installed.
      - Packages already at O(packages[].version) are left alone; when all
        are, nothing is done.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Package name.
        type: str
        required: true
      version:
        description:
          - The exact candidate version to install.
        type: str
        required: true
      previous:
        description:
          - The version installed when the update was planned; the rollback target.
          - Null (or left out) for a package the update installs newly; a
            rollback purges it.
        type: str
      group:
        description:
          - The group the package is applied in (the controller names it after
            its source package); apt must be able to take each group on its own.
          - Defaults to the package's own name.
        type: str
  partial:
    description:
      - When apt's simulation of the whole set disagrees with the plan, simulate
        each group on its own, apply the groups apt agrees with and return the
        others in RV(skipped_groups); fail only when no group can be applied.
      - When false, the set is applied whole or not at all (an approved set);
        the failure names the groups apt disagrees with.
    type: bool
    default: false
  run_id:
    description:
      - Identifier of the run, from the controller's audit trail; names the
        backup directory. One path component of letters, digits and C(._:+-).
    type: str
    required: true
  backup_dir:
    description:
      - Directory on the host that holds one backup directory per run.
    type: path
    default: /var/backups/twovalue-sla
  db_dump:
    description:
      - Dump all databases (C(mariadb-dump --single-transaction --all-databases
        --routines --events) as root through the unix socket) into the backup
        before the update.
      - When not set, dumps if C(/usr/bin/mariadb-dump) or C(/usr/bin/mysqldump) exists.
    type: bool
  min_free_mb:
    description:
      - Refuse to start when C(/), C(/var/cache/apt/archives) or the file system
        of O(backup_dir) has less free space than this, in MiB.
    type: int
    default: 500
  lock_timeout:
    description:
      - Seconds to wait for another process to release the dpkg lock before failing.
    type: int
    default: 120
  restart_services:
    description:
      - Restart the services C(needrestart) says run outdated code after the
        install (and again after a rollback). Units that end sessions or the
        message bus (such as C(dbus.service), C(systemd-logind.service),
        C(getty@*.service)) are never restarted and are returned in RV(services_pending).
    type: bool
    default: true
  rollback:
    description:
      - Reinstall the backed-up packages when the install, a service restart or
        a health check fails.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details: Takes no backup and changes nothing; simulates the install to validate that the exact versions resolve and checks the previous versions can still be backed up.
  diff_mode:
    support: none
notes:
  - Needs root.
  - Commands run with C(DEBIAN_FRONTEND=noninteractive), C(NEEDRESTART_MODE=l),
    C(NEEDRESTART_SUSPEND=1), C(APT_LISTCHANGES_FRONTEND=none) and keep changed
    configuration files, so nothing waits for an answer.
  - A package rebuilt with C(dpkg-repack) carries the host's current configuration files.
  - The database dump may be large; size O(min_free_mb) for it.
  - The module does not run C(dpkg --configure -a); when dpkg was interrupted it fails and says so.
"""

EXAMPLES = r"""
- name: Apply the approved security updates
  twovalue.sla.apt_apply:
    run_id: "{{ sla_run_id }}"
    packages:
      - name: apache2
        previous: 2.4.62-1~deb12u2
        version: 2.4.65-1~deb12u1
      - name: apache2-bin
        previous: 2.4.62-1~deb12u2
        version: 2.4.65-1~deb12u1
    health_checks:
      - type: http
        url: http://127.0.0.1/index.php/Main_Page
        contains: MediaWiki
      - type: sql
        database: wikidb
        query: SELECT COUNT(*) FROM page
  register: __apply

- name: Show what was applied and restarted
  ansible.builtin.debug:
    msg: "{{ __apply.applied | length }} packages, restarted {{ __apply.services_restarted }}"

- name: Update without a database dump and without rollback
  twovalue.sla.apt_apply:
    run_id: "{{ sla_run_id }}"
    packages: "{{ planned_packages }}"
    db_dump: false
    rollback: false
"""

RETURN = r"""
applied:
  description: Packages upgraded (in check mode, that would be upgraded).
  returned: always
  type: list
  elements: dict
  sample: [{name: apache2, previous: 2.4.62-1~deb12u2, version: 2.4.65-1~deb12u1}]
already_current:
  description: Planned packages that were already at their target version.
  returned: always
  type: list
  elements: dict
backup:
  description: The run's backup directory; null when no backup was taken.
  returned: always
  type: str
  sample: /var/backups/twovalue-sla/20250601T0300-web1
services_restarted:
  description: Units restarted after the install (after a rollback, the units restarted for it).
  returned: always
  type: list
  elements: str
  sample: [apache2.service]
services_pending:
  description: Units needrestart named that are never restarted from here.
  returned: always
  type: list
  elements: str
health:
  description: Outcome of each health check after the update, from its last attempt.
  returned: always
  type: list
  elements: dict
  sample: [{check: http http://127.0.0.1/, ok: true, detail: http://127.0.0.1/ returned HTTP 200}]
health_after_rollback:
  description: Outcome of each health check after a rollback.
  returned: when rolled back and health checks are configured
  type: list
  elements: dict
rolled_back:
  description: Whether the previous versions were reinstalled.
  returned: always
  type: bool
skipped_groups:
  description: Groups left out because apt would not install them as planned, with apt's words.
  returned: always
  type: list
  elements: dict
  sample: [{group: openssl, packages: [openssl, libssl3], reason: apt would remove libssl1.1}]
reboot_required:
  description: Whether the host asks for a reboot (C(/var/run/reboot-required) exists).
  returned: always
  type: bool
kernel_reboot:
  description:
    - The running kernel, the newest installed one (from C(/boot/vmlinuz-*)), and
      the release a reboot would start when that is not the running one.
    - In a container the running kernel is the machine's, so a reboot is always pending there.
  returned: always
  type: dict
  sample: {running: 6.1.0-50-amd64, installed: 6.1.0-57-amd64, reboot_pending_for: 6.1.0-57-amd64}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.apt_apply import (
    DEFAULT_BACKUP_DIR,
    AptApply,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import run_on_host


def main():
    module = AnsibleModule(
        argument_spec={
            "packages": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "version": {"type": "str", "required": True},
                    "previous": {"type": "str"},
                    "group": {"type": "str"},
                },
            },
            "run_id": {"type": "str", "required": True},
            "backup_dir": {"type": "path", "default": DEFAULT_BACKUP_DIR},
            "db_dump": {"type": "bool"},
            "min_free_mb": {"type": "int", "default": 500},
            "lock_timeout": {"type": "int", "default": 120},
            "restart_services": {"type": "bool", "default": True},
            **HEALTH_CHECK_SPEC,
            "rollback": {"type": "bool", "default": True},
            "partial": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    applier = AptApply(module.run_command, check_mode=module.check_mode)
    module.exit_json(
        **run_on_host(module, applier, applier.apply, module.params, report_steps=False)
    )


if __name__ == "__main__":
    main()
