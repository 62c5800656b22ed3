# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.access_converge: register, tier, trail, one host module run.

The register is checked and the host's wanted state derived on the
controller; the plan is in the audit trail before the host changes, and
every change the host reports is recorded after it.
"""

from __future__ import annotations

import datetime
import os
import re

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_plan import (
    REVOCATION_REASON,
    advice_json,
    advice_markdown,
    evidence_json,
    grant_policy,
    has_advice,
    is_grant,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    RegisterError,
    grants_change_set,
    host_access,
    validate_grants,
    validate_people,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import (
    advice_paths,
    write_text,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.approval_file import load_approval
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import (
    DecisionWriter,
    run_id,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import masks_known_secrets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import AuditError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import GateError
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import (
    PlanError,
)

ARGUMENT_SPEC = {
    "people": {"type": "dict", "required": True},
    "grants": {"type": "list", "elements": "raw", "default": []},
    "revoke": {"type": "list", "elements": "str", "default": []},
    "readmit": {"type": "list", "elements": "str", "default": []},
    "sla": {"type": "dict", "required": True},
    "approval": {"type": "dict"},
    "approval_file": {"type": "path"},
    "advice_dir": {"type": "path", "required": True},
    "evidence_dir": {"type": "path", "required": True},
    "now": {"type": "str"},
}


def _now(text):
    if not text:
        return datetime.datetime.now(datetime.UTC)
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"now is {text!r} without a timezone")
    return moment


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
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
        check_mode = bool(self._task.check_mode or self._play_context.check_mode)
        try:
            now = _now(args["now"])
            people = validate_people(args["people"])
            grants = validate_grants(args["grants"], people)
            desired = host_access(
                people, grants, now.date(), revoke=args["revoke"], readmit=args["readmit"]
            )
            change_set = grants_change_set(desired)
            approval = args["approval"]
            if args["approval_file"]:
                approval = load_approval(args["approval_file"])
            allowed, reason, reference = grant_policy(
                sla["targets"],
                change_set,
                approval,
                now,
                {"customer": sla["customer"], "host": host},
            )
        except (RegisterError, PlanError, GateError, ValueError, KeyError) as exc:
            result.update(failed=True, msg=f"host {host}: access register: {exc}")
            return result

        try:
            writer = DecisionWriter(
                task_vars, self._templar.template, customer=sla["customer"], tier=sla["tier"]
            )
            # Recorded before the host is touched: a change the trail cannot hold is not made.
            writer.append(
                [
                    writer.record(
                        "access",
                        "planned",
                        self._task.action,
                        check_mode,
                        item="access register",
                        reason=f"revoked: {', '.join(desired['revoked_people']) or 'nobody'}; "
                        f"grants {'allowed' if allowed else 'withheld'}: {reason}",
                        after=change_set,
                        approval=reference,
                    )
                ]
            )
        except (AuditError, AnsibleError, OSError) as exc:
            result.update(
                failed=True,
                msg=f"host {host}: the access plan could not be recorded, "
                f"so nothing is changed: {exc}",
            )
            return result

        answer = self._execute_module(
            module_name="twovalue.sla.access_state",
            module_args={"desired": desired, "allow_grants": allowed},
            task_vars=task_vars,
        )
        changes = answer.get("changes", [])
        plan = {
            "changes": changes,
            "change_set": change_set,
            "grant_reason": reason,
            "review": desired["review"],
            "revoked_people": desired["revoked_people"],
        }
        failure = answer.get("msg") if answer.get("failed") or answer.get("unreachable") else None
        try:
            records = [
                self._change_record(writer, c, check_mode, reason, reference) for c in changes
            ]
            if failure:
                records.append(
                    writer.record(
                        "access",
                        "failed",
                        self._task.action,
                        check_mode,
                        item="access register",
                        reason=failure,
                    )
                )
            writer.append(records)
            files = advice_paths(
                args["advice_dir"], sla["customer"], host, "access", has_advice(plan)
            )
            if files:
                review_days = sla["targets"]["access_review_interval_days"]
                write_text(
                    files[0], advice_markdown(plan, sla["customer"], host, sla["tier"], review_days)
                )
                write_text(files[1], advice_json(plan, sla["customer"], host, sla["tier"]))
            evidence = None
            if any(c["applied"] for c in changes) and not check_mode:
                stamp = re.sub(r"[^0-9T]", "", now.astimezone(datetime.UTC).isoformat()[:19])
                evidence = os.path.join(
                    args["evidence_dir"], sla["customer"], f"{host}-access-{stamp}.json"
                )
                write_text(
                    evidence, evidence_json(plan, sla["customer"], host, run_id(), now.isoformat())
                )
        except (AuditError, AnsibleError, OSError) as exc:
            result.update(
                failed=True,
                changes=changes,
                msg=f"host {host}: access changes made but not all recorded: {exc}",
            )
            return result
        if failure:
            result.update(
                failed=True, changes=changes, msg=f"host {host}: access changes stopped: {failure}"
            )
            return result
        result.update(
            changed=any(c["applied"] for c in changes),
            changes=changes,
            revoked_people=desired["revoked_people"],
            advice_files=files,
            evidence_file=evidence,
            ansible_facts={
                "sla_access": {
                    "applied": sum(1 for c in changes if c["applied"]),
                    "withheld": sum(1 for c in changes if not c["applied"]),
                    "review": len(desired["review"]),
                    "advice_files": files,
                    "evidence_file": evidence,
                }
            },
        )
        return result

    def _change_record(self, writer, change, check_mode, grant_reason, reference):
        granted = is_grant(change)
        if not change["applied"]:
            decision, why = "advised", grant_reason
        else:
            decision, why = "applied", grant_reason if granted else REVOCATION_REASON
        return writer.record(
            "access",
            decision,
            self._task.action,
            check_mode,
            item=f"{change['kind']} {change['account']}",
            reason=why,
            after=change["change"],
            approval=reference if granted else None,
            result={
                key: change[key]
                for key in ("person", "keys_removed", "keys_added")
                if key in change
            },
        )
