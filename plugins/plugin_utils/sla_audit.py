# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tamper-evident, append-only audit trail of SLA runs.

One trail is one JSON Lines file per customer. Every line is a complete JSON
object whose first four members are laid out at fixed positions::

    {"hash":"<64 hex>","prev":"<64 hex>","seq":<n>,"alg":"sha256",<record>}

``hash`` is SHA-256 (or HMAC-SHA256 with a key) over the raw bytes of the line
from ``"prev"`` up to and including the closing brace. Because ``prev`` is part
of those bytes, every record is bound to the one before it, and the verifier
can check a line by slicing and hashing bytes instead of parsing JSON.

The rest of the record is serialised canonically (sorted keys, compact
separators, ASCII only), so the same record always produces the same bytes.

This file is standard library only: it runs as a script
(``python sla_audit.py verify PATH``) wherever Python runs, and as
``python -m ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import errno
import fcntl
import hashlib
import hmac
import json
import math
import os
import re
import socket
import sys
import time

GENESIS_HASH = "0" * 64
ALG_SHA256 = "sha256"
ALG_HMAC_SHA256 = "hmac-sha256"
REDACTED = "********"
UNASSIGNED_CUSTOMER = "_unassigned"

# Every record carries every field (null when it does not apply), so a reader
# never has to guess whether a field was omitted or lost.
RECORD_FIELDS = (
    "run_id",
    "time",
    "operator",
    "controller",
    "customer",
    "host",
    "tier",
    "kind",
    "activity",
    "item",
    "action",
    "status",
    "decision",
    "reason",
    "before",
    "after",
    "approval",
    "result",
    "check_mode",
)
CHAIN_FIELDS = ("hash", "prev", "seq", "alg")
RECORD_KINDS = ("run_start", "task", "decision", "run_end")
# Set by the callback at the start of a run so every record of the run shares it.
RUN_ID_ENV = "SLA_AUDIT_RUN_ID"

DECISIONS = (
    "planned",
    "applied",
    "advised",
    "refused",
    "approved",
    "failed",
    "rolled_back",
    "skipped",
    "deferred",
)
TASK_STATUSES = ("ok", "changed", "failed", "skipped", "unreachable")

# Key names whose values are never stored, whatever the caller passes.
DEFAULT_SECRET_KEY_PATTERN = re.compile(
    r"pass(?:word|wd|phrase)|secret|token|api_?key|private_?key|credential|vault",
    re.IGNORECASE,
)
# Shorter values would mask ordinary words; such values are still redacted
# when they make up a whole field.
MIN_INLINE_SECRET_LENGTH = 4

_PREFIX_HASH = b'{"hash":"'
_PREFIX_PREV = b'","prev":"'
_PREFIX_SEQ = b'","seq":'
_ALG_SHA256_MEMBER = b'"alg":"sha256"'
_ALG_HMAC_MEMBER = b'"alg":"hmac-sha256"'
_HASH_START, _HASH_END = 9, 73
_PREV_START, _PREV_END = 83, 147
_SEQ_START = 155
_HASHED_START = 75  # the '"prev"' member
_MIN_LINE_LENGTH = _SEQ_START + len(b'1,"alg":"sha256"}\n')
_TAIL_CHUNK = 8192


class AuditError(Exception):
    """The trail could not be read or written; callers must treat it as fatal."""


@dataclasses.dataclass(frozen=True)
class AppendedRecord:
    seq: int
    hash: str
    prev: str
    path: str


@dataclasses.dataclass
class VerificationReport:
    """Outcome of verifying one trail file.

    ``problem`` is one of: edited, deleted, inserted, reordered, truncated,
    malformed, downgraded, key_required (None when valid).
    """

    path: str
    valid: bool = True
    records: int = 0
    head: str | None = None
    head_seq: int | None = None
    line: int | None = None
    seq: int | None = None
    problem: str | None = None
    detail: str | None = None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def summary(self) -> str:
        if self.valid:
            return (
                f"OK {self.path}: {self.records} records, head {self.head or GENESIS_HASH}"
                f" (seq {self.head_seq or 0})"
            )
        where = f"line {self.line}" if self.line else "end of trail"
        if self.seq is not None:
            where += f" (seq {self.seq})"
        return f"BROKEN {self.path} at {where}: {self.problem}: {self.detail}"


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def controller_name() -> str:
    return socket.gethostname()


