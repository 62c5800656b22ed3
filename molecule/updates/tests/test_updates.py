"""What the updates scenario left on the hosts and in the audit trail."""

import json
import os
import re
import subprocess
import sys

import pytest
import testinfra

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
PROJECT = os.environ["MOLECULE_PROJECT_DIRECTORY"]
sys.path.insert(0, os.path.join(PROJECT, "tests"))

from polling import http_answers  # noqa: E402

AUDIT = os.path.join(EPHEMERAL, "audit")
SIMULATE = "apt-get -s -q -o Debug::NoLocking=1 dist-upgrade"


def _host(role):
    # Each test names the host it is about: no test runs on a host it is not for.
    return testinfra.get_host(f"podman://twovalue-sla-upd-{role}")


def _pending(host):
    out = host.check_output(SIMULATE)
    return {
        m.group(1): m.group(2) for m in re.finditer(r"^Inst (\S+) \[[^\]]+\] \((\S+)", out, re.M)
    }


def _versions_before(host):
    rows = host.file("/root/versions-before.tsv").content_string.splitlines()
    return dict(row.split("\t") for row in rows)


def _trail(customer):
    with open(os.path.join(AUDIT, f"{customer}.jsonl"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _decisions(customer, host_name):
    return [
        r for r in _trail(customer) if r.get("kind") == "decision" and r.get("host") == host_name
    ]


def _assert_wiki_answers(host):
    http_answers(host.backend.get_hostname(), "http://localhost/mediawiki/index.php/Main_Page")


def test_every_trail_verifies():
    env = dict(os.environ, PYTHONPATH=os.path.join(PROJECT, ".cache", "collections"))
    for customer in ("acme", "globex", "initech", "umbrella"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ansible_collections.twovalue.sla.plugins.module_utils.sla_audit",
                "verify",
                os.path.join(AUDIT, f"{customer}.jsonl"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("role", ["pro", "basic"])
def test_security_updates_applied_and_nothing_pending(role):
    host = _host(role)
    before = _versions_before(host)
    assert _pending(host) == {}
    assert host.package("apache2").version != before["apache2"]
    assert host.package("mariadb-server").version != before["mariadb-server"]
    _assert_wiki_answers(host)


def test_pro_applied_on_its_own_and_recorded():
    host = _host("pro")
    decisions = _decisions("acme", "twovalue-sla-upd-pro")
    approved = {r["item"] for r in decisions if r["decision"] == "approved" and not r["check_mode"]}
    assert "apache2" in approved
    applied = [
        r
        for r in decisions
        if r["decision"] == "applied" and r["item"] == "change_set" and not r["check_mode"]
    ]
    assert len(applied) == 1
    assert applied[0]["after"]["apache2"] == host.package("apache2").version
    # No approval reference: under Pro the agency decides.
    assert applied[0]["approval"] is None


def test_basic_applied_only_the_approved_set():
    decisions = _decisions("globex", "twovalue-sla-upd-basic")
    refused = [
        r
        for r in decisions
        if r["decision"] == "advised"
        and "the candidates changed since approval" in (r["reason"] or "")
    ]
    assert refused, "the stale approval SR-1000 must be recorded with its reason"
    applied = [r for r in decisions if r["decision"] == "applied" and not r["check_mode"]]
    assert len(applied) == 1
    assert applied[0]["approval"] == "SR-1001"
    # Before the approval, converge and idempotence only advised updates (the
    # cms activity's refused branch change is its own record).
    first_apply = decisions.index(applied[0])
    assert all(
        r["decision"] in ("advised", "planned")
        for r in decisions[:first_apply]
        if r["approval"] is None and r["activity"] == "updates"
    )


def test_fault_rolled_back_to_the_previous_versions():
    host = _host("fault")
    before = _versions_before(host)
    for package in ("apache2", "libapache2-mod-php8.2", "mariadb-server", "openssl"):
        assert host.package(package).version == before[package], package
    _assert_wiki_answers(host)
    rolled_back = [
        r for r in _decisions("initech", "twovalue-sla-upd-fault") if r["decision"] == "rolled_back"
    ]
    assert len(rolled_back) == 1
    backup = rolled_back[0]["result"]["backup"]
    manifest = json.loads(host.file(f"{backup}/manifest.json").content_string)
    assert manifest["status"] == "rolled_back"
    # The failed attempt's backup is kept for investigation.
    assert host.file(f"{backup}/databases.sql.gz").exists


def test_advice_is_withdrawn_once_nothing_is_left_to_advise():
    # side_effect read the advice before approving; after the approved update
    # nothing is pending, so the host's advice documents are gone.
    advice = os.path.join(EPHEMERAL, "advice", "globex")
    assert not os.path.exists(os.path.join(advice, "twovalue-sla-upd-basic-updates.md"))
    assert os.path.exists(os.path.join(EPHEMERAL, "approval-globex.yml"))


def test_upgrade_from_a_newer_release_is_refused_not_installed():
    host = _host("upgrade")
    before = _versions_before(host)
    # MediaWiki stays on its 1.39 branch; trixie's 1.43 is still offered.
    assert host.package("mediawiki").version == before["mediawiki"]
    pending = _pending(host)
    assert pending["mediawiki"].startswith("1:1.43.")
    # The Debian 12 security updates went in around it.
    assert host.package("apache2").version != before["apache2"]
    assert set(pending) <= {"mediawiki", "mediawiki-classes"}
    refused = {
        r["item"]: r
        for r in _decisions("umbrella", "twovalue-sla-upd-upgrade")
        if r["decision"] == "refused" and not r["check_mode"]
    }
    assert {"mediawiki", "mediawiki-classes"} <= set(refused)
    assert "migration project" in refused["mediawiki"]["reason"]
    assert refused["mediawiki"]["result"]["kind"] == "upgrade"
    advice = os.path.join(EPHEMERAL, "advice", "umbrella", "twovalue-sla-upd-upgrade-updates.md")
    with open(advice, encoding="utf-8") as handle:
        assert "| mediawiki |" in handle.read()
    _assert_wiki_answers(host)
