"""What the cms scenario left on the hosts, in the audit trail and in the advice."""

import json
import os

import testinfra
from playbook_runner import run_audit_cli
from polling import poll_until

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
AUDIT = os.path.join(EPHEMERAL, "audit")
ADVICE = os.path.join(EPHEMERAL, "advice")
PLANTED = ("PLANTED-cms-db-secret-4242", "PLANTED-wp-auth-key-4242")
SITEINFO = "http://localhost/wiki/api.php?action=query&meta=siteinfo&format=json"
SITE = "mediawiki /var/www/wiki"
PACKAGED = "mediawiki /usr/share/mediawiki"
BLOG = "wordpress /var/www/blog"


def _host(role):
    return testinfra.get_host(f"podman://twovalue-sla-cms-{role}")


def _served_version(host):
    answer = json.loads(host.check_output(f"curl -s '{SITEINFO}'"))
    return answer["query"]["general"]["generator"]


def _assert_serves(host, generator):
    poll_until(
        f"{host.backend.get_hostname()} serving {generator}",
        lambda: _served_version(host),
        done=lambda served: served == generator,
    )


def _decisions(customer):
    with open(os.path.join(AUDIT, f"{customer}.jsonl"), encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return [r for r in records if r.get("kind") == "decision" and r.get("activity") == "cms"]


def test_every_trail_verifies():
    for customer in ("acme", "globex", "initech"):
        result = run_audit_cli("verify", os.path.join(AUDIT, f"{customer}.jsonl"))
        assert result.returncode == 0, result.stdout + result.stderr


def test_pro_serves_the_patch_release_with_the_pages_written_before():
    host = _host("pro")
    assert host.file("/var/www/wiki/current").linked_to == "/var/www/wiki/releases/1.39.18"
    _assert_serves(host, "MediaWiki 1.39.18")
    page = poll_until(
        "the wiki's SLA_Test_Page",
        lambda: json.loads(
            host.check_output(
                "curl -s 'http://localhost/wiki/api.php?action=query&titles=SLA_Test_Page"
                "&prop=revisions&rvprop=content&rvslots=main&format=json'"
            )
        ),
    )
    (only,) = page["query"]["pages"].values()
    assert "Written before any SLA update." in only["revisions"][0]["slots"]["main"]["*"]


def test_pro_failed_release_rolled_back_code_and_database():
    host = _host("pro")
    failed = host.check_output("ls -d /var/www/wiki/releases/1.39.19.failed-*").split()
    assert len(failed) == 1
    marker = json.loads(host.file(f"{failed[0]}/.sla-failed").content_string)
    # The schema step failed after the lock and the dump; nothing ran after it.
    assert marker["steps"][-2:] == [
        "site in maintenance mode for visitors",
        "database wikisite dumped",
    ]
    tables = host.check_output(
        "mariadb --protocol=socket -N -e \"SHOW TABLES FROM wikisite LIKE 'sla_fault_marker'\""
    )
    assert tables == ""
    assert not host.file("/var/www/wiki/releases/1.39.19").exists
    for settings in host.check_output("ls /var/www/wiki/releases/*/LocalSettings.php").split():
        assert "read-only begin" not in host.file(settings).content_string


def test_pro_trail_records_switch_rollback_schema_and_refused_branch_change():
    records = _decisions("acme")
    applied = [r for r in records if r["decision"] == "applied" and r["item"] == SITE]
    assert [(r["before"], r["after"]) for r in applied] == [("1.39.17", "1.39.18")]
    rolled = [r for r in records if r["decision"] == "rolled_back"]
    assert [(r["item"], r["after"]) for r in rolled] == [(SITE, "1.39.19")]
    assert "update.php --quick exited 1" in rolled[0]["reason"]
    schema = [
        r for r in records if r["item"] == f"{PACKAGED} schema" and r["decision"] == "applied"
    ]
    assert len(schema) == 1
    refused = {r["after"] for r in records if r["decision"] == "refused" and r["item"] == SITE}
    assert refused and all(v.startswith("1.43.") for v in refused)


def test_pro_migration_advice_names_real_end_of_life_dates():
    host = _host("pro")
    name = host.check_output("hostname")
    with open(os.path.join(ADVICE, "acme", f"{name}-cms.json"), encoding="utf-8") as handle:
        advice = json.load(handle)
    (migration,) = [m for m in advice["migrations"] if m["component"] == SITE]
    assert migration["installed_branch"]["eol"] == "2025-12-31"
    assert migration["installed_branch"]["supported"] is False
    assert migration["target_branch"]["branch"] == "1.43"
    assert migration["target_branch"]["lts"] is True
    assert migration["target_branch"]["eol"] == "2027-12-31"


def test_basic_applied_only_the_approved_change_set():
    host = _host("basic")
    _assert_serves(host, "MediaWiki 1.39.18")
    records = _decisions("globex")
    # Release switches only: the packaged wiki's schema step is its own record.
    applied = [
        r for r in records if r["decision"] == "applied" and not r["item"].endswith(" schema")
    ]
    assert [(r["item"], r["approval"]) for r in applied] == [(SITE, "SR-2001")]
    # The packaged wiki's first schema step is advised on Basic, never run unasked;
    # once the package has changed the code (side_effect), the step follows it.
    schema = [(r["decision"], r["reason"]) for r in records if r["item"] == f"{PACKAGED} schema"]
    assert {d for d, _ in schema[:-2]} == {"advised"}
    assert schema[-2][0] == "approved"
    assert "changed the code from 1.39.16 to 1.39.17" in schema[-2][1]
    assert schema[-1][0] == "applied"
    host = _host("basic")
    recorded = json.loads(host.file("/var/lib/twovalue-sla/cms-schema.json").content_string)
    assert recorded["/usr/share/mediawiki"] == "1.39.17"


def test_blog_serves_the_wordpress_patch_release_with_its_posts():
    host = _host("blog")
    assert host.file("/var/www/blog/current").linked_to == "/var/www/blog/releases/6.1.10"
    home = poll_until(
        "the blog's home page",
        lambda: host.check_output("curl -s -L http://localhost/blog/"),
        done=lambda page: 'content="WordPress' in page,
    )
    assert 'content="WordPress 6.1.10"' in home
    assert "SLA test post" in home
    assert not host.file("/var/www/blog/releases/6.1.9/.maintenance").exists
    wp_config = host.file("/var/www/blog/current/wp-config.php")
    assert (wp_config.user, wp_config.group, wp_config.mode) == ("root", "www-data", 0o640)
    records = _decisions("initech")
    # Release switches only: the packaged wiki's schema step is its own record.
    applied = [
        r for r in records if r["decision"] == "applied" and not r["item"].endswith(" schema")
    ]
    assert [(r["item"], r["before"], r["after"]) for r in applied] == [(BLOG, "6.1.9", "6.1.10")]
    refused = [r for r in records if r["decision"] == "refused" and r["item"] == BLOG]
    assert refused and all(r["after"].startswith("6.9") for r in refused)


def test_the_planted_secrets_reach_no_output():
    for folder in (AUDIT, ADVICE):
        for directory, _dirs, files in os.walk(folder):
            for name in files:
                with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as f:
                    text = f.read()
                for planted in PLANTED:
                    assert planted not in text, os.path.join(directory, name)
