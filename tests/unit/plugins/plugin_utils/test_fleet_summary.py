# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

from ansible_collections.twovalue.sla.plugins.plugin_utils.fleet_summary import (
    fleet_summary,
    host_summary,
    summary_lines,
)

STATE = {
    "probe_time": 1_750_000_000,
    "os": {
        "id": "debian",
        "version_id": "12",
        "codename": "bookworm",
        "pretty_name": "Debian GNU/Linux 12 (bookworm)",
        "debian_version": "12.12",
        "kernel": "6.1.0-18-amd64",
        "arch": "x86_64",
    },
    "components": {
        "mariadb": {
            "package": "mariadb-server",
            "version": "1:10.11.11-0+deb12u1",
            "upstream": "10.11.11",
        },
        "apache": {"package": "apache2", "version": "2.4.68-1~deb12u1", "upstream": "2.4.68"},
        "php": {"package": "php8.2-common", "version": "8.2.28-1~deb12u1", "upstream": "8.2.28"},
    },
    "cms": [
        {"kind": "mediawiki", "path": "/usr/share/mediawiki", "version": "1.39.10"},
        {"kind": "wordpress", "path": "/var/www/blog/current", "version": None},
    ],
    "updates": {
        "cache_age_s": 300,
        "cache_refreshed": False,
        "pending": [{"package": "apache2"}, {"package": "tzdata"}, {"package": "vim"}],
        "held": ["linux-image-amd64", "mariadb-server"],
        "security_count": 2,
        "regular_count": 1,
    },
    "dpkg": {"locked": False, "checked": True, "interrupted": False},
    "disk": [
        {"path": "/", "free_mb": 8000, "total_mb": 20000},
        {"path": "/var", "free_mb": 8000, "total_mb": 20000},
    ],
    "restarts": {
        "reboot_required": False,
        "reboot_packages": [],
        "needrestart": True,
        "services": [],
        "kernel_outdated": False,
    },
}


def _host(name, customer=None, tier=None, environment=None, state=STATE):
    host = {"inventory_hostname": name}
    if customer is not None:
        host["sla_customer"] = customer
    if tier is not None:
        host["sla_tier"] = tier
    if environment is not None:
        host["sla_environment"] = environment
    if state is not None:
        host["sla_state"] = copy.deepcopy(state)
    return host


def test_host_summary_full_state():
    summary = host_summary(_host("acme-web1", environment="production"))
    assert summary == {
        "host": "acme-web1",
        "environment": "production",
        "system": "Debian GNU/Linux 12 (bookworm) (12.12, kernel 6.1.0-18-amd64)",
        "stack": (
            "Apache 2.4.68, PHP 8.2.28, MariaDB 10.11.11, "
            "MediaWiki 1.39.10 (/usr/share/mediawiki), "
            "WordPress unknown version (/var/www/blog/current)"
        ),
        "updates": (
            "3 pending updates (2 security, 1 regular); held: linux-image-amd64, mariadb-server"
        ),
        "decisions": None,
        "cms": [],
        "warnings": [],
    }


def test_host_summary_without_probed_state():
    summary = host_summary(_host("bare", state=None))
    assert summary == {
        "host": "bare",
        "environment": "unspecified",
        "system": "unknown system",
        "stack": "no LAMP components found",
        "updates": "updates not probed",
        "decisions": None,
        "cms": [],
        "warnings": [],
    }


def test_host_summary_no_pending_updates_and_no_debian_version():
    state = copy.deepcopy(STATE)
    state["updates"].update(pending=[], held=[], security_count=0, regular_count=0)
    del state["os"]["debian_version"]
    summary = host_summary(_host("quiet", state=state))
    assert summary["updates"] == "no pending updates"
    assert summary["system"] == "Debian GNU/Linux 12 (bookworm)"


def test_warnings_for_lock_interrupted_reboot_services_and_low_disk():
    state = copy.deepcopy(STATE)
    state["dpkg"].update(locked=True, interrupted=True)
    state["restarts"].update(reboot_required=True, services=["apache2.service", "mariadb.service"])
    state["disk"] = [
        {"path": "/", "free_mb": 1024, "total_mb": 20000},
        {"path": "/var", "free_mb": 1023, "total_mb": 20000},
        {"path": "/var/cache/apt/archives", "free_mb": 12, "total_mb": 20000},
    ]
    assert host_summary(_host("busy", state=state))["warnings"] == [
        "dpkg lock is held by another process",
        "a previous dpkg run was interrupted",
        "reboot required",
        "services to restart: apache2.service, mariadb.service",
        "only 1023 MiB free on /var",
        "only 12 MiB free on /var/cache/apt/archives",
    ]


def test_fleet_summary_groups_by_customer_in_inventory_order():
    hosts = [
        _host("zeta-web2", "zeta", "high", "production"),
        _host("acme-web1", "acme", "medium", "production"),
        _host("zeta-web1", "zeta", "high", "staging"),
        _host("stray", state=None),
    ]
    customers = fleet_summary(hosts)
    assert list(customers) == ["zeta", "acme", "(no customer)"]
    assert customers["zeta"]["tier"] == "high"
    assert [h["host"] for h in customers["zeta"]["hosts"]] == ["zeta-web2", "zeta-web1"]
    assert [h["environment"] for h in customers["zeta"]["hosts"]] == ["production", "staging"]
    assert customers["acme"] == {"tier": "medium", "hosts": [host_summary(hosts[1])]}
    assert customers["(no customer)"]["tier"] == "(no tier)"


