#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: refresh_export
short_description: Take a consistent copy of a production site's database and uploads for a staging refresh
version_added: 0.1.0
description:
  - Runs on the production host. Dumps the site's database in one transaction (the database
    at one moment, without locking the site) and packs O(uploads) from C(<site_root>/shared/).
  - Returns what identifies the host and site (machine id, environment marker, the URL the
    site answers at, its database and table prefix), which M(twovalue.sla.refresh_import)
    uses to refuse overwriting production.
  - The copy holds personal data; the role removes it from every place it passed through.
author:
  - twovalue
options:
  site_root:
    description: The site's directory holding C(shared/) (and C(current)).
    type: path
    required: true
  kind:
    description: The site's CMS, whose configuration names its database and URL.
    type: str
    default: mediawiki
    choices: [mediawiki, wordpress]
  uploads:
    description: Paths under C(shared/) copied to staging.
    type: list
    elements: str
    default: [images]
  work_dir:
    description: Where the copy is written, readable by root only.
    type: path
    default: /var/backups/twovalue-sla/refresh
  run_id:
    description: Names the copy's files.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Copy production's database and uploads
  twovalue.sla.refresh_export:
    site_root: /var/www/site
    run_id: "{{ run_id }}"
  delegate_to: acme-prod
"""

RETURN = r"""
identity:
  description: C(machine_id), C(hostname), C(environment), C(url), C(database) and C(prefix) of the source.
  returned: always
  type: dict
dump:
  description: The gzip'd dump on the host.
  returned: success, not in check mode
  type: str
uploads:
  description: The uploads archive on the host.
  returned: success, not in check mode
  type: str
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
            "uploads": {"type": "list", "elements": "str", "default": ["images"]},
            "work_dir": {"type": "path", "default": "/var/backups/twovalue-sla/refresh"},
        },
        supports_check_mode=True,
    )
    refresh = Refresh(module.run_command, check_mode=module.check_mode)
    errors = run_id_errors(module.params)
    result = run_on_host(module, refresh, refresh.export, module.params, input_errors=errors)
    module.exit_json(steps=refresh.steps, **result)


if __name__ == "__main__":
    main()
