# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""access_converge and credential_rotate on the controller, with the host module played by a fake."""

from __future__ import annotations

import base64
import datetime
import json
import pathlib
from unittest.mock import MagicMock

import pytest
import yaml
from action_harness import controller_action
from ansible_collections.twovalue.sla.plugins.action import access_converge, credential_rotate
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_path
from ansible_collections.twovalue.sla.plugins.plugin_utils.secret_store import VaultFileStore
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets


def ed25519(seed):
    blob = b"\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20" + bytes([seed]) * 32
    return f"ssh-ed25519 {base64.b64encode(blob).decode()} someone@laptop"


PRO_WINDOW = "2026-11-30T06:30:00+01:00"
PRO_OUTSIDE = "2026-11-30T12:00:00+01:00"
BASIC_WINDOW = "2026-11-30T10:00:00+01:00"
PEOPLE = {
    "alice": {"name": "Alice Agent", "organisation": "agency", "ssh_keys": [ed25519(1)]},
    "bob": {
        "name": "Bob Before",
        "organisation": "agency",
        "ends": "2026-10-31",
        "ssh_keys": [ed25519(2)],
    },
    "carol": {"name": "Carol Customer", "organisation": "customer"},
}
GRANTS = [
    {"kind": "os_account", "account": "alice", "person": "alice", "controlled_by": "agency"},
    {"kind": "os_account", "account": "bob", "person": "bob", "controlled_by": "agency"},
    {
        "kind": "cms_account",
        "account": "BobC",
        "person": "bob",
        "site": "/srv/wiki",
        "controlled_by": "customer",
    },
    {
        "kind": "db_user",
        "account": "wikiuser",
        "rotate": True,
        "site": "/srv/wiki",
        "controlled_by": "agency",
    },
]
CHANGES = [
    {
        "kind": "os_account",
        "account": "alice",
        "change": "created",
        "person": "alice",
        "applied": True,
    },
    {"kind": "os_account", "account": "bob", "change": "locked", "person": "bob", "applied": True},
]


@pytest.fixture
def audit_dir(audit_dir, audit_settings, monkeypatch):
    # credential_rotate imported callback_settings by name.
    monkeypatch.setattr(credential_rotate, "callback_settings", lambda: audit_settings)
    return audit_dir


def _records(audit_dir, customer="acme"):
    path = audit_dir / f"{customer}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _sla(tier="pro", customer="acme"):
    return {"customer": customer, "tier": tier, "targets": resolve_targets(tier)}


def _converge(tmp_path, module_answer=None, tier="pro", now=PRO_WINDOW, **extra):
    args = {
        "people": PEOPLE,
        "grants": GRANTS,
        "sla": _sla(tier),
        "now": now,
        "advice_dir": str(tmp_path / "advice"),
        "evidence_dir": str(tmp_path / "evidence"),
        **extra,
    }
    action, _connection = controller_action(
        access_converge.ActionModule, args, action_name="twovalue.sla.access_converge"
    )
    answers = []

    def host(module_name, module_args, task_vars):
        answers.append(module_args)
        if callable(module_answer):
            return module_answer(module_args)
        return module_answer or {"changed": True, "changes": CHANGES}

    action._execute_module = MagicMock(side_effect=host)
    return action.run(task_vars={"inventory_hostname": "web1"}), answers


def test_pro_converges_records_and_leaves_evidence_and_review_advice(tmp_path, audit_dir):
    result, calls = _converge(tmp_path)
    assert not result.get("failed"), result
    assert len(calls) == 1 and calls[0]["allow_grants"] is True
    assert calls[0]["desired"]["revoked_people"] == ["bob"]
    records = [r for r in _records(audit_dir) if r["kind"] == "decision"]
    assert [r["decision"] for r in records] == ["planned", "applied", "applied"]
    assert records[2]["reason"] == access_converge.REVOCATION_REASON
    evidence = json.loads(pathlib.Path(result["evidence_file"]).read_text(encoding="utf-8"))
    assert [c["account"] for c in evidence["removed"]] == ["bob"]
    assert [c["account"] for c in evidence["added"]] == ["alice"]
    advice = pathlib.Path(result["advice_files"][0]).read_text(encoding="utf-8")
    assert "CMS account BobC on /srv/wiki" in advice and "former agency staff member" in advice
    (report,) = verify_path(str(audit_dir))
    assert report.valid and report.records == 3


