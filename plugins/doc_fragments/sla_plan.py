# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options and behaviour every controller-side SLA planner shares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  state:
    description: The host's C(sla_state) fact from M(twovalue.sla.host_probe).
    type: dict
    required: true
  sla:
    description: The host's C(sla) fact from M(twovalue.sla.sla_context) (customer, tier, targets, control).
    type: dict
    required: true
  approval:
    description:
      - The customer's approval, with C(reference), C(customer), C(change_set), C(approved_by),
        optional C(hosts) and C(expires).
    type: dict
  approval_file:
    description: A YAML or JSON file holding the approval; a file that does not parse is an error.
    type: path
  advice_dir:
    description: Controller directory for the advice documents, one folder per customer.
    type: path
    required: true
  now:
    description: Decide as if it were this ISO 8601 time with timezone; default is now.
    type: str
attributes:
  check_mode:
    support: full
    details:
      - In check mode the decisions and advice are still recorded and written, marked as check mode.
  diff_mode:
    support: none
"""
