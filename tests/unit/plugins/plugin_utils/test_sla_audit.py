# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import errno
import json
import multiprocessing
import os

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_file
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_cli import main
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_redaction import REDACTED, Redactor
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    GENESIS_HASH,
    RECORD_FIELDS,
    AuditError,
    build_record,
    encode_record,
    trail_path,
)
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st


def _decision(item, **extra):
    return dict(kind="decision", customer="acme", activity="security_updates", item=item, **extra)


def _trail_with(tmp_path, count, key=None):
    trail = AuditTrail(str(tmp_path / "acme.jsonl"), key=key)
    trail.append_many([_decision(f"item-{number}") for number in range(1, count + 1)])
    return trail


def _lines(trail):
    with open(trail.path, "rb") as handle:
        return handle.readlines()


def _write_lines(trail, lines):
    with open(trail.path, "wb") as handle:
        handle.writelines(lines)


# --------------------------------------------------------------------------- format


def test_every_line_is_a_json_object_with_all_fields_and_the_chain_first(tmp_path):
    trail = _trail_with(tmp_path, 3)
    previous = GENESIS_HASH
    for seq, line in enumerate(_lines(trail), 1):
        record = json.loads(line)
        assert list(record)[:4] == ["hash", "prev", "seq", "alg"]
        assert set(record) == {"hash", "prev", "seq", "alg", *RECORD_FIELDS}
        assert record["seq"] == seq
        assert record["prev"] == previous
        assert record["alg"] == "sha256"
        previous = record["hash"]
    assert trail.head() == (3, previous)


def test_hash_covers_the_line_from_prev_to_the_closing_brace(tmp_path):
    trail = _trail_with(tmp_path, 1)
    line = _lines(trail)[0]
    hashed = line[line.index(b'"prev"') : -1]
    import hashlib

    assert json.loads(line)["hash"] == hashlib.sha256(hashed).hexdigest()


def test_serialisation_is_canonical():
    record = build_record(kind="decision", time="2026-01-01T00:00:00.000000Z", controller="c")
    reordered = dict(reversed(list(record.items())))
    assert encode_record(record, GENESIS_HASH, 1) == encode_record(reordered, GENESIS_HASH, 1)


def test_build_record_refuses_unknown_fields_and_kinds():
    with pytest.raises(ValueError, match="unknown audit record fields: args"):
        build_record(kind="task", args={"password": "x"})
    with pytest.raises(ValueError, match="kind must be one of"):
        build_record(kind="gossip")


def test_hosts_without_customer_go_to_the_unassigned_trail(tmp_path):
    assert trail_path(str(tmp_path), None).endswith("/_unassigned.jsonl")
    assert build_record(kind="task")["customer"] == "_unassigned"


def test_customer_names_cannot_escape_the_audit_directory(tmp_path):
    with pytest.raises(AuditError, match="cannot be used as a trail file name"):
        trail_path(str(tmp_path), "../etc/passwd")


def test_appends_continue_the_chain_across_trail_objects(tmp_path):
    _trail_with(tmp_path, 2)
    again = AuditTrail(str(tmp_path / "acme.jsonl"))
    appended = again.append(_decision("late"))
    assert appended.seq == 3
    assert verify_trail(again.path).valid


# --------------------------------------------------------------------------- redaction


def test_redactor_masks_secret_values_wherever_they_appear():
    redact = Redactor(secret_values=["S3cretPass", "42"], secret_keys=["db_pw"])
    redacted = redact(
        {
            "reason": "login with S3cretPass failed",
            "S3cretPass": "as a key",
            "pin": 42,
            "db_pw": "whatever",
            "nested": [{"api_token": "abc"}, ("S3cretPass",)],
            "flags": {"password_changed": True},
        }
    )
    assert redacted == {
        "reason": f"login with {REDACTED} failed",
        REDACTED: "as a key",
        "pin": REDACTED,
        "db_pw": REDACTED,
        "nested": [{"api_token": REDACTED}, [REDACTED]],
        "flags": {"password_changed": True},
    }


