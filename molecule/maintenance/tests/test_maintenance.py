"""The maintenance run's probe must agree with the host itself."""

import datetime
import glob
import json
import os
import re

import pytest
from playbook_runner import run_audit_cli
from polling import http_answers

STATE_DIR = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
PACKAGES = "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'"


@pytest.fixture
def probed(host):
    name = host.backend.get_hostname()
    with open(os.path.join(STATE_DIR, f"state-{name}.json"), encoding="utf-8") as handle:
        return json.load(handle)


def _pending_from_apt(host):
    out = host.check_output("apt-get -s -q -o Debug::NoLocking=1 dist-upgrade")
    return {
        m.group(1): m.group(2) for m in re.finditer(r"^Inst (\S+) \[[^\]]+\] \((\S+)", out, re.M)
    }


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
    # The probe and the advisory runs are read-only: every package is as prepare left it.
    name = host.backend.get_hostname()
    with open(os.path.join(STATE_DIR, f"packages-before-{name}.txt"), encoding="utf-8") as handle:
        before = set(handle.read().splitlines())
    after = set(host.check_output(PACKAGES).splitlines())
    assert len(before) > 100 and any(line.startswith("apache2 ") for line in before)
    assert (sorted(before - after), sorted(after - before)) == ([], [])
    assert "apache2/" in host.check_output("apt list --upgradable 2>/dev/null")


def test_wiki_still_answers(host):
    http_answers(host.backend.get_hostname(), "http://localhost/mediawiki/index.php/Main_Page")


# The audit trail of the run, one per customer, one customer per SLA tier.
AUDIT = os.path.join(STATE_DIR, "audit")
TIERS = {"acme": "pro", "globex": "basic", "initech": "medium"}


def _verify(path):
    return run_audit_cli("verify", path)


def _lines(customer):
    with open(os.path.join(AUDIT, f"{customer}.jsonl"), "rb") as handle:
        return handle.read().splitlines(keepends=True)


