# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every molecule scenario runs with the settings of .config/molecule/config.yml.

Molecule finds that file at the repository root and merges each molecule.yml over
it (molecule.util.merge_dicts: maps key by key, lists whole), so a scenario that
restated a shared setting would hide a later change to it.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from molecule.util import lookup_config_file, merge_dicts
from playbook_runner import ROOT

BASE = os.path.join(ROOT, ".config", "molecule", "config.yml")
SCENARIOS = sorted(
    os.path.basename(os.path.dirname(path))
    for path in glob.glob(os.path.join(ROOT, "molecule", "*", "molecule.yml"))
)


def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_molecule_finds_the_base_config_from_the_repository_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lookup_config_file(".config/molecule/config.yml") == BASE


def test_there_are_scenarios():
    assert {"access", "backup", "cms", "deploy", "maintenance", "updates"} <= set(SCENARIOS)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_scenario_runs_with_the_shared_settings_and_does_not_restate_them(scenario):
    base = _load(BASE)
    own = _load(os.path.join(ROOT, "molecule", scenario, "molecule.yml"))
    merged = merge_dicts(base, own)
    assert merged["prerun"] is False
    assert merged["driver"]["name"] == "podman"
    assert merged["verifier"]["name"] == "testinfra"
    provisioner = merged["provisioner"]
    assert provisioner["name"] == "ansible"
    assert provisioner["env"]["ANSIBLE_COLLECTIONS_PATH"] == (
        "${MOLECULE_PROJECT_DIRECTORY}/.cache/collections"
    )
    assert provisioner["env"]["ANSIBLE_CALLBACKS_ENABLED"] == "twovalue.sla.audit"
    assert provisioner["env"]["SLA_AUDIT_DIR"] == "${MOLECULE_EPHEMERAL_DIRECTORY}/audit"
    assert provisioner["config_options"]["defaults"] == {
        "interpreter_python": "/usr/bin/python3",
        "callback_result_format": "yaml",
    }
    restated = set(base["provisioner"]["env"]) & set(own["provisioner"].get("env", {}))
    assert not restated, f"{scenario} restates {sorted(restated)}"
    assert "driver" not in own and "config_options" not in own["provisioner"]
    assert own["platforms"] and own["scenario"]["test_sequence"]
