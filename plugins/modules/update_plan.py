# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: update_plan
short_description: Decide a host's pending package updates under its SLA, record and advise
version_added: 0.1.0
description:
  - Turns the pending updates found by M(twovalue.sla.host_probe) into gate items
    (Debian package versions with the suite they come from) and decides each one
    under the customer's SLA tier (see docs/tiers.md) - apply, advise, refuse
    (an upgrade, which is migration advice) or apply with the customer's approval.
  - Packages an update would newly install are never installed; they are advice.
  - Records every decision in the customer's audit trail before returning. If the
    trail cannot be written the task fails, so nothing is applied unrecorded.
  - Writes an advice document (Markdown and JSON) on the controller when anything
    is advised or refused, with the change-set hash a customer approves.
  - Runs on the controller only; nothing is executed on the managed host.
extends_documentation_fragment:
  - twovalue.sla.sla_decision
  - twovalue.sla.sla_plan
  - twovalue.sla.sla_advice
options:
  migration_project:
    description: Reference of an agreed migration project; only then is an upgrade applied, outside the SLA.
    type: str
  last_periodic_update:
    description: ISO 8601 time with timezone of the last periodic update.
    type: str
author:
  - twovalue
"""

EXAMPLES = r"""
- name: Decide the pending updates under the customer's SLA
  twovalue.sla.update_plan:
    state: "{{ ansible_facts['sla_state'] }}"
    sla: "{{ ansible_facts['sla'] }}"
    advice_dir: /var/lib/sla/advice
  register: plan

- name: Show what would be applied
  ansible.builtin.debug:
    msg: "{{ plan.plan.apply | map(attribute='name') | list }}"
"""

RETURN = r"""
ansible_facts:
  description: C(sla_update_plan) with change_set, summary, next_window, advice_files, now and to_apply.
  returned: success
  type: dict
plan:
  description: The decisions and what follows from them.
  returned: success
  type: dict
  contains:
    change_set:
      description: SHA-256 of the proposed change set; an approval names it.
      type: str
    apply:
      description: Packages to install, each with C(name), C(version) and C(previous).
      type: list
      elements: dict
    advice:
      description: Decided items that are not applied (advise or refuse), each with its reason.
      type: list
      elements: dict
    decisions:
      description: Every decided item with kind, branches, decision, reason and who it is addressed to.
      type: list
      elements: dict
    new_packages:
      description: Packages an update would newly install; never installed, reported as advice.
      type: list
      elements: dict
    summary:
      description: Count of items per decision.
      type: dict
    advice_files:
      description: Paths of the advice documents written on the controller.
      type: list
      elements: str
    audit_head:
      description: Hash of the last audit record written.
      type: str
"""
