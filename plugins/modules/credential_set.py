#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: credential_set
short_description: Set a new password for a MariaDB user or a MediaWiki account, verify it, or put the old one back
version_added: 0.1.0
description:
  - Runs on the managed host; M(twovalue.sla.credential_rotate) calls it with a secret it
    generated and staged in the customer's vault.
  - "V(db_user): reads the user's current hash, sets O(secret), logs in with it, and when O(site)
    is given replaces the password in the site's C(LocalSettings.php) or C(wp-config.php) (and
    in every release's hard-linked copy) and health-checks the site."
  - "V(cms_account): sets the MediaWiki account's password through MediaWiki itself and logs in
    with it through C(api.php) (C(action=clientlogin))."
  - Any failure puts the old hash and the old configuration back, so the old password works
    again; the task then fails with C(reverted=true).
  - The secret reaches MariaDB and PHP on stdin only; it is never on a command line, in a
    result or in a log.
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.health_checks
options:
  kind:
    description: What the credential belongs to.
    type: str
    required: true
    choices: [db_user, cms_account]
  account:
    description: The database user or wiki account name.
    type: str
    required: true
  db_host:
    description: The database user's host part.
    type: str
    default: localhost
  site:
    description: The CMS site root whose configuration holds the password, or the wiki of O(kind=cms_account).
    type: path
  site_url:
    description: The site's base URL as reached from the host; default http://localhost/<basename of O(site)>.
    type: str
  secret:
    description: The new password.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Set a new password for the wiki's database user
  twovalue.sla.credential_set:
    kind: db_user
    account: wikiuser
    site: /var/www/wiki
    secret: "{{ new_password }}"
  no_log: true
"""

RETURN = r"""
steps:
  description: What was done, in order; never the secret.
  returned: always
  type: list
  elements: str
reverted:
  description: On failure, whether the old credential was put back.
  returned: failure
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.access_host import (
    AccessError,
    AccessHost,
)
from ansible_collections.twovalue.sla.plugins.module_utils.credential_rotation import (
    CredentialRotation,
    RotationError,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import run_on_host


def main():
    module = AnsibleModule(
        argument_spec={
            "kind": {"type": "str", "required": True, "choices": ["db_user", "cms_account"]},
            "account": {"type": "str", "required": True},
            "db_host": {"type": "str", "default": "localhost"},
            "site": {"type": "path"},
            "site_url": {"type": "str"},
            "secret": {"type": "str", "required": True, "no_log": True},
            **HEALTH_CHECK_SPEC,
        },
        required_if=[["kind", "cms_account", ["site"]]],
        supports_check_mode=True,
    )
    params = dict(module.params)
    secret = params.pop("secret")
    if params["site"] and not params["site_url"]:
        params["site_url"] = f"http://localhost/{os.path.basename(params['site'].rstrip('/'))}"
    rotation = CredentialRotation(module.run_command, check_mode=module.check_mode)

    def rotate():
        if params["kind"] == "db_user":
            return rotation.rotate_db_user(params, secret)
        try:
            database, prefix = AccessHost(module.run_command).wiki_database(params["site"])
        except AccessError as exc:
            raise RotationError(exc.msg, rotation.steps, False) from None
        current = os.path.join(params["site"], "current")
        params["code_path"] = current if os.path.isdir(current) else params["site"]
        return rotation.rotate_wiki_account(params, secret, database, prefix)

    module.exit_json(**run_on_host(module, rotation, rotate))


if __name__ == "__main__":
    main()
