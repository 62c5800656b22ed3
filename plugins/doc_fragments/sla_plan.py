# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options and behaviour the update and CMS planners share beside sla_decision and sla_advice."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  state:
    description: The host's C(sla_state) fact from M(twovalue.sla.host_probe).
    type: dict
    required: true
attributes:
  check_mode:
    support: full
    details:
      - In check mode the decisions and advice are still recorded and written, marked as check mode.
  diff_mode:
    support: none
"""
