# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""twovalue.sla.system_docs on the controller: facts and trail in, six documents out."""

from __future__ import annotations

import copy

import pytest
import system_docs_fixture as recorded
from action_harness import controller_action, run_on_controller
from ansible_collections.twovalue.sla.plugins.action import system_docs as system_docs_action
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets


@pytest.fixture
def audit_dir(audit_dir):
    audit_dir.mkdir()
    recorded.write_trail(audit_dir / "acme.jsonl")
    return audit_dir


def _task_vars():
    sla = {"customer": "acme", "tier": "pro", "targets": resolve_targets("pro")}
    hostvars = {}
    for host in recorded.HOSTS:
        hostvars[host["name"]] = {
            "sla_customer": "acme",
            "sla_environment": host["environment"],
            "access_grants": copy.deepcopy(host["grants"]),
            "ansible_facts": {
                "sla_state": host["state"],
                "sla": dict(sla, control=host["control"]),
            },
        }
    # Another customer's host in the same play is not documented here.
    hostvars["globex-prod"] = {"sla_customer": "globex", "ansible_facts": {}}
    return {
        "inventory_hostname": "acme-prod",
        "ansible_play_hosts": ["acme-prod", "acme-staging", "globex-prod"],
        "hostvars": hostvars,
        "access_people": recorded.PEOPLE,
    }, sla


def _run(tmp_path, check_mode=False, **extra):
    task_vars, sla = _task_vars()
    args = {"sla": sla, "docs_dir": str(tmp_path / "docs"), "today": recorded.TODAY, **extra}
    action, connection = controller_action(
        system_docs_action.ActionModule,
        args,
        check_mode=check_mode,
        action_name="twovalue.sla.system_docs",
    )
    result = run_on_controller(action, connection, task_vars)
    return result


def test_six_documents_for_the_customer_and_unchanged_on_a_rerun(tmp_path, audit_dir):
    result = _run(tmp_path)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert result["hosts"] == ["acme-prod", "acme-staging"]
    folder = tmp_path / "docs" / "acme"
    assert sorted(p.name for p in folder.iterdir()) == [
        "migration-advice.html",
        "migration-advice.json",
        "migration-advice.md",
        "system-documentation.html",
        "system-documentation.json",
        "system-documentation.md",
    ]
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    again = _run(tmp_path)
    assert again["changed"] is False
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    assert {(i["host"], i["component"]) for i in result["advice"]} >= {("acme-prod", "php")}


def test_check_mode_writes_nothing(tmp_path, audit_dir):
    result = _run(tmp_path, check_mode=True)
    assert result["changed"] is True
    assert not (tmp_path / "docs").exists()


def test_a_customer_without_a_trail_is_documented(tmp_path, audit_dir):
    (audit_dir / "acme.jsonl").unlink()
    result = _run(tmp_path)
    assert not result.get("failed"), result.get("msg")
    text = (tmp_path / "docs" / "acme" / "system-documentation.md").read_text(encoding="utf-8")
    assert "No audit trail exists yet" in text


def test_a_tampered_trail_gives_no_documents(tmp_path, audit_dir):
    trail = audit_dir / "acme.jsonl"
    trail.write_bytes(trail.read_bytes().replace(b"2026-09-14", b"2026-09-15", 1))
    result = _run(tmp_path)
    assert result["failed"] is True
    assert "does not verify" in result["msg"]
    assert not (tmp_path / "docs").exists()


def test_a_host_not_yet_probed_fails_naming_it(tmp_path, audit_dir):
    result = _run(tmp_path, hosts=["acme-prod", "globex-prod"])
    assert result["failed"] is True
    assert "globex-prod has no probed state" in result["msg"]
