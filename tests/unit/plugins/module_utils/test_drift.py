# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

from ansible_collections.twovalue.sla.plugins.module_utils.drift import compare, config_checksums
from ansible_collections.twovalue.sla.plugins.plugin_utils.drift_report import (
    customer_drift,
    drift_json,
    drift_markdown,
)

PRODUCTION = {
    "packages": {"apache2": "2.4.68-1~deb12u1", "php8.2": "8.2.32-1"},
    "sites": {"/var/www/site/current": {"kind": "mediawiki", "version": "1.39.17",
                                        "components": {"extensions Cite": "1.0"}}},
    "config": {"/etc/php/8.2/apache2/php.ini": "a" * 64},
}  # fmt: skip


def staging(**changes):
    copy = json.loads(json.dumps(PRODUCTION))
    for area, value in changes.items():
        copy[area].update(value)
    return copy


def test_identical_hosts_have_no_drift_and_every_area_is_compared():
    assert compare(PRODUCTION, staging()) == []
    other = staging(
        packages={"php8.2": "8.2.30-1", "curl": "7.88"},
        config={"/etc/php/8.2/apache2/php.ini": "b" * 64},
        sites={"/var/www/site/current": {"kind": "mediawiki", "version": "1.39.18",
                                         "components": {}}},
    )  # fmt: skip
    assert compare(PRODUCTION, other) == [
        {"area": "packages", "item": "curl", "production": None, "staging": "7.88"},
        {"area": "packages", "item": "php8.2", "production": "8.2.32-1", "staging": "8.2.30-1"},
        {"area": "config", "item": "/etc/php/8.2/apache2/php.ini", "production": "a" * 64,
         "staging": "b" * 64},
        {"area": "cms", "item": "/var/www/site/current mediawiki", "production": "1.39.17",
         "staging": "1.39.18"},
        {"area": "cms", "item": "/var/www/site/current extensions Cite", "production": "1.0",
         "staging": None},
    ]  # fmt: skip


def hosts(*entries):
    return [{"host": h, "customer": "acme", "tier": "pro", "environment": e, "drift": d}
            for h, e, d in entries]  # fmt: skip


def test_each_staging_host_is_compared_with_production_and_written_as_advice():
    result = customer_drift(hosts(("prod", "production", PRODUCTION),
                                  ("stage", "staging", staging(packages={"curl": "7.88"}))))  # fmt: skip
    markdown = drift_markdown("acme", result)
    assert "## stage (staging) against prod (production)" in markdown
    assert "| curl | absent | `7.88` |" in markdown
    assert json.loads(drift_json("acme", result))["pairs"][0]["differences"][0]["item"] == "curl"
    alone = customer_drift(hosts(("prod", "production", PRODUCTION)))
    assert alone["pairs"] == [] and "no staging host" in drift_markdown("acme", alone)


def test_config_checksums_cover_the_stack_files_and_skip_site_settings(tmp_path):
    (tmp_path / "etc" / "apache2" / "conf-enabled").mkdir(parents=True)
    (tmp_path / "etc" / "apache2" / "conf-enabled" / "site.conf").write_text("Alias /site x")
    (tmp_path / "etc" / "mediawiki").mkdir()
    (tmp_path / "etc" / "mediawiki" / "LocalSettings.php").write_text("$wgDBpassword = 's';")
    checksums = config_checksums(root=str(tmp_path))
    assert list(checksums) == ["/etc/apache2/conf-enabled/site.conf"]
    assert len(checksums["/etc/apache2/conf-enabled/site.conf"]) == 64
