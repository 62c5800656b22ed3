# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where audit trails live: one JSONL file per customer, or a shared PostgreSQL database.

Every writer and reader of the trail goes through ``open_trail``, which
returns a store for one customer's trail with the same small interface on
either backend:

``append(record)`` / ``append_many(records, redactor=None)``
    chain and write records atomically; ``AuditError`` when they cannot be made durable
``head()``
    ``(seq, hash)`` of the last record, ``(0, GENESIS_HASH)`` when empty
``exists()``, ``read_lines(contains=None)``
    whether the trail holds anything, and its lines (bytes) in chain order
``verify(key=None, head=None, deep=False)``
    a ``VerificationReport``, checked by the same loop on both backends
``path``
    where the trail is, for messages: a file path, or
    ``postgresql://user@host:port/database#customer`` (never a password)

The file backend is ``audit_file.AuditTrail`` itself, so choosing it costs
nothing beyond today's file trail. The PostgreSQL backend stores the very
same lines (same bytes, same hash chain, made by ``sla_audit.encode_record``)
one row per record, and advances a per-customer head row under
``SELECT ... FOR UPDATE``, so concurrent runs never fork or lose the chain.
Its driver, psycopg 3, is imported only when that backend is chosen.

Standard library only otherwise, like the rest of the trail (sla_audit, audit_verify).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re

from ansible_collections.twovalue.sla.plugins.plugin_utils import (
    audit_file,
    audit_redaction,
    audit_verify,
    sla_audit,
)

AuditError = sla_audit.AuditError
GENESIS_HASH = sla_audit.GENESIS_HASH

BACKEND_FILE = "file"
BACKEND_POSTGRESQL = "postgresql"
BACKENDS = (BACKEND_FILE, BACKEND_POSTGRESQL)

# Inventory (or vault) variables that choose and reach the store, by settings key.
STORE_VARIABLES = {
    "backend": "sla_audit_backend",
    "dsn": "sla_audit_dsn",
    "db_host": "sla_audit_db_host",
    "db_port": "sla_audit_db_port",
    "db_name": "sla_audit_db_name",
    "db_user": "sla_audit_db_user",
    "db_password": "sla_audit_db_password",
    "db_password_file": "sla_audit_db_password_file",
}
# Their values are redacted from every record, like any named secret variable.
SECRET_STORE_VARIABLES = ("sla_audit_dsn", "sla_audit_db_password")

HEAD_TABLE = "sla_audit_head"
RECORD_TABLE = "sla_audit_record"
_CONNECT_TIMEOUT = 10
_APPLICATION_NAME = "twovalue.sla.audit"
_FETCH_ROWS = 5000
_MASK = audit_redaction.REDACTED

SCHEMA_SQL = f"""
CREATE TABLE IF NOT EXISTS {HEAD_TABLE} (
    customer text PRIMARY KEY,
    seq bigint NOT NULL CHECK (seq >= 0),
    hash char(64) NOT NULL,
    alg text NOT NULL
);
CREATE TABLE IF NOT EXISTS {RECORD_TABLE} (
    customer text NOT NULL,
    seq bigint NOT NULL CHECK (seq > 0),
    line text NOT NULL,
    PRIMARY KEY (customer, seq)
);
CREATE OR REPLACE FUNCTION sla_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the SLA audit trail is append-only';
END $$;
DROP TRIGGER IF EXISTS sla_audit_append_only ON {RECORD_TABLE};
CREATE TRIGGER sla_audit_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON {RECORD_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION sla_audit_append_only();
"""


# --------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class StoreConfig:
    """Which backend holds the trails, and how to reach it. The password never prints."""

    backend: str = BACKEND_FILE
    audit_dir: str | None = None
    dsn: str | None = dataclasses.field(default=None, repr=False)
    db_host: str | None = None
    db_port: str | None = None
    db_name: str | None = None
    db_user: str | None = None
    db_password: str | None = dataclasses.field(default=None, repr=False)

    def secret_values(self) -> set[str]:
        """Values no record may hold: the password, and a DSN that carries one."""
        values = set()
        if self.db_password:
            values.add(self.db_password)
        if self.dsn:
            password = _dsn_password(self.dsn)
            if password:
                values.update({password, self.dsn})
        return values


