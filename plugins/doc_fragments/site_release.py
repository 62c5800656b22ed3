# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release layout options that twovalue.sla.deploy hands on to twovalue.sla.deploy_release."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  site_root:
    description: The site's directory holding C(releases/), C(shared/) and C(current).
    type: path
    required: true
  site_url:
    description: The site's base URL as reached from the host.
    type: str
    required: true
  version_marker:
    description: Path under O(site_url) that reports the release's version.
    type: str
    default: sla-version.txt
  shared_paths:
    description: Paths inside a release that are links into C(shared/) (settings, uploads).
    type: list
    elements: str
    default: []
  schema:
    description: Run this CMS's schema step in the new release before the switch.
    type: str
    choices: [mediawiki, wordpress]
  database:
    description: The site's database, dumped before the schema step and restored on rollback.
    type: str
  keep_releases:
    description: Releases kept, the current one included.
    type: int
    default: 3
  retry_failed:
    description: Deploy a release that failed on this site before.
    type: bool
    default: false
"""