def test_basic_withholds_grants_until_the_change_set_is_approved(tmp_path, audit_dir):
    def withheld(module_args):
        applied = module_args["allow_grants"]
        return {"changed": applied, "changes": [dict(CHANGES[0], applied=applied), CHANGES[1]]}

    result, calls = _converge(tmp_path, withheld, tier="basic", now=BASIC_WINDOW)
    assert calls[0]["allow_grants"] is False
    records = [r for r in _records(audit_dir) if r["kind"] == "decision"]
    assert [r["decision"] for r in records] == ["planned", "advised", "applied"]
    planned = records[0]
    advice = pathlib.Path(result["advice_files"][0]).read_text(encoding="utf-8")
    # Table cells are escaped like every document: os\_account reads as os_account.
    assert planned["after"] in advice and "| os\\_account | alice | created |" in advice

    approval = {
        "reference": "SR-1",
        "customer": "acme",
        "change_set": planned["after"],
        "approved_by": "Carol",
    }
    result, calls = _converge(tmp_path, withheld, tier="basic", now=BASIC_WINDOW, approval=approval)
    assert calls[0]["allow_grants"] is True
    assert _records(audit_dir)[-2]["approval"] == "SR-1"


@pytest.mark.parametrize(
    ("grants", "message"),
    [
        (
            GRANTS
            + [
                {"kind": "os_account", "account": "eve", "person": "eve", "controlled_by": "agency"}
            ],
            "who is not in access_people",
        ),
        (GRANTS + [GRANTS[0]], "list each account once"),
    ],
)
def test_a_bad_register_touches_no_host_and_records_nothing(tmp_path, audit_dir, grants, message):
    result, calls = _converge(tmp_path, grants=grants)
    assert result["failed"] and message in result["msg"] and "host web1" in result["msg"]
    assert calls == [] and _records(audit_dir) == []


def test_an_unwritable_trail_changes_nothing(tmp_path, audit_dir):
    audit_dir.parent.mkdir(exist_ok=True)
    audit_dir.write_text("not a directory")
    result, calls = _converge(tmp_path)
    assert result["failed"] and "nothing is changed" in result["msg"] and calls == []


def test_a_host_failure_is_recorded_with_what_was_done(tmp_path, audit_dir):
    answer = {
        "failed": True,
        "msg": "visudo check of the sudo rules failed: syntax error",
        "changes": CHANGES[1:],
    }
    result, _calls = _converge(tmp_path, answer)
    assert result["failed"] and "visudo" in result["msg"]
    assert [r["decision"] for r in _records(audit_dir) if r["kind"] == "decision"] == [
        "planned",
        "applied",
        "failed",
    ]


# -- rotation ---------------------------------------------------------------------


def _rotate(tmp_path, module_answer=None, tier="pro", now=PRO_WINDOW, **extra):
    (tmp_path / "vault-password").write_text("PLANTED-vault-password\n")
    args = {
        "people": PEOPLE,
        "grants": GRANTS,
        "sla": _sla(tier),
        "now": now,
        "vault_dir": str(tmp_path / "vault"),
        "vault_password_file": str(tmp_path / "vault-password"),
        **extra,
    }
    action, _connection = controller_action(
        credential_rotate.ActionModule, args, action_name="twovalue.sla.credential_rotate"
    )
    secrets = []

    def host(module_name, module_args, task_vars):
        assert module_name == "twovalue.sla.credential_set"
        secrets.append(module_args["secret"])
        return module_answer or {"changed": True, "steps": ["new password set"]}

    action._execute_module = MagicMock(side_effect=host)
    return action.run(task_vars={"inventory_hostname": "web1"}), secrets


def _vault(tmp_path):
    return VaultFileStore(str(tmp_path / "vault"), "acme", b"PLANTED-vault-password")


def test_a_due_credential_is_staged_set_and_committed_and_then_not_due(tmp_path, audit_dir):
    result, secrets = _rotate(tmp_path)
    assert not result.get("failed"), result
    assert [r["id"] for r in result["rotated"]] == ["db_user/wikiuser@localhost"]
    assert _vault(tmp_path).current("db_user/wikiuser@localhost") == secrets[0]
    decisions = [r["decision"] for r in _records(audit_dir) if r["kind"] == "decision"]
    assert decisions == ["planned", "applied"]
    trail = (audit_dir / "acme.jsonl").read_text()
    assert secrets[0] not in trail and secrets[0] not in json.dumps(result)

    again, more = _rotate(tmp_path)
    assert more == [] and again["rotated"] == []
    # Due again Pro's 90 days after the rotation the trail recorded.
    applied = datetime.datetime.fromisoformat(_records(audit_dir)[-1]["time"])
    due = datetime.datetime.fromisoformat(again["credentials"][0]["due"])
    assert due - applied == datetime.timedelta(days=90)


