# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
name: audit
type: aggregate
short_description: Record every task result in the customer's tamper-evident SLA audit trail
description:
  - Appends one record per task result and host (ok, changed, failed, skipped,
    unreachable) to the trail of the host's customer, C(<audit_dir>/<customer>.jsonl),
    with a C(run_start) record before the first one and a C(run_end) record with
    the play recap at the end of the run. The new head hash of every trail is
    printed at the end so it can be published.
  - The customer is the host variable C(sla_customer) and the tier C(sla_tier);
    hosts without C(sla_customer) are recorded in the C(_unassigned) trail.
  - Task arguments are never recorded. Of a module result only C(changed),
    C(failed) and C(msg) are kept, and for a C(no_log) task not even C(msg).
  - Values of vault-encrypted variables and of the variables named in
    O(secret_var_names) are replaced by C(********) wherever they appear.
  - The trail format and verification are described in docs/audit-trail.md.
version_added: 0.1.0
requirements:
  - enable in configuration, for example C(callbacks_enabled = twovalue.sla.audit)
options:
  audit_dir:
    description: Directory that holds one trail file per customer.
    type: path
    default: ~/.local/state/twovalue-sla/audit
    env:
      - name: SLA_AUDIT_DIR
    ini:
      - section: twovalue_sla_audit
        key: dir
  key_file:
    description:
      - File with an HMAC key. When set, records are chained with HMAC-SHA256,
        so only key holders can produce a valid trail.
      - A trail that has HMAC records refuses unkeyed appends.
    type: path
    env:
      - name: SLA_AUDIT_KEY_FILE
    ini:
      - section: twovalue_sla_audit
        key: key_file
  operator:
    description: Who runs the playbook. Defaults to the login user of the controller.
    type: str
    env:
      - name: SLA_OPERATOR
    ini:
      - section: twovalue_sla_audit
        key: operator
  backend:
    description:
      - Where the trails are kept. V(file) is one JSONL file per customer in O(audit_dir);
        V(postgresql) is a shared PostgreSQL database reached through O(dsn)
        (the Python package psycopg 3 is then needed on the controller).
      - The inventory variable C(sla_audit_backend) overrides it for the hosts that set it.
    type: str
    default: file
    choices: [file, postgresql]
    env:
      - name: SLA_AUDIT_BACKEND
    ini:
      - section: twovalue_sla_audit
        key: backend
  dsn:
    description:
      - The audit database for O(backend=postgresql), as a libpq DSN
        (C(host=db.example port=5432 dbname=sla_audit user=sla)) or URI. Keep the
        password out of it; use O(db_password_file), E(SLA_AUDIT_DB_PASSWORD) or ~/.pgpass.
      - The inventory variables C(sla_audit_dsn), C(sla_audit_db_host), C(sla_audit_db_port),
        C(sla_audit_db_name), C(sla_audit_db_user) and C(sla_audit_db_password) override it.
    type: str
    env:
      - name: SLA_AUDIT_DSN
    ini:
      - section: twovalue_sla_audit
        key: dsn
  db_password_file:
    description: File holding the audit database password.
    type: path
    env:
      - name: SLA_AUDIT_DB_PASSWORD_FILE
    ini:
      - section: twovalue_sla_audit
        key: db_password_file
  db_password:
    description: The audit database password, from the environment only; never printed or recorded.
    type: str
    env:
      - name: SLA_AUDIT_DB_PASSWORD
  secret_var_names:
    description:
      - Names of variables whose values are secrets even when not vault-encrypted
        (for example values passed with C(-e)). Their values are redacted.
    type: list
    elements: str
    default: []
    env:
      - name: SLA_AUDIT_SECRET_VARS
    ini:
      - section: twovalue_sla_audit
        key: secret_vars
