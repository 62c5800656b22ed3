# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The command runner, error type and module exit every host change module shares."""

from __future__ import annotations

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import (
    HostError,
    HostRunner,
    run_on_host,
)


class Host:
    """Records each command; answers with the queued (rc, out, err) or success."""

    def __init__(self, *answers):
        self.calls = []
        self._answers = list(answers)

    def __call__(self, argv, **kwargs):
        self.calls.append((argv, kwargs))
        return self._answers.pop(0) if self._answers else (0, "done\n", "")


class Exited(Exception):
    def __init__(self, kwargs):
        super().__init__(kwargs)
        self.kwargs = kwargs


class Module:
    def __init__(self, params=None):
        self.params = params or {}
        self.no_log_values = set()
        self.warnings = []

    def warn(self, text):
        self.warnings.append(text)

    def fail_json(self, **kwargs):
        raise Exited(kwargs)


class PackageError(HostError):
    pass


def test_check_mode_runs_nothing_and_records_the_step():
    host = Host()
    runner = HostRunner(host, check_mode=True)
    argv = ["systemctl", "restart", "apache2"]
    assert runner._act(argv, "restart apache2", "apache2 restarted") == ""
    assert host.calls == []
    assert runner.steps == ["would restart apache2"]


def test_a_change_runs_once_and_records_its_step():
    host = Host((0, "ok\n", ""))
    runner = HostRunner(host, environ={"LC_ALL": "C"})
    assert (
        runner._act(["apt-mark", "auto", "x"], "mark x automatic", "x marked automatic") == "ok\n"
    )
    assert host.calls == [(["apt-mark", "auto", "x"], {"environ_update": {"LC_ALL": "C"}})]
    assert runner.steps == ["x marked automatic"]


def test_a_failed_command_raises_the_runners_error_with_what_and_why():
    runner = HostRunner(Host((100, "", "E: Unable to locate package x\n")))
    runner.error, runner.failure_note = PackageError, ", nothing changed"
    with pytest.raises(PackageError) as failed:
        runner._act(["apt-get", "install", "x"], "installing x", "x installed")
    assert failed.value.msg == (
        "installing x failed, nothing changed: apt-get exited 100: E: Unable to locate package x"
    )
    assert runner.steps == []


def test_commands_keep_the_modules_environment_unless_one_is_given():
    host = Host()
    HostRunner(host)._call(["true"], data="x")
    HostRunner(host, environ={"LC_ALL": "C"})._call(["true"], {"MYSQL_PWD": "-"})
    assert host.calls == [
        (["true"], {"data": "x"}),
        (["true"], {"environ_update": {"MYSQL_PWD": "-"}}),
    ]


def test_run_on_host_fails_with_message_result_steps_and_warnings():
    runner = HostRunner(Host())
    runner._step("database dumped")
    runner.warnings.append("maintenance mode was still on")
    module = Module()

    def work():
        raise HostError("switch failed", {"rolled_back": True})

    with pytest.raises(Exited) as exited:
        run_on_host(module, runner, work, sites=[])
    assert exited.value.kwargs == {
        "msg": "switch failed",
        "rolled_back": True,
        "steps": ["database dumped"],
        "sites": [],
    }
    assert module.warnings == ["maintenance mode was still on"]


def test_run_on_host_names_the_file_the_host_refused_and_returns_success():
    module = Module()

    def work():
        raise PermissionError(13, "Permission denied", "/etc/sudoers.d/x")

    with pytest.raises(Exited) as exited:
        run_on_host(module, HostRunner(Host()), work, report_steps=False)
    assert exited.value.kwargs == {"msg": "/etc/sudoers.d/x: Permission denied"}
    assert run_on_host(module, HostRunner(Host()), lambda: {"changed": False}) == {"changed": False}


def test_input_errors_fail_before_anything_runs_with_url_passwords_masked():
    ran = []
    module = Module({"health_checks": [{"url": "http://wiki:s3cret-pw@localhost/"}]})
    with pytest.raises(Exited) as exited:
        run_on_host(module, HostRunner(Host()), ran.append, 1, input_errors=["a", "b"])
    assert exited.value.kwargs == {"msg": "a; b"}
    assert ran == []
    assert "s3cret-pw" in module.no_log_values


def test_work_gets_the_arguments_given():
    assert run_on_host(Module(), HostRunner(Host()), sorted, [2, 1]) == [1, 2]
