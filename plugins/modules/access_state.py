#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: access_state
short_description: Converge a host's agency-controlled accounts, keys, sudo rules, database users and wiki accounts
version_added: 0.1.0
description:
  - Runs on the managed host; M(twovalue.sla.access_converge) calls it with what the access
    register says for the host. It can also be used alone with a O(desired) of the same shape.
  - "OS accounts: creates present ones, renders their whole C(authorized_keys) (a key not
    in the register stops working), locks revoked ones (expired, shell C(/usr/sbin/nologin),
    no keys) and ends their processes. An account the collection managed before and the
    register no longer lists is locked."
  - Takes the keys of revoked people out of every other C(authorized_keys) on the host, such
    as C(root)'s.
  - "Sudo: one file C(/etc/sudoers.d/twovalue-sla-access) with the register's rules, checked
    with C(visudo) before it replaces the old one."
  - "Database users of people: created with C(unix_socket) authentication (no password),
    dropped with their connections ended when revoked."
  - "MediaWiki accounts of revoked people: groups removed, password hash emptied and the
    account's token renewed so every session ends. Accounts are never created."
  - People revoked on the host stay revoked (kept in C(/var/lib/twovalue-sla/access.json))
    until O(desired) lists them under C(readmit), whatever else it says.
  - With O(allow_grants=false) only removals are made; what would be added is reported
    with C(applied=false).
author:
  - twovalue
options:
  desired:
    description:
      - What the host must look like, as M(twovalue.sla.access_converge) derives it from the
        register - C(os_accounts), C(db_users), C(cms_accounts) and C(sweep_keys).
    type: dict
    required: true
  allow_grants:
    description: Whether new accesses may be added; removals are always made.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Lock a former colleague's account and take their key out of root's file
  twovalue.sla.access_state:
    desired:
      os_accounts:
        - {account: bob, state: locked, keys: [], sudo: null, shell: /bin/bash, people: [bob]}
      db_users: []
      cms_accounts: []
      sweep_keys:
        - {fingerprint: "SHA256:3vQ0fS1i1c8Pq3v3wK8S9q3cV4oQm8sZb4v9yQ2pX0Y", person: bob}
"""

RETURN = r"""
changes:
  description:
    - One entry per change, with C(kind), C(account), C(change), C(applied) and, where known,
      C(person), C(keys_removed) and C(keys_added) (key fingerprints, never keys).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.access_host import AccessHost
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import run_on_host

_DESIRED_KEYS = ("os_accounts", "db_users", "cms_accounts", "sweep_keys")


def main():
    module = AnsibleModule(
        argument_spec={
            "desired": {"type": "dict", "required": True},
            "allow_grants": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    desired = module.params["desired"]
    missing = [key for key in _DESIRED_KEYS if not isinstance(desired.get(key), list)]
    errors = [f"desired lacks the lists {', '.join(missing)}"] if missing else []
    host = AccessHost(module.run_command, check_mode=module.check_mode)
    grants = module.params["allow_grants"]
    changes = run_on_host(
        module,
        host,
        host.converge,
        desired,
        grants,
        input_errors=errors,
        report_steps=False,
        changes=host.changes,
    )
    module.exit_json(changed=any(c["applied"] for c in changes), changes=changes)


if __name__ == "__main__":
    main()