def test_short_secrets_are_masked_as_whole_values_only():
    redact = Redactor(secret_values=["ab"])
    assert redact({"a": "ab", "b": "table"}) == {"a": REDACTED, "b": "table"}


def test_redactor_output_is_plain_json():
    class Opaque:
        def __str__(self):
            return "opaque S3cretPass"

    redacted = Redactor(["S3cretPass"])({"o": Opaque(), "n": float("nan"), "b": b"bytes"})
    assert redacted == {"o": f"opaque {REDACTED}", "n": "nan", "b": "bytes"}
    json.dumps(redacted, allow_nan=False)


def test_trail_never_writes_a_configured_secret(tmp_path):
    trail = AuditTrail(str(tmp_path / "acme.jsonl"), secrets=["hunter2-secret"])
    trail.append(_decision("rotate hunter2-secret", before={"password": "hunter2-secret"}))
    assert b"hunter2-secret" not in (tmp_path / "acme.jsonl").read_bytes()


@settings(max_examples=60, deadline=None)
@given(secret=st.text(min_size=4, max_size=20), prefix=st.text(max_size=10))
def test_property_a_secret_never_survives_redaction(secret, prefix):
    assume("*" not in secret)  # the mask itself would contain such a secret
    redacted = Redactor([secret])({"text": prefix + secret + prefix, "list": [secret]})
    serialised = json.dumps(redacted, ensure_ascii=False)
    assert secret not in json.loads(serialised)["text"]
    assert json.loads(serialised)["list"] == [REDACTED]


# --------------------------------------------------------------------------- verification


def test_intact_trail_verifies_and_reports_its_head(tmp_path):
    trail = _trail_with(tmp_path, 5)
    report = verify_trail(trail.path)
    assert report.valid
    assert (report.records, report.head_seq, report.head) == (5, 5, trail.head()[1])


def test_flipped_byte_is_reported_as_edited_on_its_line(tmp_path):
    trail = _trail_with(tmp_path, 5)
    lines = _lines(trail)
    lines[2] = lines[2].replace(b"item-3", b"item-X")
    _write_lines(trail, lines)
    report = verify_trail(trail.path)
    assert (report.valid, report.line, report.seq, report.problem) == (False, 3, 3, "edited")


def test_deleted_record_is_reported(tmp_path):
    trail = _trail_with(tmp_path, 5)
    lines = _lines(trail)
    del lines[1]
    _write_lines(trail, lines)
    report = verify_trail(trail.path)
    assert (report.line, report.seq, report.problem) == (2, 3, "deleted")
    assert "seq 2 missing" in report.detail


def test_swapped_records_are_reported_as_reordered(tmp_path):
    trail = _trail_with(tmp_path, 5)
    lines = _lines(trail)
    lines[1], lines[3] = lines[3], lines[1]
    _write_lines(trail, lines)
    report = verify_trail(trail.path)
    assert (report.line, report.problem) == (2, "reordered")
    assert "seq 2 appears later at line 4" in report.detail


def test_copied_record_is_reported_as_inserted(tmp_path):
    trail = _trail_with(tmp_path, 4)
    lines = _lines(trail)
    lines.insert(3, lines[0])
    _write_lines(trail, lines)
    report = verify_trail(trail.path)
    assert (report.line, report.seq, report.problem) == (4, 1, "inserted")


def test_forged_record_inserted_with_a_valid_hash_is_caught_at_the_next_line(tmp_path):
    trail = _trail_with(tmp_path, 4)
    lines = _lines(trail)
    second = json.loads(lines[1])
    forged, _ = encode_record(
        {key: value for key, value in second.items() if key in RECORD_FIELDS},
        second["hash"],
        3,
    )
    lines.insert(2, forged)
    _write_lines(trail, lines)
    report = verify_trail(trail.path)
    assert (report.line, report.problem) == (4, "inserted")


