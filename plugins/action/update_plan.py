# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.update_plan: gate, advice and audit in one step.

No module runs on the host: the plan is made from the probed state, so a
host with nothing to do costs no module invocation here.
"""

from __future__ import annotations

import datetime
import json

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import (
    advice_paths,
    write_text,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.approval_file import load_approval
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import DecisionWriter
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import masks_known_secrets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import AuditError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import GateError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import SlaConfigError
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import (
    PlanError,
    advice_json,
    advice_markdown,
    plan_updates,
)

ARGUMENT_SPEC = {
    "state": {"type": "dict", "required": True},
    "sla": {"type": "dict", "required": True},
    "approval": {"type": "dict"},
    "approval_file": {"type": "path"},
    "migration_project": {"type": "str"},
    "last_periodic_update": {"type": "str"},
    "advice_dir": {"type": "path", "required": True},
    "now": {"type": "str"},
}

_DECISION_RECORDED = {
    "apply": "approved",
    "apply_with_approval": "approved",
    "advise": "advised",
    "refuse": "refused",
}


def _approval_reference(item, approval):
    if item["decision"] == "apply_with_approval":
        return approval
    # Upgrades run only under a named project; the trail keeps it out of SLA figures.
    return item.get("migration_project")


def _item_result(item):
    # Who the decision is for and the security deadline let a report tell the
    # agency's late updates from the ones a customer or hoster holds back.
    result = {
        "kind": item["kind"],
        "security": item["security"],
        "addressed_to": item["addressed_to"],
        "deadline": item["deadline"],
    }
    if item.get("outside_sla"):
        result["outside_sla"] = True
    if item.get("new_install"):
        result.update(new_install=True, needed_by=item["needed_by"])
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    @masks_known_secrets
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = task_vars.get("inventory_hostname")
        sla = args["sla"]
        try:
            approval = args["approval"]
            if args["approval_file"]:
                approval = load_approval(args["approval_file"])
            now = args["now"] or datetime.datetime.now(datetime.UTC).isoformat()
            plan = plan_updates(
                args["state"],
                sla["targets"],
                now,
                approval=approval,
                control=sla.get("control"),
                last_periodic_update=args["last_periodic_update"],
                migration_project=args["migration_project"],
                scope={"customer": sla["customer"], "host": host},
            )
        except (PlanError, GateError, SlaConfigError, KeyError) as exc:
            result.update(failed=True, msg=f"host {host}: cannot plan updates: {exc}")
            return result

        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        try:
            advice_files = advice_paths(
                args["advice_dir"],
                sla["customer"],
                host,
                "updates",
                bool(plan["advice"] or plan["new_packages"]),
            )
            # Recorded first: advice the trail does not know of is never handed out.
            hashes = self._record(plan, task_vars, sla, check_mode, advice_files)
            self._write_advice(plan, advice_files, sla, host)
        except (AuditError, AnsibleError, OSError) as exc:
            result.update(
                failed=True,
                msg=(
                    f"host {host}: the update decisions could not be recorded, so nothing is "
                    f"applied: {exc}"
                ),
            )
            return result
        plan["advice_files"] = advice_files
        plan["audit_head"] = hashes[-1] if hashes else None
        # A compact fact for summaries and reports; the full plan is in the result.
        facts = {
            "sla_update_plan": {
                key: plan[key]
                for key in ("change_set", "summary", "next_window", "advice_files", "now")
            }
        }
        facts["sla_update_plan"]["to_apply"] = len(plan["apply"])
        result.update(changed=False, plan=plan, ansible_facts=facts)
        return result

    @staticmethod
    def _write_advice(plan, paths, sla, host):
        if paths:
            markdown, document = paths
            write_text(markdown, advice_markdown(plan, sla["customer"], host, sla["tier"]))
            write_text(document, advice_json(plan, sla["customer"], host, sla["tier"]))

    def _record(self, plan, task_vars, sla, check_mode, advice_files):
        writer = DecisionWriter(
            task_vars, self._templar.template, customer=sla["customer"], tier=sla["tier"]
        )
        approval = (plan["approval"] or {}).get("reference")
        records = [
            writer.record(
                "updates",
                _DECISION_RECORDED[item["decision"]],
                self._task.action,
                check_mode,
                item=item["component"],
                reason=item["reason"],
                before=item["installed"] or None,
                after=item["candidate"],
                approval=_approval_reference(item, approval),
                result=_item_result(item),
            )
            for item in plan["decisions"]
        ]
        records += [
            writer.record(
                "updates",
                "refused" if package["kind"] == "upgrade" else "advised",
                self._task.action,
                check_mode,
                item=package["package"],
                reason=package["reason"],
                after=package["candidate"],
                result={"kind": package["kind"]},
            )
            for package in plan["new_packages"]
        ]
        records.append(
            writer.record(
                "updates",
                "planned",
                self._task.action,
                check_mode,
                item="change_set",
                reason=f"{len(plan['apply'])} to apply, {len(plan['advice'])} advised or refused",
                after=plan["change_set"],
                result={"summary": plan["summary"], "advice_files": json.dumps(advice_files)},
            )
        )
        return [appended.hash for appended in writer.append(records)]