def _text(value, render):
    if value is None:
        return None
    if isinstance(value, str) and "{{" in value and render is not None:
        value = render(value)
    text = str(value).strip()
    return text or None


def resolve_store(settings, variables=None, render=None, audit_dir=None) -> StoreConfig:
    """The store from the callback's settings, overridden by inventory variables.

    ``settings`` is what ``audit_writer.callback_settings`` returns (ini and
    environment options of the twovalue.sla.audit callback); ``variables``
    are a host's variables, where ``sla_audit_*`` values (from the inventory or
    a vault) win over the callback's. An explicit ``audit_dir`` (a task's
    option) means that directory's file trails. Raises AuditError for an
    unknown backend or a PostgreSQL backend without a database.
    """
    chosen = {key: _text(settings.get(key), None) for key in STORE_VARIABLES}
    for key, name in STORE_VARIABLES.items():
        if variables is not None and variables.get(name) is not None:
            chosen[key] = _text(variables.get(name), render)
    if audit_dir:
        return StoreConfig(BACKEND_FILE, audit_dir)
    backend = (chosen["backend"] or BACKEND_FILE).lower()
    if backend not in BACKENDS:
        raise AuditError(
            f"unknown audit backend {backend!r} (sla_audit_backend or SLA_AUDIT_BACKEND); "
            f"expected one of {', '.join(BACKENDS)}"
        )
    if backend == BACKEND_FILE:
        return StoreConfig(BACKEND_FILE, settings.get("audit_dir"))
    if not chosen["dsn"] and not chosen["db_name"]:
        raise AuditError(
            "the postgresql audit backend needs a database: set sla_audit_dsn (or "
            "sla_audit_db_host, sla_audit_db_name, sla_audit_db_user) in the inventory, "
            "or SLA_AUDIT_DSN / dsn in [twovalue_sla_audit]"
        )
    password = chosen["db_password"]
    if password is None and chosen["db_password_file"]:
        password = _read_password_file(chosen["db_password_file"])
    return StoreConfig(
        BACKEND_POSTGRESQL,
        settings.get("audit_dir"),
        dsn=chosen["dsn"],
        db_host=chosen["db_host"],
        db_port=chosen["db_port"],
        db_name=chosen["db_name"],
        db_user=chosen["db_user"],
        db_password=password,
    )


def _read_password_file(path):
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            password = handle.read().rstrip("\r\n")
    except OSError as exc:
        raise AuditError(
            f"cannot read the audit database password file {path}: {exc.strerror}"
        ) from exc
    if not password:
        raise AuditError(f"the audit database password file {path} is empty")
    return password


_URI_PASSWORD = re.compile(r"^(postgres(?:ql)?://[^:/@]*:)([^@]*)(@)", re.IGNORECASE)
_KEYWORD_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def _dsn_password(dsn: str) -> str | None:
    match = _URI_PASSWORD.match(dsn)
    if match:
        return match.group(2) or None
    match = _KEYWORD_PASSWORD.search(dsn)
    if match:
        return match.group(2).strip("'") or None
    return None


def mask_dsn(dsn: str | None) -> str | None:
    """The DSN with any password replaced, fit for messages and settings dumps."""
    if not dsn:
        return dsn
    masked = _URI_PASSWORD.sub(lambda m: m.group(1) + _MASK + m.group(3), dsn)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + _MASK, masked)


def open_trail(config: StoreConfig, customer, key=None, redactor=None, persistent=False):
    """The store of one customer's trail on the configured backend."""
    name = customer or sla_audit.UNASSIGNED_CUSTOMER
    if config.backend == BACKEND_FILE:
        audit_dir = config.audit_dir or "~/.local/state/twovalue-sla/audit"
        return audit_file.AuditTrail(
            sla_audit.trail_path(audit_dir, name), key=key, redactor=redactor
        )
    if config.backend == BACKEND_POSTGRESQL:
        return PostgresTrail(
            Database(config), name, key=key, redactor=redactor, persistent=persistent
        )
    raise AuditError(f"unknown audit backend {config.backend!r}")


def as_trail(trail):
    """A store for ``trail``: a store is used as it is, a path means that trail file."""
    if isinstance(trail, (str, os.PathLike)):
        return audit_file.AuditTrail(os.fspath(trail))
    return trail


