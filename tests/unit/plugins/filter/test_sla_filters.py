# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import inspect
import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.twovalue.sla.plugins.filter import sla as sla_filters
from ansible_collections.twovalue.sla.plugins.filter.sla import (
    FilterModule,
    sla_change_set_hash,
    sla_gate,
    sla_targets,
    sla_version_change,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import SlaConfigError

_FILTER_DIR = pathlib.Path(sla_filters.__file__).parent
_ITEM = {
    "component": "mediawiki",
    "installed": "1.39.10",
    "candidate": "1.39.17",
    "scheme": "mediawiki",
    "security": False,
    "source": "releases",
}


def test_filter_map_names_every_filter():
    assert FilterModule().filters() == {
        "sla_targets": sla_targets,
        "sla_version_change": sla_version_change,
        "sla_change_set_hash": sla_change_set_hash,
        "sla_gate": sla_gate,
    }


@pytest.mark.parametrize("name", sorted(FilterModule().filters()))
def test_each_filter_has_docs_matching_its_signature(name):
    docs = yaml.safe_load((_FILTER_DIR / f"{name}.yml").read_text(encoding="utf-8"))
    assert set(docs) == {"DOCUMENTATION", "EXAMPLES", "RETURN"}
    documentation = docs["DOCUMENTATION"]
    assert documentation["name"] == name
    parameters = list(inspect.signature(FilterModule().filters()[name]).parameters)
    assert ["_input", *parameters[1:]] == list(documentation["options"])
    assert f"twovalue.sla.{name}" in docs["EXAMPLES"]


def test_sla_targets_applies_overrides():
    targets = sla_targets("medium", {"periodic_update_interval_days": 30})
    assert targets["periodic_update_interval_days"] == 30
    assert targets["decision_mode"] == "active"


def test_sla_targets_error_is_a_filter_error_naming_the_key():
    with pytest.raises(AnsibleFilterError) as raised:
        sla_targets("medium", {"backup_retention_days": 0})
    assert "sla_targets: backup_retention_days is 0; expected" in str(raised.value)
    assert isinstance(raised.value.__cause__, SlaConfigError)


def test_sla_version_change_returns_a_dict():
    change = sla_version_change("1.39.10", "1.43.1", "mediawiki")
    assert change["kind"] == "upgrade"
    assert change["candidate_branch"] == "1.43"


def test_sla_version_change_passes_the_debian_suite():
    change = sla_version_change(
        "1.22.1-9", "1.26.0-1~bpo12+1", "debian", candidate_suite="bookworm-backports", release="12"
    )
    assert change["kind"] == "upgrade"


def test_sla_version_change_error():
    with pytest.raises(AnsibleFilterError, match="sla_version_change: 'x' is not a php version"):
        sla_version_change("8.2.1", "x", "php")


def test_sla_change_set_hash_is_order_insensitive():
    other = dict(_ITEM, component="php", scheme="php", installed="8.2.1", candidate="8.2.2")
    assert sla_change_set_hash([_ITEM, other]) == sla_change_set_hash([other, _ITEM])
    assert len(sla_change_set_hash([_ITEM])) == 64


def test_sla_change_set_hash_error():
    with pytest.raises(AnsibleFilterError, match="sla_change_set_hash: items is"):
        sla_change_set_hash("not a list")


def test_sla_gate_accepts_an_iso_time():
    result = sla_gate([_ITEM], sla_targets("pro"), "2025-03-04T06:30:00+01:00")
    assert result["items"][0]["decision"] == "apply"
    assert result["now"] == "2025-03-04T06:30:00+01:00"


def test_sla_gate_defaults_to_the_current_time():
    before = datetime.datetime.now(datetime.UTC)
    result = sla_gate([_ITEM], sla_targets("pro"))
    decided_at = datetime.datetime.fromisoformat(result["now"])
    assert before <= decided_at <= datetime.datetime.now(datetime.UTC)


def test_sla_gate_refuses_a_naive_time():
    with pytest.raises(AnsibleFilterError, match="sla_gate: now is 2025-03-04T06:30:00 without"):
        sla_gate([_ITEM], sla_targets("pro"), "2025-03-04T06:30:00")


def test_sla_gate_passes_approval_and_control():
    approval = {
        "reference": "SR-9",
        "change_set": sla_change_set_hash([_ITEM]),
        "approved_by": "customer",
    }
    result = sla_gate(
        [_ITEM],
        sla_targets("basic"),
        "2025-03-04T10:00:00+01:00",
        approval=approval,
        layer_control={"os": "hoster"},
    )
    assert result["items"][0]["decision"] == "apply_with_approval"
    assert result["approval"]["valid"] is True
