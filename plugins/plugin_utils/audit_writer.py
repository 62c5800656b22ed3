# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write decision records from action plugins, with the callback's settings.

Every action that decides something (audit_event, update_plan, ...) opens
the customer's trail the same way: settings from the twovalue.sla.audit
callback's options (enabled or not), secrets collected from the task's
variables, one redactor. Keeping it here gives them one behaviour.
"""

from __future__ import annotations

import os
import uuid

from ansible.errors import AnsibleError
from ansible.plugins.loader import callback_loader
from ansible_collections.twovalue.sla.plugins.module_utils.sla_audit import (
    RUN_ID_ENV,
    UNASSIGNED_CUSTOMER,
    AuditTrail,
    Redactor,
    collect_secret_values,
    load_key,
    trail_path,
)

_CALLBACK_NAME = "twovalue.sla.audit"


def callback_settings():
    """audit_dir, key_file, operator and secret_var_names as the callback resolves them."""
    callback = callback_loader.get(_CALLBACK_NAME)
    if callback is None:
        raise AnsibleError(f"callback {_CALLBACK_NAME} is not installed")
    callback.set_options()
    return callback.audit_settings()


def run_id():
    # The callback sets it at start; without the callback one id per process
    # still groups the records of this run.
    return os.environ.setdefault(RUN_ID_ENV, uuid.uuid4().hex)


class DecisionWriter:
    """The trail of one host's customer, ready for decision records."""

    def __init__(self, task_vars, render, customer=None, tier=None, audit_dir=None):
        settings = callback_settings()
        secrets = collect_secret_values(task_vars, settings["secret_var_names"], render)
        self.customer = customer or _plain(task_vars.get("sla_customer"), render)
        self.tier = tier or _plain(task_vars.get("sla_tier"), render)
        self.host = task_vars.get("inventory_hostname")
        self.operator = settings["operator"]
        self.trail = AuditTrail(
            trail_path(audit_dir or settings["audit_dir"], self.customer or UNASSIGNED_CUSTOMER),
            key=load_key(settings["key_file"]),
            redactor=Redactor(secrets, settings["secret_var_names"]),
        )

    def record(self, activity, decision, action, check_mode, **fields):
        """A complete decision record for this host; ``fields`` fill the rest."""
        record = {
            "kind": "decision",
            "run_id": run_id(),
            "operator": self.operator,
            "customer": self.customer or UNASSIGNED_CUSTOMER,
            "host": self.host,
            "tier": self.tier,
            "activity": activity,
            "item": None,
            "action": action,
            "decision": decision,
            "reason": None,
            "before": None,
            "after": None,
            "approval": None,
            "result": None,
            # Check mode still writes: advice given in a dry run is part of the record.
            "check_mode": bool(check_mode),
        }
        record.update(fields)
        return record

    def append(self, records):
        return self.trail.append_many(records)


def _plain(value, render):
    if isinstance(value, str) and "{{" in value:
        value = render(value)
    return None if value is None else str(value)
