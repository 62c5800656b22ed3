# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""twovalue.sla.update_plan on the controller: plan, advice files and decision records."""

from __future__ import annotations

import json

import pytest
from action_harness import controller_action, run_on_controller
from ansible_collections.twovalue.sla.plugins.action.update_plan import ActionModule
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_path
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets

SECURITY = {"label": "Debian-Security", "release": "12", "suite": "oldstable-security"}
POINT = {"label": "Debian", "release": "12.12", "suite": "oldstable"}
TRIXIE = {"label": "Debian", "release": "13.2", "suite": "stable"}
OS = {"id": "debian", "version_id": "12", "codename": "bookworm"}

IN_PRO_WINDOW = "2025-11-04T07:30:00+01:00"
OUTSIDE_WINDOWS = "2025-11-04T20:00:00+01:00"
BASIC_WINDOW = "2025-11-04T10:00:00+01:00"


def _pending(package, installed, candidate, origins, security=False):
    return {
        "package": package,
        "installed": installed,
        "candidate": candidate,
        "arch": "amd64",
        "origins": origins,
        "suite": origins[0]["suite"],
        "security": security,
        "new_install": installed is None,
    }


APACHE = _pending("apache2", "2.4.68-1~deb12u1", "2.4.71-1~deb12u1", [SECURITY], True)
TZDATA = _pending("tzdata", "2025a-0+deb12u1", "2025b-0+deb12u1", [POINT])
CURL = _pending("curl", "7.88.1-10+deb12u12", "8.14.1-2", [TRIXIE])
NEW = _pending("libnew1", None, "1.0-1", [POINT])


def _state(*pending):
    return {"os": dict(OS), "updates": {"pending": list(pending)}}


def _sla(tier="pro"):
    return {"customer": "acme", "tier": tier, "targets": resolve_targets(tier), "control": None}


def _action(args, check_mode=False):
    return controller_action(
        ActionModule, args, check_mode=check_mode, action_name="twovalue.sla.update_plan"
    )


def _run(tmp_path, state, tier="pro", now=IN_PRO_WINDOW, check_mode=False, **extra):
    args = {
        "state": state,
        "sla": _sla(tier),
        "advice_dir": str(tmp_path / "advice"),
        "now": now,
        **extra,
    }
    action, connection = _action(args, check_mode=check_mode)
    result = run_on_controller(action, connection, {"inventory_hostname": "web1"})
    return result


def plan_deadline(result, package):
    (decided,) = [d for d in result["plan"]["decisions"] if d["component"] == package]
    return decided["deadline"]


def _decisions(audit_dir):
    with open(audit_dir / "acme.jsonl", encoding="ascii") as handle:
        return [json.loads(line) for line in handle]


def test_every_decision_is_recorded_and_the_trail_verifies(tmp_path, audit_dir):
    result = _run(tmp_path, _state(APACHE, TZDATA, CURL, NEW))
    assert not result.get("failed"), result.get("msg")
    records = _decisions(audit_dir)
    assert [(r["item"], r["decision"]) for r in records] == [
        ("apache2", "approved"),
        ("tzdata", "approved"),
        ("curl", "refused"),
        ("libnew1", "advised"),
        ("change_set", "planned"),
    ]
    assert {r["kind"] for r in records} == {"decision"}
    assert {(r["host"], r["customer"], r["tier"]) for r in records} == {("web1", "acme", "pro")}
    assert {r["action"] for r in records} == {"twovalue.sla.update_plan"}
    assert {r["operator"] for r in records} == {"ops-alice"}
    assert len({r["run_id"] for r in records}) == 1
    apache = records[0]
    assert (apache["before"], apache["after"]) == ("2.4.68-1~deb12u1", "2.4.71-1~deb12u1")
    assert apache["result"] == {
        "kind": "update",
        "security": True,
        "addressed_to": "agency",
        "deadline": plan_deadline(result, "apache2"),
    }
    assert apache["result"]["deadline"] is not None
    assert records[2]["result"] == {
        "kind": "upgrade",
        "security": False,
        "addressed_to": "customer",
        "deadline": None,
    }
    plan = result["plan"]
    planned = records[-1]
    assert planned["after"] == plan["change_set"]
    assert planned["reason"] == "2 to apply, 1 advised or refused"
    assert planned["result"]["summary"] == plan["summary"]
    assert plan["audit_head"] == planned["hash"]
    (report,) = verify_path(str(audit_dir))
    assert report.valid
    assert (report.records, report.head) == (5, planned["hash"])


