# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail verifier: the first edited, deleted, inserted, reordered or truncated record.

Every backend (trail files, database rows) is checked by the one loop in
verify_lines, so a trail verifies the same wherever it is kept.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import hmac
import json
import os
import time

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    ALG_HMAC_MEMBER,
    ALG_SHA256_MEMBER,
    CHAIN_FIELDS,
    GENESIS_HASH,
    HASH_END,
    HASHED_START,
    PREFIX_HASH,
    PREFIX_PREV,
    PREFIX_SEQ,
    PREV_END,
    RECORD_FIELDS,
    SEQ_START,
    AuditError,
    parse_chain_prefix,
)


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
        return broken(
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
            line.startswith(PREFIX_HASH)
            and line.startswith(PREFIX_PREV, HASH_END)
            and line.startswith(PREFIX_SEQ, PREV_END)
            and line.endswith(b"}\n")
        ):
            if unsettled is not None and unsettled(line):
                line_number -= 1
                break
            return _malformed(report, line_number, line)
        comma = line.find(b",", SEQ_START)
        digits = line[SEQ_START:comma]
        if comma < 0 or not digits.isdigit():
            return _malformed(report, line_number, line)
        seq = int(digits)
        body = line[HASHED_START:-1]
        if line.startswith(ALG_SHA256_MEMBER, comma + 1):
            if keyed_seen:
                return broken(
                    report,
                    line_number,
                    seq,
                    "downgraded",
                    "unkeyed record after HMAC-keyed records",
                )
            digest = sha256(body).hexdigest()
        elif line.startswith(ALG_HMAC_MEMBER, comma + 1):
            if key is None:
                return broken(
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
            return broken(
                report,
                line_number,
                seq,
                "edited",
                "content does not match its hash (record altered)",
            )
        if seq != expected_seq or line[83:147] != expected_prev:
            return _classify_linkbroken(
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
                return broken(report, line_number, seq, "malformed", problem)
        if head_bytes is not None and stored == head_bytes:
            head_found = True
        expected_prev = stored
        expected_seq += 1
    report.records = line_number
    report.head = expected_prev.decode("ascii") if line_number else None
    report.head_seq = expected_seq - 1
    if key is not None and line_number and not keyed_seen:
        return broken(
            report,
            None,
            None,
            "downgraded",
            "a key was given but no record is HMAC-keyed",
        )
    if head_bytes is not None and not head_found:
        return broken(
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


def broken(report, line_number, seq, problem, detail) -> VerificationReport:
    """Mark ``report`` broken at a line: the first problem found is the one reported."""
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
        return broken(
            report,
            line_number,
            None,
            "truncated",
            "the last record is incomplete (interrupted write or cut file)",
        )
    return broken(report, line_number, None, "malformed", "not a trail record (damaged prefix)")


def _classify_linkbroken(report, handle, line_number, seq, expected_seq, prev_matches):
    """Name what happened at the first line whose link does not fit.

    Only runs once per verification, so it may read ahead in the file.
    """
    if seq > expected_seq:
        for later_number, later in enumerate(handle, line_number + 1):
            parsed = parse_chain_prefix(later)
            if parsed and parsed[2] == expected_seq:
                return broken(
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
        return broken(report, line_number, seq, "deleted", f"{missing} missing before this record")
    if seq < expected_seq:
        return broken(
            report,
            line_number,
            seq,
            "inserted",
            f"seq {seq} appears again (expected {expected_seq}); a record was inserted "
            "at or before this line",
        )
    following = next(handle, b"")
    parsed = parse_chain_prefix(following) if following else None
    if parsed and parsed[2] == seq:
        return broken(
            report,
            line_number,
            seq,
            "inserted",
            f"record does not link to line {line_number - 1} and the next line repeats "
            f"seq {seq}; this record was inserted",
        )
    return broken(
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