def load_key(key_file: str | None) -> bytes | None:
    """Read an HMAC key; a trailing newline from an editor is not part of the key."""
    if not key_file:
        return None
    try:
        with open(os.path.expanduser(key_file), "rb") as handle:
            key = handle.read().rstrip(b"\r\n")
    except OSError as exc:
        raise AuditError(f"cannot read audit key file {key_file}: {exc.strerror}") from exc
    if not key:
        raise AuditError(f"audit key file {key_file} is empty")
    return key


# Customer names become file and directory names (trails, advice).
CUSTOMER_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def trail_path(audit_dir: str, customer: str | None) -> str:
    """Path of a customer's trail; names that could escape the directory are refused."""
    name = customer or UNASSIGNED_CUSTOMER
    if not CUSTOMER_NAME.fullmatch(name):
        raise AuditError(f"customer name {name!r} cannot be used as a trail file name")
    return os.path.join(os.path.expanduser(audit_dir), f"{name}.jsonl")


class Redactor:
    """Replace secret values, and values under secret-looking keys, by REDACTED.

    The output contains only JSON types (dict with str keys, list, str, int,
    float, bool, None), so it can be serialised canonically.
    """

    def __init__(self, secret_values=(), secret_keys=(), key_pattern=DEFAULT_SECRET_KEY_PATTERN):
        values = {str(value) for value in secret_values if value is not None and str(value)}
        self._exact = frozenset(values)
        inline = sorted(
            (value for value in values if len(value) >= MIN_INLINE_SECRET_LENGTH),
            key=len,
            reverse=True,
        )
        self._inline = (
            re.compile("|".join(re.escape(value) for value in inline)) if inline else None
        )
        self._secret_keys = frozenset(str(key).lower() for key in secret_keys)
        self._key_pattern = key_pattern

    def is_secret_key(self, key: str) -> bool:
        lowered = key.lower()
        if lowered in self._secret_keys:
            return True
        return bool(self._key_pattern and self._key_pattern.search(lowered))

    def redact_text(self, text: str) -> str:
        if text in self._exact:
            return REDACTED
        if self._inline is not None:
            return self._inline.sub(REDACTED, text)
        return text

    def mask_strings(self, value, _depth: int = 0):
        """``value`` with every secret masked inside its strings; keys, types and shape kept.

        For results that later tasks read: unlike a record, nothing is dropped
        for its key's name or turned into JSON types.
        """
        if isinstance(value, str):
            return self.redact_text(value)
        if _depth > 64:
            return value
        if isinstance(value, dict):
            return {key: self.mask_strings(item, _depth + 1) for key, item in value.items()}
        if isinstance(value, list):
            return [self.mask_strings(item, _depth + 1) for item in value]
        if isinstance(value, tuple):
            return tuple(self.mask_strings(item, _depth + 1) for item in value)
        return value

    def __call__(self, value, _depth: int = 0):
        if _depth > 64:
            return REDACTED  # a structure this deep is not a summary; refuse to guess
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return REDACTED if str(value) in self._exact else int(value)
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                return str(value)
            return REDACTED if repr(value) in self._exact else float(value)
        if isinstance(value, str):
            return self.redact_text(str(value))
        if isinstance(value, bytes):
            return self.redact_text(value.decode("utf-8", "replace"))
        if isinstance(value, dict):
            redacted = {}
            for key, item in value.items():
                key_text = self.redact_text(str(key))
                if self.is_secret_key(str(key)) and item is not None and not isinstance(item, bool):
                    redacted[key_text] = REDACTED
                else:
                    redacted[key_text] = self(item, _depth + 1)
            return redacted
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            return [self(item, _depth + 1) for item in items]
        return self.redact_text(str(value))


# Variables that mirror or describe others; walking them would repeat work
# (hostvars holds every host) without finding any secret not found directly.
_MAGIC_VARIABLES = frozenset(
    {
        "hostvars",
        "vars",
        "groups",
        "group_names",
        "omit",
        "play_hosts",
        "ansible_play_hosts",
        "ansible_play_hosts_all",
        "ansible_play_batch",
        "ansible_facts",
        "environment",
    }
)


_VAULT_FILE_CACHE: dict[str, bool] = {}


