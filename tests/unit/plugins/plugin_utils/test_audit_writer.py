# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Decision records written by action plugins."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleError
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_writer
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_path
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import (
    RUN_ID_ENV,
    DecisionWriter,
    run_id,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import AuditError

SECRET = "Db-Secret-9921"


@pytest.fixture
def settings(tmp_path, monkeypatch):
    values = {
        "audit_dir": str(tmp_path / "audit"),
        "key_file": None,
        "operator": "ops-alice",
        "secret_var_names": ["db_password_plain"],
    }
    monkeypatch.setattr(audit_writer, "callback_settings", lambda: values)
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    return values


def _render(value):
    return value.replace("{{ customer_name }}", "acme")


def _writer(**kwargs):
    task_vars = {
        "inventory_hostname": "web1",
        "sla_customer": "{{ customer_name }}",
        "sla_tier": "pro",
        "db_password_plain": SECRET,
    }
    return DecisionWriter(task_vars, _render, **kwargs)


def test_record_has_every_field_with_the_host_context(settings):
    record = _writer().record("updates", "advised", "twovalue.sla.update_plan", False)
    assert record == {
        "kind": "decision",
        "run_id": run_id(),
        "operator": "ops-alice",
        "customer": "acme",
        "host": "web1",
        "tier": "pro",
        "activity": "updates",
        "item": None,
        "action": "twovalue.sla.update_plan",
        "decision": "advised",
        "reason": None,
        "before": None,
        "after": None,
        "approval": None,
        "result": None,
        "check_mode": False,
    }


def test_record_fields_fill_the_rest(settings):
    record = _writer().record(
        "updates",
        "approved",
        "twovalue.sla.update_plan",
        1,
        item="apache2",
        reason="stays on branch",
        before="2.4.68-1~deb12u1",
        after="2.4.71-1~deb12u1",
        approval="SR-1",
        result={"kind": "update"},
    )
    assert record["check_mode"] is True
    assert (record["item"], record["before"], record["after"]) == (
        "apache2",
        "2.4.68-1~deb12u1",
        "2.4.71-1~deb12u1",
    )
    assert (record["approval"], record["result"]) == ("SR-1", {"kind": "update"})


def test_explicit_customer_and_tier_win_over_host_variables(settings):
    writer = _writer(customer="globex", tier="basic")
    record = writer.record("updates", "advised", "x", False)
    assert (record["customer"], record["tier"]) == ("globex", "basic")
    assert writer.trail.path == str(settings["audit_dir"]) + "/globex.jsonl"


def test_host_without_customer_goes_to_the_unassigned_trail(settings):
    writer = DecisionWriter({"inventory_hostname": "web1"}, _render)
    record = writer.record("updates", "advised", "x", False)
    assert record["customer"] == "_unassigned"
    assert record["tier"] is None
    assert writer.trail.path.endswith("/_unassigned.jsonl")


def test_audit_dir_argument_overrides_the_callback_setting(settings, tmp_path):
    writer = _writer(audit_dir=str(tmp_path / "elsewhere"))
    assert writer.trail.path == str(tmp_path / "elsewhere" / "acme.jsonl")


def test_appended_records_chain_verify_and_redact_secrets(settings, tmp_path):
    writer = _writer()
    appended = writer.append(
        [
            writer.record("updates", "advised", "x", False, item="a", reason=f"pw {SECRET}"),
            writer.record("updates", "refused", "x", False, item="b"),
        ]
    )
    assert [a.seq for a in appended] == [1, 2]
    assert appended[1].prev == appended[0].hash
    path = tmp_path / "audit" / "acme.jsonl"
    raw = path.read_text()
    assert SECRET not in raw
    assert json.loads(raw.splitlines()[0])["reason"] == "pw ********"
    (report,) = verify_path(str(path))
    assert report.valid


def test_run_id_is_stable_within_a_process(monkeypatch):
    monkeypatch.delenv(RUN_ID_ENV, raising=False)
    first = run_id()
    assert len(first) == 32
    assert run_id() == first
    assert os.environ[RUN_ID_ENV] == first


def test_run_id_set_by_the_callback_is_shared(monkeypatch):
    monkeypatch.setenv(RUN_ID_ENV, "run-from-callback")
    assert run_id() == "run-from-callback"


def test_records_of_two_writers_share_the_run_id(settings):
    one = _writer().record("updates", "advised", "x", False)
    two = _writer(customer="globex").record("updates", "advised", "x", False)
    assert one["run_id"] == two["run_id"]


def test_missing_callback_is_an_ansible_error(monkeypatch):
    monkeypatch.setattr(audit_writer.callback_loader, "get", lambda name: None)
    with pytest.raises(AnsibleError, match="callback twovalue.sla.audit is not installed"):
        audit_writer.callback_settings()


def test_settings_come_from_the_callback_options(monkeypatch):
    resolved = {"audit_dir": "/a", "key_file": None, "operator": "o", "secret_var_names": []}
    calls = []
    callback = SimpleNamespace(
        set_options=lambda: calls.append("set_options"), audit_settings=lambda: resolved
    )
    monkeypatch.setattr(audit_writer.callback_loader, "get", lambda name: callback)
    assert audit_writer.callback_settings() == resolved
    assert calls == ["set_options"]


def test_unreadable_key_file_fails(settings, tmp_path):
    settings["key_file"] = str(tmp_path / "missing.key")
    with pytest.raises(AuditError, match="cannot read audit key file"):
        _writer()
