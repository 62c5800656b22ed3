#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: drift_facts
short_description: Read what staging and production must share - packages, stack, CMS and configuration checksums
version_added: 0.1.0
description:
  - Runs on a host and reads, without changing anything, its installed Debian packages with
    their versions, its CMS sites (version, extensions, skins, plugins, themes) and the SHA-256
    of the web server's, PHP's and MariaDB's configuration files.
  - Site settings files (C(LocalSettings.php), C(wp-config.php)) are not hashed - they differ
    between environments by design and hold credentials.
  - M(twovalue.sla.drift_report) compares the results of a customer's staging and production.
author:
  - twovalue
options:
  cms_roots:
    description: Globs of directories that may hold a CMS site.
    type: list
    elements: str
    default: [/var/www/*, /var/www/*/current, /usr/share/mediawiki, /usr/share/wordpress]
"""

EXAMPLES = r"""
- name: Read what the drift report compares
  twovalue.sla.drift_facts:
  register: drift
"""

RETURN = r"""
drift:
  description: C(packages) (name to version), C(sites) (site root to kind, version, components) and C(config) (path to SHA-256).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.drift import (
    config_checksums,
    site_summary,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import parse_dpkg_query


def main():
    module = AnsibleModule(
        argument_spec={
            "cms_roots": {
                "type": "list",
                "elements": "str",
                "default": [
                    "/var/www/*",
                    "/var/www/*/current",
                    "/usr/share/mediawiki",
                    "/usr/share/wordpress",
                ],  # fmt: skip
            },
        },
        supports_check_mode=True,
    )
    rc, out, err = module.run_command(
        ["dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n"]
    )
    if rc != 0:
        module.fail_json(msg=f"dpkg-query failed: {err.strip()[:300]}")
    module.exit_json(
        changed=False,
        drift={
            "packages": parse_dpkg_query(out),
            "sites": site_summary(module.params["cms_roots"]),
            "config": config_checksums(),
        },
    )


if __name__ == "__main__":
    main()
