# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Site deploys on a scratch site root: real tar, the web server played by the file system."""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils.site_deploy import (
    LOCK_FILE,
    STATE_FILE,
    DeployError,
    SiteDeploy,
    validate_deploy_params,
)


def artifact(tmp_path, version, marker=None):
    """A release archive with one top directory, like a CI pipeline builds it."""
    path = tmp_path / f"site-{version}.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, text in (
            ("sla-version.txt", marker if marker is not None else version),
            ("index.php", "<?php echo 'hello';"),
            ("LocalSettings.php", "<?php // from the artifact, replaced by shared/"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(f"site-{version}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


class Host:
    """Commands the deploy runs, and a web server that serves current/ from disk."""

    def __init__(self, root):
        self.root = root
        self.calls = []

    def run(self, argv, environ_update=None, data=None, cwd=None):
        self.calls.append(list(argv))
        if argv[0] == "tar":
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            return done.returncode, done.stdout, done.stderr
        return 0, "", ""

    def http(self, url, follow_redirects, timeout, headers=None):
        relative = url.split("/site/", 1)[1]
        path = os.path.join(self.root, "current", relative)
        if not os.path.exists(path):
            return 404, "not found"
        with open(path, encoding="utf-8") as handle:
            return 200, handle.read()


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "shared").mkdir(parents=True)
    (root / "shared" / "LocalSettings.php").write_text("<?php // the site's own settings")
    return root


def params(site, path, sha, version, run_id="run-1", **extra):
    return {
        "site_root": str(site), "artifact": path, "sha256": sha, "release": version,
        "version": version, "version_marker": "sla-version.txt",
        "site_url": "http://localhost/site", "strip_components": 1,
        "shared_paths": ["LocalSettings.php"], "schema": None, "database": None,
        "db_server": "localhost", "reload_services": ["apache2"], "keep_releases": 2,
        "retry_failed": False, "backup_dir": str(site.parent / "backups"), "run_id": run_id,
        "health_checks": [], "health_retries": 2, "health_delay": 0, **extra,
    }  # fmt: skip


def deploy(site, p, check_mode=False):
    host = Host(str(site))
    return SiteDeploy(host.run, check_mode=check_mode, http=host.http, sleep=lambda s: None).deploy(
        p
    )


def test_first_deploy_links_shared_paths_and_a_second_changes_nothing(tmp_path, site):
    path, sha = artifact(tmp_path, "1.0")
    result = deploy(site, params(site, path, sha, "1.0"))
    assert result["changed"] and os.readlink(site / "current") == "releases/1.0"
    settings = site / "current" / "LocalSettings.php"
    assert settings.is_symlink() and settings.read_text() == "<?php // the site's own settings"
    assert json.loads((site / STATE_FILE).read_text())["verified"] == "1.0"
    again = deploy(site, params(site, path, sha, "1.0", run_id="run-2"))
    assert again["changed"] is False and "already serves 1.0" in again["msg"]


def test_a_release_failing_its_health_check_is_switched_back_and_kept_as_failed(tmp_path, site):
    good, good_sha = artifact(tmp_path, "1.0")
    bad, bad_sha = artifact(tmp_path, "2.0", marker="error page")
    deploy(site, params(site, good, good_sha, "1.0"))
    with pytest.raises(DeployError) as excinfo:
        deploy(site, params(site, bad, bad_sha, "2.0", run_id="run-2"))
    assert "failed and was rolled back" in excinfo.value.msg
    assert os.readlink(site / "current") == "releases/1.0"
    assert (site / "releases" / "2.0.failed-run-2" / ".sla-failed").exists()
    with pytest.raises(DeployError, match="2.0 failed here before"):
        deploy(site, params(site, bad, bad_sha, "2.0", run_id="run-3"))
    assert os.readlink(site / "current") == "releases/1.0"


def test_a_wrong_checksum_changes_nothing(tmp_path, site):
    path, _sha = artifact(tmp_path, "1.0")
    with pytest.raises(DeployError, match="not " + "0" * 64 + "; nothing changed"):
        deploy(site, params(site, path, "0" * 64, "1.0"))
    assert not (site / "current").exists() and os.listdir(site / "releases") == []


def test_a_second_deploy_at_the_same_time_fails_clearly(tmp_path, site):
    path, sha = artifact(tmp_path, "1.0")
    with open(site / LOCK_FILE, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("run run-0, pid 1, since 0\n")
        held.flush()
        with pytest.raises(DeployError, match=r"another deploy of .* is running \(run run-0"):
            deploy(site, params(site, path, sha, "1.0"))
    assert not (site / "current").exists()


def test_a_release_made_current_by_a_killed_run_is_verified_or_switched_back(tmp_path, site):
    one, one_sha = artifact(tmp_path, "1.0")
    two, two_sha = artifact(tmp_path, "2.0", marker="broken")
    deploy(site, params(site, one, one_sha, "1.0"))
    # As a run killed right after its switch leaves it: 2.0 current, 1.0 the verified one.
    subprocess.run(["tar", "-xzf", two, "-C", str(site / "releases")], check=True)
    os.rename(site / "releases" / "site-2.0", site / "releases" / "2.0")
    os.remove(site / "current")
    os.symlink("releases/2.0", site / "current")
    with pytest.raises(DeployError, match="was current but unhealthy; switched back to 1.0"):
        deploy(site, params(site, two, two_sha, "2.0", run_id="run-2"))
    assert os.readlink(site / "current") == "releases/1.0"


def test_leftovers_of_a_killed_unpack_are_cleared_and_old_releases_pruned(tmp_path, site):
    (site / "releases" / ".partial-9.9-run-0").mkdir(parents=True)
    for index, version in enumerate(("1.0", "2.0", "3.0")):
        path, sha = artifact(tmp_path, version)
        result = deploy(site, params(site, path, sha, version, run_id=f"run-{index}"))
    assert sorted(os.listdir(site / "releases")) == ["2.0", "3.0"]
    assert result["pruned"] == ["1.0"] and result["previous"] == "2.0"


def test_check_mode_changes_nothing(tmp_path, site):
    path, sha = artifact(tmp_path, "1.0")
    result = deploy(site, params(site, path, sha, "1.0"), check_mode=True)
    assert result["changed"] and not (site / "releases").exists()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"release": "../x"}, "is not a release name"),
        ({"sha256": "abc"}, "is not a SHA-256"),
        ({"shared_paths": ["../../etc/passwd"]}, "must be relative and stay inside"),
        ({"schema": "mediawiki", "database": None}, "needs the site's database"),
    ],
)
def test_bad_parameters_are_named(site, override, message):
    p = params(site, "/a.tar.gz", "a" * 64, "1.0")
    p.update(override)
    assert any(message in error for error in validate_deploy_params(p))