@pytest.mark.parametrize("customer", sorted(TIERS))
def test_each_tier_left_a_verifiable_trail_of_its_decisions(customer):
    result = _verify(os.path.join(AUDIT, f"{customer}.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr
    records = [json.loads(line) for line in _lines(customer)]
    decisions = [r for r in records if r["kind"] == "decision" and not r["check_mode"]]
    assert {r["tier"] for r in decisions} == {TIERS[customer]}
    advised = {r["item"] for r in decisions if r["decision"] == "advised"}
    assert "apache2" in advised
    # Nothing was applied: Basic is advisory, Pro and Medium are outside their windows.
    assert not [r for r in decisions if r["decision"] in ("applied", "approved")]


def _tampered(tmp_path, lines, name):
    path = tmp_path / name
    path.write_bytes(b"".join(lines))
    return _verify(str(path))


def test_tampering_is_detected_and_names_the_record(tmp_path):
    lines = _lines("acme")
    assert len(lines) > 10

    flipped = list(lines)
    index = flipped[7].index(b'"host":"') + 9
    flipped[7] = flipped[7][:index] + bytes([flipped[7][index] ^ 1]) + flipped[7][index + 1 :]
    result = _tampered(tmp_path, flipped, "flipped.jsonl")
    assert result.returncode == 1
    assert "at line 8" in result.stdout

    deleted = lines[:4] + lines[5:]
    result = _tampered(tmp_path, deleted, "deleted.jsonl")
    assert result.returncode == 1
    assert "at line 5" in result.stdout and "deleted" in result.stdout

    swapped = list(lines)
    swapped[3], swapped[4] = swapped[4], swapped[3]
    result = _tampered(tmp_path, swapped, "swapped.jsonl")
    assert result.returncode == 1
    assert "at line 4" in result.stdout


# The documentation and SLA reports written after the runs, one folder per customer.
DOCS = os.path.join(STATE_DIR, "docs")
REPORTS = os.path.join(STATE_DIR, "reports")
CUSTOMER_OF = {
    "twovalue-sla-maint-pro": "acme",
    "twovalue-sla-maint-basic": "globex",
    "twovalue-sla-maint-medium": "initech",
}
PLANTED_SECRET = "twovalue-planted-wgSecretKey-9f4c2e71"
REGISTER_KEY_BODY = "AAAAC3NzaC1lZDI1NTE5AAAAIFcTtELZkgv8/B42VFUH4RC9ex5lTLmh8tq5HLnHX7yi"
DOCUMENTS = [
    f"{name}.{extension}"
    for name in ("system-documentation", "migration-advice")
    for extension in ("html", "md", "json")
]


def _documents_text():
    texts = {}
    for directory in (DOCS, REPORTS):
        for folder, _dirs, files in os.walk(directory):
            for name in files:
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    texts[path] = handle.read()
    return texts


def _host_section(customer, name):
    with open(os.path.join(DOCS, customer, "system-documentation.md"), encoding="utf-8") as handle:
        markdown = handle.read()
    return markdown.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]


@pytest.mark.parametrize("customer", sorted(TIERS))
def test_each_customer_has_its_documentation_and_report(customer):
    assert sorted(os.listdir(os.path.join(DOCS, customer))) == sorted(DOCUMENTS)
    reports = os.listdir(os.path.join(REPORTS, customer))
    assert sorted(name.rsplit(".", 1)[1] for name in reports) == ["html", "json", "md"]
    with open(os.path.join(DOCS, customer, "migration-advice.json"), encoding="utf-8") as handle:
        advice = json.load(handle)
    # Debian's MediaWiki 1.39 is past its end of life and its upgrade was refused.
    wiki = [item for item in advice["advice"] if item["product"] == "mediawiki"]
    assert wiki and wiki[0]["state"] == "end_of_life" and wiki[0]["refused"]


def _instant(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _security_offers(decisions):
    """Security updates offered under the SLA, each with the time it was first offered."""
    first = {}
    for record in decisions:
        result = record.get("result")
        if (
            record["activity"] in ("updates", "cms")
            and record["decision"] in ("approved", "advised", "refused")
            and isinstance(result, dict)
            and result.get("security") is True
            and result.get("kind") == "update"
            and not result.get("outside_sla")
            and isinstance(record.get("after"), str)
        ):
            key = (record["host"], record["activity"], record["item"], record["after"])
            first.setdefault(key, _instant(record["time"]))
    return first


@pytest.mark.parametrize("customer", sorted(TIERS))
def test_each_sla_report_s_figures_are_those_of_the_trail(customer):
    (path,) = glob.glob(os.path.join(REPORTS, customer, "*.json"))
    with open(path, encoding="utf-8") as handle:
        report = json.load(handle)
    assert (report["customer"], report["tier"]) == (customer, TIERS[customer])
    records = [json.loads(line) for line in _lines(customer)]
    # The report names the trail record it was made up to; it is this trail's.
    head = next(r for r in records if r["seq"] == report["trail"]["seq"])
    assert head["hash"] == report["trail"]["head"]
    decisions = [
        r
        for r in records
        if r["seq"] <= head["seq"] and r["kind"] == "decision" and not r["check_mode"]
    ]
    assert decisions
    by_activity = {}
    for record in decisions:
        counts = by_activity.setdefault(record["activity"], {})
        counts[record["decision"]] = counts.get(record["decision"], 0) + 1
    activities = report["activities"]
    assert activities["by_activity"] == by_activity
    for decision in ("applied", "advised", "refused"):
        expected = sum(r["decision"] == decision for r in decisions)
        assert activities["counts"][decision] == expected, decision
    kpi = {row["id"]: row for row in report["kpis"] if "host" not in row}
    # Nothing was applied in these runs, so no security update was applied, late or not.
    assert not [r for r in decisions if r["decision"] == "applied"]
    assert (kpi["security_in_time"]["applied"], kpi["security_in_time"]["in_time"]) == (0, 0)
    # Every security update the trail offers is pending; past the deadline when first
    # offered longer than the deadline before the period's end.
    offers = _security_offers(decisions)
    assert offers, "the trail offers no security update: the host has pending ones"
    deadline = datetime.timedelta(hours=report["targets"]["security_update_deadline_hours"])
    end = _instant(report["period"]["end"])
    overdue = sum(end - first > deadline for first in offers.values())
    past = kpi["security_past_deadline"]
    assert (past["measured"], past["pending_within_deadline"]) == (overdue, len(offers) - overdue)
    assert past["met"] is (overdue == 0)


def test_the_documentation_names_the_host_s_real_versions(host):
    name = host.backend.get_hostname()
    section = _host_section(CUSTOMER_OF[name], name)

    def upstream(package):
        version = host.package(package).version.split(":", 1)[-1]
        return re.split(r"[-+~]", version, maxsplit=1)[0]

    assert f"| Apache | {upstream('apache2')} | 2.4 |" in section
    assert f"| PHP | {upstream('php8.2-common')} | 8.2 |" in section
    assert f"| MariaDB | {upstream('mariadb-server')} | " in section
    debian = host.file("/etc/debian_version").content_string.strip()
    assert f"| Debian | {debian} (bookworm) | 12 |" in section
    assert f"**Kernel**: {host.check_output('uname -r')}".replace("_", "\\_") in section
    defines = host.file("/usr/share/mediawiki/includes/Defines.php").content_string
    wiki = re.search(r"'MW_VERSION',\s*'([^']+)'", defines).group(1)
    assert f"| MediaWiki /usr/share/mediawiki | {wiki} | Debian package |" in section
    # PHP's extensions as Apache loads them: the links in its conf.d.
    enabled = host.check_output("ls /etc/php/8.2/apache2/conf.d")
    assert "mysqli" in enabled
    assert "**PHP extensions enabled (apache2)**: " in section and "mysqli" in section
    assert "no backup recorded" in section
    assert "| CMS account Bob on /usr/share/mediawiki | Bob de Vries | customer |" in section
    assert "held by former staff: Bob de Vries" in section
    assert (
        "| database user wikiuser@localhost | service credential | agency |  | never rotated |"
        in section
    )


def test_no_document_holds_a_planted_secret(host):
    settings = host.file("/etc/mediawiki/LocalSettings.php").content_string
    assert PLANTED_SECRET in settings
    password = re.search(r"""\$wgDBpassword\s*=\s*['"]([^'"]+)['"]""", settings).group(1)
    texts = _documents_text()
    assert len(texts) == 3 * (len(DOCUMENTS) + 3)
    for secret in (PLANTED_SECRET, password, REGISTER_KEY_BODY):
        assert [path for path, text in texts.items() if secret in text] == []