def trail_records(trail, contains):
    """The records of ``trail`` whose line holds ``contains``, parsed.

    A line that is not a whole record (a write torn by a killed controller, an edit) raises
    AuditError naming it, so a planner that reads history fails cleanly instead of crashing.
    """
    for number, line in enumerate(as_trail(trail).read_lines(contains=contains), 1):
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise AuditError(
                f"audit trail line {number} holding {contains!r} is not a whole record: "
                "verify the trail"
            ) from exc
        if not isinstance(record, dict):
            raise AuditError(f"audit trail line {number} holding {contains!r} is not a record")
        yield record


# --------------------------------------------------------------------------- PostgreSQL


def _psycopg():
    try:
        import psycopg
    except ImportError as exc:
        raise AuditError(
            "the postgresql audit backend needs the Python package psycopg 3 "
            "(pip install 'psycopg[binary]') on the controller"
        ) from exc
    return psycopg


class Database:
    """Connection parameters of the audit database; describes itself without the password."""

    _schema_ready: set[tuple] = set()

    def __init__(self, config: StoreConfig):
        psycopg = _psycopg()
        overrides = {
            "host": config.db_host,
            "port": config.db_port,
            "dbname": config.db_name,
            "user": config.db_user,
            "password": config.db_password,
        }
        try:
            params = psycopg.conninfo.conninfo_to_dict(
                config.dsn or "", **{k: v for k, v in overrides.items() if v is not None}
            )
        except psycopg.ProgrammingError as exc:
            raise AuditError(
                "the audit database DSN cannot be parsed (sla_audit_dsn / SLA_AUDIT_DSN); "
                "expected 'host=... port=... dbname=... user=...' or "
                "'postgresql://user@host:port/dbname'"
            ) from exc
        self._params = {k: str(v) for k, v in params.items() if v is not None}
        self._secrets = config.secret_values()
        if self._params.get("password"):
            self._secrets.add(self._params["password"])
        self.redactor = audit_redaction.Redactor(self._secrets) if self._secrets else None
        host = self._params.get("host") or os.environ.get("PGHOST") or "local socket"
        port = self._params.get("port") or os.environ.get("PGPORT") or "5432"
        dbname = self._params.get("dbname") or os.environ.get("PGDATABASE") or "(default)"
        user = self._params.get("user") or os.environ.get("PGUSER")
        self.host, self.port, self.dbname, self.user = host, port, dbname, user
        self.description = f"host {host} port {port} database {dbname}" + (
            f" user {user}" if user else ""
        )
        self.url = f"postgresql://{user + '@' if user else ''}{host}:{port}/{dbname}"

    def scrub(self, text) -> str:
        text = str(text)
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, _MASK)
        return text

    def connect(self):
        psycopg = _psycopg()
        params = dict(self._params)
        params.setdefault("connect_timeout", str(_CONNECT_TIMEOUT))
        params.setdefault("application_name", _APPLICATION_NAME)
        try:
            connection = psycopg.connect(autocommit=True, **params)
        except psycopg.Error as exc:
            raise AuditError(
                f"cannot reach the audit database ({self.description}): {self.scrub(exc).strip()}"
            ) from None
        try:
            self._ensure_schema(connection)
        except BaseException:
            connection.close()
            raise
        return connection

    def _ensure_schema(self, connection) -> None:
        marker = (self.host, self.port, self.dbname)
        if marker in Database._schema_ready:
            return
        psycopg = _psycopg()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL",
                    (HEAD_TABLE, RECORD_TABLE),
                )
                if not cursor.fetchone()[0]:
                    with connection.transaction():
                        # One creator at a time: parallel first runs would race on the catalog.
                        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (HEAD_TABLE,))
                        cursor.execute(SCHEMA_SQL)
        except psycopg.Error as exc:
            raise AuditError(
                f"cannot prepare the audit tables in the audit database ({self.description}): "
                f"{self.scrub(exc).strip()}"
            ) from None
        Database._schema_ready.add(marker)

    def customers(self) -> list[str]:
        psycopg = _psycopg()
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT customer FROM {HEAD_TABLE} UNION "
                    f"SELECT DISTINCT customer FROM {RECORD_TABLE} ORDER BY 1"
                )
                return [row[0] for row in cursor.fetchall()]
        except psycopg.Error as exc:
            raise AuditError(
                f"cannot list the trails in the audit database ({self.description}): "
                f"{self.scrub(exc).strip()}"
            ) from None
        finally:
            connection.close()


