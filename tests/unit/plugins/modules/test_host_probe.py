# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args
from ansible_collections.twovalue.sla.plugins.module_utils import host_state
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import (
    DEFAULT_CMS_ROOTS,
    ProbeError,
)
from ansible_collections.twovalue.sla.plugins.modules import host_probe
from fake_module import Exited, FakeModule

_STATE = {"probe_time": 1_750_000_000, "os": {"id": "debian", "version_id": "12"}}


class FakeProbe:
    instances = []
    result = _STATE
    error = None

    def __init__(self, run, check_mode=False):
        self.run = run
        self.check_mode = check_mode
        self.collect_args = None
        FakeProbe.instances.append(self)

    def collect(self, sections, cache_max_age=3600, cms_roots=DEFAULT_CMS_ROOTS):
        self.collect_args = (sections, cache_max_age, cms_roots)
        if self.error:
            raise self.error
        return self.result


def _params(**overrides):
    params = {
        "sections": ["os", "stack", "cms", "updates", "restarts"],
        "cache_max_age": 3600,
        "cms_roots": list(DEFAULT_CMS_ROOTS),
    }
    params.update(overrides)
    return params


@pytest.fixture
def fakes(monkeypatch):
    module_cls = type("Module", (FakeModule,), {})
    probe_cls = type("Probe", (FakeProbe,), {})
    FakeModule.instances = []
    FakeProbe.instances = []
    monkeypatch.setattr(host_probe, "AnsibleModule", module_cls)
    monkeypatch.setattr(host_state, "HostProbe", probe_cls)
    return module_cls, probe_cls


def _main():
    with pytest.raises(Exited) as excinfo:
        host_probe.main()
    return excinfo.value


def test_documentation_options_equal_argument_spec(fakes):
    module_cls, _ = fakes
    module_cls.params = _params()
    _main()
    spec = FakeModule.instances[0].argument_spec
    options = yaml.safe_load(host_probe.DOCUMENTATION)["options"]
    assert set(options) == set(spec)
    for name, option in options.items():
        documented = {k: v for k, v in option.items() if k != "description"}
        assert documented == spec[name], name
    assert FakeModule.instances[0].supports_check_mode is True


def test_documentation_examples_and_return_are_yaml():
    doc = yaml.safe_load(host_probe.DOCUMENTATION)
    assert doc["module"] == "host_probe"
    assert doc["attributes"]["check_mode"]["support"] == "full"
    examples = yaml.safe_load(host_probe.EXAMPLES)
    assert all("name" in task for task in examples)
    returned = yaml.safe_load(host_probe.RETURN)
    assert "sla_state" in returned["ansible_facts"]["contains"]


def test_main_returns_state_as_fact(fakes):
    module_cls, probe_cls = fakes
    module_cls.params = _params(sections=["os", "updates"], cache_max_age=0)
    result = _main()
    assert result.failed is False
    assert result.kwargs == {"changed": False, "ansible_facts": {"sla_state": _STATE}}
    probe = FakeProbe.instances[0]
    assert probe.collect_args == (["os", "updates"], 0, list(DEFAULT_CMS_ROOTS))
    assert probe.run == FakeModule.instances[0].run_command
    assert probe.check_mode is False


def test_main_passes_check_mode(fakes):
    module_cls, _ = fakes
    module_cls.params = _params()
    module_cls.check_mode = True
    assert _main().failed is False
    assert FakeProbe.instances[0].check_mode is True


def test_main_fails_on_negative_cache_max_age(fakes):
    module_cls, _ = fakes
    module_cls.params = _params(cache_max_age=-1)
    result = _main()
    assert result.failed is True
    assert "cache_max_age" in result.kwargs["msg"]
    assert FakeProbe.instances == []


def test_main_fails_on_probe_error(fakes):
    module_cls, probe_cls = fakes
    module_cls.params = _params()
    probe_cls.error = ProbeError("apt-get -s -q exited 100: E: Could not get lock")
    result = _main()
    assert result.failed is True
    assert result.kwargs == {"msg": "probe failed: apt-get -s -q exited 100: E: Could not get lock"}


def test_real_module_defaults_and_validation(monkeypatch, capsys):
    """The argument spec works with the real AnsibleModule (defaults, choices)."""
    seen = {}

    class Probe(FakeProbe):
        def collect(self, sections, cache_max_age=3600, cms_roots=DEFAULT_CMS_ROOTS):
            seen["args"] = (sections, cache_max_age, cms_roots)
            return _STATE

    monkeypatch.setattr(host_state, "HostProbe", Probe)
    with patch_module_args({}), pytest.raises(SystemExit) as excinfo:
        host_probe.main()
    assert excinfo.value.code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ansible_facts"] == {"sla_state": _STATE}
    assert out["changed"] is False
    assert seen["args"] == (
        ["os", "stack", "cms", "updates", "restarts"],
        3600,
        list(DEFAULT_CMS_ROOTS),
    )

    with patch_module_args({"sections": ["packages"]}), pytest.raises(SystemExit) as excinfo:
        host_probe.main()
    assert excinfo.value.code == 1
    out = json.loads(capsys.readouterr().out)
    assert out["failed"] is True
    assert "packages" in out["msg"]

    with patch_module_args({"cache_max_age": -5}), pytest.raises(SystemExit) as excinfo:
        host_probe.main()
    assert excinfo.value.code == 1
    assert "cache_max_age must be 0" in json.loads(capsys.readouterr().out)["msg"]
