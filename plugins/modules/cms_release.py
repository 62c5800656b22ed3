#!/usr/bin/python
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cms_release
short_description: Switch a MediaWiki or WordPress site to a patch release with rollback, or run a schema update
version_added: 0.1.0
description:
  - "O(mode=switch): for a site in the releases layout (C(<site_root>/current)
    a symlink to C(<site_root>/releases/<version>)). Verifies the release
    archive against O(sha256) (from O(path) on the host or downloaded from
    O(url)), unpacks it as C(releases/<to_version>) and carries over what
    is the site's (symlinks stay symlinks, directories are hard-linked,
    owners are kept). MediaWiki - C(LocalSettings.php), C(images) and the
    extensions and skins the release does not bring; WordPress -
    C(wp-config.php), C(.htaccess) and C(wp-content)."
  - "It then puts the site in maintenance mode (MediaWiki - C($wgReadOnly)
    for web requests, in a marked block of C(LocalSettings.php); WordPress -
    its C(.maintenance) file in the running release), dumps the database,
    runs the schema update (C(maintenance/update.php --quick), or
    WordPress's C(wp_upgrade())), switches C(current) in one rename, reloads
    O(reload_services) and health-checks (the site must report
    O(to_version) - MediaWiki's C(api.php) siteinfo, WordPress's generator
    tag on the home page - and pass O(health_checks))."
  - "On a failure after the dump it switches back, restores the database
    (dropped and re-imported, so tables a failed schema update created are
    gone), lifts the maintenance mode and keeps the new release as
    C(releases/<to_version>.failed-<run_id>) with a C(.sla-failed) marker.
    The task then fails with what happened."
  - "Nothing changes when the site is unhealthy before the update, the
    checksum does not match, the archive holds another version, or the site
    runs another version than O(from_version)."
  - "O(mode=schema): for a Debian-packaged MediaWiki whose code the package
    changed; dumps the database and runs C(update.php --quick) in O(site_path)."
  - Both modes record the schema version in C(/var/lib/twovalue-sla/cms-schema.json).
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.health_checks
options:
  mode:
    description: V(switch) to a new release, or V(schema) for a packaged wiki.
    type: str
    default: switch
    choices: [switch, schema]
  kind:
    description: The CMS of the site.
    type: str
    default: mediawiki
    choices: [mediawiki, wordpress]
  site_root:
    description: The site's directory holding C(current) and C(releases/). Required for V(switch).
    type: path
  site_path:
    description: The packaged wiki's code directory. Required for V(schema).
    type: path
  from_version:
    description: The version the site runs now, as probed; anything else stops the switch.
    type: str
  to_version:
    description: The release to switch to.
    type: str
  url:
    description: Where to download the release archive (a C(.tar.gz) as published).
    type: str
  path:
    description: The release archive on the host.
    type: path
  sha256:
    description: The SHA-256 published with the release.
    type: str
  database:
    description: The site's database (C($wgDBname), C(DB_NAME)); dumped as root through the unix socket.
    type: str
    required: true
  db_server:
    description: C($wgDBserver) or C(DB_HOST); only the local server (socket) can be dumped and restored.
    type: str
    default: localhost
  site_url:
    description: The site's base URL as reached from the host, such as C(http://localhost/wiki).
    type: str
  reload_services:
    description: Services reloaded after the switch, so PHP drops cached paths and code.
    type: list
    elements: str
    default: [apache2]
  keep_releases:
    description: Releases kept after a successful switch, the current one included; failed ones are never removed.
    type: int
    default: 3
  read_only_message:
    description: What MediaWiki's visitors are told while the wiki is read-only.
    type: str
    default: The wiki is being updated and is read-only for a few minutes.
  backup_dir:
    description: Where the database dump and downloads go, under C(cms/<run_id>/).
    type: path
    default: /var/backups/twovalue-sla
  run_id:
    description: Names this attempt's backup directory; an existing one is never overwritten.
    type: str
    required: true
attributes:
  check_mode:
    support: full
    details:
      - Reports what would be switched; downloads, unpacks and writes nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Switch the wiki to 1.39.18
  twovalue.sla.cms_release:
    site_root: /var/www/wiki
    from_version: 1.39.17
    to_version: 1.39.18
    url: https://releases.wikimedia.org/mediawiki/1.39/mediawiki-1.39.18.tar.gz
    sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
    database: wikidb
    site_url: http://localhost/wiki
    run_id: "{{ run_id }}"
"""

RETURN = r"""
steps:
  description: What was done, in order, for the audit trail.
  returned: always
  type: list
  elements: str
backup:
  description: The directory holding the database dump of this attempt.
  returned: when a switch was attempted
  type: str
health:
  description: Health check results after the switch.
  returned: when the switch got that far
  type: list
  elements: dict
rolled_back:
  description: Whether a failed switch was fully undone.
  returned: on failure after the dump
  type: bool
failed_release:
  description: Where the failed release is kept.
  returned: on rollback
  type: str
health_after_rollback:
  description: Health check results of the old release after a rollback.
  returned: on rollback
  type: list
  elements: dict
pruned:
  description: Old releases removed after a successful switch.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import (
    ReleaseSwitch,
    validate_params,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import (
    run_id_errors,
    run_on_host,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "mode": {"type": "str", "default": "switch", "choices": ["switch", "schema"]},
            "kind": {"type": "str", "default": "mediawiki", "choices": ["mediawiki", "wordpress"]},
            "site_root": {"type": "path"},
            "site_path": {"type": "path"},
            "from_version": {"type": "str"},
            "to_version": {"type": "str"},
            "url": {"type": "str"},
            "path": {"type": "path"},
            "sha256": {"type": "str"},
            "database": {"type": "str", "required": True},
            "db_server": {"type": "str", "default": "localhost"},
            "site_url": {"type": "str"},
            "reload_services": {"type": "list", "elements": "str", "default": ["apache2"]},
            "keep_releases": {"type": "int", "default": 3},
            "read_only_message": {
                "type": "str",
                "default": "The wiki is being updated and is read-only for a few minutes.",
            },
            "backup_dir": {"type": "path", "default": "/var/backups/twovalue-sla"},
            "run_id": {"type": "str", "required": True},
            **HEALTH_CHECK_SPEC,
        },
        required_if=[
            ["mode", "switch", ["site_root", "from_version", "to_version", "sha256", "site_url"]],
            ["mode", "schema", ["site_path"]],
        ],
        supports_check_mode=True,
    )
    params = module.params
    schema = params["mode"] == "schema"
    switch = ReleaseSwitch(module.run_command, check_mode=module.check_mode)
    work, errors = (switch.schema, run_id_errors) if schema else (switch.switch, validate_params)
    module.exit_json(**run_on_host(module, switch, work, params, input_errors=errors(params)))


if __name__ == "__main__":
    main()
