# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: a real run with the audit callback, then tampering and verification.

Run with:  .venv/bin/pytest tests/integration -q
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from local_project import write_local_project
from playbook_runner import collection_env, playbook_args, run_playbook

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERIFIER = os.path.join(ROOT, "bin", "sla_audit.py")

VAULTED = "Vaulted-Db-Pass-6092"
NAMED = "Named-Api-Token-1187"
NO_LOG_ARG = "NoLog-Arg-Value-3345"
SECRETS = (VAULTED, NAMED, NO_LOG_ARG)

# Secrets appear in task names, messages and arguments. Ok results are not shown
# by the default stdout callback in this run, so anything secret on stdout
# would have come from the audit callback.
PLAYBOOK = """\
- name: SLA maintenance
  hosts: all
  gather_facts: false
  tasks:
    - name: Connect to the database as {{ db_password }}
      ansible.builtin.debug:
        msg: "dsn mysql://wiki:{{ db_password }}@db token={{ api_token }}"

    - name: Rotate the application secret
      ansible.builtin.command: "echo {{ db_password }} {{ api_token }} NoLog-Arg-Value-3345"
      no_log: true
      changed_when: true

    - name: Decide on the MediaWiki update
      twovalue.sla.audit_event:
        activity: cms_updates
        item: mediawiki
        decision: applied
        reason: "patch release within 1.39, deployed with {{ api_token }}"
        before: "1.39.10"
        after: "1.39.17"

    - name: Check the site answers
      ansible.builtin.debug:
        msg: healthy
"""


def _playbook(base, playbook, *args, **env):
    env = collection_env(
        env.pop("SLA_AUDIT_DIR", base / "audit"),
        ANSIBLE_DISPLAY_OK_HOSTS="false",
        SLA_AUDIT_SECRET_VARS="api_token",
        **env,
    )
    return run_playbook(
        playbook_args(playbook, *args, inventory=base / "inventory.ini"), env, cwd=base
    )


def _verify(path, *args):
    return subprocess.run(
        [sys.executable, VERIFIER, "verify", str(path), "--json", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    write_local_project(
        base, {"db_password": VAULTED}, inventory="wiki1 sla_customer=acme sla_tier=medium\n"
    )
    (base / "site.yml").write_text(PLAYBOOK)
    completed = _playbook(
        base,
        str(base / "site.yml"),
        "--vault-password-file",
        str(base / "vault-pass"),
        "-e",
        f"api_token={NAMED}",
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return base, completed


def test_no_planted_secret_on_stdout_or_in_the_trail(run):
    base, completed = run
    trail = (base / "audit" / "acme.jsonl").read_text()
    for secret in SECRETS:
        assert secret not in completed.stdout
        assert secret not in completed.stderr
        assert secret not in trail
    kinds = [json.loads(line)["kind"] for line in trail.splitlines()]
    assert kinds == ["run_start", "task", "task", "decision", "task", "task", "run_end"]
    assert "twovalue.sla.audit: acme head" in completed.stdout


def test_verify_playbook_accepts_the_intact_trail_and_its_published_head(run):
    base, completed = run
    head = completed.stdout.split("twovalue.sla.audit: acme head ")[1].split()[0]
    result = _playbook(
        base,
        os.path.join(ROOT, "playbooks", "verify_audit.yml"),
        "-e",
        "verify_audit_customer=acme",
        "-e",
        f"verify_audit_head={head}",
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize(
    ("tamper", "line", "problem"),
    [
        ("flip", 3, "edited"),
        ("delete", 3, "deleted"),
        ("swap", 2, "reordered"),
    ],
)
def test_tampering_fails_verification_naming_the_record(run, tmp_path, tamper, line, problem):
    base, _completed = run
    audit = tmp_path / "audit"
    shutil.copytree(base / "audit", audit)
    trail = audit / "acme.jsonl"
    lines = trail.read_bytes().splitlines(keepends=True)
    if tamper == "flip":
        position = lines[2].index(b'"status":"') + len(b'"status":"')
        lines[2] = (
            lines[2][:position] + bytes([lines[2][position] ^ 0x01]) + lines[2][position + 1 :]
        )
    elif tamper == "delete":
        del lines[2]
    else:
        lines[1], lines[2] = lines[2], lines[1]
    trail.write_bytes(b"".join(lines))

    cli = _verify(trail)
    assert cli.returncode == 1
    report = json.loads(cli.stdout)
    assert (report["line"], report["problem"]) == (line, problem)

    result = _playbook(
        base,
        os.path.join(ROOT, "playbooks", "verify_audit.yml"),
        SLA_AUDIT_DIR=str(audit),
    )
    assert result.returncode != 0
    assert f"acme.jsonl is broken at line {line}" in result.stdout
    assert problem in result.stdout


def test_cut_tail_is_caught_with_the_published_head(run, tmp_path):
    base, completed = run
    head = completed.stdout.split("twovalue.sla.audit: acme head ")[1].split()[0]
    trail = tmp_path / "acme.jsonl"
    lines = (base / "audit" / "acme.jsonl").read_bytes().splitlines(keepends=True)
    trail.write_bytes(b"".join(lines[:-2]))
    assert _verify(trail).returncode == 0
    cut = _verify(trail, "--head", head)
    assert cut.returncode == 1
    assert json.loads(cut.stdout)["problem"] == "truncated"


def test_hmac_keyed_run_verifies_only_with_the_key(tmp_path):
    (tmp_path / "inventory.ini").write_text(
        f"wiki2 sla_customer=initech ansible_connection=local "
        f"ansible_python_interpreter={sys.executable}\n"
    )
    (tmp_path / "site.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - name: Probe\n      ansible.builtin.debug:\n        msg: ok\n"
    )
    key_file = tmp_path / "audit.key"
    key_file.write_text("a-long-random-key-kept-off-the-controller\n")
    completed = _playbook(tmp_path, str(tmp_path / "site.yml"), SLA_AUDIT_KEY_FILE=str(key_file))
    assert completed.returncode == 0, completed.stdout + completed.stderr
    trail = tmp_path / "audit" / "initech.jsonl"
    assert _verify(trail, "--key-file", str(key_file)).returncode == 0
    assert _verify(trail).returncode == 2
    other_key = tmp_path / "other.key"
    other_key.write_text("not the key")
    assert _verify(trail, "--key-file", str(other_key)).returncode == 1