def test_the_fact_summarises_the_plan(tmp_path, audit_dir):
    result = _run(tmp_path, _state(APACHE, TZDATA, CURL))
    assert result["changed"] is False
    fact = result["ansible_facts"]["sla_update_plan"]
    plan = result["plan"]
    assert fact == {
        "change_set": plan["change_set"],
        "summary": {"apply": 2, "advise": 0, "refuse": 1, "apply_with_approval": 0},
        "next_window": plan["next_window"],
        "advice_files": plan["advice_files"],
        "now": IN_PRO_WINDOW,
        "to_apply": 2,
    }
    assert [p["name"] for p in plan["apply"]] == ["apache2", "tzdata"]


def test_advice_files_are_written_when_something_is_advised(tmp_path, audit_dir):
    result = _run(tmp_path, _state(APACHE, TZDATA), now=OUTSIDE_WINDOWS)
    base = tmp_path / "advice" / "acme" / "web1-updates"
    assert result["plan"]["advice_files"] == [f"{base}.md", f"{base}.json"]
    document = json.loads((tmp_path / "advice" / "acme" / "web1-updates.json").read_text())
    assert [i["component"] for i in document["items"]] == ["apache2", "tzdata"]
    markdown = (tmp_path / "advice" / "acme" / "web1-updates.md").read_text()
    assert markdown.startswith("# Update advice for web1 (acme, SLA pro)")
    assert not list((tmp_path / "advice" / "acme").glob("*.tmp"))
    planned = _decisions(audit_dir)[-1]
    assert json.loads(planned["result"]["advice_files"]) == result["plan"]["advice_files"]


def test_new_packages_alone_are_advised_in_files(tmp_path, audit_dir):
    result = _run(tmp_path, _state(APACHE, NEW))
    assert len(result["plan"]["advice_files"]) == 2
    document = json.loads((tmp_path / "advice" / "acme" / "web1-updates.json").read_text())
    assert document["items"] == []
    assert [p["package"] for p in document["new_packages"]] == ["libnew1"]


@pytest.mark.parametrize("pending", [(APACHE, TZDATA), ()], ids=["all_applied", "nothing"])
def test_no_advice_files_when_nothing_is_advised(tmp_path, audit_dir, pending):
    result = _run(tmp_path, _state(*pending))
    assert result["plan"]["advice_files"] == []
    assert result["ansible_facts"]["sla_update_plan"]["advice_files"] == []
    assert not (tmp_path / "advice").exists()
    assert _decisions(audit_dir)[-1]["decision"] == "planned"


def test_check_mode_still_records_the_decisions(tmp_path, audit_dir):
    _run(tmp_path, _state(APACHE), check_mode=True)
    assert {r["check_mode"] for r in _decisions(audit_dir)} == {True}


def test_approval_file_applies_with_approval(tmp_path, audit_dir):
    first = _run(tmp_path, _state(APACHE, TZDATA), tier="basic", now=BASIC_WINDOW)
    change_set = first["plan"]["change_set"]
    approval = tmp_path / "approval.yml"
    approval.write_text(
        f"reference: SR-4711\ncustomer: acme\nchange_set: {change_set}\napproved_by: Jo\n"
        "expires: 2030-01-31T00:00:00+00:00\n"
    )
    result = _run(
        tmp_path,
        _state(APACHE, TZDATA),
        tier="basic",
        now=BASIC_WINDOW,
        approval_file=str(approval),
    )
    assert not result.get("failed"), result.get("msg")
    assert result["plan"]["approval"]["expires"] == "2030-01-31T00:00:00+00:00"
    assert [p["name"] for p in result["plan"]["apply"]] == ["apache2", "tzdata"]
    approved = [r for r in _decisions(audit_dir) if r["decision"] == "approved"]
    assert [(r["item"], r["approval"]) for r in approved] == [
        ("apache2", "SR-4711"),
        ("tzdata", "SR-4711"),
    ]