def _is_vault_file(path: str) -> bool:
    if path not in _VAULT_FILE_CACHE:
        try:
            with open(path, "rb") as handle:
                _VAULT_FILE_CACHE[path] = handle.read(14) == b"$ANSIBLE_VAULT"
        except OSError:
            _VAULT_FILE_CACHE[path] = False
    return _VAULT_FILE_CACHE[path]


def collect_secret_values(variables, secret_var_names=(), render=None) -> set[str]:
    """Plaintexts of vault-encrypted values, and values of variables named as secret.

    ``variables`` is a host's variables on the controller; ``render`` optionally
    turns a templated value of a named secret variable into its real value.
    Runs only where ansible-core is importable (the controller).
    """
    # Imported here so that the verifier CLI needs nothing but the standard library.
    from ansible.parsing.vault import VaultHelper

    try:
        # Values of a fully encrypted vars file carry no vault tag of their own,
        # only the file they came from; ansible-core has no public API for it.
        from ansible._internal._datatag._tags import Origin
    except ImportError:  # pragma: no cover - other ansible-core versions
        Origin = None

    names = frozenset(secret_var_names or ())
    found: set[str] = set()

    def _walk(value, depth: int, named_secret: bool) -> None:
        if depth > 32:
            return
        if VaultHelper.get_ciphertext(value, with_tags=False) is not None:
            # A value that cannot be decrypted cannot leak either.
            with contextlib.suppress(Exception):
                found.add(str(value))
            return
        if isinstance(value, dict):
            for item in value.values():
                _walk(item, depth + 1, named_secret)
        elif isinstance(value, (list, tuple)):
            for item in value:
                _walk(item, depth + 1, named_secret)
        elif named_secret and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            found.add(str(value))
        elif isinstance(value, str) and Origin is not None:
            origin = Origin.get_tag(value)
            if origin is not None and origin.path and _is_vault_file(origin.path):
                found.add(str(value))

    for name, value in variables.items():
        if name in _MAGIC_VARIABLES:
            continue
        named_secret = name in names
        if named_secret and render is not None and isinstance(value, str) and "{{" in value:
            found.add(str(value))
            # The raw template text is redacted even when it cannot be rendered.
            with contextlib.suppress(Exception):
                value = render(value)
        _walk(value, 0, named_secret)
    found.discard("")
    return found


def build_record(**fields) -> dict:
    """Complete a record with every field in RECORD_FIELDS, refusing unknown ones."""
    unknown = set(fields) - set(RECORD_FIELDS)
    if unknown:
        raise ValueError(f"unknown audit record fields: {', '.join(sorted(unknown))}")
    record = {name: fields.get(name) for name in RECORD_FIELDS}
    if record["kind"] not in RECORD_KINDS:
        raise ValueError(f"audit record kind must be one of {', '.join(RECORD_KINDS)}")
    if record["time"] is None:
        record["time"] = utc_now()
    if record["controller"] is None:
        record["controller"] = controller_name()
    if record["customer"] is None:
        record["customer"] = UNASSIGNED_CUSTOMER
    record["check_mode"] = bool(record["check_mode"])
    return record


def _digest(data: bytes, key: bytes | None) -> str:
    if key is None:
        return hashlib.sha256(data).hexdigest()
    return hmac.digest(key, data, "sha256").hex()


