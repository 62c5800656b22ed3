# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which way the probe reaches the host, and what the action makes of the answer."""

from __future__ import annotations

import json
from unittest.mock import MagicMock

import pytest
from action_harness import controller_action
from ansible.errors import AnsibleActionFail
from ansible.plugins.shell.sh import ShellModule
from ansible_collections.twovalue.sla.plugins.action import host_probe
from ansible_collections.twovalue.sla.plugins.action.host_probe import ActionModule

_STATE = {"probe_time": 1, "os": {"id": "debian"}}


def _action(pipelining=True, answer=None, args=None, check_mode=False):
    action, connection = controller_action(
        ActionModule, args=args if args is not None else {"sections": ["os"]}, check_mode=check_mode
    )
    connection.is_pipelining_enabled.return_value = pipelining
    connection._shell = ShellModule()
    action._compute_environment_string = MagicMock(return_value="")
    action._low_level_execute_command = MagicMock(
        return_value=answer
        or {
            "rc": 0,
            "stdout": json.dumps({"changed": False, "ansible_facts": {"sla_state": _STATE}}),
            "stderr": "",
        }
    )
    return action


def _task_vars(**extra):
    return {
        "inventory_hostname": "acme-prod",
        "ansible_python_interpreter": "/usr/bin/python3",
        **extra,
    }


def test_pipelining_sends_one_plain_program_to_the_configured_interpreter():
    action = _action(check_mode=True)
    result = action.run(task_vars=_task_vars())
    assert result["ansible_facts"] == {"sla_state": _STATE}
    assert result["changed"] is False
    (command,), kwargs = action._low_level_execute_command.call_args
    assert command == "/usr/bin/python3 -"
    program = kwargs["in_data"].decode("utf-8")
    # The validated parameters, defaults filled in, and check mode reach the program.
    assert '"cache_max_age": 3600' in program
    assert '"sections": ["os"]' in program
    assert program.rstrip().endswith(", True)")
    action._execute_module.assert_not_called()


def test_the_tasks_environment_comes_before_the_interpreter():
    action = _action()
    action._compute_environment_string.return_value = "LC_ALL=C http_proxy=http://proxy:3128"
    action.run(task_vars=_task_vars())
    command = action._low_level_execute_command.call_args.args[0]
    assert command == "LC_ALL=C http_proxy=http://proxy:3128 /usr/bin/python3 -"


def test_without_pipelining_the_module_runs():
    action = _action(pipelining=False)
    action._execute_module = MagicMock(
        return_value={"changed": False, "ansible_facts": {"sla_state": _STATE}}
    )
    result = action.run(task_vars=_task_vars())
    assert result["ansible_facts"] == {"sla_state": _STATE}
    kwargs = action._execute_module.call_args.kwargs
    assert kwargs["module_name"] == "twovalue.sla.host_probe"
    assert kwargs["module_args"]["sections"] == ["os"]
    action._low_level_execute_command.assert_not_called()


def test_an_answer_that_is_not_a_result_fails_with_the_hosts_error_text():
    action = _action(
        answer={"rc": 127, "stdout": "", "stderr": "sh: 1: /usr/bin/python3: not found\n"}
    )
    with pytest.raises(AnsibleActionFail) as caught:
        action.run(task_vars=_task_vars())
    message = str(caught.value)
    assert "/usr/bin/python3" in message
    assert "exit 127" in message
    assert "not found" in message


def test_a_failed_probe_stays_a_failed_task():
    answer = {
        "rc": 0,
        "stdout": json.dumps({"failed": True, "msg": "probe failed: x"}),
        "stderr": "",
    }
    result = _action(answer=answer).run(task_vars=_task_vars())
    assert result["failed"] is True
    assert result["msg"] == "probe failed: x"


def test_a_wrong_section_is_refused_before_the_host_is_reached():
    action = _action(args={"sections": ["packages"]})
    with pytest.raises(AnsibleActionFail, match="packages"):
        action.run(task_vars=_task_vars())
    action._low_level_execute_command.assert_not_called()


def test_a_discovered_interpreter_is_reused(monkeypatch):
    monkeypatch.setattr(
        host_probe, "discover_interpreter", MagicMock(side_effect=AssertionError("no discovery"))
    )
    action = _action()
    task_vars = {
        "inventory_hostname": "acme-prod",
        "ansible_python_interpreter": "auto_silent",
        "ansible_facts": {"discovered_interpreter_python": "/usr/bin/python3.11"},
    }
    result = action.run(task_vars=task_vars)
    assert action._low_level_execute_command.call_args.args[0] == "/usr/bin/python3.11 -"
    assert "discovered_interpreter_python" not in result["ansible_facts"]


def test_discovery_runs_once_and_its_answer_becomes_a_fact(monkeypatch):
    discover = MagicMock(return_value="/usr/bin/python3")
    monkeypatch.setattr(host_probe, "discover_interpreter", discover)
    action = _action()
    result = action.run(
        task_vars={"inventory_hostname": "acme-prod", "ansible_python_interpreter": "auto"}
    )
    assert discover.call_args.kwargs["discovery_mode"] == "auto"
    assert result["ansible_facts"]["discovered_interpreter_python"] == "/usr/bin/python3"
    assert result["ansible_facts"]["sla_state"] == _STATE