class Killed(Exception):
    """The run dies here, as under SIGKILL: nothing after this point runs."""


@pytest.fixture
def database(monkeypatch, tmp_path):
    """The dump, schema step and restore of a site with a database, recorded in order."""
    events = []

    def dump(self, database, run_dir, db_server=""):
        events.append(("dump", database))
        return str(tmp_path / f"{database}.sql.gz")

    def schema_update(self, kind, release, site_url):
        events.append(("schema", os.path.basename(release)))
        if events.count(("schema", os.path.basename(release))) == 1 and "kill" in events:
            raise Killed

    def restore(self, database, dump_path, db_server=""):
        events.append(("restore", database, dump_path))
        return 0, ""

    monkeypatch.setattr(SiteDeploy, "_dump", dump)
    monkeypatch.setattr(SiteDeploy, "_schema_update", schema_update)
    monkeypatch.setattr(SiteDeploy, "_restore", restore)
    return events


def test_a_deploy_killed_in_its_schema_step_has_its_database_restored_by_the_next(
    tmp_path, site, database
):
    one, one_sha = artifact(tmp_path, "1.0")
    two, two_sha = artifact(tmp_path, "2.0")
    schema = {"schema": "mediawiki", "database": "wikidb"}
    deploy(site, params(site, one, one_sha, "1.0", **schema))
    database.append("kill")
    with pytest.raises(Killed):
        deploy(site, params(site, two, two_sha, "2.0", run_id="run-2", **schema))
    state = json.loads((site / STATE_FILE).read_text())
    assert state["schema_pending"]["release"] == "2.0"
    assert os.readlink(site / "current") == "releases/1.0"

    result = deploy(site, params(site, two, two_sha, "2.0", run_id="run-3", **schema))
    dump = str(tmp_path / "wikidb.sql.gz")
    # The half-migrated database is put back before the new attempt dumps it again.
    assert database[database.index("kill") + 1 :] == [
        ("dump", "wikidb"), ("schema", "2.0"), ("restore", "wikidb", dump),
        ("dump", "wikidb"), ("schema", "2.0"),
    ]  # fmt: skip
    assert result["restored_interrupted"]["run_id"] == "run-2"
    assert any("interrupted deploy of 2.0 (run run-2)" in step for step in result["steps"])
    assert os.readlink(site / "current") == "releases/2.0"
    assert "schema_pending" not in json.loads((site / STATE_FILE).read_text())


def test_a_deploy_killed_after_its_switch_keeps_the_migrated_database(tmp_path, site, database):
    one, one_sha = artifact(tmp_path, "1.0")
    two, two_sha = artifact(tmp_path, "2.0")
    schema = {"schema": "mediawiki", "database": "wikidb"}
    deploy(site, params(site, one, one_sha, "1.0", **schema))
    deploy(site, params(site, two, two_sha, "2.0", run_id="run-2", **schema))
    # As a run killed between its switch and its record leaves the state file.
    state = json.loads((site / STATE_FILE).read_text())
    state.update(verified="1.0", schema_pending={
        "release": "2.0", "run_id": "run-2", "database": "wikidb",
        "dump": "/nonexistent.sql.gz", "db_server": "",
    })  # fmt: skip
    (site / STATE_FILE).write_text(json.dumps(state))
    result = deploy(site, params(site, two, two_sha, "2.0", run_id="run-3", **schema))
    assert not any(event[0] == "restore" for event in database if isinstance(event, tuple))
    assert "restored_interrupted" not in result
    assert "schema_pending" not in json.loads((site / STATE_FILE).read_text())