def encode_record(record: dict, prev: str, seq: int, key: bytes | None = None) -> tuple[bytes, str]:
    """Serialise one record as a trail line; returns (line bytes, hash)."""
    body = json.dumps(
        record,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    if not body.startswith("{") or body == "{}":
        raise ValueError("an audit record must be a non-empty mapping")
    alg = ALG_HMAC_SHA256 if key is not None else ALG_SHA256
    hashed = f'"prev":"{prev}","seq":{int(seq)},"alg":"{alg}",{body[1:]}'.encode("ascii")
    digest = _digest(hashed, key)
    return b'{"hash":"' + digest.encode("ascii") + b'",' + hashed + b"\n", digest


def prepare_records(records, redact) -> list[dict]:
    """Complete and redact records before they are hashed, whatever the backend."""
    return [redact(build_record(**record)) for record in records]


def check_append_allowed(alg: str, key: bytes | None, location: str) -> None:
    """Refuse an unkeyed append to a trail whose last record is HMAC-keyed."""
    if alg == ALG_HMAC_SHA256 and key is None:
        raise AuditError(
            f"{location} is signed with an HMAC key; configure the same key "
            "(SLA_AUDIT_KEY_FILE) to append to it"
        )


def chain_records(
    prepared: list[dict], prev: str, seq: int, key: bytes | None, location: str
) -> tuple[list[bytes], list[AppendedRecord]]:
    """Encode prepared records after the record (prev, seq): their lines and positions."""
    lines = []
    appended = []
    for record in prepared:
        seq += 1
        line, digest = encode_record(record, prev, seq, key)
        lines.append(line)
        appended.append(AppendedRecord(seq, digest, prev, location))
        prev = digest
    return lines, appended


def parse_chain_prefix(line: bytes) -> tuple[str, str, int, str] | None:
    """(hash, prev, seq, alg) of a trail line, or None if its fixed prefix is damaged."""
    return _parse_chain_prefix(line)


def _parse_chain_prefix(line: bytes) -> tuple[str, str, int, str] | None:
    """(hash, prev, seq, alg) of a line, or None if its fixed prefix is damaged."""
    if (
        len(line) < _MIN_LINE_LENGTH
        or line[:_HASH_START] != _PREFIX_HASH
        or line[_HASH_END:_PREV_START] != _PREFIX_PREV
        or line[_PREV_END:_SEQ_START] != _PREFIX_SEQ
        or not line.endswith(b"}\n")
    ):
        return None
    comma = line.find(b",", _SEQ_START)
    digits = line[_SEQ_START:comma]
    if comma < 0 or not digits.isdigit():
        return None
    if line.startswith(_ALG_SHA256_MEMBER, comma + 1):
        alg = ALG_SHA256
    elif line.startswith(_ALG_HMAC_MEMBER, comma + 1):
        alg = ALG_HMAC_SHA256
    else:
        return None
    return (
        line[_HASH_START:_HASH_END].decode("ascii", "replace"),
        line[_PREV_START:_PREV_END].decode("ascii", "replace"),
        int(digits),
        alg,
    )


def _read_last_line(fd: int, size: int) -> bytes:
    """The last line of the trail, read backwards so large trails stay cheap."""
    end = size
    collected = b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        chunk = os.pread(fd, end - start, start)
        collected = chunk + collected
        # The final byte is the trailing newline; search before it.
        cut = collected.rfind(b"\n", 0, len(collected) - 1)
        if cut >= 0:
            return collected[cut + 1 :]
        end = start
    return collected


class AuditTrail:
    """One customer's trail file, appended to under an exclusive lock.

    ``secrets`` and ``secret_keys`` feed a Redactor applied to every record
    before it is hashed, so a secret never reaches the disk.
    """

    def __init__(
        self,
        path: str,
        key: bytes | None = None,
        secrets=(),
        secret_keys=(),
        lock_timeout: float = 30.0,
        redactor: Redactor | None = None,
    ):
        self.path = os.path.abspath(os.path.expanduser(path))
        self.lock_path = self.path + ".lock"
        self._key = key
        self._redactor = redactor or Redactor(secrets, secret_keys)
        self._lock_timeout = lock_timeout
        # (size, hash, seq, alg) after our own last write: if the file still
        # has that size nobody else appended and the tail need not be re-read.
        self._known_tail: tuple[int, str, int, str] | None = None

    def append(self, record: dict) -> AppendedRecord:
        return self.append_many([record])[0]

    def append_many(self, records, redactor: Redactor | None = None) -> list[AppendedRecord]:
        """Append records atomically under one lock and one fsync.

        ``redactor`` replaces the trail's own for these records (the callback
        learns more secrets as the run goes on). Raises AuditError when the
        records cannot be made durable; the file is then cut back to its
        previous length so no partial record remains.
        """
        prepared = prepare_records(records, redactor or self._redactor)
        if not prepared:
            return []
        self._ensure_directory()
        with self._exclusive_lock():
            return self._append_locked(prepared)

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last record; (0, GENESIS_HASH) for an empty trail."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return 0, GENESIS_HASH
        except OSError as exc:
            raise AuditError(f"cannot read audit trail {self.path}: {exc.strerror}") from exc
        try:
            _size, digest, seq, _alg = self._read_tail(fd)
            return seq, digest
        finally:
            os.close(fd)

    # The store interface shared with the PostgreSQL backend (audit_store).

    backend = "file"

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def read_lines(self, contains: str | None = None):
        """The trail's lines in order, as bytes; only those holding ``contains`` if given."""
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed when the generator ends
        except FileNotFoundError:
            return
        except OSError as exc:
            raise AuditError(f"cannot read audit trail {self.path}: {exc.strerror}") from exc
        with handle:
            if contains is None:
                yield from handle
            else:
                needle = contains.encode("utf-8")
                yield from (line for line in handle if needle in line)

    def verify(
        self, key: bytes | None = None, head: str | None = None, deep: bool = False
    ) -> VerificationReport:
        return verify_trail(self.path, key=key, head=head, deep=deep)

    def close(self) -> None:
        """Nothing to release: every append opens and closes the file."""

    def _ensure_directory(self) -> None:
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, mode=0o750, exist_ok=True)
        except OSError as exc:
            raise AuditError(
                f"cannot create audit directory {directory}: {exc.strerror or exc}"
            ) from exc

    def _exclusive_lock(self):
        return _FileLock(self.lock_path, self._lock_timeout)

    def _read_tail(self, fd: int) -> tuple[int, str, int, str]:
        size = os.fstat(fd).st_size
        if self._known_tail is not None and self._known_tail[0] == size:
            return self._known_tail
        if size == 0:
            return 0, GENESIS_HASH, 0, ""
        last_line = _read_last_line(fd, size)
        parsed = _parse_chain_prefix(last_line)
        if parsed is None:
            raise AuditError(
                f"the last record of {self.path} is incomplete or damaged; "
                "verify the trail before appending to it"
            )
        digest, _prev, seq, alg = parsed
        return size, digest, seq, alg

    def _append_locked(self, prepared: list[dict]) -> list[AppendedRecord]:
        created = not os.path.exists(self.path)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit trail {self.path}: {exc.strerror}") from exc
        try:
            size, prev, seq, alg = self._read_tail(fd)
            check_append_allowed(alg, self._key, self.path)
            lines, appended = chain_records(prepared, prev, seq, self._key, self.path)
            prev, seq = appended[-1].hash, appended[-1].seq
            data = b"".join(lines)
            try:
                _write_all(fd, data)
                os.fsync(fd)
                if created:
                    _fsync_directory(os.path.dirname(self.path))
            except OSError as exc:
                _cut_back(fd, size)
                self._known_tail = None
                raise AuditError(
                    f"cannot write audit trail {self.path}: {exc.strerror or exc}"
                ) from exc
            new_alg = ALG_HMAC_SHA256 if self._key is not None else ALG_SHA256
            self._known_tail = (size + len(data), prev, seq, new_alg)
            return appended
        finally:
            os.close(fd)


