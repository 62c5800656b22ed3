# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.twovalue.sla.plugins.plugin_utils.awx_objects import (
    AwxObjectsError,
    fleet_objects,
)


def sla_awx_objects(hosts, settings, advice=None, start_date=None):
    try:
        if not isinstance(advice, str):
            advice = list(advice or [])
        return fleet_objects(list(hosts), dict(settings), advice, start_date)
    except (AwxObjectsError, KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"sla_awx_objects: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"sla_awx_objects": sla_awx_objects}
