# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.twovalue.sla.plugins.plugin_utils.fleet_summary import (
    fleet_summary,
    summary_lines,
)


def sla_fleet_summary(hosts, as_lines=True):
    try:
        customers = fleet_summary(hosts)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(
            f"sla_fleet_summary: a host entry lacks probed state: {exc}"
        ) from exc
    return summary_lines(customers) if as_lines else customers


class FilterModule:
    def filters(self):
        return {"sla_fleet_summary": sla_fleet_summary}