class _FileLock:
    """flock on a separate lock file, so readers of the trail never block."""

    def __init__(self, path: str, timeout: float):
        self._path = path
        self._timeout = timeout
        self._fd: int | None = None

    def __enter__(self):
        try:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit lock {self._path}: {exc.strerror}") from exc
        deadline = time.monotonic() + self._timeout
        pause = 0.0005
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(self._fd)
                    raise AuditError(f"cannot lock {self._path}: {exc.strerror}") from exc
            if time.monotonic() >= deadline:
                os.close(self._fd)
                raise AuditError(
                    f"cannot lock {self._path} within {self._timeout:g}s; another run holds it"
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def __exit__(self, *_exc):
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "short write")
        view = view[written:]


def _cut_back(fd: int, size: int) -> None:
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    except OSError:
        pass  # the verifier will report the partial record; the original error is what matters


def _fsync_directory(directory: str) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# --------------------------------------------------------------------------- verification


def verify_trail(
    path: str, key: bytes | None = None, head: str | None = None, deep: bool = False
) -> VerificationReport:
    """Check every record's hash and link; report the first break.

    With ``head`` (a hash published earlier), a trail cut back to before that
    record is reported as truncated. With ``deep``, every line is also parsed
    as JSON and checked for the full set of record fields.
    """
    report = VerificationReport(path=path)
    if not os.path.exists(path):
        return _break(
            report,
            None,
            None,
            "truncated" if head else "missing",
            "trail file is absent",
        )
    settled_size = _settled_size(path)
    with open(path, "rb") as handle:
        return verify_lines(
            report,
            handle,
            key=key,
            head=head,
            deep=deep,
            # Being appended right now, after the moment we verify.
            unsettled=lambda line: handle.tell() - len(line) >= settled_size,
        )


