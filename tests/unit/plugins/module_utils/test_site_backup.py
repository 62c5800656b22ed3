# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import fcntl
import io
import json
import os
import re
import subprocess

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils import site_backup
from ansible_collections.twovalue.sla.plugins.module_utils.site_backup import (
    MANIFEST,
    BackupError,
    SiteBackup,
    due,
    existing_sets,
    prune_plan,
    set_name,
    site_key,
    site_target,
)

NOW = datetime.datetime(2026, 11, 28, 2, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _clients(monkeypatch):
    # The controller running the tests has no MariaDB clients; the fake server answers for them.
    monkeypatch.setattr(site_backup, "first_existing", lambda candidates: candidates[0])


class FakeServer:
    """A database server as the backup sees it: the dump client, the SQL client, the restore."""

    def __init__(self, databases):
        self.databases = databases
        self.statements = []
        self.lose_table_on_restore = None

    # run_command for mariadb, tar and du
    def call(self, argv, data=None):
        if os.path.basename(argv[0]) in ("mariadb", "mysql"):
            return self._sql(data)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr

    def _sql(self, statement):
        self.statements.append(statement)
        if m := re.match(r"CREATE DATABASE `(\w+)`", statement):
            self.databases[m.group(1)] = {}
            return 0, "", ""
        if m := re.match(r"DROP DATABASE IF EXISTS `(\w+)`", statement):
            self.databases.pop(m.group(1), None)
            return 0, "", ""
        if m := re.search(r"table_schema = '(\w+)' AND table_type", statement):
            return 0, "".join(f"{t}\n" for t in self.databases.get(m.group(1), {})), ""
        if m := re.search(r"SUM\(data_length.*table_schema = '(\w+)'", statement):
            return 0, f"{sum(self.databases[m.group(1)].values()) * 100}\n", ""
        if statement.startswith("SELECT COUNT(*)"):
            counts = re.findall(r"FROM `(\w+)`\.`(\w+)`", statement)
            return 0, "".join(f"{self.databases[d][t]}\n" for d, t in counts), ""
        return 1, "", f"unexpected statement {statement}"

    def popen(self, argv, **_kwargs):
        if os.path.basename(argv[0]) == "mariadb-dump":
            tables = self.databases[argv[-1]]
            text = "".join(f"TABLE {t} {n}\n" for t, n in tables.items())
            return _Process(stdout=io.BytesIO(text.encode()))
        database = next(a.split("=", 1)[1] for a in argv if a.startswith("--database="))
        return _Process(stdin=_Loader(self, database))


class _Loader(io.BytesIO):
    def __init__(self, server, database):
        super().__init__()
        self._server, self._database = server, database

    def close(self):
        for line in self.getvalue().decode().splitlines():
            _word, table, rows = line.split()
            if table != self._server.lose_table_on_restore:
                self._server.databases[self._database][table] = int(rows)
        super().close()


class _Process:
    def __init__(self, stdout=None, stdin=None):
        self.stdout, self.stdin = stdout, stdin

    def wait(self):
        return 0


def _site(tmp_path, name="wiki", database="wikisite", **settings):
    root = tmp_path / "www" / name
    release = root / "releases" / "1.39.17"
    (release / "images").mkdir(parents=True)
    (release / "LocalSettings.php").write_text("<?php $wgDBname = 'x';\n")
    (release / "index.php").write_text("<?php\n")
    (root / "releases" / "1.39.16").mkdir()
    (root / "releases" / "1.39.16" / "old.php").write_text("old\n")
    (root / "current").symlink_to("releases/1.39.17")
    return {
        "kind": "mediawiki",
        "path": str(root / "current"),
        "realpath": str(release),
        "version": "1.39.17",
        "install": "tarball",
        "layout": "releases",
        "site_root": str(root),
        "settings": {
            "readable": True,
            "db_name": database,
            "file": str(release / "LocalSettings.php"),
            **settings,
        },  # fmt: skip
    }


def _params(tmp_path, sites, **extra):
    return {"sites": sites, "backup_dir": str(tmp_path / "backups"), "retention_days": 30,
            "max_age_hours": 20, "force": False, "verify": True, **extra}  # fmt: skip


def _backup(server, now=NOW, check_mode=False, free=10**12):
    return SiteBackup(server.call, check_mode=check_mode, popen=server.popen,
                      clock=lambda: now, disk_free=lambda _path: free)  # fmt: skip


def _server():
    return FakeServer({"wikisite": {"page": 3, "revision": 5, "user": 2}})


def test_a_releases_layout_is_archived_as_its_live_release_and_link_not_the_old_releases(tmp_path):
    target = site_target(_site(tmp_path))
    root = str(tmp_path / "www" / "wiki").lstrip("/")
    assert target["paths"] == [f"{root}/current", f"{root}/releases/1.39.17"]
    assert target["settings_member"] == f"{root}/releases/1.39.17/LocalSettings.php"


def test_a_site_under_a_linked_directory_is_archived_by_its_real_paths(tmp_path):
    site = _site(tmp_path)
    (tmp_path / "linked").symlink_to(tmp_path / "www")
    site["site_root"] = str(tmp_path / "linked" / "wiki")
    site["realpath"] = str(tmp_path / "linked" / "wiki" / "releases" / "1.39.17")
    root = str(tmp_path / "www" / "wiki").lstrip("/")
    assert site_target(site)["paths"] == [f"{root}/current", f"{root}/releases/1.39.17"]


def test_a_configuration_outside_the_site_is_archived_too(tmp_path):
    site = _site(tmp_path)
    outside = tmp_path / "etc" / "wiki-settings.php"
    outside.parent.mkdir()
    outside.write_text("<?php\n")
    settings = tmp_path / "www" / "wiki" / "releases" / "1.39.17" / "LocalSettings.php"
    settings.unlink()
    settings.symlink_to(outside)
    target = site_target(site)
    assert target["paths"][-1] == target["settings_member"] == str(outside).lstrip("/")


def test_a_packaged_wiki_is_archived_as_its_configuration_and_uploads(tmp_path):
    etc = tmp_path / "etc" / "mediawiki"
    etc.mkdir(parents=True)
    (etc / "LocalSettings.php").write_text("<?php\n")
    lib = tmp_path / "lib" / "mediawiki"
    (lib / "images").mkdir(parents=True)
    site = {"kind": "mediawiki", "path": str(lib), "realpath": str(lib), "install": "debian",
            "layout": "plain", "site_root": str(lib),
            "settings": {"readable": True, "db_name": "wikidb",
                         "file": str(etc / "LocalSettings.php")}}  # fmt: skip
    target = site_target(site)
    assert target["paths"] == [str(etc).lstrip("/"), str(lib / "images").lstrip("/")]
    assert target["settings_member"] == str(etc / "LocalSettings.php").lstrip("/")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"db_name": None}, "names no database"),
        ({"db_name": "wiki`; DROP"}, "is not a plain name"),
        # An option to mariadb-dump, not a name.
        ({"db_name": "--all-databases"}, "is not a plain name"),
        ({"db_server": "db.example:3306"}, "on db.example:3306, not this host"),
    ],
)
def test_a_site_that_cannot_be_backed_up_here_is_named(tmp_path, settings, message):
    site = _site(tmp_path)
    site["settings"].update(settings)
    with pytest.raises(BackupError, match=re.escape(message)):
        site_target(site)


