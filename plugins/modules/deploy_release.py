#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: deploy_release
short_description: Deploy a site release with releases/, shared/ and current, health-checked, rolled back on failure
version_added: 0.1.0
description:
  - Runs on the managed host; M(twovalue.sla.deploy) uploads the artifact and calls it.
  - Holds C(<site_root>/.sla-deploy.lock) for the whole run; a second deploy of the same site
    at the same time fails at once, naming the run that holds it.
  - Verifies O(artifact) against O(sha256), unpacks it under a temporary name in
    C(releases/) and renames it to C(releases/<release>) when complete, with each of
    O(shared_paths) a link into C(shared/).
  - "With O(schema): dumps O(database), runs the CMS's schema step in the new release. A run
    killed during that step leaves a note in C(<site_root>/.sla-deploy.json); the next run
    first restores the database from that run's dump."
  - Switches C(current) in one rename, reloads O(reload_services) and checks that
    C(<site_url>/<version_marker>) answers O(version), plus O(health_checks).
  - On failure switches back, restores the database, and keeps the release as
    C(releases/<release>.failed-<run_id>); that release is refused afterwards unless
    O(retry_failed).
  - A release that is already current is only health-checked; one made current by a run that
    was killed before it verified it is verified now, or switched back.
  - Keeps O(keep_releases) releases, the current one included; failed releases stay.
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.health_checks
  - twovalue.sla.site_release
options:
  artifact:
    description: The release archive (a C(.tar.gz)) on the host.
    type: path
    required: true
  sha256:
    description: The artifact's SHA-256.
    type: str
    required: true
  release:
    description: The release's directory name under C(releases/).
    type: str
    required: true
  version:
    description: What O(version_marker) must contain once the release serves.
    type: str
    required: true
  strip_components:
    description: Leading directories to strip when unpacking (C(1) for an archive holding one top directory).
    type: int
    default: 1
  db_server:
    description: The database server as the site's configuration names it; only a local server is dumped.
    type: str
    default: localhost
  reload_services:
    description: Services reloaded after the switch.
    type: list
    elements: str
    default: [apache2]
  backup_dir:
    description: Where the database dump is kept.
    type: path
    default: /var/backups/twovalue-sla
  run_id:
    description: This run's id; names the backup and a failed release.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Deploy release 2.4.0 of the site
  twovalue.sla.deploy_release:
    site_root: /var/www/site
    artifact: /var/tmp/site-2.4.0.tar.gz
    sha256: "{{ artifact_sha256 }}"
    release: 2.4.0
    version: 2.4.0
    site_url: http://localhost/site
    shared_paths: [LocalSettings.php, images]
    run_id: "{{ run_id }}"
"""

RETURN = r"""
release:
  description: The release deployed.
  returned: always
  type: str
previous:
  description: The release that was current before, if any.
  returned: success
  type: str
steps:
  description: What was done, in order.
  returned: always
  type: list
  elements: str
rolled_back:
  description: Whether a failed deploy was switched back.
  returned: failure
  type: bool
failed_release:
  description: Where the failed release is kept.
  returned: failure
  type: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import (
    run_id_errors,
    run_on_host,
)
from ansible_collections.twovalue.sla.plugins.module_utils.site_deploy import (
    SiteDeploy,
    validate_deploy_params,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "site_root": {"type": "path", "required": True},
            "artifact": {"type": "path", "required": True},
            "sha256": {"type": "str", "required": True},
            "release": {"type": "str", "required": True},
            "version": {"type": "str", "required": True},
            "version_marker": {"type": "str", "default": "sla-version.txt"},
            "site_url": {"type": "str", "required": True},
            "strip_components": {"type": "int", "default": 1},
            "shared_paths": {"type": "list", "elements": "str", "default": []},
            "schema": {"type": "str", "choices": ["mediawiki", "wordpress"]},
            "database": {"type": "str"},
            "db_server": {"type": "str", "default": "localhost"},
            "reload_services": {"type": "list", "elements": "str", "default": ["apache2"]},
            "keep_releases": {"type": "int", "default": 3},
            "retry_failed": {"type": "bool", "default": False},
            "backup_dir": {"type": "path", "default": "/var/backups/twovalue-sla"},
            "run_id": {"type": "str", "required": True},
            **HEALTH_CHECK_SPEC,
        },
        supports_check_mode=True,
    )
    params = module.params
    deploy = SiteDeploy(module.run_command, check_mode=module.check_mode)
    errors = validate_deploy_params(params) + run_id_errors(params)
    module.exit_json(**run_on_host(module, deploy, deploy.deploy, params, input_errors=errors))


if __name__ == "__main__":
    main()