def verify_lines(
    report: VerificationReport,
    lines,
    key: bytes | None = None,
    head: str | None = None,
    deep: bool = False,
    unsettled=None,
) -> VerificationReport:
    """Verify trail lines (bytes, newline-terminated) in trail order, into ``report``.

    ``lines`` is an iterator (a file opened in binary mode, or rows of a
    database); every backend is checked by this one loop. ``unsettled(line)``
    says whether a damaged line is still being written and ends the trail.
    """
    expected_prev = GENESIS_HASH.encode("ascii")
    expected_seq = 1
    head_bytes = head.lower().encode("ascii") if head else None
    head_found = False
    keyed_seen = False
    sha256 = hashlib.sha256
    hmac_digest = hmac.digest
    line_number = 0
    handle = iter(lines)
    for line_number, line in enumerate(handle, 1):
        # startswith/endswith with offsets avoid allocating slices per line.
        if not (
            line.startswith(_PREFIX_HASH)
            and line.startswith(_PREFIX_PREV, _HASH_END)
            and line.startswith(_PREFIX_SEQ, _PREV_END)
            and line.endswith(b"}\n")
        ):
            if unsettled is not None and unsettled(line):
                line_number -= 1
                break
            return _malformed(report, line_number, line)
        comma = line.find(b",", _SEQ_START)
        digits = line[_SEQ_START:comma]
        if comma < 0 or not digits.isdigit():
            return _malformed(report, line_number, line)
        seq = int(digits)
        body = line[_HASHED_START:-1]
        if line.startswith(_ALG_SHA256_MEMBER, comma + 1):
            if keyed_seen:
                return _break(
                    report,
                    line_number,
                    seq,
                    "downgraded",
                    "unkeyed record after HMAC-keyed records",
                )
            digest = sha256(body).hexdigest()
        elif line.startswith(_ALG_HMAC_MEMBER, comma + 1):
            if key is None:
                return _break(
                    report,
                    line_number,
                    seq,
                    "key_required",
                    "record is HMAC-keyed; pass --key-file",
                )
            keyed_seen = True
            digest = hmac_digest(key, body, "sha256").hex()
        else:
            return _malformed(report, line_number, line)
        stored = line[9:73]
        if digest.encode("ascii") != stored:
            return _break(
                report,
                line_number,
                seq,
                "edited",
                "content does not match its hash (record altered)",
            )
        if seq != expected_seq or line[83:147] != expected_prev:
            return _classify_link_break(
                report,
                handle,
                line_number,
                seq,
                expected_seq,
                line[83:147] == expected_prev,
            )
        if deep:
            problem = _deep_check(line)
            if problem:
                return _break(report, line_number, seq, "malformed", problem)
        if head_bytes is not None and stored == head_bytes:
            head_found = True
        expected_prev = stored
        expected_seq += 1
    report.records = line_number
    report.head = expected_prev.decode("ascii") if line_number else None
    report.head_seq = expected_seq - 1
    if key is not None and line_number and not keyed_seen:
        return _break(
            report,
            None,
            None,
            "downgraded",
            "a key was given but no record is HMAC-keyed",
        )
    if head_bytes is not None and not head_found:
        return _break(
            report,
            None,
            None,
            "truncated",
            f"published head {head} is not in the trail; records after seq "
            f"{report.head_seq} were removed or the trail was rewritten",
        )
    return report


def _settled_size(path: str, timeout: float = 10.0) -> int:
    """Size of the trail at a moment when no writer is half way through a record.

    Writers hold the lock for the whole append, so a shared lock taken for an
    instant marks a point where every byte before the size is a whole record.
    Verification itself runs without the lock, so writers are never held up.
    """
    try:
        fd = os.open(path + ".lock", os.O_RDONLY)
    except OSError:
        return os.path.getsize(path)  # no lock file: nobody has appended through AuditTrail
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except OSError:
                if time.monotonic() >= deadline:
                    break  # a stuck writer must not stop verification
                time.sleep(0.01)
        return os.path.getsize(path)
    finally:
        os.close(fd)


