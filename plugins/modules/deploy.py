# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: deploy
short_description: Deploy a site release to staging, or promote one staging passed to production
version_added: 0.1.0
description:
  - Takes an artifact on the controller - a C(.tar.gz) or a directory, packed byte-identically -
    and its SHA-256 (computed, and checked against O(sha256) when given).
  - "Decides whether the host may take it: on a host whose C(sla_environment) is V(production),
    only an artifact that the customer's staging ran and passed its health check with, as the
    audit trail records it; otherwise refused with the reason, unless O(override) gives one. On a
    tier without the deploy activity (Basic) every deploy needs the customer's approval of the
    change set the refusal names."
  - Records the decision before anything is uploaded, uploads the artifact and runs
    M(twovalue.sla.deploy_release) on the host (lock, unpack, shared links, schema step,
    atomic switch, health check, rollback), then records the outcome with the SHA-256,
    the environment and whether the release passed its health check.
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.sla_decision
  - twovalue.sla.health_checks
  - twovalue.sla.site_release
options:
  artifact:
    description: The release on the controller, a C(.tar.gz) holding one top directory or a directory.
    type: path
    required: true
  sha256:
    description: The artifact's published SHA-256; the deploy stops if the file differs.
    type: str
  version:
    description: The release's version, as its version marker reports it.
    type: str
    required: true
  release:
    description: The release's directory name on the host; default O(version).
    type: str
  override:
    description:
      - Promote to production without a staging pass; C(reason) is required and recorded.
    type: dict
attributes:
  check_mode:
    support: full
    details:
      - Nothing is uploaded or changed; the decision is recorded as check mode.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Promote the release staging passed
  twovalue.sla.deploy:
    artifact: build/site-2.4.0.tar.gz
    version: 2.4.0
    site_root: /var/www/site
    site_url: http://localhost/site
    shared_paths: [LocalSettings.php, images]
    sla: "{{ ansible_facts['sla'] }}"
"""

RETURN = r"""
sha256:
  description: The artifact's SHA-256.
  returned: always
  type: str
promotion:
  description: Why the deploy was allowed.
  returned: success
  type: str
refused:
  description: Set when the deploy was refused.
  returned: failure
  type: bool
steps:
  description: What the host did, in order.
  returned: when the host was reached
  type: list
  elements: str
"""