class PostgresTrail:
    """One customer's trail in the audit database, appended to under the head row's lock.

    Each append is one transaction: lock the customer's head row, check that
    the last record is the head, chain the new lines after it with
    ``sla_audit.chain_records``, insert them and move the head. A failure
    rolls all of it back, so no partial batch is ever visible.
    """

    backend = BACKEND_POSTGRESQL

    def __init__(
        self,
        database: Database,
        customer: str,
        key: bytes | None = None,
        redactor=None,
        lock_timeout: float = 30.0,
        persistent: bool = False,
    ):
        if not sla_audit.CUSTOMER_NAME.fullmatch(customer):
            raise AuditError(f"customer name {customer!r} cannot be used as a trail name")
        self.database = database
        self.customer = customer
        self.path = f"{database.url}#{customer}"
        self._key = key
        self._redactor = redactor or audit_redaction.Redactor()
        self._lock_timeout = lock_timeout
        # The callback's writer keeps one connection; actions connect per call.
        self._persistent = persistent
        self._connection = None
        self._pid = None

    # ------------------------------------------------------------------ connections

    @contextlib.contextmanager
    def _connected(self, doing: str):
        psycopg = _psycopg()
        if self._persistent:
            if self._connection is None or self._connection.closed or self._pid != os.getpid():
                # A connection inherited from the parent process is left alone.
                self._connection = self.database.connect()
                self._pid = os.getpid()
            connection = self._connection
        else:
            connection = self.database.connect()
        try:
            yield connection
        except psycopg.Error as exc:
            self._drop(connection)
            raise AuditError(
                f"cannot {doing} {self.path} ({self.database.description}): "
                f"{self.database.scrub(exc).strip()}"
            ) from None
        except BaseException:
            self._drop(connection)
            raise
        else:
            if not self._persistent:
                connection.close()

    def _drop(self, connection) -> None:
        with contextlib.suppress(Exception):
            connection.close()
        if connection is self._connection:
            self._connection = None

    def close(self) -> None:
        if self._connection is not None and self._pid == os.getpid():
            self._drop(self._connection)
        self._connection = None

    # ------------------------------------------------------------------ writing

    def append(self, record: dict):
        return self.append_many([record])[0]

    def append_many(self, records, redactor=None):
        prepared = sla_audit.prepare_records(records, redactor or self._redactor)
        if not prepared:
            return []
        if self.database.redactor is not None:
            # The database's own password never enters a record, whoever configured it.
            prepared = [self.database.redactor(record) for record in prepared]
        psycopg = _psycopg()
        with self._connected("append to") as connection:
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    seq, prev, alg = self._lock_head(cursor)
                    sla_audit.check_append_allowed(alg, self._key, self.path)
                    lines, appended = sla_audit.chain_records(
                        prepared, prev, seq, self._key, self.path
                    )
                    cursor.executemany(
                        f"INSERT INTO {RECORD_TABLE} (customer, seq, line) VALUES (%s, %s, %s)",
                        [
                            (self.customer, item.seq, line[:-1].decode("ascii"))
                            for item, line in zip(appended, lines, strict=True)
                        ],
                    )
                    new_alg = sla_audit.ALG_HMAC_SHA256 if self._key else sla_audit.ALG_SHA256
                    cursor.execute(
                        f"UPDATE {HEAD_TABLE} SET seq = %s, hash = %s, alg = %s "
                        "WHERE customer = %s",
                        (appended[-1].seq, appended[-1].hash, new_alg, self.customer),
                    )
            except psycopg.errors.LockNotAvailable:
                raise AuditError(
                    f"cannot lock the head of {self.path} within {self._lock_timeout:g}s; "
                    "another run holds it"
                ) from None
        return appended

    def _lock_head(self, cursor):
        """Lock and read the head row; it must agree with the last record."""
        cursor.execute(f"SET LOCAL lock_timeout = '{int(self._lock_timeout * 1000)}ms'")
        cursor.execute(
            f"INSERT INTO {HEAD_TABLE} (customer, seq, hash, alg) VALUES (%s, 0, %s, '') "
            "ON CONFLICT (customer) DO NOTHING",
            (self.customer, GENESIS_HASH),
        )
        cursor.execute(
            f"SELECT seq, hash, alg FROM {HEAD_TABLE} WHERE customer = %s FOR UPDATE",
            (self.customer,),
        )
        seq, digest, alg = cursor.fetchone()
        cursor.execute(
            f"SELECT line FROM {RECORD_TABLE} WHERE customer = %s ORDER BY seq DESC LIMIT 1",
            (self.customer,),
        )
        row = cursor.fetchone()
        last = sla_audit.parse_chain_prefix(row[0].encode("ascii") + b"\n") if row else None
        actual = (last[2], last[0]) if last else (0, GENESIS_HASH)
        if actual != (int(seq), digest):
            raise AuditError(
                f"the head of {self.path} (seq {seq}) does not match its last record; "
                "verify the trail before appending to it"
            )
        return int(seq), digest, alg

    def import_lines(self, lines: list[bytes]) -> int:
        """Append verified trail lines as they are; the database trail must be a prefix.

        Returns how many lines were added. The lines keep their bytes, so the
        chain (and any HMAC) stays what it was in the file.
        """
        psycopg = _psycopg()
        with self._connected("import into") as connection:
            try:
                with connection.transaction(), connection.cursor() as cursor:
                    seq, digest, _alg = self._lock_head(cursor)
                    prefix = (
                        seq and seq <= len(lines) and sla_audit.parse_chain_prefix(lines[seq - 1])
                    )
                    if seq and not (prefix and (prefix[0], prefix[2]) == (digest, seq)):
                        raise AuditError(
                            f"{self.path} already holds {seq} records that are not the start "
                            "of the imported trail; import into an empty trail"
                        )
                    added = lines[seq:]
                    if added:
                        cursor.executemany(
                            f"INSERT INTO {RECORD_TABLE} (customer, seq, line) VALUES (%s, %s, %s)",
                            [
                                (self.customer, seq + number, line[:-1].decode("ascii"))
                                for number, line in enumerate(added, 1)
                            ],
                        )
                        last = sla_audit.parse_chain_prefix(added[-1])
                        cursor.execute(
                            f"UPDATE {HEAD_TABLE} SET seq = %s, hash = %s, alg = %s "
                            "WHERE customer = %s",
                            (last[2], last[0], last[3], self.customer),
                        )
            except psycopg.errors.LockNotAvailable:
                raise AuditError(
                    f"cannot lock the head of {self.path} within {self._lock_timeout:g}s"
                ) from None
        return len(added)

    # ------------------------------------------------------------------ reading

    def head(self) -> tuple[int, str]:
        with self._connected("read the head of") as connection, connection.cursor() as cursor:
            cursor.execute(
                f"SELECT seq, hash FROM {HEAD_TABLE} WHERE customer = %s", (self.customer,)
            )
            row = cursor.fetchone()
        return (int(row[0]), row[1]) if row else (0, GENESIS_HASH)

    def exists(self) -> bool:
        with self._connected("read") as connection, connection.cursor() as cursor:
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {RECORD_TABLE} WHERE customer = %s)",
                (self.customer,),
            )
            return bool(cursor.fetchone()[0])

    def read_lines(self, contains: str | None = None):
        """The trail's lines in seq order, as the file backend would hold them."""
        with self._connected("read") as connection:
            yield from self._stream(connection, contains)

    def _stream(self, connection, contains=None):
        query = f"SELECT line FROM {RECORD_TABLE} WHERE customer = %s"
        params = [self.customer]
        if contains is not None:
            query += " AND strpos(line, %s) > 0"
            params.append(contains)
        name = f"sla_audit_{os.getpid()}_{id(self)}"
        with connection.transaction(), connection.cursor(name=name) as cursor:
            cursor.itersize = _FETCH_ROWS
            cursor.execute(query + " ORDER BY seq", params)
            for (line,) in cursor:
                yield line.encode("ascii") + b"\n"

    def verify(self, key: bytes | None = None, head: str | None = None, deep: bool = False):
        """Verify the records, and that the head row still names the last one."""
        report = audit_verify.VerificationReport(path=self.path)
        with (
            self._connected("verify") as connection,
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            # One snapshot: records and head row as one moment saw them.
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute(
                f"SELECT seq, hash FROM {HEAD_TABLE} WHERE customer = %s", (self.customer,)
            )
            head_row = cursor.fetchone()
            cursor.execute(
                f"SELECT EXISTS (SELECT 1 FROM {RECORD_TABLE} WHERE customer = %s)",
                (self.customer,),
            )
            if not cursor.fetchone()[0] and not (head_row and head_row[0]):
                problem = "truncated" if head else "missing"
                return audit_verify.broken(
                    report, None, None, problem, "the database holds no trail for it"
                )
            lines = self._stream(connection)
            report = audit_verify.verify_lines(report, lines, key=key, head=head, deep=deep)
            with contextlib.suppress(Exception):
                lines.close()
        if report.valid:
            stated = (int(head_row[0]), head_row[1]) if head_row else (0, GENESIS_HASH)
            if stated != (report.head_seq or 0, report.head or GENESIS_HASH):
                return audit_verify.broken(
                    report,
                    None,
                    None,
                    "truncated",
                    f"the head row names seq {stated[0]} {stated[1]} but the records end at "
                    f"seq {report.head_seq or 0}; records were removed or the head was moved",
                )
        return report


# --------------------------------------------------------------------------- command line


def cli_database(dsn, password_file=None) -> Database:
    """The database named on the command line; the password comes from the environment.

    ``SLA_AUDIT_DB_PASSWORD``, a password file, or libpq's own PGPASSWORD and
    ~/.pgpass: a password on the command line would show in the process list.
    """
    if not dsn:
        raise AuditError("no audit database given: pass --dsn or set SLA_AUDIT_DSN")
    return Database(
        StoreConfig(
            BACKEND_POSTGRESQL,
            dsn=dsn,
            db_password=(
                _read_password_file(password_file)
                if password_file
                else os.environ.get("SLA_AUDIT_DB_PASSWORD") or None
            ),
        )
    )


def cli_customers(database: Database, customer) -> list[str]:
    return [customer] if customer else database.customers()


def verify_database(database, customer=None, key=None, head=None, deep=False):
    """Verify one customer's trail in the database, or every trail it holds."""
    if head and not customer:
        raise AuditError("--head applies to one trail; pass --customer")
    return [
        PostgresTrail(database, name).verify(key=key, head=head, deep=deep)
        for name in cli_customers(database, customer)
    ]


def export_trails(database, target, customer=None, key=None) -> list:
    """Copy database trails into trail files, byte for byte; verify each copy.

    ``target`` is a file for one customer, or a directory that receives
    ``<customer>.jsonl`` per trail. An existing, non-empty file is refused.
    """
    if customer and not os.path.isdir(target):
        targets = {customer: target}
    else:
        os.makedirs(target, exist_ok=True)
        targets = {
            name: sla_audit.trail_path(target, name) for name in cli_customers(database, customer)
        }
    reports = []
    for name, path in targets.items():
        if os.path.exists(path) and os.path.getsize(path):
            raise AuditError(f"{path} already exists; export into a new file")
        trail = PostgresTrail(database, name)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        partial = path + ".partial"
        with open(partial, "wb") as handle:
            for line in trail.read_lines():
                handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
        reports.append(audit_verify.verify_trail(path, key=key))
    return reports


def import_trails(database, source, customer=None, key=None) -> list:
    """Copy verified trail files into the database; the copies are verified there.

    ``source`` is one trail file (its customer is its name, or ``customer``)
    or a directory of ``*.jsonl`` trails. A trail that does not verify is not
    imported. A database trail that already holds the start of the file is
    continued with the rest, so an import can be repeated.
    """
    if os.path.isdir(source):
        if customer:
            raise AuditError("--customer applies to one trail file, not a directory")
        names = sorted(name for name in os.listdir(source) if name.endswith(".jsonl"))
        sources = [(name[: -len(".jsonl")], os.path.join(source, name)) for name in names]
    else:
        stem = os.path.basename(source)
        stem = stem[: -len(".jsonl")] if stem.endswith(".jsonl") else stem
        sources = [(customer or stem, source)]
    results = []
    for name, path in sources:
        report = audit_verify.verify_trail(path, key=key)
        if not report.valid:
            raise AuditError(f"not imported, the trail does not verify: {report.summary()}")
        with open(path, "rb") as handle:
            lines = handle.readlines()[: report.records]
        trail = PostgresTrail(database, name)
        added = trail.import_lines(lines)
        results.append((added, trail.verify(key=key)))
    return results