def _break(report, line_number, seq, problem, detail) -> VerificationReport:
    report.valid = False
    report.line = line_number
    report.seq = seq
    report.problem = problem
    report.detail = detail
    if line_number:
        report.records = line_number - 1
    return report


def _malformed(report, line_number, line: bytes) -> VerificationReport:
    if not line.endswith(b"\n"):
        return _break(
            report,
            line_number,
            None,
            "truncated",
            "the last record is incomplete (interrupted write or cut file)",
        )
    return _break(report, line_number, None, "malformed", "not a trail record (damaged prefix)")


def _classify_link_break(report, handle, line_number, seq, expected_seq, prev_matches):
    """Name what happened at the first line whose link does not fit.

    Only runs once per verification, so it may read ahead in the file.
    """
    if seq > expected_seq:
        for later_number, later in enumerate(handle, line_number + 1):
            parsed = _parse_chain_prefix(later)
            if parsed and parsed[2] == expected_seq:
                return _break(
                    report,
                    line_number,
                    seq,
                    "reordered",
                    f"expected seq {expected_seq}, found seq {seq}; "
                    f"seq {expected_seq} appears later at line {later_number}",
                )
        missing = (
            f"seq {expected_seq}" if seq == expected_seq + 1 else f"seq {expected_seq} to {seq - 1}"
        )
        return _break(report, line_number, seq, "deleted", f"{missing} missing before this record")
    if seq < expected_seq:
        return _break(
            report,
            line_number,
            seq,
            "inserted",
            f"seq {seq} appears again (expected {expected_seq}); a record was inserted "
            "at or before this line",
        )
    following = next(handle, b"")
    parsed = _parse_chain_prefix(following) if following else None
    if parsed and parsed[2] == seq:
        return _break(
            report,
            line_number,
            seq,
            "inserted",
            f"record does not link to line {line_number - 1} and the next line repeats "
            f"seq {seq}; this record was inserted",
        )
    return _break(
        report,
        line_number,
        seq,
        "edited",
        f"prev does not match the hash of line {line_number - 1}; "
        "a record was replaced or re-hashed",
    )


def _deep_check(line: bytes) -> str | None:
    try:
        parsed = json.loads(line)
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    missing = (set(RECORD_FIELDS) | set(CHAIN_FIELDS)) - set(parsed)
    if missing:
        return f"missing fields: {', '.join(sorted(missing))}"
    return None


def verify_path(
    path: str, key: bytes | None = None, head: str | None = None, deep: bool = False
) -> list[VerificationReport]:
    """Verify one trail, or every ``*.jsonl`` trail of an audit directory."""
    if os.path.isdir(path):
        if head:
            raise AuditError("--head applies to one trail file, not a directory")
        names = sorted(name for name in os.listdir(path) if name.endswith(".jsonl"))
        return [verify_trail(os.path.join(path, name), key=key, deep=deep) for name in names]
    return [verify_trail(path, key=key, head=head, deep=deep)]


def _store_module():
    """audit_store, bound to this very module also when this file runs as a script or -m."""
    this = sys.modules[__name__]
    if __package__:
        sys.modules.setdefault(f"{__package__}.sla_audit", this)
        from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_store
    else:
        sys.modules.setdefault("sla_audit", this)
        import audit_store
    return audit_store


def _add_database_arguments(parser, customer_help: str) -> None:
    parser.add_argument(
        "--dsn",
        default=os.environ.get("SLA_AUDIT_DSN"),
        help="audit database (libpq DSN or postgresql:// URI, without the password; "
        "default SLA_AUDIT_DSN); the password comes from SLA_AUDIT_DB_PASSWORD, "
        "--db-password-file, PGPASSWORD or ~/.pgpass",
    )
    parser.add_argument("--db-password-file", help="file holding the database password")
    parser.add_argument("--customer", help=customer_help)


