# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a module documents, with its doc fragments, is exactly what it accepts."""

from __future__ import annotations

import ast
import pathlib

import pytest
import yaml
from ansible_collections.twovalue.sla.plugins.action import access_converge as access_action
from ansible_collections.twovalue.sla.plugins.action import cms_plan as cms_plan_action
from ansible_collections.twovalue.sla.plugins.action import credential_rotate as rotate_action
from ansible_collections.twovalue.sla.plugins.action import deploy as deploy_action
from ansible_collections.twovalue.sla.plugins.action import drift_report as drift_action
from ansible_collections.twovalue.sla.plugins.action import system_docs as system_docs_action
from ansible_collections.twovalue.sla.plugins.action import update_plan as update_plan_action
from ansible_collections.twovalue.sla.plugins.modules import (
    access_converge,
    cms_plan,
    cms_release,
    credential_rotate,
    deploy,
    drift_report,
    system_docs,
    update_plan,
)
from fake_module import Exited, FakeModule, documented_spec, without_undocumented_keys


@pytest.mark.parametrize(
    ("doc_module", "action"),
    [
        (update_plan, update_plan_action),
        (cms_plan, cms_plan_action),
        (access_converge, access_action),
        (credential_rotate, rotate_action),
        (deploy, deploy_action),
        (drift_report, drift_action),
        (system_docs, system_docs_action),
    ],
)
def test_planner_documentation_equals_the_action_argument_spec(doc_module, action):
    assert documented_spec(doc_module.DOCUMENTATION) == without_undocumented_keys(
        action.ARGUMENT_SPEC
    )


def test_cms_release_documentation_equals_its_argument_spec(monkeypatch):
    # A run_id the module refuses ends main() before anything touches the host.
    params = {"mode": "schema", "run_id": "not valid!"}
    monkeypatch.setattr(cms_release, "AnsibleModule", type("M", (FakeModule,), {"params": params}))
    FakeModule.instances = []
    with pytest.raises(Exited) as excinfo:
        cms_release.main()
    assert excinfo.value.failed
    assert "run_id 'not valid!'" in excinfo.value.kwargs["msg"]
    module = FakeModule.instances[0]
    assert documented_spec(cms_release.DOCUMENTATION) == without_undocumented_keys(
        module.argument_spec
    )
    assert module.supports_check_mode is True
    assert ["mode", "schema", ["site_path"]] in module.required_if


@pytest.mark.parametrize(
    "path",
    sorted(pathlib.Path(cms_plan.__file__).parent.glob("*.py")),
    ids=lambda path: path.stem,
)
def test_every_module_documentation_parses(path):
    # ansible-doc and the collection build read these blocks as YAML.
    source = ast.parse(path.read_text(encoding="utf-8"))
    blocks = {
        node.targets[0].id: node.value.value
        for node in source.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN")
    }
    assert set(blocks) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    for text in blocks.values():
        yaml.safe_load(text)