def test_tail_truncation_is_caught_against_a_published_head(tmp_path):
    trail = _trail_with(tmp_path, 5)
    published = trail.head()[1]
    assert verify_trail(trail.path, head=published).valid
    _write_lines(trail, _lines(trail)[:3])
    assert verify_trail(trail.path).valid  # without the head a cut tail looks complete
    report = verify_trail(trail.path, head=published)
    assert (report.valid, report.problem, report.records) == (False, "truncated", 3)


def test_records_appended_after_publishing_keep_the_head_valid(tmp_path):
    trail = _trail_with(tmp_path, 2)
    published = trail.head()[1]
    trail.append(_decision("later"))
    assert verify_trail(trail.path, head=published).valid


def test_incomplete_last_line_is_truncated_and_blocks_appends(tmp_path):
    trail = _trail_with(tmp_path, 3)
    data = (tmp_path / "acme.jsonl").read_bytes()
    (tmp_path / "acme.jsonl").write_bytes(data[:-40])
    report = verify_trail(trail.path)
    assert (report.line, report.problem) == (3, "truncated")
    with pytest.raises(AuditError, match="incomplete or damaged"):
        AuditTrail(trail.path).append(_decision("more"))


def test_hmac_trail_needs_the_key_and_detects_rehashing_without_it(tmp_path):
    key = b"k" * 32
    trail = _trail_with(tmp_path, 3, key=key)
    assert verify_trail(trail.path, key=key).valid
    assert verify_trail(trail.path).problem == "key_required"
    assert verify_trail(trail.path, key=b"wrong").problem == "edited"
    with pytest.raises(AuditError, match="HMAC key"):
        AuditTrail(trail.path).append(_decision("unkeyed"))


def test_unkeyed_record_after_keyed_ones_is_a_downgrade(tmp_path):
    key = b"k" * 32
    trail = _trail_with(tmp_path, 2, key=key)
    head_seq, head = trail.head()
    line, _ = encode_record(build_record(**_decision("forged")), head, head_seq + 1)
    with open(trail.path, "ab") as handle:
        handle.write(line)
    report = verify_trail(trail.path, key=key)
    assert (report.line, report.problem) == (3, "downgraded")


def test_a_key_given_for_an_unkeyed_trail_is_a_downgrade(tmp_path):
    trail = _trail_with(tmp_path, 2)
    assert verify_trail(trail.path, key=b"k" * 32).problem == "downgraded"


def test_deep_check_parses_every_record(tmp_path):
    trail = _trail_with(tmp_path, 3)
    assert verify_trail(trail.path, deep=True).valid


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_property_any_single_byte_change_breaks_verification(tmp_path_factory, data):
    tmp_path = tmp_path_factory.mktemp("flip")
    trail = _trail_with(tmp_path, 4)
    raw = bytearray((tmp_path / "acme.jsonl").read_bytes())
    position = data.draw(st.integers(0, len(raw) - 1))
    replacement = data.draw(st.integers(0, 255).filter(lambda byte: byte != raw[position]))
    raw[position] = replacement
    (tmp_path / "acme.jsonl").write_bytes(bytes(raw))
    report = verify_trail(trail.path)
    assert not report.valid
    assert report.line is not None and report.line <= 4 + 1


@settings(max_examples=40, deadline=None)
@given(
    values=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=30),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=8), children, max_size=4)
        ),
        max_leaves=12,
    )
)
def test_property_any_json_value_round_trips_through_the_chain(values):
    record = build_record(kind="decision", before=values, time="t", controller="c")
    redacted = Redactor(key_pattern=None)(record)
    line, digest = encode_record(redacted, GENESIS_HASH, 1)
    parsed = json.loads(line)
    assert parsed["before"] == redacted["before"]
    assert parsed["hash"] == digest


# --------------------------------------------------------------------------- durability


