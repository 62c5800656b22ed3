# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.twovalue.sla.plugins.plugin_utils.approval_file import load_approval
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import (
    PlanError,
)


def sla_approval_file(path):
    try:
        return load_approval(path)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"sla_approval_file": sla_approval_file}
