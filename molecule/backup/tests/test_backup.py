"""What the backups left on the host and in the trail, and that a backup really restores.

The tests run in file order: each builds on what the one before left.
"""

import json
import os
import subprocess

import testinfra
from playbook_runner import (
    run_audit_cli,
    run_playbook,
    scenario_args,
    scenario_env,
    scenario_output,
)
from polling import http_answers, poll_until

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
AUDIT = os.path.join(EPHEMERAL, "audit")
RUNS = os.path.join(EPHEMERAL, "runs")
HOST = "twovalue-sla-backup-wiki"
PLANTED = "PLANTED-backup-db-secret-5151"
BACKUPS = "/var/backups/twovalue-sla/sites"
WIKI_SETS = f"{BACKUPS}/var-www-wiki"
PACKAGED_SETS = f"{BACKUPS}/usr-share-mediawiki"
PAGE = (
    "http://localhost/wiki/api.php?action=query&titles=SLA_Test_Page"
    "&prop=revisions&rvprop=content&rvslots=main&format=json"
)


def _host():
    return testinfra.get_host(f"podman://{HOST}")


def _playbook(*extra, label):
    """Run the backup playbook against the scenario's host; keep what it printed."""
    env = scenario_env(SLA_ADVICE_DIR=os.path.join(EPHEMERAL, "advice"))
    args = scenario_args("backup", *extra)
    done = run_playbook(args, env, timeout=900, keep=scenario_output(label))
    return done.returncode, " ".join((done.stdout + done.stderr).split())


