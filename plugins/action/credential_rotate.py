# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.credential_rotate: due dates, tier, vault, host, trail.

The new secret is made here, staged in the customer's vault, handed to the
host in the module's arguments (stdin, no_log) and committed only after the
host proved a login with it. It never enters a result, the trail or a log.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import secrets

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    RegisterError,
    host_access,
    validate_grants,
    validate_people,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.approval_file import load_approval
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import as_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import (
    DecisionWriter,
    callback_settings,
    customer_trail,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import masks_known_secrets
from ansible_collections.twovalue.sla.plugins.plugin_utils.secret_store import (
    SecretStoreError,
    VaultFileStore,
    read_vault_password,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import AuditError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    GateError,
    approval_status,
    window_status,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import (
    PlanError,
)

ARGUMENT_SPEC = {
    "people": {"type": "dict", "required": True},
    "grants": {"type": "list", "elements": "raw", "default": []},
    "sla": {"type": "dict", "required": True},
    "vault_dir": {"type": "path", "required": True},
    "vault_password_file": {"type": "path", "required": True},
    "only": {"type": "list", "elements": "str", "default": []},
    "force": {"type": "bool", "default": False},
    "site_urls": {"type": "dict", "default": {}},
    # The host modules' own spec: a credential in a check is no_log from the first validation.
    **HEALTH_CHECK_SPEC,
    "approval": {"type": "dict"},
    "approval_file": {"type": "path"},
    "now": {"type": "str"},
}

_SECRET_BYTES = 24


def item_name(credential):
    return f"credential {credential['id']}"


def last_rotations(trail, host):
    """When each credential of ``host`` was last rotated, from the customer's trail.

    ``trail`` is the customer's trail store (or a trail file's path).
    """
    last = {}
    lines = list(as_trail(trail).read_lines(contains='"credential '))
    for line in lines:
        record = json.loads(line)
        item = record.get("item") or ""
        if (
            record.get("activity") == "access"
            and record.get("decision") == "applied"
            and record.get("host") == host
            and not record.get("check_mode")
            and item.startswith("credential ")
        ):
            moment = datetime.datetime.fromisoformat(record["time"])
            key = item[len("credential ") :]
            last[key] = max(last.get(key, moment), moment)
    return last


def rotation_change_set(host, due):
    canonical = json.dumps({"host": host, "rotate": sorted(c["id"] for c in due)})
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


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
            now = (
                datetime.datetime.fromisoformat(args["now"])
                if args["now"]
                else datetime.datetime.now(datetime.UTC)
            )
            people = validate_people(args["people"])
            credentials = host_access(people, validate_grants(args["grants"], people), now.date())[
                "credentials"
            ]
            unknown = sorted(set(args["only"]) - {c["id"] for c in credentials})
            if unknown:
                raise RegisterError(
                    f"only names {', '.join(unknown)}, which the register does not list as a "
                    "rotated credential on this host"
                )
            if args["only"]:
                credentials = [c for c in credentials if c["id"] in args["only"]]
            interval = datetime.timedelta(days=sla["targets"]["credential_rotation_interval_days"])
            last = last_rotations(
                customer_trail(
                    task_vars,
                    self._templar.template,
                    sla["customer"],
                    settings=callback_settings(),
                ),
                host,
            )
            schedule = []
            for credential in credentials:
                previous = last.get(credential["id"])
                due_at = now if previous is None else previous + interval
                schedule.append(
                    dict(
                        credential,
                        last=previous and previous.isoformat(),
                        due=due_at.isoformat(),
                        rotate=args["force"] or due_at <= now,
                    )
                )
            due = [c for c in schedule if c["rotate"]]
            allowed, reason, reference = self._policy(sla, host, due, args, now)
        except (
            RegisterError,
            PlanError,
            GateError,
            ValueError,
            KeyError,
            AnsibleError,
            AuditError,
        ) as exc:
            result.update(failed=True, msg=f"host {host}: cannot plan the rotation: {exc}")
            return result

        shown = [{k: c[k] for k in ("id", "last", "due")} for c in schedule]
        if not due:
            result.update(
                changed=False, credentials=shown, rotated=[], msg=f"no credential due on {host}"
            )
            return result
        try:
            writer = DecisionWriter(
                task_vars, self._templar.template, customer=sla["customer"], tier=sla["tier"]
            )
            if not allowed:
                writer.append(
                    [
                        writer.record(
                            "access",
                            "advised",
                            self._task.action,
                            check_mode,
                            item=item_name(c),
                            reason=f"rotation due {c['due']}: {reason}",
                        )
                        for c in due
                    ]
                )
                result.update(
                    changed=False,
                    credentials=shown,
                    rotated=[],
                    advised=[c["id"] for c in due],
                    msg=f"{len(due)} rotations due on {host} and not made: {reason}",
                )
                return result
            store = VaultFileStore(
                args["vault_dir"], sla["customer"], read_vault_password(args["vault_password_file"])
            )
        except (AuditError, AnsibleError, OSError, SecretStoreError) as exc:
            result.update(failed=True, msg=f"host {host}: nothing rotated: {exc}")
            return result

        rotated, failures = [], []
        for credential in due:
            outcome = self._rotate(
                credential, store, writer, args, task_vars, check_mode, reason, reference, now
            )
            (failures if outcome.get("failed") else rotated).append(outcome)
        result.update(
            changed=bool(rotated),
            credentials=shown,
            rotated=rotated,
        )
        if failures:
            result.update(
                failed=True,
                failures=failures,
                msg=f"host {host}: {len(failures)} of {len(due)} rotations failed: "
                + "; ".join(f"{f['id']}: {f['msg']}" for f in failures),
            )
        return result

    def _policy(self, sla, host, due, args, now):
        """Whether the due rotations may run now: a window on active tiers, approval on Basic."""
        targets = sla["targets"]
        if not due:
            return False, "", None
        if targets["decision_mode"] == "active" and "access" in targets["activities"]:
            timing = window_status(targets, now)
            if timing["in_window"]:
                return True, "inside a maintenance window (the site's configuration changes)", None
            return (
                False,
                f"outside the maintenance windows; next window {timing['next_window']}",
                None,
            )
        approval = args["approval"]
        if args["approval_file"]:
            approval = load_approval(args["approval_file"])
        change_set = rotation_change_set(host, due)
        if not approval:
            return (
                False,
                f"the tier is advisory: waits for approval of change set {change_set}",
                None,
            )
        status = approval_status(
            approval, change_set, now, {"customer": sla["customer"], "host": host}
        )
        return status["valid"], status["reason"], status["reference"] if status["valid"] else None

    def _rotate(
        self, credential, store, writer, args, task_vars, check_mode, reason, reference, now
    ):
        item = item_name(credential)
        stamp = now.isoformat()
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        try:
            if not check_mode:
                # Staged first: killed after this, the vault still knows every live password.
                store.stage(credential["id"], secret, stamp)
            writer.append(
                [
                    writer.record(
                        "access",
                        "planned",
                        self._task.action,
                        check_mode,
                        item=item,
                        reason=reason,
                        approval=reference,
                    )
                ]
            )
        except (AuditError, AnsibleError, OSError, SecretStoreError) as exc:
            return {"id": credential["id"], "failed": True, "msg": f"not started: {exc}"}
        site = credential["site"]
        module_args = {
            "kind": credential["kind"],
            "account": credential["account"],
            "db_host": credential["db_host"] or "localhost",
            "secret": secret,
            "health_checks": args["health_checks"],
            "health_retries": args["health_retries"],
            "health_delay": args["health_delay"],
        }
        if site:
            module_args["site"] = site
            if site in args["site_urls"]:
                module_args["site_url"] = args["site_urls"][site]
        answer = self._execute_module(
            module_name="twovalue.sla.credential_set", module_args=module_args, task_vars=task_vars
        )
        del secret, module_args
        ok = not answer.get("failed") and not answer.get("unreachable")
        steps = answer.get("steps", [])
        try:
            if not check_mode:
                if ok:
                    store.commit(credential["id"], stamp)
                else:
                    store.discard(credential["id"])
            writer.append(
                [
                    writer.record(
                        "access",
                        "applied" if ok else "failed",
                        self._task.action,
                        check_mode,
                        item=item,
                        reason=reason if ok else answer.get("msg"),
                        approval=reference,
                        result={"steps": steps, "reverted": answer.get("reverted")},
                    )
                ]
            )
        except (AuditError, AnsibleError, OSError, SecretStoreError) as exc:
            return {
                "id": credential["id"],
                "failed": True,
                "steps": steps,
                "msg": f"rotated on the host but not recorded: {exc}",
            }
        outcome = {"id": credential["id"], "steps": steps}
        if not ok:
            outcome.update(failed=True, reverted=answer.get("reverted"), msg=answer.get("msg"))
        return outcome