def test_approval_for_another_change_set_is_advised(tmp_path, audit_dir):
    approval = {
        "reference": "SR-1",
        "customer": "acme",
        "change_set": "f" * 64,
        "approved_by": "Jo",
    }
    result = _run(tmp_path, _state(APACHE), tier="basic", now=BASIC_WINDOW, approval=approval)
    assert result["plan"]["apply"] == []
    (decision,) = result["plan"]["decisions"]
    assert decision["decision"] == "advise"
    assert "the candidates changed since approval" in decision["reason"]
    assert _decisions(audit_dir)[0]["approval"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot be read"),
        ("reference: [SR-1\n", "is not valid YAML or JSON"),
        ("- SR-1\n", "holds list; expected a mapping"),
    ],
    ids=["missing", "unparsable", "not_a_mapping"],
)
def test_bad_approval_file_fails_naming_the_file(tmp_path, audit_dir, content, message):
    path = tmp_path / "approval.yml"
    if content is not None:
        path.write_text(content)
    result = _run(tmp_path, _state(APACHE), tier="basic", approval_file=str(path))
    assert result["failed"] is True
    assert result["msg"].startswith(f"host web1: cannot plan updates: approval file {path} ")
    assert message in result["msg"]
    assert "plan" not in result and "ansible_facts" not in result
    assert not audit_dir.exists()


def test_approval_file_that_is_a_directory_fails(tmp_path, audit_dir):
    result = _run(tmp_path, _state(APACHE), tier="basic", approval_file=str(tmp_path))
    assert result["failed"] is True
    assert f"approval file {tmp_path} cannot be read" in result["msg"]


def test_state_without_updates_fails_with_the_probe_hint(tmp_path, audit_dir):
    result = _run(tmp_path, {"os": OS})
    assert result["failed"] is True
    assert "cannot plan updates" in result["msg"]
    assert "twovalue.sla.host_probe" in result["msg"]


def test_unwritable_audit_dir_fails_closed(tmp_path, audit_settings):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    audit_settings["audit_dir"] = str(blocker / "audit")
    result = _run(tmp_path, _state(APACHE, TZDATA))
    assert result["failed"] is True
    assert result["msg"].startswith(
        "host web1: the update decisions could not be recorded, so nothing is applied: "
    )
    assert str(blocker / "audit") in result["msg"]
    assert "plan" not in result and "ansible_facts" not in result


@pytest.mark.parametrize(
    ("scope_lines", "reason"),
    [
        ("customer: globex\n", "is for customer 'globex', not 'acme'"),
        ("", "is for customer None, not 'acme'"),
        ("customer: acme\nhosts: [web2]\n", "covers hosts web2, not web1"),
    ],
)
def test_an_approval_for_another_customer_or_host_does_not_apply(
    tmp_path, audit_dir, scope_lines, reason
):
    first = _run(tmp_path, _state(APACHE), tier="basic", now=BASIC_WINDOW)
    approval = tmp_path / "approval.yml"
    approval.write_text(
        f"reference: SR-9\n{scope_lines}change_set: {first['plan']['change_set']}\n"
        "approved_by: Jo\n"
    )
    result = _run(
        tmp_path, _state(APACHE), tier="basic", now=BASIC_WINDOW, approval_file=str(approval)
    )
    assert result["plan"]["apply"] == []
    assert reason in result["plan"]["approval"]["reason"]


def test_a_defect_is_not_reported_as_bad_input(tmp_path, audit_dir, monkeypatch):
    # A KeyError in the planner is the collection's bug: it keeps its traceback.
    from ansible_collections.twovalue.sla.plugins.action import update_plan as action_module

    def broken(*_args, **_kwargs):
        raise KeyError("decision_mode")

    monkeypatch.setattr(action_module, "plan_updates", broken)
    with pytest.raises(KeyError, match="decision_mode"):
        _run(tmp_path, _state())
    assert not (audit_dir / "acme.jsonl").exists()


def test_input_the_user_can_fix_is_a_failed_result(tmp_path, audit_dir):
    result = _run(tmp_path, _state(), now="tomorrow")
    assert result["failed"]
    assert result["msg"].startswith("host web1: cannot plan updates: now is 'tomorrow'")
