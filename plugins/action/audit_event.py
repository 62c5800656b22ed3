# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.audit_event: append one decision record.

The record is written before the task returns, under the trail's lock and
with fsync, and a record that cannot be written fails the task, so a change
that should follow it does not happen unrecorded.
"""

from __future__ import annotations

import os
import uuid

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible.plugins.loader import callback_loader
from ansible_collections.twovalue.sla.plugins.module_utils.sla_audit import (
    DECISIONS,
    UNASSIGNED_CUSTOMER,
    AuditError,
    AuditTrail,
    Redactor,
    collect_secret_values,
    load_key,
    trail_path,
)

RUN_ID_ENV = "SLA_AUDIT_RUN_ID"

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

_CALLBACK_NAME = "twovalue.sla.audit"


def _callback_settings():
    """audit_dir, key_file, operator and secret_var_names as the callback resolves them.

    Loading the callback's option definitions gives both plugins one source of
    configuration (environment, ansible.cfg, defaults), enabled or not.
    """
    callback = callback_loader.get(_CALLBACK_NAME)
    if callback is None:
        raise AnsibleError(f"callback {_CALLBACK_NAME} is not installed")
    callback.set_options()
    return callback.audit_settings()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)

        try:
            settings = _callback_settings()
            key = load_key(settings["key_file"])
            variables = task_vars
            secrets = collect_secret_values(variables, settings["secret_var_names"], self._render)
            redactor = Redactor(secrets, settings["secret_var_names"])
            customer = args["customer"] or self._plain(task_vars.get("sla_customer"))
            audit_dir = args["audit_dir"] or settings["audit_dir"]
            trail = AuditTrail(
                trail_path(audit_dir, customer or UNASSIGNED_CUSTOMER),
                key=key,
                redactor=redactor,
            )
            record = self._record(args, task_vars, customer, settings["operator"])
            appended = trail.append(record)
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

    def _record(self, args, task_vars, customer, operator):
        return {
            "kind": "decision",
            "run_id": os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex,
            "operator": operator,
            "customer": customer or UNASSIGNED_CUSTOMER,
            "host": task_vars.get("inventory_hostname"),
            "tier": args["tier"] or self._plain(task_vars.get("sla_tier")),
            "activity": args["activity"],
            "item": args["item"],
            "action": self._task.action,
            "decision": DECISION_ALIASES.get(args["decision"], args["decision"]),
            "reason": args["reason"],
            "before": args["before"],
            "after": args["after"],
            "approval": args["approval"],
            "result": args["result"],
            # Check mode still writes: advice given in a dry run is part of the record.
            "check_mode": bool(self._task.check_mode or self._play_context.check_mode),
        }

    def _render(self, value):
        return self._templar.template(value)

    def _plain(self, value):
        if isinstance(value, str) and "{{" in value:
            value = self._render(value)
        return None if value is None else str(value)
