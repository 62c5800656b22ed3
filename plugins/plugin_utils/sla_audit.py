# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tamper-evident, append-only audit trail of SLA runs: the records and their hash chain.

One trail is one JSON Lines stream per customer. Every line is a complete JSON
object whose first four members are laid out at fixed positions::

    {"hash":"<64 hex>","prev":"<64 hex>","seq":<n>,"alg":"sha256",<record>}

``hash`` is SHA-256 (or HMAC-SHA256 with a key) over the raw bytes of the line
from ``"prev"`` up to and including the closing brace. Because ``prev`` is part
of those bytes, every record is bound to the one before it, and the verifier
can check a line by slicing and hashing bytes instead of parsing JSON.

The rest of the record is serialised canonically (sorted keys, compact
separators, ASCII only), so the same record always produces the same bytes.

The trail is written by audit_file (files) or audit_store (PostgreSQL), checked
by audit_verify and used from the command line through audit_cli. All of them
are standard library only, so trails can be verified wherever Python runs.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import hmac
import json
import os
import re
import socket

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaOperationError

GENESIS_HASH = "0" * 64
ALG_SHA256 = "sha256"
ALG_HMAC_SHA256 = "hmac-sha256"
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

PREFIX_HASH = b'{"hash":"'
PREFIX_PREV = b'","prev":"'
PREFIX_SEQ = b'","seq":'
ALG_SHA256_MEMBER = b'"alg":"sha256"'
ALG_HMAC_MEMBER = b'"alg":"hmac-sha256"'
HASH_START, HASH_END = 9, 73
PREV_START, PREV_END = 83, 147
SEQ_START = 155
HASHED_START = 75  # the '"prev"' member
MIN_LINE_LENGTH = SEQ_START + len(b'1,"alg":"sha256"}\n')


class AuditError(SlaOperationError):
    """The trail could not be read or written; callers must treat it as fatal."""


@dataclasses.dataclass(frozen=True)
class AppendedRecord:
    seq: int
    hash: str
    prev: str
    path: str


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
    if (
        len(line) < MIN_LINE_LENGTH
        or line[:HASH_START] != PREFIX_HASH
        or line[HASH_END:PREV_START] != PREFIX_PREV
        or line[PREV_END:SEQ_START] != PREFIX_SEQ
        or not line.endswith(b"}\n")
    ):
        return None
    comma = line.find(b",", SEQ_START)
    digits = line[SEQ_START:comma]
    if comma < 0 or not digits.isdigit():
        return None
    if line.startswith(ALG_SHA256_MEMBER, comma + 1):
        alg = ALG_SHA256
    elif line.startswith(ALG_HMAC_MEMBER, comma + 1):
        alg = ALG_HMAC_SHA256
    else:
        return None
    return (
        line[HASH_START:HASH_END].decode("ascii", "replace"),
        line[PREV_START:PREV_END].decode("ascii", "replace"),
        int(digits),
        alg,
    )
