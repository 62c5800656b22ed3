# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: credential_rotate
short_description: Rotate a host's agency-controlled service credentials in two phases, with the vault
version_added: 0.1.0
description:
  - Takes the credentials the register marks C(rotate) on this host (MariaDB users, including a
    CMS's database user, and MediaWiki accounts) and works out from the audit trail which are
    due - never rotated, or last rotated longer ago than the tier's
    C(credential_rotation_interval_days).
  - Medium and Pro rotate inside a maintenance window (the site's configuration changes); Basic
    only with an approval of the rotation change set.
  - Per credential, generates a new secret on the controller, stages it in the customer's
    ansible-vault file, lets M(twovalue.sla.credential_set) set and verify it on the host, and
    commits it to the vault only then. When verification fails the host puts the old
    credential back and the staged secret is discarded.
  - Records each rotation (planned, then applied or failed) in the audit trail, never the secret.
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.sla_decision
  - twovalue.sla.health_checks
options:
  people:
    description: The register's people (as for M(twovalue.sla.access_converge)).
    type: dict
    required: true
  grants:
    description: The host's accesses; those with C(rotate=true) and C(controlled_by=agency) are rotated.
    type: list
    elements: raw
    default: []
  vault_dir:
    description: Controller directory of the vault files, one C(<customer>.vault.yml) per customer.
    type: path
    required: true
  vault_password_file:
    description: File holding the vault password; the vault file opens with C(ansible-vault view) and it.
    type: path
    required: true
  only:
    description: Rotate only these credential ids (as C(db_user/<account>@<host>) or C(cms_account/<site>/<account>)).
    type: list
    elements: str
    default: []
  force:
    description: Rotate the credentials now even when they are not due.
    type: bool
    default: false
  site_urls:
    description: Per site root, the site's base URL as reached from the host.
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    details:
      - The host and the vault are not changed; the plan is recorded as check mode.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Rotate the service credentials that are due
  twovalue.sla.credential_rotate:
    people: "{{ access_people }}"
    grants: "{{ access_grants }}"
    sla: "{{ ansible_facts['sla'] }}"
    vault_dir: /srv/sla/vault
    vault_password_file: /srv/sla/vault-password
"""

RETURN = r"""
credentials:
  description: Every rotated credential of the host with C(id), C(last) and C(due) (ISO 8601).
  returned: always
  type: list
  elements: dict
rotated:
  description: The rotations made, with C(id) and the host's C(steps); never a secret.
  returned: always
  type: list
  elements: dict
failures:
  description: Rotations that failed, with C(msg) and whether the old credential was put back (C(reverted)).
  returned: failure
  type: list
  elements: dict
"""
