# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.drift_report: compare, record as advice, write per customer."""

from __future__ import annotations

import os
from collections import defaultdict

from ansible.errors import AnsibleError
from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import write_text
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import DecisionWriter
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import SlaAction
from ansible_collections.twovalue.sla.plugins.plugin_utils.drift_report import (
    customer_drift,
    drift_json,
    drift_markdown,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import AuditError

ARGUMENT_SPEC = {
    "hosts": {"type": "list", "elements": "dict", "required": True},
    "advice_dir": {"type": "path", "required": True},
}


class ActionModule(SlaAction):
    _requires_connection = False
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        task_vars = self.task_vars
        check_mode = self.check_mode
        customers = defaultdict(list)
        for entry in args["hosts"]:
            missing = [
                k for k in ("host", "customer", "tier", "environment", "drift") if not entry.get(k)
            ]
            if missing:
                result.update(
                    failed=True, msg=f"host entry {entry.get('host')}: no {', '.join(missing)}"
                )
                return result
            customers[entry["customer"]].append(entry)
        reports = {}
        try:
            for customer, hosts in sorted(customers.items()):
                drift = customer_drift(hosts)
                writer = DecisionWriter(task_vars, self._templar.template, customer=customer,
                                        tier=hosts[0]["tier"])  # fmt: skip
                count = sum(len(p["differences"]) for p in drift["pairs"])
                writer.append([
                    writer.record(
                        "staging", "advised" if count else "planned", self._task.action,
                        check_mode, host=pair["staging"], item="staging drift",
                        reason=f"{len(pair['differences'])} differences from {pair['production']}",
                        result={"areas": sorted({d["area"] for d in pair["differences"]})},
                    )
                    for pair in drift["pairs"]
                ])  # fmt: skip
                base = os.path.join(args["advice_dir"], customer, "staging-drift")
                write_text(f"{base}.md", drift_markdown(customer, drift))
                write_text(f"{base}.json", drift_json(customer, drift))
                reports[customer] = {"files": [f"{base}.md", f"{base}.json"], "differences": count}
        except (AuditError, AnsibleError, OSError) as exc:
            result.update(failed=True, msg=f"the drift report could not be recorded: {exc}")
            return result
        result.update(changed=False, reports=reports)
        return result
