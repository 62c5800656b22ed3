# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.audit_event: append one decision record.

The record is written before the task returns, under the trail's lock and
with fsync, and a record that cannot be written fails the task, so a change
that should follow it does not happen unrecorded.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import DecisionWriter
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import SlaAction
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    DECISIONS,
    AuditError,
)

# The gate (sla_gate) speaks in verbs about what should happen; the trail
# records what did happen. Accepting the gate's words saves every role a map.
DECISION_ALIASES = {
    "apply": "applied",
    "advise": "advised",
    "refuse": "refused",
    "apply_with_approval": "approved",
}

ARGUMENT_SPEC = {
    "activity": {"type": "str", "required": True},
    "item": {"type": "str"},
    "decision": {
        "type": "str",
        "required": True,
        "choices": sorted(set(DECISIONS) | set(DECISION_ALIASES)),
    },
    "reason": {"type": "str"},
    "before": {"type": "raw"},
    "after": {"type": "raw"},
    "approval": {"type": "raw"},
    "result": {"type": "raw"},
    "customer": {"type": "str"},
    "tier": {"type": "str"},
    "audit_dir": {"type": "path"},
}


class ActionModule(SlaAction):
    _requires_connection = False
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        task_vars = self.task_vars

        try:
            writer = DecisionWriter(
                task_vars,
                self._templar.template,
                customer=args["customer"],
                tier=args["tier"],
                audit_dir=args["audit_dir"],
            )
            record = writer.record(
                args["activity"],
                DECISION_ALIASES.get(args["decision"], args["decision"]),
                self._task.action,
                self.check_mode,
                item=args["item"],
                reason=args["reason"],
                before=args["before"],
                after=args["after"],
                approval=args["approval"],
                result=args["result"],
            )
            appended = writer.append([record])[0]
        except (AuditError, AnsibleError, OSError, ValueError) as exc:
            result.update(
                failed=True,
                changed=False,
                msg=(
                    f"audit record could not be written, so the task fails to keep the "
                    f"change that depends on it from running: {exc}"
                ),
            )
            return result

        result.update(
            changed=False,
            hash=appended.hash,
            prev=appended.prev,
            seq=appended.seq,
            trail=appended.path,
            decision=record["decision"],
            check_mode=record["check_mode"],
        )
        return result
