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
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_redaction import (
    Redactor,
    collect_secret_values,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import (
    SECRET_STORE_VARIABLES,
    open_trail,
    resolve_store,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    RUN_ID_ENV,
    UNASSIGNED_CUSTOMER,
    load_key,
)

_CALLBACK_NAME = "twovalue.sla.audit"


def callback_settings():
    """audit_dir, key_file, operator, secret_var_names and the store as the callback has them.

    Includes the database password when one is configured: for opening the
    trail only, never for output.
    """
    callback = callback_loader.get(_CALLBACK_NAME)
    if callback is None:
        raise AnsibleError(f"callback {_CALLBACK_NAME} is not installed")
    callback.set_options()
    settings = callback.audit_settings()
    secrets = getattr(callback, "audit_secrets", None)
    return dict(settings, **secrets()) if secrets is not None else settings


def customer_trail(task_vars, render, customer, audit_dir=None, settings=None, redactor=None):
    """The store of ``customer``'s trail, from the callback's settings and the host's variables.

    ``sla_audit_*`` inventory (or vault) variables choose the backend and the
    database; an explicit ``audit_dir`` means that directory's trail files.
    """
    settings = settings if settings is not None else callback_settings()
    store = resolve_store(settings, task_vars, render, audit_dir=audit_dir)
    return open_trail(
        store,
        customer or UNASSIGNED_CUSTOMER,
        key=load_key(settings.get("key_file")),
        redactor=redactor,
    )


def known_secret_values(task_vars, render, settings=None):
    """The secrets a task's output must never show, and the variable names that mark them.

    Vault-encrypted values among the task's variables, the values of the
    variables named in SLA_AUDIT_SECRET_VARS (the callback's secret_var_names)
    and the audit store's own credentials: what the trail's redactor knows.
    """
    settings = settings if settings is not None else callback_settings()
    names = list(settings.get("secret_var_names") or ())
    values = collect_secret_values(task_vars, [*names, *SECRET_STORE_VARIABLES], render)
    return values, names


def known_secrets_redactor(task_vars, render, settings=None):
    values, names = known_secret_values(task_vars, render, settings)
    return Redactor(values, names)


def run_id():
    # The callback sets it at start; without the callback one id per process
    # still groups the records of this run.
    return os.environ.setdefault(RUN_ID_ENV, uuid.uuid4().hex)


class DecisionWriter:
    """The trail of one host's customer, ready for decision records."""

    def __init__(self, task_vars, render, customer=None, tier=None, audit_dir=None):
        settings = callback_settings()
        secrets, _names = known_secret_values(task_vars, render, settings)
        self.customer = customer or _plain(task_vars.get("sla_customer"), render)
        self.tier = tier or _plain(task_vars.get("sla_tier"), render)
        self.host = task_vars.get("inventory_hostname")
        self.operator = settings["operator"]
        store = resolve_store(settings, task_vars, render, audit_dir=audit_dir)
        self.trail = open_trail(
            store,
            self.customer or UNASSIGNED_CUSTOMER,
            key=load_key(settings["key_file"]),
            redactor=Redactor(secrets | store.secret_values(), settings["secret_var_names"]),
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
