# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The twovalue.sla.audit callback, exercised by a real ansible-playbook run.

Secrets are planted the three ways the callback must recognise: a vault-encrypted
variable, a fully vault-encrypted host_vars file, and a variable named in
SLA_AUDIT_SECRET_VARS. Arguments of a no_log task carry their own marker.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap

import playbook_runner
import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_trail

VAULTED_SECRET = "Vaulted-Secret-7731"
VAULTED_FILE_SECRET = "Whole-File-Secret-5512"
NAMED_SECRET = "Named-Secret-9044"
NO_LOG_ARGUMENT = "no-log-argument-3318"
PLAIN_ARGUMENT = "plain-argument-6620"
ALL_SECRETS = (VAULTED_SECRET, VAULTED_FILE_SECRET, NAMED_SECRET, NO_LOG_ARGUMENT)

PLAYBOOK = """\
- name: Maintenance run
  hosts: all
  gather_facts: false
  tasks:
    - name: Connect with {{ db_password }}
      ansible.builtin.debug:
        msg: "using {{ db_password }}, {{ vaulted_file_token }} and {{ extra_secret }}"

    - name: Store credentials
      ansible.builtin.command: echo {{ db_password }} no-log-argument-3318
      no_log: true
      changed_when: true

    - name: Run a plain command
      ansible.builtin.command: echo plain-argument-6620
      changed_when: false

    - name: Fail with {{ extra_secret }} in the message
      ansible.builtin.fail:
        msg: "cannot use {{ db_password }}"
      ignore_errors: true

    - name: Only on Sundays
      ansible.builtin.debug:
        msg: never
      when: false
"""


def _vault_text(plaintext: str, password: bytes) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(password))]).encrypt(plaintext).decode()


def _write_project(base, password=b"vault-pass"):
    (base / "vault-pass").write_bytes(password)
    (base / "group_vars").mkdir()
    (base / "host_vars").mkdir()
    ciphertext = textwrap.indent(_vault_text(VAULTED_SECRET, password), "  ")
    (base / "group_vars" / "all.yml").write_text(
        f"ansible_connection: local\nansible_python_interpreter: {sys.executable}\n"
        f"db_password: !vault |\n{ciphertext}\n"
    )
    (base / "host_vars" / "alpha.yml").write_text(
        _vault_text(f"vaulted_file_token: {VAULTED_FILE_SECRET}\n", password)
    )
    (base / "host_vars" / "beta.yml").write_text(f"vaulted_file_token: {VAULTED_FILE_SECRET}\n")
    (base / "host_vars" / "gamma.yml").write_text(f"vaulted_file_token: {VAULTED_FILE_SECRET}\n")
    (base / "inventory.ini").write_text(
        "alpha sla_customer=acme sla_tier=medium\nbeta sla_customer=globex sla_tier=basic\ngamma\n"
    )
    (base / "site.yml").write_text(PLAYBOOK)


def run_playbook(base, playbook, extra_env=None, extra_args=()):
    settings = {"SLA_AUDIT_DIR": base / "audit", "SLA_OPERATOR": "ops-alice", **(extra_env or {})}
    env = playbook_runner.collection_env(settings.pop("SLA_AUDIT_DIR"), **settings)
    args = playbook_runner.playbook_args(
        base / playbook, *extra_args, inventory=base / "inventory.ini"
    )
    return playbook_runner.run_playbook(args, env, cwd=base)


def _records(path):
    with open(path, encoding="ascii") as handle:
        return [json.loads(line) for line in handle]


@pytest.fixture(scope="module")
def audited_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("callback")
    _write_project(base)
    completed = run_playbook(
        base,
        "site.yml",
        extra_env={"SLA_AUDIT_SECRET_VARS": "extra_secret"},
        extra_args=[
            "--vault-password-file",
            str(base / "vault-pass"),
            "-e",
            f"extra_secret={NAMED_SECRET}",
        ],
    )
    assert "PLAY RECAP" in completed.stdout, completed.stdout + completed.stderr
    return base, completed


def test_each_customer_gets_its_own_trail_and_unassigned_hosts_are_kept(audited_run):
    base, _completed = audited_run
    assert sorted(os.listdir(base / "audit")) == [
        "_unassigned.jsonl",
        "_unassigned.jsonl.lock",
        "acme.jsonl",
        "acme.jsonl.lock",
        "globex.jsonl",
        "globex.jsonl.lock",
    ]
    hosts = {record["host"] for record in _records(base / "audit" / "_unassigned.jsonl")}
    assert hosts == {None, "gamma"}


