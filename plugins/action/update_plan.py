# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.update_plan: gate, advice and audit in one step.

No module runs on the host: the plan is made from the probed state, so a
host with nothing to do costs no module invocation here.
"""

from __future__ import annotations

import json

from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import (
    advice_paths,
    write_text,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import (
    DecisionAction,
    decision_argument_spec,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import (
    advice_json,
    advice_markdown,
    plan_updates,
)

ARGUMENT_SPEC = decision_argument_spec(
    state={"type": "dict", "required": True},
    migration_project={"type": "str"},
    last_periodic_update={"type": "str"},
    advice_dir={"type": "path", "required": True},
)

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


class ActionModule(DecisionAction):
    _requires_connection = False
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        sla = args["sla"]
        with self.planning("plan updates"):
            plan = plan_updates(
                args["state"],
                sla["targets"],
                self.decision_time(args),
                approval=self.approval(args),
                control=sla.get("control"),
                last_periodic_update=args["last_periodic_update"],
                migration_project=args["migration_project"],
                scope=self.scope(sla),
            )
        refusal = "the update decisions could not be recorded, so nothing is applied"
        with self.failing_as(refusal):
            advice_files = advice_paths(
                args["advice_dir"],
                sla["customer"],
                self.host,
                "updates",
                bool(plan["advice"] or plan["new_packages"]),
            )
            # Recorded first: advice the trail does not know of is never handed out.
            _writer, appended = self.record_before_acting(
                sla, lambda writer: self._records(writer, plan, advice_files), refusal
            )
            self._write_advice(plan, advice_files, sla, self.host)
        plan["advice_files"] = advice_files
        plan["audit_head"] = appended[-1].hash if appended else None
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

    def _records(self, writer, plan, advice_files):
        approval = (plan["approval"] or {}).get("reference")
        records = [
            self.record(
                writer,
                "updates",
                _DECISION_RECORDED[item["decision"]],
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
            self.record(
                writer,
                "updates",
                "refused" if package["kind"] == "upgrade" else "advised",
                item=package["package"],
                reason=package["reason"],
                after=package["candidate"],
                result={"kind": package["kind"]},
            )
            for package in plan["new_packages"]
        ]
        records.append(
            self.record(
                writer,
                "updates",
                "planned",
                item="change_set",
                reason=f"{len(plan['apply'])} to apply, {len(plan['advice'])} advised or refused",
                after=plan["change_set"],
                result={"summary": plan["summary"], "advice_files": json.dumps(advice_files)},
            )
        )
        return records
