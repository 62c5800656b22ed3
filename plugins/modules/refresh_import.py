#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: refresh_import
short_description: Load a production copy into staging, sanitised before staging sees it
version_added: 0.1.0
description:
  - Runs on the staging host, with the copy M(twovalue.sla.refresh_export) made.
  - "Refuses, whatever the inventory says, when this host is production by its own account:
    C(/etc/twovalue-sla/environment) says V(production), it is the same machine as the
    source, or its site answers at the source's URL."
  - Imports the dump into a scratch database, applies O(rules) there (personal data replaced,
    sessions and tokens removed, production's URL rewritten to staging's) and runs their
    checks; only when every check finds nothing left are the tables swapped in with one
    C(RENAME TABLE), and the uploads replaced.
author:
  - twovalue
options:
  site_root:
    description: The staging site's directory holding C(shared/).
    type: path
    required: true
  kind:
    description: The site's CMS.
    type: str
    default: mediawiki
    choices: [mediawiki, wordpress]
  dump:
    description: The gzip'd dump on this host.
    type: path
    required: true
  uploads:
    description: The uploads archive on this host.
    type: path
    required: true
  source:
    description: The C(identity) M(twovalue.sla.refresh_export) returned for the production host.
    type: dict
    required: true
  rules:
    description: The sanitising rules for O(kind) (see C(roles/staging/files/sanitise_rules.yml)).
    type: list
    elements: dict
    required: true
  run_id:
    description: Names the scratch files.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Import the sanitised copy
  twovalue.sla.refresh_import:
    site_root: /var/www/site
    dump: /var/tmp/refresh.sql.gz
    uploads: /var/tmp/refresh-uploads.tar.gz
    source: "{{ export.identity }}"
    rules: "{{ (lookup('ansible.builtin.file', 'sanitise_rules.yml') | from_yaml).mediawiki }}"
    run_id: "{{ run_id }}"
"""

RETURN = r"""
steps:
  description: What was done, in order.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import (
    run_id_errors,
    run_on_host,
)
from ansible_collections.twovalue.sla.plugins.module_utils.staging_refresh import SITE_SPEC, Refresh


def main():
    module = AnsibleModule(
        argument_spec={
            **SITE_SPEC,
            "dump": {"type": "path", "required": True},
            "uploads": {"type": "path", "required": True},
            "source": {"type": "dict", "required": True},
            "rules": {"type": "list", "elements": "dict", "required": True},
        },
        supports_check_mode=True,
    )
    refresh = Refresh(module.run_command, check_mode=module.check_mode)
    errors = run_id_errors(module.params)
    result = run_on_host(module, refresh, refresh.import_copy, module.params, input_errors=errors)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