def main(argv=None) -> int:
    """Command line: ``verify`` a trail or print its ``head``; ``export`` / ``import``.

    A trail is a file (or an audit directory), or with ``--dsn`` the trails
    of a PostgreSQL audit database. Exit status: 0 valid, 1 broken, 2 usage
    error (bad arguments, unreadable file or key, database unreachable, HMAC
    key required).
    """
    parser = argparse.ArgumentParser(
        prog="sla_audit", description="Verify twovalue.sla audit trails."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify", help="verify a trail file, an audit directory or the trails of a database"
    )
    verify.add_argument("path", nargs="?", help="trail file or audit directory (or use --dsn)")
    verify.add_argument("--head", help="published head hash the trail must still contain")
    verify.add_argument("--key-file", help="HMAC key file the trail was written with")
    verify.add_argument("--json", action="store_true", help="one JSON object per trail")
    verify.add_argument("--deep", action="store_true", help="also parse every record as JSON")
    _add_database_arguments(verify, "one customer's trail of the database (default: all)")
    head = commands.add_parser("head", help="print the seq and hash of the last record")
    head.add_argument("path", nargs="?", help="trail file (or use --dsn with --customer)")
    _add_database_arguments(head, "the customer whose database trail to read")
    export = commands.add_parser("export", help="copy database trails into trail files")
    export.add_argument("target", help="trail file (with --customer) or directory")
    export.add_argument("--key-file", help="HMAC key file, to verify the copies")
    _add_database_arguments(export, "export one customer's trail (default: all)")
    imports = commands.add_parser("import", help="copy trail files into the database")
    imports.add_argument("source", help="trail file or audit directory")
    imports.add_argument("--key-file", help="HMAC key file, to verify before and after")
    _add_database_arguments(imports, "customer of a trail file (default: its file name)")
    args = parser.parse_args(argv)

    if args.command in ("verify", "head") and not args.path and not args.dsn:
        parser.error("give a trail file or directory, or an audit database with --dsn")
    if args.command in ("export", "import") or not args.path:
        return _database_command(args)

    if args.command == "head":
        if not os.path.isfile(args.path):
            print(f"sla_audit: no trail at {args.path}", file=sys.stderr)
            return 2
        try:
            seq, digest = AuditTrail(args.path).head()
        except AuditError as exc:
            print(f"sla_audit: {exc}", file=sys.stderr)
            return 1
        print(f"{seq} {digest}")
        return 0

    if args.head and not re.fullmatch(r"[0-9a-fA-F]{64}", args.head):
        print("sla_audit: --head must be a 64 character hex hash", file=sys.stderr)
        return 2
    if not os.path.exists(args.path) and not args.head:
        print(f"sla_audit: no trail at {args.path}", file=sys.stderr)
        return 2
    try:
        key = load_key(args.key_file)
        reports = verify_path(args.path, key=key, head=args.head, deep=args.deep)
    except (AuditError, OSError) as exc:
        print(f"sla_audit: {exc}", file=sys.stderr)
        return 2
    return _print_reports(reports, args.json)


def _print_reports(reports, as_json: bool) -> int:
    for report in reports:
        print(json.dumps(report.as_dict(), sort_keys=True) if as_json else report.summary())
    if any(report.problem == "key_required" for report in reports):
        return 2
    return 0 if all(report.valid for report in reports) else 1


def _database_command(args) -> int:
    """verify, head, export and import against the PostgreSQL audit database."""
    if args.command == "verify" and args.head and not re.fullmatch(r"[0-9a-fA-F]{64}", args.head):
        print("sla_audit: --head must be a 64 character hex hash", file=sys.stderr)
        return 2
    try:
        store = _store_module()
        database = store.cli_database(args.dsn, args.db_password_file)
        if args.command == "verify":
            key = load_key(args.key_file)
            reports = store.verify_database(
                database, args.customer, key=key, head=args.head, deep=args.deep
            )
            return _print_reports(reports, args.json)
        if args.command == "head":
            if not args.customer:
                raise AuditError("head of a database trail needs --customer")
            seq, digest = store.PostgresTrail(database, args.customer).head()
            print(f"{seq} {digest}")
            return 0
        key = load_key(args.key_file)
        if args.command == "export":
            reports = store.export_trails(database, args.target, args.customer, key=key)
            return _print_reports(reports, False)
        results = store.import_trails(database, args.source, args.customer, key=key)
        for added, report in results:
            print(f"imported {added} records; {report.summary()}")
        return 0 if all(report.valid for _added, report in results) else 1
    except (AuditError, OSError) as exc:
        print(f"sla_audit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