def test_trail_has_run_start_one_record_per_task_result_and_run_end(audited_run):
    base, _completed = audited_run
    records = _records(base / "audit" / "acme.jsonl")
    assert [record["kind"] for record in records] == ["run_start"] + ["task"] * 5 + ["run_end"]
    assert [record["status"] for record in records[1:-1]] == [
        "ok",
        "changed",
        "ok",
        "failed",
        "skipped",
    ]
    tasks = records[1:-1]
    assert {record["host"] for record in tasks} == {"alpha"}
    assert {record["tier"] for record in tasks} == {"medium"}
    assert {record["operator"] for record in records} == {"ops-alice"}
    assert len({record["run_id"] for record in records}) == 1
    assert tasks[1]["action"] == "ansible.builtin.command"
    assert tasks[3]["result"] == {
        "changed": False,
        "failed": True,
        "ignored": True,
        "msg": "cannot use ********",
    }
    assert records[-1]["result"]["hosts"]["alpha"]["ignored"] == 1


def test_no_secret_reaches_the_trail_or_the_callback_output(audited_run):
    base, completed = audited_run
    trail_bytes = b"".join(
        (base / "audit" / name).read_bytes() for name in os.listdir(base / "audit")
    )
    for secret in ALL_SECRETS:
        assert secret.encode() not in trail_bytes
    audit_lines = [line for line in completed.stdout.splitlines() if "twovalue.sla.audit" in line]
    assert len(audit_lines) == 3
    for secret in ALL_SECRETS:
        assert all(secret not in line for line in audit_lines)
    assert b"Connect with ********" in trail_bytes


def test_no_log_task_keeps_only_a_censored_summary(audited_run):
    base, _completed = audited_run
    no_log_record = _records(base / "audit" / "acme.jsonl")[2]
    assert no_log_record["item"] == "Store credentials"
    assert no_log_record["result"] == {"changed": True, "failed": False, "censored": True}


def test_task_arguments_and_raw_results_are_never_stored(audited_run):
    base, _completed = audited_run
    trail_text = (base / "audit" / "acme.jsonl").read_text()
    assert PLAIN_ARGUMENT not in trail_text  # neither the args nor the command's stdout
    assert '"stdout"' not in trail_text


def test_printed_heads_match_trails_that_verify(audited_run):
    base, completed = audited_run
    for customer in ("acme", "globex", "_unassigned"):
        path = base / "audit" / f"{customer}.jsonl"
        report = verify_trail(str(path))
        assert report.valid, report.summary()
        expected = f"twovalue.sla.audit: {customer} head {report.head} (seq {report.head_seq})"
        assert expected in completed.stdout


def test_check_mode_run_is_marked_and_continues_the_chain(audited_run):
    base, _completed = audited_run
    before = len(_records(base / "audit" / "globex.jsonl"))
    completed = run_playbook(
        base,
        "site.yml",
        extra_args=[
            "--check",
            "--limit",
            "beta",
            "--vault-password-file",
            str(base / "vault-pass"),
            "-e",
            f"extra_secret={NAMED_SECRET}",
        ],
        extra_env={"SLA_AUDIT_SECRET_VARS": "extra_secret"},
    )
    assert "PLAY RECAP" in completed.stdout, completed.stderr
    records = _records(base / "audit" / "globex.jsonl")[before:]
    assert records[0]["kind"] == "run_start"
    assert all(record["check_mode"] for record in records)
    assert records[0]["result"]["limit"] == "beta"
    assert verify_trail(str(base / "audit" / "globex.jsonl")).valid


def test_unwritable_audit_directory_is_reported_loudly(tmp_path):
    _write_project(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    completed = run_playbook(
        tmp_path,
        "site.yml",
        extra_env={"SLA_AUDIT_DIR": str(blocker / "audit")},
        extra_args=[
            "--limit",
            "gamma",
            "--vault-password-file",
            str(tmp_path / "vault-pass"),
            "-e",
            f"extra_secret={NAMED_SECRET}",
        ],
    )
    output = completed.stdout + completed.stderr
    assert "PLAY RECAP" in completed.stdout
    assert "cannot create audit directory" in output
    assert "7 audit record(s) could not be written" in output