def test_fleet_summary_empty():
    assert fleet_summary([]) == {}
    assert summary_lines({}) == []


def test_summary_lines_sorted_by_customer():
    state = copy.deepcopy(STATE)
    state["restarts"]["reboot_required"] = True
    hosts = [
        _host("zeta-web1", "zeta", "high", "production", state=state),
        _host("acme-web1", "acme", "medium", "staging", state=None),
    ]
    assert summary_lines(fleet_summary(hosts)) == [
        "acme - SLA medium",
        "  acme-web1 [staging] unknown system",
        "    stack:   no LAMP components found",
        "    updates: updates not probed",
        "zeta - SLA high",
        "  zeta-web1 [production] Debian GNU/Linux 12 (bookworm) (12.12, kernel 6.1.0-18-amd64)",
        "    stack:   Apache 2.4.68, PHP 8.2.28, MariaDB 10.11.11, "
        "MediaWiki 1.39.10 (/usr/share/mediawiki), "
        "WordPress unknown version (/var/www/blog/current)",
        "    updates: 3 pending updates (2 security, 1 regular); "
        "held: linux-image-amd64, mariadb-server",
        "    warning: reboot required",
    ]


def test_fleet_summary_does_not_modify_input():
    hosts = [_host("acme-web1", "acme", "medium")]
    before = copy.deepcopy(hosts)
    fleet_summary(hosts)
    assert hosts == before


def test_outdated_kernel_alone_asks_for_a_reboot():
    state = copy.deepcopy(STATE)
    state["restarts"]["kernel_outdated"] = True
    warnings = host_summary(_host("acme-web1", state=state))["warnings"]
    assert warnings == ["reboot required: the running kernel is older than the installed one"]


def test_an_installed_kernel_not_running_names_the_kernel_a_reboot_waits_for():
    state = copy.deepcopy(STATE)
    state["restarts"]["kernel_reboot"] = {
        "running": "6.1.0-18-amd64",
        "installed": "6.1.0-50-amd64",
        "reboot_pending_for": "6.1.0-50-amd64",
    }
    host = _host("acme-web1", state=state)
    assert host_summary(host)["warnings"] == [
        "reboot pending: kernel 6.1.0-50-amd64 is installed, 6.1.0-18-amd64 is running"
    ]
    # An update in this run installed a newer kernel than the probe saw.
    host["updates_outcome"] = {
        "applied": 2,
        "kernel_reboot": dict(
            state["restarts"]["kernel_reboot"],
            installed="6.1.0-57-amd64",
            reboot_pending_for="6.1.0-57-amd64",
        ),
    }
    assert host_summary(host)["warnings"] == [
        "reboot pending: kernel 6.1.0-57-amd64 is installed, 6.1.0-18-amd64 is running"
    ]


def test_decisions_of_the_update_plan_are_summarised():
    host = _host("acme-web1")
    host["sla_update_plan"] = {
        "summary": {"apply": 2, "advise": 1, "refuse": 0, "apply_with_approval": 0},
        "advice_files": ["/adv/acme/acme-web1-updates.md", "/adv/acme/acme-web1-updates.json"],
    }
    assert host_summary(host)["decisions"] == (
        "SLA decisions: 1 advise, 2 apply; advice in /adv/acme/acme-web1-updates.md"
    )


def test_state_and_plan_are_read_from_ansible_facts():
    host = {
        "inventory_hostname": "acme-web1",
        "ansible_facts": {
            "sla_state": copy.deepcopy(STATE),
            "sla_update_plan": {"summary": {"advise": 3}, "advice_files": []},
        },
    }
    summary = host_summary(host)
    assert summary["stack"].startswith("Apache 2.4.68")
    assert summary["decisions"] == "SLA decisions: 3 advise"


def test_cms_plan_lines_name_branch_support_and_decisions():
    host = _host("acme-wiki", environment="production")
    host["sla_cms_plan"] = {
        "summary": {"apply": 1, "advise": 0, "refuse": 1, "apply_with_approval": 0},
        "advice_files": ["/advice/acme/acme-wiki-cms.md"],
        "support": [
            {
                "component": "mediawiki /var/www/wiki",
                "version": "1.39.17",
                "branch": "1.39",
                "known": True,
                "supported": False,
                "eol": "2025-12-31",
            },
            {
                "component": "wordpress /var/www/blog",
                "version": "6.9.1",
                "branch": "6.9",
                "known": True,
                "supported": True,
                "eol": None,
            },
        ],
    }
    assert host_summary(host)["cms"] == [
        "mediawiki /var/www/wiki 1.39.17: branch 1.39 END OF LIFE since 2025-12-31",
        "wordpress /var/www/blog 6.9.1: branch 6.9 supported",
        "CMS decisions: 1 apply, 1 refuse; advice in /advice/acme/acme-wiki-cms.md",
    ]