def test_a_failed_verification_discards_the_staged_secret(tmp_path, audit_dir):
    answer = {"failed": True, "msg": "health check failed", "reverted": True, "steps": ["x"]}
    result, secrets = _rotate(tmp_path, answer)
    assert result["failed"] and "health check failed" in result["msg"]
    store = _vault(tmp_path)
    assert store.current("db_user/wikiuser@localhost") is None
    document = yaml.safe_load(store._vault.decrypt(pathlib.Path(store.path).read_bytes()))
    assert document["pending"] == {}
    failed = _records(audit_dir)[-1]
    assert failed["decision"] == "failed" and failed["result"]["reverted"] is True
    assert secrets[0] not in (audit_dir / "acme.jsonl").read_text()


def test_outside_a_window_the_rotation_is_advised(tmp_path, audit_dir):
    result, secrets = _rotate(tmp_path, now=PRO_OUTSIDE)
    assert secrets == [] and result["advised"] == ["db_user/wikiuser@localhost"]
    assert "outside the maintenance windows" in result["msg"]
    assert _records(audit_dir)[-1]["decision"] == "advised"


def test_basic_rotates_only_with_an_approval_of_the_rotation(tmp_path, audit_dir):
    result, secrets = _rotate(tmp_path, tier="basic", now=BASIC_WINDOW)
    assert secrets == [] and "waits for approval of change set" in result["msg"]
    change_set = credential_rotate.rotation_change_set(
        "web1", [{"id": "db_user/wikiuser@localhost"}]
    )
    approval = {
        "reference": "SR-2",
        "customer": "acme",
        "change_set": change_set,
        "approved_by": "Carol",
    }
    result, secrets = _rotate(tmp_path, tier="basic", now=BASIC_WINDOW, approval=approval)
    assert len(secrets) == 1 and result["rotated"]
    assert _records(audit_dir)[-1]["approval"] == "SR-2"


def test_only_names_a_credential_the_register_does_not_rotate(tmp_path, audit_dir):
    result, secrets = _rotate(tmp_path, only=["db_user/root@localhost"])
    assert result["failed"] and "only names db_user/root@localhost" in result["msg"]
    assert secrets == []


def test_a_rotation_time_without_a_timezone_is_refused_before_anything_happens(tmp_path, audit_dir):
    # Read as a naive time, it met the aware time of the last rotation and raised a TypeError.
    first, _secrets = _rotate(tmp_path)
    assert first["rotated"]
    recorded = len(_records(audit_dir))
    result, secrets = _rotate(tmp_path, now="2026-03-04T07:30:00")
    assert result["failed"] and secrets == []
    assert (
        "cannot plan the rotation: now is 2026-03-04T07:30:00 without a timezone" in result["msg"]
    )
    assert len(_records(audit_dir)) == recorded


def test_a_defect_in_the_rotation_plan_surfaces_as_itself(tmp_path, audit_dir, monkeypatch):
    def broken(*_args, **_kwargs):
        raise KeyError("targets")

    monkeypatch.setattr(credential_rotate, "host_access", broken)
    with pytest.raises(KeyError, match="targets"):
        _rotate(tmp_path)


@pytest.mark.parametrize(
    "line",
    [
        '{"activity": "access", "decision": "applied", "host": "web1", "item": "credential db',
        '{"activity": "access", "decision": "applied", "host": "web1", "item": "credential db"}',
    ],
    ids=["torn", "no-time"],
)
def test_a_damaged_rotation_record_is_an_audit_error_not_a_crash(tmp_path, line):
    trail = tmp_path / "acme.jsonl"
    trail.write_text(line + "\n")
    with pytest.raises(credential_rotate.AuditError, match="line 1|recorded time"):
        credential_rotate.last_rotations(str(trail), "web1")


def test_an_active_tier_rotates_in_its_window_without_reading_a_basic_approval_file(
    tmp_path, audit_dir
):
    # One approval file passed fleet-wide for a Basic customer must not stop Pro hosts.
    result, secrets = _rotate(tmp_path, approval_file=str(tmp_path / "missing-approval.yml"))
    assert not result.get("failed"), result
    assert len(secrets) == 1 and result["rotated"]
