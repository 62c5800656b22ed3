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

from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import HEALTH_CHECK_SPEC
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    RegisterError,
    host_access,
    validate_grants,
    validate_people,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import (
    AuditError,
    trail_records,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import (
    callback_settings,
    customer_trail,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import (
    RECORD_ERRORS,
    DecisionAction,
    decision_argument_spec,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.secret_store import (
    VaultFileStore,
    read_vault_password,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import may_change
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import aware_time

ARGUMENT_SPEC = decision_argument_spec(
    people={"type": "dict", "required": True},
    grants={"type": "list", "elements": "raw", "default": []},
    vault_dir={"type": "path", "required": True},
    vault_password_file={"type": "path", "required": True},
    only={"type": "list", "elements": "str", "default": []},
    force={"type": "bool", "default": False},
    site_urls={"type": "dict", "default": {}},
    # The host modules' own spec: a credential in a check is no_log from the first validation.
    **HEALTH_CHECK_SPEC,
)

_SECRET_BYTES = 24


def item_name(credential):
    return f"credential {credential['id']}"


def last_rotations(trail, host):
    """When each credential of ``host`` was last rotated, from the customer's trail.

    ``trail`` is the customer's trail store (or a trail file's path).
    """
    last = {}
    for record in trail_records(trail, '"credential '):
        item = record.get("item") or ""
        if (
            record.get("activity") == "access"
            and record.get("decision") == "applied"
            and record.get("host") == host
            and not record.get("check_mode")
            and item.startswith("credential ")
        ):
            moment = aware_time(record.get("time"), f"the recorded time of {item}", AuditError)
            key = item[len("credential ") :]
            last[key] = max(last.get(key, moment), moment)
    return last


def rotation_change_set(host, due):
    canonical = json.dumps({"host": host, "rotate": sorted(c["id"] for c in due)})
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ActionModule(DecisionAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        host, sla = self.host, args["sla"]
        # The trail of past rotations is read here too: an unreadable one stops the plan.
        with self.planning("plan the rotation", (SlaInputError, *RECORD_ERRORS)):
            now = self.decision_time(args)
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
                    self.task_vars,
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

        shown = [{k: c[k] for k in ("id", "last", "due")} for c in schedule]
        if not due:
            result.update(
                changed=False, credentials=shown, rotated=[], msg=f"no credential due on {host}"
            )
            return result
        with self.failing_as("nothing rotated"):
            writer = self.decision_writer(sla)
            if not allowed:
                writer.append(
                    [
                        self.record(
                            writer,
                            "access",
                            "advised",
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

        rotated, failures = [], []
        for credential in due:
            outcome = self._rotate(credential, store, writer, args, reason, reference, now)
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
        """Whether the due rotations may run now, by the gate's tier rule."""
        if not due:
            return False, "", None
        answer = may_change(
            "rotation",
            sla["targets"],
            now,
            approval=lambda: self.approval(args),
            change_set=rotation_change_set(host, due),
            scope=self.scope(sla),
        )
        return answer["allowed"], answer["reason"], answer["approval"]

    def _rotate(self, credential, store, writer, args, reason, reference, now):
        item = item_name(credential)
        stamp = now.isoformat()
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        try:
            if not self.check_mode:
                # Staged first: killed after this, the vault still knows every live password.
                store.stage(credential["id"], secret, stamp)
            writer.append(
                [
                    self.record(
                        writer,
                        "access",
                        "planned",
                        item=item,
                        reason=reason,
                        approval=reference,
                    )
                ]
            )
        except RECORD_ERRORS as exc:
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
            module_name="twovalue.sla.credential_set",
            module_args=module_args,
            task_vars=self.task_vars,
        )
        del secret, module_args
        ok = not answer.get("failed") and not answer.get("unreachable")
        steps = answer.get("steps", [])
        try:
            if not self.check_mode:
                if ok:
                    store.commit(credential["id"], stamp)
                else:
                    store.discard(credential["id"])
            writer.append(
                [
                    self.record(
                        writer,
                        "access",
                        "applied" if ok else "failed",
                        item=item,
                        reason=reason if ok else answer.get("msg"),
                        approval=reference,
                        result={"steps": steps, "reverted": answer.get("reverted")},
                    )
                ]
            )
        except RECORD_ERRORS as exc:
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