def test_a_backup_is_written_verified_and_recorded_in_its_manifest(tmp_path):
    server = _server()
    backup = _backup(server)
    (result,) = backup.run(_params(tmp_path, [_site(tmp_path)]))
    assert result["status"] == "backed up"
    assert result["verified"]["ok"] is True
    assert result["verified"]["tables"] == 3 and result["verified"]["rows"] == 10
    set_dir = result["set"]
    assert os.path.basename(set_dir) == set_name(NOW) == "20261128T020000Z"
    assert oct(os.stat(set_dir).st_mode & 0o777) == "0o700"
    manifest = json.loads((tmp_path / set_dir / MANIFEST).read_text())
    assert manifest["database"] == "wikisite" and manifest["verified"]["ok"]
    listing = subprocess.run(["tar", "-tzf", os.path.join(set_dir, "files.tar.gz")],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "releases/1.39.17/LocalSettings.php" in listing
    assert "1.39.16" not in listing
    # The scratch database is gone again, and the live one untouched.
    assert set(server.databases) == {"wikisite"}
    assert server.databases["wikisite"] == {"page": 3, "revision": 5, "user": 2}


def test_a_second_run_within_the_age_limit_changes_nothing(tmp_path):
    server = _server()
    params = _params(tmp_path, [_site(tmp_path)])
    _backup(server).run(params)
    (again,) = _backup(server, now=NOW + datetime.timedelta(hours=5)).run(params)
    assert again["status"] == "recent"
    assert again["pruned"] == []
    assert len(existing_sets(os.path.join(params["backup_dir"], site_key(again["site_root"])))) == 1


def test_check_mode_writes_nothing_and_says_what_it_would_do(tmp_path):
    server = _server()
    params = _params(tmp_path, [_site(tmp_path)])
    (result,) = _backup(server, check_mode=True).run(params)
    assert result["status"] == "would back up"
    assert not (tmp_path / "backups").exists()
    # Only the size of the database is read, for the disk space check.
    assert [s.split()[0] for s in server.statements] == ["SELECT"]
    (short,) = _backup(server, check_mode=True, free=1000).run(params)
    assert short["status"] == "would fail" and "MiB free" in short["reason"]


def test_a_dump_that_does_not_restore_whole_is_not_a_restore_point(tmp_path):
    server = _server()
    server.lose_table_on_restore = "revision"
    params = _params(tmp_path, [_site(tmp_path)])
    (result,) = _backup(server).run(params)
    assert result["status"] == "failed"
    assert "lacks tables revision" in result["reason"]
    assert "does not count as a restore point" in result["reason"]
    sets = existing_sets(os.path.join(params["backup_dir"], site_key(result["site_root"])))
    ((name, manifest),) = sets
    assert manifest["verified"]["ok"] is False
    # The next run tries again: a failed set does not make the site's backup recent.
    assert due(sets, NOW + datetime.timedelta(hours=1), 20)[0] is True


def test_too_little_disk_space_refuses_before_writing_anything(tmp_path):
    server = _server()
    params = _params(tmp_path, [_site(tmp_path)])
    (result,) = _backup(server, free=1000).run(params)
    assert result["status"] == "failed"
    assert (
        f"{tmp_path} has 0 MiB free (counting old sets to remove) and the backup of 1 site(s)"
        in result["reason"]
    )
    assert result["reason"].endswith("no new backup written")
    # Not even the backup directory or its lock file.
    assert not (tmp_path / "backups").exists()
    assert [s.split()[0] for s in server.statements] == ["SELECT"]


def test_one_failing_site_does_not_stop_the_others(tmp_path):
    server = _server()
    broken = _site(tmp_path, name="blog", database=None)
    results = _backup(server).run(_params(tmp_path, [broken, _site(tmp_path)]))
    assert [r["status"] for r in results] == ["failed", "backed up"]


def _manifest(verified):
    return {"verified": {"ok": verified}}


def test_pruning_keeps_the_newest_verified_set_however_old():
    sets = [("20260101T020000Z", _manifest(True)), ("20260102T020000Z", _manifest(True)),
            ("20260103T020000Z", _manifest(False)), ("20261127T020000Z", None)]  # fmt: skip
    gone = dict(prune_plan(sets, NOW, 30))
    assert set(gone) == {"20260101T020000Z", "20260103T020000Z", "20261127T020000Z"}
    assert "incomplete" in gone["20261127T020000Z"]
    assert "30-day retention" in gone["20260101T020000Z"]


def test_pruning_leaves_sets_inside_the_retention():
    sets = [("20261020T020000Z", _manifest(True)), ("20261120T020000Z", _manifest(True)),
            ("20261127T020000Z", _manifest(True))]  # fmt: skip
    assert prune_plan(sets, NOW, 30) == [("20261020T020000Z", "older than the 30-day retention")]
    assert prune_plan(sets, NOW, 90) == []


def test_a_run_prunes_old_and_interrupted_sets_after_a_verified_backup(tmp_path):
    server = _server()
    params = _params(tmp_path, [_site(tmp_path)])
    site_dir = tmp_path / "backups" / site_key(params["sites"][0]["site_root"])
    (site_dir / "20260101T020000Z").mkdir(parents=True)
    (site_dir / "20260101T020000Z" / MANIFEST).write_text(json.dumps(_manifest(True)))
    (site_dir / "20261127T230000Z").mkdir()
    (result,) = _backup(server).run(params)
    assert result["status"] == "backed up"
    assert sorted(p["set"] for p in result["pruned"]) == ["20260101T020000Z", "20261127T230000Z"]
    assert sorted(os.listdir(site_dir)) == ["20261128T020000Z"]


def test_a_second_run_at_the_same_time_refuses_instead_of_interleaving(tmp_path):
    server = _server()
    params = _params(tmp_path, [_site(tmp_path)])
    os.makedirs(params["backup_dir"])
    with open(os.path.join(params["backup_dir"], ".lock"), "w", encoding="utf-8") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(BackupError, match="another backup run holds"):
            _backup(server).run(params)


def test_only_the_newest_failed_set_stays_and_an_unreadable_manifest_keeps_its_set():
    sets = [("20261120T020000Z", _manifest(False)), ("20261121T020000Z", {"unreadable": "EIO"}),
            ("20261122T020000Z", _manifest(False)), ("20261123T020000Z", _manifest(True))]  # fmt: skip
    assert prune_plan(sets, NOW, 30) == [
        ("20261120T020000Z", "did not verify; the newest failed set is kept for inspection")
    ]


def test_a_backup_dated_in_the_future_does_not_stop_new_backups():
    sets = [("20261230T020000Z", _manifest(True))]
    needed, reason, _newest = due(sets, NOW, 20)
    assert needed is True and "dated in the future" in reason


def test_old_sets_make_room_when_the_disk_is_short(tmp_path):
    server = _server()
    params = _params(tmp_path, [_site(tmp_path)])
    site_dir = tmp_path / "backups" / site_key(params["sites"][0]["site_root"])
    for name in ("20260101T020000Z", "20260102T020000Z"):
        (site_dir / name).mkdir(parents=True)
        (site_dir / name / MANIFEST).write_text(json.dumps(_manifest(True)))
        (site_dir / name / "database.sql.gz").write_bytes(b"x" * 500_000)
    # 1000 bytes free, and the older set frees 500 kB: more than the small site needs.
    (result,) = _backup(server, free=1000).run(params)
    assert result["status"] == "backed up"
    assert [p["set"] for p in result["pruned"]] == ["20260101T020000Z", "20260102T020000Z"]
    # Without enough to free, old sets still go, and no new set is written.
    (site_dir / "20250101T020000Z").mkdir()
    (site_dir / "20250101T020000Z" / MANIFEST).write_text(json.dumps(_manifest(True)))
    (refused,) = _backup(server, now=NOW + datetime.timedelta(days=40), free=10).run(params)
    assert refused["status"] == "failed" and "no new backup written" in refused["reason"]
    assert [p["set"] for p in refused["pruned"]] == ["20250101T020000Z"]
    assert sorted(os.listdir(site_dir)) == ["20261128T020000Z"]
