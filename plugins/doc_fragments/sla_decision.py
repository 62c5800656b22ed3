# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every controller-side action that decides under a customer's SLA."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  sla:
    description: The host's C(sla) fact from M(twovalue.sla.sla_context) (customer, tier, targets, control).
    type: dict
    required: true
  approval:
    description:
      - The customer's approval of the change set, with C(reference), C(customer), C(change_set),
        C(approved_by), optional C(hosts) and C(expires).
    type: dict
  approval_file:
    description: A YAML or JSON file holding the approval; a file that does not parse is an error.
    type: path
  now:
    description: Decide as if it were this ISO 8601 time with timezone; default is now.
    type: str
"""
