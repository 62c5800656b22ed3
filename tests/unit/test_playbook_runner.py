# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/playbook_runner.py: the environment and the runs every playbook test shares."""

from __future__ import annotations

import configparser
import json
import os
import subprocess

import playbook_runner
import pytest
from playbook_runner import (
    COLLECTIONS,
    CONFIG,
    collection_env,
    playbook_args,
    project_config,
    run_audit_cli,
    run_playbook,
    start_playbook,
)

PLAYBOOK = """\
- name: One task on this machine
  hosts: all
  gather_facts: false
  tasks:
    - name: Say something the test can find
      ansible.builtin.debug:
        msg: "runner says {{ word }}"
"""


@pytest.fixture
def shell_settings(monkeypatch):
    """What an operator's shell might carry into a test run."""
    monkeypatch.setenv("SLA_AUDIT_KEY_FILE", "/etc/operator/audit.key")
    monkeypatch.setenv("SLA_ADVICE_DIR", "/srv/operator/advice")
    monkeypatch.setenv("ANSIBLE_CONFIG", "/etc/operator/ansible.cfg")
    monkeypatch.setenv("ANSIBLE_CALLBACKS_ENABLED", "someone.else.callback")
    monkeypatch.setenv("RUNNER_TEST_KEPT", "kept")


def test_the_environment_is_the_collections_and_none_of_the_shells_sla_settings(
    tmp_path, shell_settings
):
    env = collection_env(tmp_path / "audit", SLA_OPERATOR="ops-alice", ANSIBLE_FORKS=3)
    assert env["ANSIBLE_COLLECTIONS_PATH"] == COLLECTIONS
    assert env["ANSIBLE_CONFIG"] == CONFIG
    assert env["ANSIBLE_CALLBACKS_ENABLED"] == "twovalue.sla.audit"
    assert (env["ANSIBLE_NOCOLOR"], env["ANSIBLE_FORCE_COLOR"]) == ("1", "0")
    assert {name: value for name, value in env.items() if name.startswith("SLA_")} == {
        "SLA_AUDIT_DIR": str(tmp_path / "audit"),
        "SLA_OPERATOR": "ops-alice",
    }
    assert env["ANSIBLE_FORKS"] == "3"
    assert env["RUNNER_TEST_KEPT"] == "kept"


def test_none_leaves_a_setting_unset(tmp_path, shell_settings):
    env = collection_env(tmp_path / "audit", config=None, RUNNER_TEST_KEPT=None)
    assert "ANSIBLE_CONFIG" not in env
    assert "RUNNER_TEST_KEPT" not in env


def test_without_the_audit_callback_a_config_without_it_is_required(tmp_path, shell_settings):
    with pytest.raises(ValueError, match="enables the audit callback"):
        collection_env(tmp_path / "audit", audit_callback=False)
    plain = project_config(tmp_path, audit_callback=False)
    env = collection_env(tmp_path / "audit", config=plain, audit_callback=False)
    assert "ANSIBLE_CALLBACKS_ENABLED" not in env
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(plain)
    assert not parser.has_option("defaults", "callbacks_enabled")
    assert parser["defaults"]["collections_path"] == COLLECTIONS
    audited = configparser.ConfigParser(interpolation=None)
    audited.read(project_config(tmp_path))
    assert audited["defaults"]["callbacks_enabled"] == "twovalue.sla.audit"
    assert plain != project_config(tmp_path)


def test_arguments_in_order_with_extra_vars_as_json_and_verbosity(tmp_path):
    args = playbook_args(
        tmp_path / "site.yml",
        "--check",
        inventory="localhost,",
        extra_vars={"word": "hi", "count": 2},
        verbosity=3,
    )
    assert args == [
        "-i",
        "localhost,",
        str(tmp_path / "site.yml"),
        "--check",
        "-e",
        json.dumps({"word": "hi", "count": 2}),
        "-vvv",
    ]
    assert playbook_args("playbooks/x.yml") == ["playbooks/x.yml"]


def _local_run(tmp_path, word, **kwargs):
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    (tmp_path / "inventory.ini").write_text(
        "here ansible_connection=local ansible_python_interpreter=/usr/bin/python3 "
        "sla_customer=acme\n"
    )
    args = playbook_args(
        tmp_path / "site.yml", inventory=tmp_path / "inventory.ini", extra_vars={"word": word}
    )
    return args, collection_env(tmp_path / "audit", SLA_OPERATOR="ops-alice")


def test_a_real_run_prints_plainly_keeps_its_output_and_records_its_trail(tmp_path, shell_settings):
    args, env = _local_run(tmp_path, "hello")
    keep = tmp_path / "run.out"
    completed = run_playbook(args, env, cwd=tmp_path, timeout=300, keep=keep)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "runner says hello" in completed.stdout
    assert "\x1b[" not in completed.stdout
    assert keep.read_text() == completed.stdout + completed.stderr
    trail = tmp_path / "audit" / "acme.jsonl"
    kinds = [json.loads(line)["kind"] for line in trail.read_text().splitlines()]
    assert kinds == ["run_start", "task", "run_end"]
    verified = run_audit_cli("verify", trail)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_started_run_is_a_process_the_caller_waits_for(tmp_path):
    args, env = _local_run(tmp_path, "later")
    process = start_playbook(
        args, env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    assert "runner says later" in output


def test_a_scenario_run_uses_molecules_config_inventory_and_trail(tmp_path, monkeypatch):
    monkeypatch.setenv("MOLECULE_EPHEMERAL_DIRECTORY", str(tmp_path))
    env = playbook_runner.scenario_env(SLA_ADVICE_DIR=tmp_path / "advice")
    assert env["ANSIBLE_CONFIG"] == os.path.join(tmp_path, "ansible.cfg")
    assert env["SLA_AUDIT_DIR"] == os.path.join(tmp_path, "audit")
    assert env["SLA_ADVICE_DIR"] == str(tmp_path / "advice")
    assert playbook_runner.scenario_args("backup", "--check", verbosity=1) == [
        "-i",
        os.path.join(tmp_path, "inventory"),
        "twovalue.sla.backup",
        "--check",
        "-v",
    ]
    assert playbook_runner.scenario_output("first") == os.path.join(tmp_path, "runs", "first.out")
    assert (tmp_path / "runs").is_dir()
