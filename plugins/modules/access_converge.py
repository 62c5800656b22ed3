# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: access_converge
short_description: Converge a host's accesses to the access register under its SLA, revoke, record and advise
version_added: 0.1.0
description:
  - Checks the register (O(people) and the host's O(grants)) and derives what the host must
    look like for the accesses the agency controls. An unknown person, a duplicate account or
    a missing C(controlled_by) fails the task before any host is touched.
  - A person is revoked when their C(ends) date has passed or they are named in O(revoke).
    Their agency-controlled accesses are removed or locked at once, on every tier, and their
    keys are taken out of every C(authorized_keys) file on the host.
  - New accesses follow the tier - Medium and Pro grant them, Basic only with an approval of
    the grant change set (the hash in the advice).
  - Records the plan in the customer's audit trail before the host changes, then one record
    per change; runs M(twovalue.sla.access_state) once on the host.
  - Writes advice (C(<host>-access.md) and C(.json)) with what was withheld and the accesses the
    customer or hoster controls that deserve review, and an evidence file per run that changed
    something, listing what was removed and added.
  - Nothing in the register is secret; SSH keys appear in the trail only as fingerprints.
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.sla_decision
  - twovalue.sla.sla_advice
options:
  people:
    description:
      - The register's people - per person id C(name), C(organisation) (V(agency) or V(customer)),
        optional C(customer), C(ends) (a date) and C(ssh_keys).
    type: dict
    required: true
  grants:
    description:
      - The host's accesses, each with C(kind) (V(os_account), V(db_user), V(cms_account)),
        C(account), C(controlled_by) (V(agency), V(hoster), V(customer)), C(person) and, per kind,
        C(people), C(sudo), C(shell), C(db_host), C(privileges), C(site), C(rotate).
    type: list
    elements: raw
    default: []
  revoke:
    description: Person ids to revoke everywhere now (offboarding), whatever their end date.
    type: list
    elements: str
    default: []
  readmit:
    description:
      - Person ids to give access again on hosts where an earlier run revoked them. An offboarding
        holds on a host until then, even if the register still lists the person.
    type: list
    elements: str
    default: []
  evidence_dir:
    description: Controller directory for the evidence files, one folder per customer.
    type: path
    required: true
attributes:
  check_mode:
    support: full
    details:
      - The host is only read; the plan and the changes it would make are recorded as check mode.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Converge the register and revoke a former colleague
  twovalue.sla.access_converge:
    people: "{{ access_people }}"
    grants: "{{ access_grants }}"
    revoke: [bob]
    sla: "{{ ansible_facts['sla'] }}"
    advice_dir: /srv/sla/advice
    evidence_dir: /srv/sla/evidence
"""

RETURN = r"""
changes:
  description: The host's changes as M(twovalue.sla.access_state) reports them.
  returned: always
  type: list
  elements: dict
revoked_people:
  description: Person ids revoked on this host in this run.
  returned: success
  type: list
  elements: str
advice_files:
  description: The advice documents written, if any.
  returned: success
  type: list
  elements: str
evidence_file:
  description: The evidence of what changed, when something did.
  returned: success
  type: str
"""
