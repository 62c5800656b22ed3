"""The AWX configuration playbook: syntax, inputs, and the objects it hands to awx.awx.

No AWX is reachable here: the run points at a closed local port, so the
objects are built from the demo inventory and a Basic advice document, and
the first awx.awx task fails on the connection, not before it.
"""

import json

from playbook_runner import collection_env, playbook_args, run_playbook

PLAYBOOK = "playbooks/awx_configure.yml"
CHANGE_SET = "ab46235030b3ccb794c3b3890965ec9ff2e5680b9646122ac0dc22404400d270"


def _playbook(tmp_path, *args):
    return run_playbook(
        playbook_args(PLAYBOOK, *args), collection_env(tmp_path / "audit"), timeout=120
    )


def test_syntax(tmp_path):
    result = _playbook(tmp_path, "--syntax-check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_organization_and_project_are_required(tmp_path):
    result = _playbook(tmp_path)
    assert result.returncode != 0
    assert "set awx_organization and awx_project" in result.stdout


def test_objects_reach_the_awx_modules(tmp_path):
    advice = tmp_path / "advice" / "globex"
    advice.mkdir(parents=True)
    (advice / "globex-prod-updates.json").write_text(
        json.dumps(
            {"activity": "updates", "change_set": CHANGE_SET, "customer": "globex",
             "host": "globex-prod", "decided_at": "2026-11-28T07:26:44+00:00", "tier": "basic"}
        )
    )  # fmt: skip
    result = _playbook(
        tmp_path,
        "-v",
        "-e", "awx_organization=Agency",
        "-e", "awx_project=SLA",
        "-e", f"awx_advice_dir={tmp_path / 'advice'}",
        "-e", "awx_controller_host=https://127.0.0.1:9",
        "-e", "awx_controller_username=admin",
        "-e", "awx_controller_password=planted-secret-7f3a",
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    # The objects were built: acme (Pro) and globex (Basic, one approval workflow).
    assert "ok: [localhost]" in output.split("TASK [Inventory of each customer]")[0]
    assert f"change set {CHANGE_SET}" in output
    assert "globex - approve updates change set ab46235030b3 on globex-prod" in output
    # The first awx.awx task tried the controller, and failed on reaching it.
    failed_task = output.split("TASK [Inventory of each customer]")[1]
    assert "failed: [localhost] (item=acme)" in failed_task
    assert "Connection refused" in failed_task
    assert "planted-secret-7f3a" not in output
