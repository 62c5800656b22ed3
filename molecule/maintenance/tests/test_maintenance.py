"""The maintenance run's probe must agree with the host itself."""

import json
import os
import re

import pytest

STATE_DIR = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]


@pytest.fixture
def probed(host):
    name = host.backend.get_hostname()
    with open(os.path.join(STATE_DIR, f"state-{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _pending_from_apt(host):
    out = host.check_output("apt-get -s -q -o Debug::NoLocking=1 dist-upgrade")
    return {m.group(1): m.group(2) for m in re.finditer(r"^Inst (\S+) \[[^\]]+\] \((\S+)", out, re.M)}


def test_components_match_installed_packages(host, probed):
    components = probed["components"]
    assert components["apache"]["version"] == host.package("apache2").version
    assert components["mariadb"]["version"] == host.package("mariadb-server").version
    assert components["php"]["version"] == host.package("php8.2-common").version
    assert components["php"]["upstream"].startswith("8.2.")


def test_mediawiki_found_with_its_version(host, probed):
    defines = host.file("/usr/share/mediawiki/includes/Defines.php").content_string
    version = re.search(r"'MW_VERSION',\s*'([^']+)'", defines).group(1)
    assert {"kind": "mediawiki", "version": version} in [
        {"kind": s["kind"], "version": s["version"]} for s in probed["cms"]
    ]


def test_pending_updates_are_the_real_ones(host, probed):
    expected = _pending_from_apt(host)
    reported = {p["package"]: p["candidate"] for p in probed["updates"]["pending"]}
    assert reported == expected
    # The image is Debian 12 main only; the security suite brings real updates.
    assert probed["updates"]["security_count"] > 0
    assert "apache2" in reported


def test_probe_changed_nothing(host):
    # The probe is read-only: nothing got upgraded.
    out = host.check_output("apt list --upgradable 2>/dev/null")
    assert "apache2/" in out


def test_wiki_still_answers(host):
    code = host.check_output(
        "curl -s -o /dev/null -w '%{http_code}' http://localhost/mediawiki/index.php/Main_Page"
    )
    assert code == "200"
