# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.twovalue.sla.plugins.module_utils.apt_apply import ApplyError
from ansible_collections.twovalue.sla.plugins.modules import apt_apply
from fake_module import Exited, FakeModule, documented_spec, without_undocumented_keys

_PACKAGES = [{"name": "apache2", "previous": "2.4.62-1~deb12u2", "version": "2.4.65-1~deb12u1"}]


class FakeApplier:
    instances = []
    result = {"changed": True, "applied": _PACKAGES}
    error = None

    def __init__(self, run, check_mode=False):
        self.run = run
        self.check_mode = check_mode
        self.params = None
        self.warnings = ["needrestart exited 1: boom; no service restarted"]
        FakeApplier.instances.append(self)

    def apply(self, params):
        self.params = params
        if self.error:
            raise self.error
        return self.result


@pytest.fixture
def fakes(monkeypatch):
    module_cls = type("Module", (FakeModule,), {"params": {"packages": _PACKAGES, "run_id": "r1"}})
    applier_cls = type("Applier", (FakeApplier,), {})
    FakeModule.instances = []
    FakeApplier.instances = []
    monkeypatch.setattr(apt_apply, "AnsibleModule", module_cls)
    monkeypatch.setattr(apt_apply, "AptApply", applier_cls)
    return module_cls, applier_cls


def _main():
    with pytest.raises(Exited) as excinfo:
        apt_apply.main()
    return excinfo.value


def test_documentation_options_equal_argument_spec(fakes):
    _main()
    module = FakeModule.instances[0]
    assert documented_spec(apt_apply.DOCUMENTATION) == without_undocumented_keys(
        module.argument_spec
    )
    assert module.argument_spec["health_checks"]["required_if"] == [
        ["type", "http", ["url"]],
        ["type", "sql", ["query"]],
    ]
    assert module.supports_check_mode is True


def test_documentation_examples_and_return_are_yaml():
    doc = yaml.safe_load(apt_apply.DOCUMENTATION)
    assert doc["module"] == "apt_apply"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    examples = yaml.safe_load(apt_apply.EXAMPLES)
    assert all("name" in task for task in examples)
    assert examples[0]["twovalue.sla.apt_apply"]["packages"][0]["name"] == "apache2"
    returned = yaml.safe_load(apt_apply.RETURN)
    for key in (
        "applied",
        "backup",
        "services_restarted",
        "health",
        "rolled_back",
        "reboot_required",
    ):
        assert key in returned, key


def test_main_returns_the_result_and_passes_check_mode(fakes):
    module_cls, _ = fakes
    module_cls.check_mode = True
    result = _main()
    assert result.failed is False
    assert result.kwargs == FakeApplier.result
    applier = FakeApplier.instances[0]
    module = FakeModule.instances[0]
    assert applier.check_mode is True
    assert applier.run == module.run_command
    assert applier.params == module.params
    assert module.warnings == ["needrestart exited 1: boom; no service restarted"]


def test_main_fails_with_the_message_and_partial_result(fakes):
    _, applier_cls = fakes
    applier_cls.error = ApplyError(
        "health check failed: x. Rolled back to the previous versions; the health checks pass after the rollback.",
        {"changed": True, "rolled_back": True, "backup": "/var/backups/twovalue-sla/r1"},
    )
    result = _main()
    assert result.failed is True
    assert result.kwargs == {
        "msg": applier_cls.error.msg,
        "changed": True,
        "rolled_back": True,
        "backup": "/var/backups/twovalue-sla/r1",
    }


def test_real_module_validates_arguments(monkeypatch, capsys):
    seen = {}

    class Applier(FakeApplier):
        def apply(self, params):
            seen["params"] = params
            return {"changed": False, "applied": []}

    monkeypatch.setattr(apt_apply, "AptApply", Applier)
    with (
        patch_module_args({"packages": _PACKAGES, "run_id": "r1"}),
        pytest.raises(SystemExit) as excinfo,
    ):
        apt_apply.main()
    assert excinfo.value.code == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    params = seen["params"]
    assert params["backup_dir"] == "/var/backups/twovalue-sla"
    assert params["db_dump"] is None
    assert (params["min_free_mb"], params["lock_timeout"]) == (500, 120)
    assert (params["health_retries"], params["health_delay"]) == (5, 2)
    assert params["rollback"] is True and params["restart_services"] is True

    bad = [
        ({"run_id": "r1"}, "packages"),
        ({"packages": [{"name": "apache2", "previous": "1"}], "run_id": "r1"}, "version"),
        ({"packages": _PACKAGES, "run_id": "r1", "health_checks": [{"type": "http"}]}, "url"),
        ({"packages": _PACKAGES, "run_id": "r1", "health_checks": [{"type": "ftp"}]}, "ftp"),
    ]
    for args, word in bad:
        with patch_module_args(args), pytest.raises(SystemExit) as excinfo:
            apt_apply.main()
        assert excinfo.value.code == 1
        out = json.loads(capsys.readouterr().out)
        assert out["failed"] is True
        assert word in out["msg"], args