"""

import atexit
import contextlib
import getpass
import os
import queue
import threading
import uuid

from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_version
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_redaction import (
    Redactor,
    collect_secret_values,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import (
    BACKEND_FILE,
    SECRET_STORE_VARIABLES,
    STORE_VARIABLES,
    mask_dsn,
    open_trail,
    resolve_store,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    RUN_ID_ENV,
    UNASSIGNED_CUSTOMER,
    AuditError,
    load_key,
    utc_now,
)

_MAX_MESSAGE_LENGTH = 2000
_FALSE_WORDS = frozenset({"", "false", "no", "0", "off", "n", "f"})


def _login_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def _is_no_log(result) -> bool:
    """True unless the task clearly did not ask for no_log; unknown counts as secret."""
    if result.result.get("_ansible_no_log"):
        return True
    no_log = result.task_fields.get("no_log", getattr(result.task, "no_log", None))
    if no_log is None or isinstance(no_log, bool):
        return bool(no_log)
    return str(no_log).strip().lower() not in _FALSE_WORDS


class _TrailWriter:
    """Appends queued records in a background thread.

    The strategy hands results to callbacks on its own thread, so a lock, a
    write and an fsync per result would delay every next task. Records are
    queued in order and written in batches (one lock and fsync per trail per
    batch); flush() waits until everything queued is on disk.
    """

    def __init__(self):
        self._queue: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._errors: list[str] = []
        self._errors_lock = threading.Lock()
        self.lost_records = 0

    def submit(self, trail: AuditTrail, records: list[dict], redactor: Redactor) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._drain_forever, name="twovalue.sla.audit", daemon=True
            )
            self._thread.start()
        self._queue.put((trail, records, redactor))

    def flush(self) -> None:
        if self._thread is not None:
            self._queue.join()

    def take_errors(self) -> list[str]:
        with self._errors_lock:
            errors, self._errors = self._errors, []
        return errors

    def _drain_forever(self) -> None:
        # Every queued item is marked done whatever happens, so flush() can
        # never hang at the end of the run.
        while True:
            batch = [self._queue.get()]
            with contextlib.suppress(queue.Empty):
                while True:
                    batch.append(self._queue.get_nowait())
            try:
                self._write_batch(batch)
            finally:
                for _item in batch:
                    self._queue.task_done()

    def _write_batch(self, batch) -> None:
        # The newest redactor knows every secret seen so far.
        redactor = batch[-1][2]
        by_trail: dict[str, tuple[AuditTrail, list[dict]]] = {}
        for trail, records, _redactor in batch:
            by_trail.setdefault(trail.path, (trail, []))[1].extend(records)
        for trail, records in by_trail.values():
            try:
                trail.append_many(records, redactor=redactor)
            except Exception as exc:  # reported on the main thread; the writer must live on
                with self._errors_lock:
                    self.lost_records += len(records)
                    self._errors.append(f"cannot record in {trail.path}: {exc}")


class _HostContext:
    __slots__ = ("customer", "store", "tier")

    def __init__(self, customer, tier, store=None):
        self.customer = customer
        self.tier = tier
        # The host's own sla_audit_* settings, or None for the callback's.
        self.store = store


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "twovalue.sla.audit"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None):
        super().__init__(display=display)
        # Workers are forked from this process, so twovalue.sla.audit_event
        # records made during the run carry the same run_id.
        self._run_id = os.environ.setdefault(RUN_ID_ENV, uuid.uuid4().hex)
        self._trails: dict[str, AuditTrail] = {}
        self._hosts_by_customer: dict[str, set[str]] = {}
        self._host_contexts: dict[tuple[str, str], _HostContext] = {}
        self._secrets: set[str] = set()
        self._redactor = Redactor()
        self._play = None
        self._playbook_name = None
        self._writer = _TrailWriter()
        # Records still queued when ansible-playbook exits early are written first.
        atexit.register(self._writer.flush)
        self._audit_dir = None
        self._key = None
        self._operator = None
        self._secret_var_names: list[str] = []
        self._store = None
        atexit.register(self._close_trails)

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self._audit_dir = self.get_option("audit_dir")
        self._operator = self.get_option("operator") or _login_user()
        self._secret_var_names = list(self.get_option("secret_var_names") or [])
        try:
            self._key = load_key(self.get_option("key_file"))
            # Better no run than a run whose trail cannot be kept as configured.
            self._store = resolve_store(dict(self.audit_settings(), **self.audit_secrets()))
        except AuditError as exc:
            raise AnsibleError(f"twovalue.sla.audit: {exc}") from exc

    def audit_settings(self) -> dict:
        """Resolved options, shared with the twovalue.sla.audit_event action.

        Nothing secret: a password in the DSN is masked (see audit_secrets).
        """
        return {
            "audit_dir": self._audit_dir,
            "key_file": self.get_option("key_file"),
            "operator": self._operator,
            "secret_var_names": list(self._secret_var_names),
            "backend": self.get_option("backend") or BACKEND_FILE,
            "dsn": mask_dsn(self.get_option("dsn")),
            "db_password_file": self.get_option("db_password_file"),
        }

    def audit_secrets(self) -> dict:
        """The settings that may carry the database password, for the writers only."""
        return {"dsn": self.get_option("dsn"), "db_password": self.get_option("db_password")}

    @property
    def _check_mode(self) -> bool:
        return bool(context.CLIARGS.get("check", False))

    # ------------------------------------------------------------------ events

    def v2_playbook_on_start(self, playbook):
        self._playbook_name = os.path.basename(getattr(playbook, "_file_name", "") or "")

    def v2_playbook_on_play_start(self, play):
        self._play = play
        # Open every customer's trail with run_start before any task record
        # (including twovalue.sla.audit_event records written by workers).
        for host in self._hosts_of(play):
            host_context = self._context_for(host)
            if host_context.customer not in self._trails:
                self._append(host_context.customer, [], host_context)
        self._writer.flush()

    @staticmethod
    def _hosts_of(play):
        inventory = getattr(play.get_variable_manager(), "_inventory", None)
        if inventory is None:
            return []
        try:
            return inventory.get_hosts(play.hosts)
        except (AnsibleError, TypeError, ValueError):
            return []  # records still open the trail lazily, at the first result

    def v2_runner_on_ok(self, result):
        self._record_result(result, "changed" if result.is_changed() else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record_result(result, "failed", ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._record_result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record_result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        for customer in sorted(self._trails):
            hosts = sorted(self._hosts_by_customer.get(customer, ()))
            recap = {host: stats.summarize(host) for host in hosts}
            failed = any(item["failures"] or item["unreachable"] for item in recap.values())
            record = self._base_record(customer, kind="run_end")
            record.update(
                activity="run",
                item=self._playbook_name,
                status="failed" if failed else "ok",
                result={"hosts": recap},
            )
            self._append(customer, [record])
        self._writer.flush()
        for error in self._writer.take_errors():
            self._display.error(f"twovalue.sla.audit: {error}")
        for customer, trail in sorted(self._trails.items()):
            try:
                seq, head = trail.head()
            except AuditError as exc:
                self._display.error(f"twovalue.sla.audit: {exc}")
                continue
            self._display.display(
                f"twovalue.sla.audit: {customer} head {head} (seq {seq}) {trail.path}"
            )
        if self._writer.lost_records:
            self._display.error(
                f"twovalue.sla.audit: {self._writer.lost_records} audit record(s) could not be "
                "written; this run's trail is incomplete"
            )

    # ------------------------------------------------------------------ records

    def _record_result(self, result, status, ignored=False):
        host = result.host
        host_context = self._context_for(host)
        task = result.task
        no_log = _is_no_log(result)
        summary = {
            "changed": result.is_changed(),
            "failed": status in ("failed", "unreachable"),
        }
        if ignored:
            summary["ignored"] = True
        if no_log:
            summary["censored"] = True
        else:
            message = result.result.get("msg")
            if isinstance(message, str):
                summary["msg"] = message[:_MAX_MESSAGE_LENGTH]
        check_mode = result.task_fields.get("check_mode")
        record = self._base_record(host_context.customer, kind="task")
        record.update(
            host=host.get_name(),
            tier=host_context.tier,
            activity=self._activity_of(task),
            item=result.task_name,
            action=getattr(task, "_resolved_action", None) or task.action,
            status=status,
            result=summary,
            check_mode=check_mode if isinstance(check_mode, bool) else self._check_mode,
        )
        self._hosts_by_customer.setdefault(host_context.customer, set()).add(host.get_name())
        self._append(host_context.customer, [record], host_context)

    def _base_record(self, customer, kind):
        return {
            "time": utc_now(),  # when it happened, not when the writer got to it
            "kind": kind,
            "run_id": self._run_id,
            "operator": self._operator,
            "customer": customer,
            "check_mode": self._check_mode,
        }

    def _activity_of(self, task):
        role = getattr(task, "_role", None)
        if role is not None:
            return role.get_name()
        return self._play.get_name() if self._play is not None else None

    def _context_for(self, host) -> _HostContext:
        """Customer, tier and secrets of a host, looked up once per play."""
        play_id = getattr(self._play, "_uuid", "")
        cache_key = (play_id, host.get_name())
        cached = self._host_contexts.get(cache_key)
        if cached is not None:
            return cached
        variables, render = self._variables_of(host)
        store = None
        if any(name in variables for name in STORE_VARIABLES.values()):
            try:
                store = resolve_store(
                    dict(self.audit_settings(), **self.audit_secrets()), variables, render
                )
            except (AuditError, AnsibleError) as exc:
                store = exc  # reported when the host's first record cannot be written
        new_secrets = (
            collect_secret_values(
                variables, [*self._secret_var_names, *SECRET_STORE_VARIABLES], render
            )
            - self._secrets
        )
        if self._store is not None:
            new_secrets |= self._store.secret_values() - self._secrets
        if not isinstance(store, Exception) and store is not None:
            new_secrets |= store.secret_values() - self._secrets
        if new_secrets:
            self._secrets |= new_secrets
            self._redactor = Redactor(self._secrets, self._secret_var_names)
        customer = self._plain_value(variables.get("sla_customer"), render)
        tier = self._plain_value(variables.get("sla_tier"), render)
        host_context = _HostContext(str(customer) if customer else UNASSIGNED_CUSTOMER, tier, store)
        self._host_contexts[cache_key] = host_context
        return host_context

    def _variables_of(self, host):
        if self._play is None:
            return dict(host.get_vars()), None
        manager = self._play.get_variable_manager()
        variables = manager.get_vars(play=self._play, host=host, include_hostvars=False)

        def _render(value):
            from ansible.template import Templar

            return Templar(loader=self._play.get_loader(), variables=variables).template(value)

        return variables, _render

    @staticmethod
    def _plain_value(value, render):
        if isinstance(value, str) and "{{" in value and render is not None:
            try:
                value = render(value)
            except AnsibleError:
                return None
        if value is None or isinstance(value, (bool, int, float)):
            return value
        return str(value)

    def _append(self, customer, records, host_context=None):
        """Queue records for a customer's trail, opening it with run_start first."""
        trail = self._trails.get(customer)
        if trail is None:
            store = host_context.store if host_context is not None else None
            try:
                if isinstance(store, Exception):
                    raise AuditError(str(store))
                trail = open_trail(store or self._store, customer, key=self._key, persistent=True)
            except (AuditError, AnsibleError) as exc:
                self._display.error(f"twovalue.sla.audit: cannot record for {customer}: {exc}")
                self._writer.lost_records += len(records)
                return
            self._trails[customer] = trail
            records = [self._run_start_record(customer), *records]
        self._writer.submit(trail, records, self._redactor)
        for error in self._writer.take_errors():
            self._display.error(f"twovalue.sla.audit: {error}")

    def _close_trails(self):
        self._writer.flush()
        for trail in self._trails.values():
            with contextlib.suppress(Exception):
                trail.close()

    def _run_start_record(self, customer):
        record = self._base_record(customer, kind="run_start")
        arguments = context.CLIARGS
        record.update(
            activity="run",
            item=self._playbook_name,
            result={
                "ansible_version": ansible_version,
                "limit": arguments.get("subset"),
                "tags": list(arguments.get("tags") or ()),
                "skip_tags": list(arguments.get("skip_tags") or ()),
                "diff": bool(arguments.get("diff", False)),
            },
        )
        return record
