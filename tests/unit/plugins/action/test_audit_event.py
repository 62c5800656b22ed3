# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""twovalue.sla.audit_event, run by a real ansible-playbook on localhost."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from ansible_collections.twovalue.sla.plugins.action.audit_event import (
    ARGUMENT_SPEC,
    DECISION_ALIASES,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import DECISIONS
from playbook_runner import CONFIG, collection_env, playbook_args, project_config, run_playbook

SECRET = "Reason-Secret-4471"

PLAYBOOK = """\
- name: Decisions
  hosts: all
  gather_facts: false
  tasks:
    - name: Record the advice
      twovalue.sla.audit_event:
        activity: cms_updates
        item: mediawiki
        decision: advise
        reason: "1.39 to 1.43 is an upgrade; token {{ deploy_token }}"
        before: {version: "1.39.10", admin_password: "plain-admin-pw"}
        after: "1.43.5"
        approval: SR-2211
      register: advice

    - name: Change that depends on the record
      ansible.builtin.copy:
        content: "changed\\n"
        dest: "{{ marker }}"
      when: advice.seq > 0

    - name: Show what the action returned
      ansible.builtin.copy:
        content: "{{ advice | to_json }}\\n"
        dest: "{{ marker }}.json"
"""


def _write_project(base):
    (base / "inventory.ini").write_text(
        f"alpha sla_customer=acme sla_tier=basic ansible_connection=local "
        f"ansible_python_interpreter={sys.executable}\n"
    )
    (base / "site.yml").write_text(PLAYBOOK)


def _run(base, audit_dir, *extra_args, callback=True):
    env = collection_env(
        audit_dir,
        config=CONFIG if callback else project_config(base, audit_callback=False),
        audit_callback=callback,
        SLA_AUDIT_SECRET_VARS="deploy_token",
        SLA_OPERATOR="ops-bob",
    )
    args = playbook_args(
        base / "site.yml",
        "-e",
        f"deploy_token={SECRET}",
        "-e",
        f"marker={base / 'marker'}",
        *extra_args,
        inventory=base / "inventory.ini",
    )
    return run_playbook(args, env, cwd=base)


def _records(path):
    with open(path, encoding="ascii") as handle:
        return [json.loads(line) for line in handle]


def _decision_records(path):
    return [record for record in _records(path) if record["kind"] == "decision"]


@pytest.fixture(scope="module")
def decided(tmp_path_factory):
    base = tmp_path_factory.mktemp("event")
    _write_project(base)
    completed = _run(base, base / "audit")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return base


def test_decision_is_recorded_with_the_gate_word_resolved(decided):
    (record,) = _decision_records(decided / "audit" / "acme.jsonl")
    assert record["decision"] == "advised"
    assert (record["activity"], record["item"]) == ("cms_updates", "mediawiki")
    assert (record["host"], record["customer"], record["tier"]) == ("alpha", "acme", "basic")
    assert (record["after"], record["approval"]) == ("1.43.5", "SR-2211")
    assert record["operator"] == "ops-bob"
    assert record["action"] == "twovalue.sla.audit_event"
    assert record["check_mode"] is False


def test_record_shares_the_run_id_of_the_callback(decided):
    with open(decided / "audit" / "acme.jsonl", encoding="ascii") as handle:
        run_ids = {json.loads(line)["run_id"] for line in handle}
    assert len(run_ids) == 1


def test_secrets_in_arguments_are_redacted(decided):
    (record,) = _decision_records(decided / "audit" / "acme.jsonl")
    assert record["reason"] == "1.39 to 1.43 is an upgrade; token ********"
    assert record["before"] == {"version": "1.39.10", "admin_password": "********"}
    raw = (decided / "audit" / "acme.jsonl").read_text()
    assert SECRET not in raw and "plain-admin-pw" not in raw


def test_returned_hash_is_the_record_in_the_trail(decided):
    returned = json.loads((decided / "marker.json").read_text())
    (record,) = _decision_records(decided / "audit" / "acme.jsonl")
    assert (returned["hash"], returned["seq"]) == (record["hash"], record["seq"])
    assert returned["changed"] is False
    assert returned["trail"] == str(decided / "audit" / "acme.jsonl")
    assert verify_trail(returned["trail"]).valid


def test_check_mode_still_writes_and_marks_the_record(tmp_path):
    _write_project(tmp_path)
    completed = _run(tmp_path, tmp_path / "audit", "--check", callback=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    records = _records(tmp_path / "audit" / "acme.jsonl")
    assert [record["kind"] for record in records] == ["decision"]  # no callback in this run
    assert records[0]["check_mode"] is True
    assert not (tmp_path / "marker").exists()  # the copy itself honoured check mode


def test_unwritable_trail_fails_the_task_and_stops_the_change(tmp_path):
    _write_project(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    completed = _run(tmp_path, blocker / "audit")
    assert completed.returncode != 0
    assert "audit record could not be written" in completed.stdout
    assert "cannot create audit directory" in completed.stdout
    assert not (tmp_path / "marker").exists()


def test_argument_spec_offers_every_trail_decision_and_the_gate_words():
    choices = set(ARGUMENT_SPEC["decision"]["choices"])
    assert choices == set(DECISIONS) | set(DECISION_ALIASES)
    assert set(DECISION_ALIASES.values()) <= set(DECISIONS)


def test_documentation_matches_the_argument_spec():
    import yaml
    from ansible_collections.twovalue.sla.plugins.modules import audit_event as doc_module

    documentation = yaml.safe_load(doc_module.DOCUMENTATION)
    for section in ("description", "notes"):
        assert all(isinstance(line, str) for line in documentation[section]), section
    options = documentation["options"]
    assert set(options) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("required", False) == spec.get("required", False), name
    assert sorted(options["decision"]["choices"]) == sorted(ARGUMENT_SPEC["decision"]["choices"])
    yaml.safe_load(textwrap.dedent(doc_module.EXAMPLES))
    yaml.safe_load(doc_module.RETURN)
