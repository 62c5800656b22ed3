#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: host_probe
short_description: Read a Debian LAMP + CMS host's whole maintenance state in one call
version_added: 0.1.0
description:
  - Collects, in a single module invocation, what every SLA activity needs to
    decide on, namely the operating system, the installed Apache, PHP, MariaDB and CMS
    versions, pending package updates with their origin (security suite or
    regular), held packages, the dpkg lock and interrupted state, free disk,
    and whether services or the machine need a restart.
  - Read-only. The only things it may write are apt's package lists, refreshed
    when they are older than O(cache_max_age), and its own cache of apt's
    pending-update simulation under C(/var/cache/twovalue-sla/); it does
    neither in check mode.
  - The simulation (apt's resolver, the costliest part) is reused while the
    installed packages, the package lists and apt's configuration are
    unchanged, since its answer cannot have changed; C(simulation_cached)
    in the result says when that happened.
  - Replaces many small probe tasks, so a run that finds nothing to do costs
    one Python start-up per host.
  - Over a connection with pipelining (SSH with C(pipelining = true), the
    local connection) the action plugin sends the probe to the host's Python
    on standard input as one plain program, the same code without Ansible's
    module wrapper, whose start-up costs more host CPU than the probe's own
    work. Without pipelining it runs as an ordinary module. Both ways return
    the same result and use the configured or discovered Python interpreter.
author:
  - twovalue
options:
  sections:
    description:
      - Which parts of the state to collect.
    type: list
    elements: str
    choices: [os, stack, cms, updates, restarts]
    default: [os, stack, cms, updates, restarts]
  cache_max_age:
    description:
      - Refresh the package lists first when they are older than this many
        seconds. V(0) never refreshes.
    type: int
    default: 3600
  cms_roots:
    description:
      - Glob patterns of directories that may hold a MediaWiki or WordPress
        installation.
    type: list
    elements: str
    default: [/usr/share/mediawiki, /var/www/*, /var/www/*/current, /var/www/html]
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - Needs root for the dpkg lock check and for refreshing package lists.
"""

EXAMPLES = r"""
- name: Read the host's maintenance state
  twovalue.sla.host_probe:

- name: Show the pending security updates
  ansible.builtin.debug:
    msg: "{{ ansible_facts['sla_state']['updates']['security_count'] }} security updates pending"

- name: Only pending updates, without refreshing the package lists
  twovalue.sla.host_probe:
    sections: [updates]
    cache_max_age: 0
"""

RETURN = r"""
ansible_facts:
  description: The host's state as the fact C(sla_state), one key per collected section.
  returned: success
  type: dict
  contains:
    sla_state:
      description: The collected state.
      type: dict
      contains:
        os:
          description: Distribution, release, codename, kernel and architecture.
          type: dict
          sample: {id: debian, version_id: "12", codename: bookworm, kernel: 6.1.0-28-amd64}
        components:
          description: >-
            Installed LAMP components with package, Debian and upstream version; Apache's
            enabled modules (C(modules)) and PHP's enabled extensions per SAPI
            (C(modules), for example C(apache2) and C(cli)).
          type: dict
          sample:
            apache: {package: apache2, version: 2.4.68-1~deb12u1, upstream: 2.4.68, modules: [php8.2, rewrite]}
            php: {package: php8.2-common, upstream: 8.2.32, modules: {apache2: [intl, mysqli], cli: [intl, mysqli]}}
        cms:
          description: CMS installations found under O(cms_roots).
          type: list
          elements: dict
          sample: [{kind: mediawiki, path: /usr/share/mediawiki, version: 1.39.17}]
        updates:
          description: >-
            Pending updates (apt-get simulation), held packages, package-list age,
            and whether the simulation was reused (C(simulation_cached)).
          type: dict
        dpkg:
          description: Whether the dpkg lock is held or a previous dpkg run was interrupted.
          type: dict
          sample: {locked: false, interrupted: false, checked: true}
        disk:
          description: Free and total space in MiB of /, /var and apt's archive cache.
          type: list
          elements: dict
        restarts:
          description: Reboot flag and the services needrestart says run outdated code.
          type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import (
    PROBE_ARGUMENT_SPEC,
    probe_result,
)


def main():
    module = AnsibleModule(argument_spec=PROBE_ARGUMENT_SPEC, supports_check_mode=True)
    result = probe_result(module.params, module.run_command, module.check_mode)
    if result.get("failed"):
        module.fail_json(msg=result["msg"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