def test_unwritable_directory_fails_closed(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(AuditError, match="cannot create audit directory"):
        AuditTrail(str(blocker / "acme.jsonl")).append(_decision("x"))


def test_lock_held_elsewhere_fails_closed_after_the_timeout(tmp_path):
    import fcntl

    trail = AuditTrail(str(tmp_path / "acme.jsonl"), lock_timeout=0.2)
    with open(trail.lock_path, "w") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with pytest.raises(AuditError, match="cannot lock"):
            trail.append(_decision("x"))


def test_disk_full_leaves_no_partial_record(tmp_path, monkeypatch):
    trail = _trail_with(tmp_path, 2)
    size_before = os.path.getsize(trail.path)
    real_write = os.write

    def _half_then_full(fd, data):
        if fd > 2 and len(data) > 100:
            real_write(fd, bytes(data[:50]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(audit_file.os, "write", _half_then_full)
    with pytest.raises(AuditError, match="No space left on device"):
        trail.append(_decision("lost"))
    monkeypatch.setattr(audit_file.os, "write", real_write)
    assert os.path.getsize(trail.path) == size_before
    assert verify_trail(trail.path).valid
    assert trail.append(_decision("after")).seq == 3


def _append_from_process(path, writer, count):
    trail = AuditTrail(path)
    for number in range(count):
        trail.append(_decision(f"writer-{writer}-{number}"))


def test_parallel_writers_never_interleave_or_lose_records(tmp_path):
    path = str(tmp_path / "acme.jsonl")
    writers, per_writer = 8, 60
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_append_from_process, args=(path, writer, per_writer))
        for writer in range(writers)
    ]
    for process in processes:
        process.start()
    # A reader during the appends must never see a half-written record.
    while any(process.is_alive() for process in processes):
        if os.path.exists(path):
            during = verify_trail(path)
            assert during.valid, during.summary()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    report = verify_trail(path)
    assert report.valid, report.summary()
    assert report.records == writers * per_writer
    with open(path, "rb") as handle:
        items = {json.loads(line)["item"] for line in handle}
    assert items == {f"writer-{w}-{n}" for w in range(writers) for n in range(per_writer)}


# --------------------------------------------------------------------------- command line


def test_cli_exit_codes_and_json_report(tmp_path, capsys):
    trail = _trail_with(tmp_path, 3)
    assert main(["verify", trail.path]) == 0
    assert "OK" in capsys.readouterr().out

    lines = _lines(trail)
    lines[1] = lines[1].replace(b"item-2", b"item-9")
    _write_lines(trail, lines)
    assert main(["verify", trail.path, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert (report["line"], report["problem"], report["valid"]) == (2, "edited", False)

    assert main(["verify", str(tmp_path / "missing.jsonl")]) == 2
    assert main(["verify", trail.path, "--head", "nothex"]) == 2
    assert "--head must be a 64 character hex hash" in capsys.readouterr().err
    # Refused before any database is reached.
    assert main(["verify", "--dsn", "host=/nonexistent", "--head", "nothex"]) == 2
    assert "--head must be a 64 character hex hash" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        main(["verify"])
    assert usage.value.code == 2


def test_cli_reads_the_key_file_and_prints_the_head(tmp_path, capsys):
    key_file = tmp_path / "key"
    key_file.write_bytes(b"secret-key\n")
    trail = _trail_with(tmp_path, 2, key=b"secret-key")
    assert main(["verify", trail.path]) == 2
    assert main(["verify", trail.path, "--key-file", str(key_file)]) == 0
    capsys.readouterr()
    assert main(["head", trail.path]) == 0
    assert capsys.readouterr().out.split() == ["2", trail.head()[1]]


def test_cli_verifies_a_directory_and_names_the_broken_trail(tmp_path, capsys):
    AuditTrail(str(tmp_path / "globex.jsonl")).append(_decision("ok"))
    trail = _trail_with(tmp_path, 2)
    lines = _lines(trail)
    del lines[0]
    _write_lines(trail, lines)
    assert main(["verify", str(tmp_path)]) == 1
    output = capsys.readouterr().out
    assert "BROKEN" in output and "acme.jsonl at line 1" in output
    assert "OK" in output and "globex.jsonl" in output