def _backups():
    with open(os.path.join(AUDIT, "acme.jsonl"), encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return [r for r in records if r.get("kind") == "decision" and r.get("activity") == "backup"]


def _sets(host, site_dir):
    return sorted(host.check_output(f"ls {site_dir}").split())


def _page_text(host):
    answer = json.loads(host.check_output(f"curl -s '{PAGE}'"))
    (page,) = answer["query"]["pages"].values()
    return page["revisions"][0]["slots"]["main"]["*"]


def _assert_page_text(host, holds):
    poll_until("the wiki's SLA_Test_Page", lambda: _page_text(host), done=holds)


def test_both_sites_have_one_verified_backup_and_the_trail_says_so():
    host = _host()
    records = _backups()
    # converge backed up both sites; idempotence and check mode recorded nothing.
    assert sorted((r["item"], r["decision"]) for r in records) == [
        ("/usr/share/mediawiki", "applied"),
        ("/var/www/wiki", "applied"),
    ]
    for record in records:
        assert record["result"]["verified"] is True
        assert record["result"]["tables"] > 10 and record["result"]["rows"] > 0
        assert "restored into a scratch database" in record["reason"]
    for site_dir, settings in (
        (WIKI_SETS, "var/www/wiki/releases/1.39.17/LocalSettings.php"),
        (PACKAGED_SETS, "etc/mediawiki/LocalSettings.php"),
    ):
        (name,) = _sets(host, site_dir)
        manifest = json.loads(host.file(f"{site_dir}/{name}/manifest.json").content_string)
        assert manifest["verified"]["ok"] is True
        for file_name, figures in manifest["files"].items():
            digest = host.check_output(f"sha256sum {site_dir}/{name}/{file_name}").split()[0]
            assert digest == figures["sha256"]
        listing = host.check_output(f"tar -tzf {site_dir}/{name}/files.tar.gz").split()
        assert settings in listing
        # The wiki's older releases are the deploy's rollback points, not the site.
        assert not [m for m in listing if "/releases/" in m and "1.39.17" not in m]
    assert host.file(BACKUPS).mode == 0o700
    # The scratch databases are gone again.
    databases = host.check_output('mariadb -N -e "SHOW DATABASES"').split()
    assert not [d for d in databases if d.startswith("sla_backup_verify")]


def test_the_wiki_comes_back_from_its_backup_after_losing_code_and_database():
    host = _host()
    (name,) = _sets(host, WIKI_SETS)
    backup = f"{WIKI_SETS}/{name}"
    host.run_expect([0], "cd /var/www/wiki/current && echo 'Written after the backup.' "
                    "| php maintenance/edit.php -q -b SLA_Test_Page")  # fmt: skip
    _assert_page_text(host, lambda text: "Written after the backup." in text)
    host.run_expect([0], 'mariadb -e "DROP DATABASE wikisite" && rm -rf /var/www/wiki')
    poll_until(
        "the wiki gone",
        lambda: host.run("curl -s -o /dev/null -w '%{http_code}' http://localhost/wiki/").stdout,
        done=lambda code: code != "200",
    )
    # The restore as docs/backup.md gives it.
    host.run_expect(
        [0],
        f"tar -xzf {backup}/files.tar.gz -C / && "
        'mariadb -e "CREATE DATABASE wikisite CHARACTER SET binary" && '
        f"gunzip -c {backup}/database.sql.gz | mariadb wikisite",
    )
    _assert_page_text(host, lambda text: text.strip() == "Written before any SLA update.")
    http_answers(HOST, "http://localhost/wiki/api.php?action=query&meta=siteinfo&format=json")


def test_a_forced_run_prunes_past_the_retention_but_keeps_the_newest_verified_set():
    host = _host()
    (name,) = _sets(host, WIKI_SETS)
    # Medium keeps 30 days: a set from last year goes, and so does an interrupted run's remains.
    host.run_expect([0], f"cp -a {WIKI_SETS}/{name} {WIKI_SETS}/20250101T020000Z && "
                    f"mkdir {WIKI_SETS}/20251127T020000Z")  # fmt: skip
    rc, output = _playbook("-e", "backup_force=true", label="forced")
    assert rc == 0, output
    sets = _sets(host, WIKI_SETS)
    assert len(sets) == 2 and sets[0] == name
    last = [r for r in _backups() if r["item"] == "/var/www/wiki"][-1]
    assert last["decision"] == "applied"
    assert sorted(last["result"]["pruned"]) == ["20250101T020000Z", "20251127T020000Z"]


def test_a_dead_database_server_fails_the_run_names_it_and_keeps_the_last_good_backups():
    host = _host()
    before = _sets(host, WIKI_SETS)
    host.run_expect([0], "systemctl stop mariadb.socket mariadb")
    try:
        rc, output = _playbook("-e", "backup_force=true", label="dead-database")
    finally:
        host.run_expect([0], "systemctl start mariadb.socket mariadb")
    assert rc != 0
    assert "Backup on twovalue-sla-backup-wiki failed" in output
    assert "/var/www/wiki: cannot read the size of database wikisite" in output
    assert _sets(host, WIKI_SETS) == before
    failed = [r for r in _backups() if r["decision"] == "failed"]
    assert {r["item"] for r in failed} == {"/var/www/wiki", "/usr/share/mediawiki"}


def test_a_tier_without_backups_records_the_skip_and_touches_nothing():
    host = _host()
    before = _sets(host, WIKI_SETS)
    overrides = json.dumps({"sla_overrides": {"activities": ["updates", "cms", "docs"]}})
    rc, output = _playbook("-e", overrides, label="not-in-sla")
    assert rc == 0, output
    assert _sets(host, WIKI_SETS) == before
    last = _backups()[-1]
    assert last["decision"] == "skipped" and "not an activity of this SLA" in last["reason"]


def test_every_trail_verifies_and_no_secret_reached_it_or_any_output():
    result = run_audit_cli("verify", os.path.join(AUDIT, "acme.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr
    outputs = [os.path.join(AUDIT, "acme.jsonl")]
    outputs += [os.path.join(RUNS, name) for name in os.listdir(RUNS)]
    for path in outputs:
        with open(path, encoding="utf-8") as handle:
            assert PLANTED not in handle.read(), path


def test_a_run_while_another_holds_the_lock_refuses_and_the_trail_says_so():
    host = _host()
    before = _sets(host, WIKI_SETS)
    holder = subprocess.Popen(
        ["podman", "exec", HOST, "flock", f"{BACKUPS}/.lock", "sleep", "120"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        poll_until(
            f"{BACKUPS}/.lock held",
            lambda: host.run(f"fuser {BACKUPS}/.lock").rc,
            done=lambda rc: rc == 0,
        )
        rc, output = _playbook("-e", "backup_force=true", label="lock-held")
    finally:
        host.run("pkill -f 'sleep 120'")
        holder.wait(timeout=30)
    assert rc != 0 and f"another backup run holds {BACKUPS}/.lock; nothing changed" in output
    assert _sets(host, WIKI_SETS) == before
    last = _backups()[-1]
    assert (last["item"], last["decision"]) == (HOST, "failed")
