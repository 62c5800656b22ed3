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
    grants_change_set,
    host_access,
    validate_grants,
    validate_people,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import (
    advice_paths,
    write_text,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import run_id
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import (
    DecisionAction,
    decision_argument_spec,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError

ARGUMENT_SPEC = decision_argument_spec(
    people={"type": "dict", "required": True},
    grants={"type": "list", "elements": "raw", "default": []},
    revoke={"type": "list", "elements": "str", "default": []},
    readmit={"type": "list", "elements": "str", "default": []},
    advice_dir={"type": "path", "required": True},
    evidence_dir={"type": "path", "required": True},
)


class ActionModule(DecisionAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        host, sla, check_mode = self.host, args["sla"], self.check_mode
        with self.failing_as("access register", SlaInputError):
            now = self.decision_time(args)
            people = validate_people(args["people"])
            grants = validate_grants(args["grants"], people)
            desired = host_access(
                people, grants, now.date(), revoke=args["revoke"], readmit=args["readmit"]
            )
            change_set = grants_change_set(desired)
            allowed, reason, reference = grant_policy(
                sla["targets"], change_set, self.approval(args), now, self.scope(sla)
            )
        # Recorded before the host is touched: a change the trail cannot hold is not made.
        writer, _appended = self.record_before_acting(
            sla,
            lambda writer: [
                self.record(
                    writer,
                    "access",
                    "planned",
                    item="access register",
                    reason=f"revoked: {', '.join(desired['revoked_people']) or 'nobody'}; "
                    f"grants {'allowed' if allowed else 'withheld'}: {reason}",
                    after=change_set,
                    approval=reference,
                )
            ],
            "the access plan could not be recorded, so nothing is changed",
        )
        answer = self._execute_module(
            module_name="twovalue.sla.access_state",
            module_args={"desired": desired, "allow_grants": allowed},
            task_vars=self.task_vars,
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
        with self.failing_as("access changes made but not all recorded", changes=changes):
            records = [self._change_record(writer, c, reason, reference) for c in changes]
            if failure:
                records.append(
                    self.record(writer, "access", "failed", item="access register", reason=failure)
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

    def _change_record(self, writer, change, grant_reason, reference):
        granted = is_grant(change)
        if not change["applied"]:
            decision, why = "advised", grant_reason
        else:
            decision, why = "applied", grant_reason if granted else REVOCATION_REASON
        return self.record(
            writer,
            "access",
            decision,
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
