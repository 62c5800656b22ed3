# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.twovalue.sla.plugins.filter import fleet
from ansible_collections.twovalue.sla.plugins.filter.fleet import FilterModule, sla_fleet_summary

_STATE = {
    "os": {"pretty_name": "Debian GNU/Linux 12 (bookworm)", "debian_version": "12.12"},
    "components": {"apache": {"package": "apache2", "upstream": "2.4.68"}},
    "updates": {"pending": [], "held": [], "security_count": 0, "regular_count": 0},
    "dpkg": {"locked": True, "interrupted": False},
}
_HOSTS = [
    {
        "inventory_hostname": "acme-web1",
        "sla_customer": "acme",
        "sla_tier": "medium",
        "sla_environment": "production",
        "sla_state": _STATE,
    }
]


def test_filter_map():
    assert FilterModule().filters() == {"sla_fleet_summary": sla_fleet_summary}


def test_lines_by_default():
    assert sla_fleet_summary(_HOSTS) == [
        "acme - SLA medium",
        "  acme-web1 [production] Debian GNU/Linux 12 (bookworm) (12.12, kernel ?)",
        "    stack:   Apache 2.4.68",
        "    updates: no pending updates",
        "    warning: dpkg lock is held by another process",
    ]


def test_structured_summary():
    customers = sla_fleet_summary(_HOSTS, as_lines=False)
    assert list(customers) == ["acme"]
    assert customers["acme"]["tier"] == "medium"
    assert customers["acme"]["hosts"][0]["host"] == "acme-web1"
    assert customers["acme"]["hosts"][0]["warnings"] == ["dpkg lock is held by another process"]


@pytest.mark.parametrize(
    "hosts",
    [
        pytest.param([{"sla_customer": "acme", "sla_state": _STATE}], id="no-hostname"),
        pytest.param(None, id="none"),
        pytest.param(["acme-web1"], id="names-not-hostvars"),
        pytest.param(
            [{"inventory_hostname": "acme-web1", "sla_state": "not probed"}], id="state-not-dict"
        ),
        pytest.param(
            [{"inventory_hostname": "acme-web1", "sla_state": {"updates": {"held": []}}}],
            id="updates-incomplete",
        ),
    ],
)
def test_bad_input_raises_filter_error(hosts):
    with pytest.raises(AnsibleFilterError, match="^sla_fleet_summary: a host entry lacks probed"):
        sla_fleet_summary(hosts)


def test_documentation_names_the_filter_and_its_options():
    doc = yaml.safe_load(
        (pathlib.Path(fleet.__file__).parent / "sla_fleet_summary.yml").read_text()
    )["DOCUMENTATION"]
    assert doc["name"] == "sla_fleet_summary"
    assert set(doc["options"]) == {"_input", "as_lines"}
    assert doc["options"]["as_lines"]["default"] is True
