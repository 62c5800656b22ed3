# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.audit_event: append one decision record.

The record is written before the task returns, under the trail's lock and
with fsync, and a record that cannot be written fails the task, so a change
that should follow it does not happen unrecorded.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import DecisionWriter
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import masks_known_secrets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import DECISIONS, AuditError

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
                self._task.check_mode or self._play_context.check_mode,
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
