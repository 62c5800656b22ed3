"""What the updates scenario left on the hosts and in the audit trail."""

import json
import os
import re

import pytest
import testinfra
from playbook_runner import run_audit_cli
from polling import http_answers

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
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


def _kernel_abi_package(host):
    """The kernel ABI package the installed metapackage depends on."""
    depends = host.check_output("dpkg-query -W -f='${Depends}' linux-image-amd64")
    return re.match(r"(linux-image-\S+)", depends).group(1)


def _dpkg_status(host, package):
    return host.run(f"dpkg-query -W -f='${{db:Status-Abbrev}}' {package}").stdout.strip()


def test_every_trail_verifies():
    for customer in ("acme", "globex", "initech", "umbrella"):
        result = run_audit_cli("verify", os.path.join(AUDIT, f"{customer}.jsonl"))
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


def test_advice_after_the_approved_update_asks_for_nothing_more():
    # side_effect read the advice before approving; the approval run applied
    # every item, so its advice lists none and asks for no approval. It still
    # names what apt's dist-upgrade offered beside the new kernel and nothing
    # planned needs (its recommendations): the update installs without them,
    # and afterwards apt no longer offers them.
    advice = os.path.join(EPHEMERAL, "advice", "globex", "twovalue-sla-upd-basic-updates")
    with open(f"{advice}.json", encoding="utf-8") as handle:
        document = json.load(handle)
    with open(f"{advice}.md", encoding="utf-8") as handle:
        assert "How to approve" not in handle.read()
    assert document["items"] == []
    assert document["new_packages"], "the new kernel's recommendations are named"
    for package in document["new_packages"]:
        assert "no planned update of an installed package" in package["reason"]
    assert not {p["package"] for p in document["new_packages"]} & set(_pending(_host("basic")))
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


@pytest.mark.parametrize("role", ["pro", "basic"])
def test_the_kernel_update_brought_its_new_abi_package(role):
    host = _host(role)
    before = _versions_before(host)
    abi = _kernel_abi_package(host)
    # The point release's kernel was the starting point; the security update
    # needed a kernel package the host did not have.
    assert abi not in before
    assert host.package("linux-image-amd64").version != before["linux-image-amd64"]
    assert _dpkg_status(host, abi) == "ii"
    assert host.file(f"/boot/vmlinuz-{abi[len('linux-image-') :]}").exists
    # Installed as the dependency it is, so apt may remove it once it is old.
    assert abi in host.check_output("apt-mark showauto linux-image-*").split()


def test_pro_trail_names_the_new_package_and_what_needed_it():
    host = _host("pro")
    abi = _kernel_abi_package(host)
    decisions = [r for r in _decisions("acme", "twovalue-sla-upd-pro") if not r["check_mode"]]
    approved = [r for r in decisions if r["decision"] == "approved" and r["item"] == abi]
    assert len(approved) == 1
    assert approved[0]["result"]["new_install"] is True
    assert approved[0]["result"]["needed_by"] == "linux-image-amd64"
    assert approved[0]["before"] is None
    (applied,) = [r for r in decisions if r["decision"] == "applied"]
    assert applied["before"][abi] is None
    assert applied["after"][abi] == host.package(abi).version
    assert applied["result"]["new_installs"] == {abi: "linux-image-amd64"}
    # The container runs the machine's kernel: what counts is which kernel a reboot starts.
    assert applied["result"]["reboot_pending_for"] == abi[len("linux-image-") :]


def test_fault_rollback_purged_the_new_kernel_package():
    host = _host("fault")
    before = _versions_before(host)
    assert host.package("linux-image-amd64").version == before["linux-image-amd64"]
    rolled_back = [
        r for r in _decisions("initech", "twovalue-sla-upd-fault") if r["decision"] == "rolled_back"
    ]
    (new,) = [name for name, version in rolled_back[0]["before"].items() if version is None]
    assert new.startswith("linux-image-") and new not in before
    # Purged, not just removed: no configuration files left either.
    assert _dpkg_status(host, new) in ("", "un", "pn")
    assert not host.file(f"/boot/vmlinuz-{new[len('linux-image-') :]}").exists
    manifest = json.loads(
        host.file(f"{rolled_back[0]['result']['backup']}/manifest.json").content_string
    )
    entry = next(e for e in manifest["packages"] if e["name"] == new)
    assert (entry["new_install"], entry["previous"], entry["debs"]) == (True, None, [])
