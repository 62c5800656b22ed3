# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The MediaWiki release switch on a real directory tree, with the host's services faked."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import (
    READ_ONLY_BEGIN,
    READ_ONLY_END,
    ReleaseError,
    ReleaseSwitch,
    read_only_block,
    validate_params,
    without_read_only,
)
from ansible_collections.twovalue.sla.plugins.module_utils.cms_site import (
    FAILED_MARKER,
    code_version,
)

RUN_ID = "run-1"
DUMP_SQL = "CREATE TABLE page (page_id int);\nINSERT INTO page VALUES (1);\n"
LOCAL_SETTINGS = (
    "<?php\n"
    "$wgSitename = 'Team Wiki';\n"
    "$wgDBname = 'wikidb';\n"
    "$wgDBpassword = 'PLANTED-db-secret';\n"
    "wfLoadExtension( 'Cite' );\n"
    "wfLoadExtension( 'Custom' );\n"
)
MESSAGE = "The wiki is being updated and is read-only for a few minutes."


def _defines(version):
    return f"<?php\ndefine( 'MW_VERSION', '{version}' );\ndefine( 'DB_PRIMARY', -2 );\n"


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _release(releases, version, settings=LOCAL_SETTINGS):
    release = releases / version
    _write(release / "includes" / "Defines.php", _defines(version))
    _write(release / "index.php", f"<?php // {version}\n")
    _write(release / "LocalSettings.php", settings)
    _write(release / "images" / "a" / "ab" / "Logo.png", "PNG upload")
    _write(release / "extensions" / "Cite" / "extension.json", '{"version": "old"}\n')
    _write(release / "extensions" / "Custom" / "extension.json", '{"version": "1.0"}\n')
    _write(release / "skins" / "Vector" / "skin.json", '{"version": "old"}\n')
    return release


def _archive(directory, version, top=None):
    """A release archive as published: one top directory holding the code."""
    top = top or f"mediawiki-{version}"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"mediawiki-{version}.tar.gz"
    files = {
        "includes/Defines.php": _defines(version),
        "index.php": f"<?php // {version}\n",
        "maintenance/update.php": "<?php // update\n",
        "extensions/Cite/extension.json": '{"version": "new"}\n',
        "skins/Vector/skin.json": '{"version": "new"}\n',
        # Tarballs ship images/ with a README; the site's uploads must win.
        "images/README": "uploads go here\n",
    }
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FakeWiki:
    """The host around a wiki: tar runs for real; PHP, systemd and MariaDB are answered here."""

    def __init__(self, tmp_path, root):
        self.root = root
        self.events = []
        self.update_rc = 0
        self.reload_rc = 0
        self.broken_versions = set()
        self.read_only_during_update = []
        self.restored = tmp_path / "restored.sql"
        self.bin = tmp_path / "bin"
        self.bin.mkdir(exist_ok=True)
        # Only their existence is looked at; every call goes through the fakes.
        for name in ("mariadb", "mariadb-dump"):
            (self.bin / name).write_text("")

    def commands(self):
        return [event[1] for event in self.events]

    def __call__(self, argv, environ_update=None, cwd=None, data=None):
        self.events.append(("run", list(argv), cwd, data))
        name = os.path.basename(argv[0])
        if name == "tar":
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            return done.returncode, done.stdout, done.stderr
        if name == "php":
            settings = self.root / "current" / "LocalSettings.php"
            if settings.exists():
                self.read_only_during_update.append(READ_ONLY_BEGIN in settings.read_text())
            if self.update_rc:
                return self.update_rc, "", "Error 1146: Table 'wikidb.actor' doesn't exist\n"
            return 0, "...done.\n", ""
        if name == "systemctl":
            return self.reload_rc, "", "Job for apache2.service failed.\n" if self.reload_rc else ""
        if name == "mariadb":
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")

    def popen(self, argv, **kwargs):
        self.events.append(("popen", list(argv), None, None))
        name = os.path.basename(argv[0])
        if name == "mariadb-dump":
            script = f"import sys; sys.stdout.write({DUMP_SQL!r})"
        elif name == "mariadb":
            script = (
                f"import sys; open({str(self.restored)!r}, 'wb').write(sys.stdin.buffer.read())"
            )
        else:
            raise AssertionError(f"unexpected process {argv}")
        return subprocess.Popen([sys.executable, "-c", script], **kwargs)

    def http(self, url, follow_redirects, timeout):
        # api.php answers from whatever code `current` resolves to now.
        version = code_version(os.path.realpath(self.root / "current"))
        if version is None or version in self.broken_versions:
            return 500, "<h1>Internal Server Error</h1>"
        body = {"batchcomplete": "", "query": {"general": {"generator": f"MediaWiki {version}"}}}
        return 200, json.dumps(body, separators=(",", ":"))


class Clock:
    def __init__(self):
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)

    @staticmethod
    def now():
        return 1_750_000_000


@pytest.fixture
def wiki(tmp_path):
    root = tmp_path / "site"
    releases = root / "releases"
    _release(releases, "1.39.17")
    os.symlink("releases/1.39.17", root / "current")
    archive = _archive(tmp_path / "dist", "1.39.18")
    return FakeWiki(tmp_path, root), archive


def _switch(fake, tmp_path, check_mode=False, clock=None, opener=None):
    return ReleaseSwitch(
        fake,
        check_mode=check_mode,
        http=fake.http,
        sleep=(clock or Clock()).sleep,
        popen=fake.popen,
        now=Clock.now,
        opener=opener or _no_download,
        schema_state=str(tmp_path / "state" / "cms-schema.json"),
        sql_clients=(str(fake.bin / "mariadb"),),
        dump_binaries=(str(fake.bin / "mariadb-dump"),),
    )


def _no_download(url, timeout):
    raise AssertionError(f"no download expected, got {url}")


def _params(fake, archive, tmp_path, **overrides):
    params = {
        "site_root": str(fake.root),
        "from_version": "1.39.17",
        "to_version": "1.39.18",
        "url": None,
        "path": str(archive),
        "sha256": _sha256(archive),
        "database": "wikidb",
        "db_server": "localhost",
        "api_url": "http://localhost/wiki/api.php",
        "reload_services": ["apache2"],
        "keep_releases": 3,
        "read_only_message": MESSAGE,
        "backup_dir": str(tmp_path / "backups"),
        "run_id": RUN_ID,
        "health_checks": [],
        "health_retries": 3,
        "health_delay": 2,
    }
    params.update(overrides)
    return params


def _tree(top):
    """Everything a change could touch: names, kinds, link targets, contents, inodes, times."""
    seen = {}
    for directory, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(directory, name)
            info = os.lstat(path)
            if os.path.islink(path):
                what = ("link", os.readlink(path))
            elif os.path.isdir(path):
                what = ("dir",)
            else:
                with open(path, "rb") as handle:
                    what = ("file", handle.read())
            seen[os.path.relpath(path, top)] = (*what, info.st_ino, info.st_mode, info.st_mtime_ns)
    return seen


def _schema_state(tmp_path):
    return json.loads((tmp_path / "state" / "cms-schema.json").read_text())


# success


def test_a_switch_carries_the_site_and_records_its_schema(wiki, tmp_path):
    fake, archive = wiki
    old = fake.root / "releases" / "1.39.17"
    new = fake.root / "releases" / "1.39.18"
    switch = _switch(fake, tmp_path)
    result = switch.switch(_params(fake, archive, tmp_path))

    assert result["changed"] is True
    assert result["msg"] == f"{fake.root} switched from 1.39.17 to 1.39.18"
    assert (result["from"], result["to"]) == ("1.39.17", "1.39.18")
    assert os.readlink(fake.root / "current") == "releases/1.39.18"
    assert code_version(str(fake.root / "current")) == "1.39.18"
    assert (new / "index.php").read_text() == "<?php // 1.39.18\n"
    # Site data is carried; the code of the new release is its own.
    assert (new / "LocalSettings.php").read_text() == LOCAL_SETTINGS
    assert (old / "LocalSettings.php").read_text() == LOCAL_SETTINGS
    upload = new / "images" / "a" / "ab" / "Logo.png"
    assert os.stat(upload).st_ino == os.stat(old / "images" / "a" / "ab" / "Logo.png").st_ino
    assert not (new / "images" / "README").exists()
    assert (new / "extensions" / "Custom" / "extension.json").read_text() == '{"version": "1.0"}\n'
    assert (new / "extensions" / "Cite" / "extension.json").read_text() == '{"version": "new"}\n'
    assert (new / "skins" / "Vector" / "skin.json").read_text() == '{"version": "new"}\n'
    assert [p.name for p in (fake.root / "releases").iterdir() if p.name.startswith(".")] == []

    assert result["steps"] == [
        "archive mediawiki-1.39.18.tar.gz verified (SHA-256)",
        "unpacked releases/1.39.18; carried LocalSettings.php, images, extensions/Custom",
        "database wikidb dumped",
        "wiki read-only for visitors",
        "update.php --quick done",
        "current -> releases/1.39.18",
        "wiki writable again",
    ]
    assert switch.warnings == []
    # Visitors could not write while the schema changed under them.
    assert fake.read_only_during_update == [True]
    kinds = [(kind, os.path.basename(argv[0])) for kind, argv, _cwd, _data in fake.events]
    assert kinds == [
        ("run", "tar"),
        ("popen", "mariadb-dump"),
        ("run", "php"),
        ("run", "systemctl"),
    ]
    tar, dump, php, reload_ = fake.events
    assert tar[1][-2:] == ["--strip-components=1", "--no-same-owner"]
    assert dump[1][1:] == [
        "--user=root",
        "--protocol=socket",
        "--single-transaction",
        "--routines",
        "--triggers",
        "--databases",
        "wikidb",
    ]
    assert (php[1], php[2]) == (["php", "maintenance/update.php", "--quick"], str(new))
    assert reload_[1] == ["systemctl", "reload", "apache2"]

    backup = tmp_path / "backups" / "cms" / RUN_ID
    assert result["backup"] == str(backup)
    assert result["database_dump"] == str(backup / "wikidb.sql.gz")
    with gzip.open(backup / "wikidb.sql.gz", "rt") as handle:
        assert handle.read() == DUMP_SQL
    assert [h["ok"] for h in result["health"]] == [True]
    assert _schema_state(tmp_path) == {os.path.realpath(fake.root): "1.39.18"}
    assert result["pruned"] == []


def test_old_releases_are_pruned_but_failed_ones_kept(wiki, tmp_path):
    fake, archive = wiki
    releases = fake.root / "releases"
    _release(releases, "1.39.15")
    _release(releases, "1.39.16")
    failed = _release(releases, "1.39.16.failed-run-0")
    _write(failed / FAILED_MARKER, '{"run_id": "run-0"}')
    result = _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path, keep_releases=2))
    assert result["pruned"] == ["1.39.15", "1.39.16"]
    assert sorted(p.name for p in releases.iterdir()) == [
        "1.39.16.failed-run-0",
        "1.39.17",
        "1.39.18",
    ]


def test_a_site_root_reached_through_a_symlink_keeps_its_current_release(tmp_path):
    # /var/www -> /srv/data/sites is common; the release in use must never be pruned.
    real = tmp_path / "srv" / "data" / "sites"
    _release(real / "wiki" / "releases", "1.39.17")
    os.symlink("releases/1.39.17", real / "wiki" / "current")
    (tmp_path / "var").mkdir()
    os.symlink(real, tmp_path / "var" / "www")
    fake = FakeWiki(tmp_path, tmp_path / "var" / "www" / "wiki")
    archive = _archive(tmp_path / "dist", "1.39.18")
    result = _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path, keep_releases=1))
    assert result["pruned"] == ["1.39.17"]
    assert code_version(str(fake.root / "current")) == "1.39.18"
    assert _schema_state(tmp_path) == {str(real / "wiki"): "1.39.18"}


def test_a_release_is_downloaded_into_the_run_directory(wiki, tmp_path):
    fake, archive = wiki
    asked = []

    def opener(url, timeout):
        asked.append((url, timeout))
        return io.BytesIO(archive.read_bytes())

    url = "https://releases.wikimedia.org/mediawiki/1.39/mediawiki-1.39.18.tar.gz"
    params = _params(fake, archive, tmp_path, path=None, url=url)
    result = _switch(fake, tmp_path, opener=opener).switch(params)
    assert asked == [(url, 60)]
    assert (tmp_path / "backups" / "cms" / RUN_ID / "mediawiki-1.39.18.tar.gz").exists()
    assert result["changed"] is True


def test_a_failed_download_names_no_credentials_and_changes_nothing(wiki, tmp_path):
    fake, archive = wiki

    def opener(url, timeout):
        raise OSError("connection refused")

    url = "https://mirror:PLANTED-pw@mirror.example/mediawiki-1.39.18.tar.gz"
    params = _params(fake, archive, tmp_path, path=None, url=url)
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path, opener=opener).switch(params)
    assert excinfo.value.msg.startswith(
        "downloading https://mirror.example/mediawiki-1.39.18.tar.gz failed, nothing changed"
    )
    assert "PLANTED-pw" not in excinfo.value.msg
    assert not (fake.root / "releases" / "1.39.18").exists()


def test_a_site_already_on_the_release_is_unchanged(wiki, tmp_path):
    fake, archive = wiki
    before = _tree(tmp_path)
    params = _params(fake, archive, tmp_path, from_version="1.39.16", to_version="1.39.17")
    result = _switch(fake, tmp_path).switch(params)
    assert result["changed"] is False
    assert _tree(tmp_path) == before
    assert fake.events == []


# nothing changed


def test_check_mode_changes_nothing_at_all(wiki, tmp_path):
    fake, archive = wiki
    before = _tree(tmp_path)
    switch = _switch(fake, tmp_path, check_mode=True)
    result = switch.switch(_params(fake, archive, tmp_path))
    assert result["changed"] is True
    assert result["steps"] == [f"would switch {fake.root} from 1.39.17 to 1.39.18"]
    assert _tree(tmp_path) == before
    assert fake.events == []


def test_check_mode_leaves_a_stale_read_only_block_and_warns(wiki, tmp_path):
    fake, archive = wiki
    settings = fake.root / "releases" / "1.39.17" / "LocalSettings.php"
    settings.write_text(LOCAL_SETTINGS + read_only_block(MESSAGE))
    before = _tree(tmp_path)
    switch = _switch(fake, tmp_path, check_mode=True)
    switch.switch(_params(fake, archive, tmp_path))
    assert _tree(tmp_path) == before
    assert switch.warnings == [f"{settings} still held a read-only block from an earlier run"]


def _assert_site_untouched(fake, tmp_path):
    releases = fake.root / "releases"
    assert os.readlink(fake.root / "current") == "releases/1.39.17"
    assert sorted(p.name for p in releases.iterdir()) == ["1.39.17"]
    assert (releases / "1.39.17" / "LocalSettings.php").read_text() == LOCAL_SETTINGS
    assert not (tmp_path / "state").exists()
    assert not [c for c in fake.commands() if os.path.basename(c[0]) in ("php", "systemctl")]


def test_a_wrong_checksum_changes_nothing(wiki, tmp_path):
    fake, archive = wiki
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path, sha256="0" * 64))
    assert excinfo.value.msg == (
        f"release archive mediawiki-1.39.18.tar.gz has SHA-256 {_sha256(archive)}, not the "
        f"published {'0' * 64}; nothing changed"
    )
    _assert_site_untouched(fake, tmp_path)
    assert fake.events == []


def test_an_archive_holding_another_version_changes_nothing(wiki, tmp_path):
    fake, _archive18 = wiki
    other = _archive(tmp_path / "other", "1.39.19", top="mediawiki-1.39.18")
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, other, tmp_path, sha256=_sha256(other)))
    assert excinfo.value.msg == "the archive holds MediaWiki 1.39.19, not 1.39.18; nothing changed"
    # The unpacked tree is removed, not left as a half release.
    _assert_site_untouched(fake, tmp_path)
    assert [os.path.basename(c[0]) for c in fake.commands()] == ["tar"]


def test_a_broken_archive_changes_nothing(wiki, tmp_path):
    fake, _archive18 = wiki
    broken = tmp_path / "dist" / "broken.tar.gz"
    broken.write_bytes(b"not a tarball")
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, broken, tmp_path, sha256=_sha256(broken)))
    assert excinfo.value.msg.startswith("unpacking failed: tar exited 2: ")
    assert excinfo.value.msg.endswith("; nothing changed")
    _assert_site_untouched(fake, tmp_path)


def test_a_site_running_another_version_changes_nothing(wiki, tmp_path):
    fake, archive = wiki
    before = _tree(tmp_path)
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path, from_version="1.39.16"))
    assert excinfo.value.msg == (
        f"{fake.root} runs 1.39.17, not 1.39.16 as planned: the site changed since it was "
        "probed; nothing changed"
    )
    assert excinfo.value.result["from"] == "1.39.17"
    assert _tree(tmp_path) == before
    assert fake.events == []


def test_a_site_not_in_the_releases_layout_changes_nothing(wiki, tmp_path):
    fake, archive = wiki
    os.remove(fake.root / "current")
    os.rename(fake.root / "releases" / "1.39.17", fake.root / "current")
    with pytest.raises(ReleaseError, match="is not a symlink: the site is not in the releases"):
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert fake.events == []


def test_an_unhealthy_site_is_not_touched(wiki, tmp_path):
    fake, archive = wiki
    fake.broken_versions.add("1.39.17")
    clock = Clock()
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path, clock=clock).switch(_params(fake, archive, tmp_path))
    assert excinfo.value.msg.startswith(
        "the site fails its health checks before the update, nothing changed: "
    )
    assert clock.sleeps == [2, 2]
    _assert_site_untouched(fake, tmp_path)
    assert not (tmp_path / "backups").exists()


def test_an_existing_release_directory_is_not_overwritten(wiki, tmp_path):
    fake, archive = wiki
    _release(fake.root / "releases", "1.39.18")
    before = _tree(tmp_path)
    with pytest.raises(ReleaseError, match="releases/1.39.18 exists but is not the current"):
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert _tree(tmp_path) == before


def test_a_reused_run_id_changes_nothing(wiki, tmp_path):
    fake, archive = wiki
    (tmp_path / "backups" / "cms" / RUN_ID).mkdir(parents=True)
    with pytest.raises(ReleaseError, match="already exists, nothing changed"):
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    _assert_site_untouched(fake, tmp_path)


# rollback


def _assert_rolled_back(fake, tmp_path, result):
    releases = fake.root / "releases"
    failed = releases / f"1.39.18.failed-{RUN_ID}"
    assert os.readlink(fake.root / "current") == "releases/1.39.17"
    assert code_version(str(fake.root / "current")) == "1.39.17"
    assert sorted(p.name for p in releases.iterdir()) == ["1.39.17", failed.name]
    assert (releases / "1.39.17" / "LocalSettings.php").read_text() == LOCAL_SETTINGS
    marker = json.loads((failed / FAILED_MARKER).read_text())
    assert marker["run_id"] == RUN_ID
    assert marker["time"] == 1_750_000_000
    # The marker tells whoever inspects the release how far the run got.
    assert marker["steps"] == result["steps"]
    assert "wiki read-only for visitors" in marker["steps"]
    assert result["rolled_back"] is True
    assert result["rollback_problems"] == []
    assert result["failed_release"] == str(failed)
    assert [h["ok"] for h in result["health_after_rollback"]] == [True]
    # The database went back to the dump: dropped first, then the dump piped in.
    client = str(fake.bin / "mariadb")
    drop = [i for i, e in enumerate(fake.events) if e[0] == "run" and e[1][0] == client]
    restore = [i for i, e in enumerate(fake.events) if e[0] == "popen" and e[1][0] == client]
    assert len(drop) == 1 and len(restore) == 1 and drop[0] < restore[0]
    assert fake.events[drop[0]][3] == "DROP DATABASE IF EXISTS `wikidb`;"
    assert fake.events[restore[0]][1] == [client, "--user=root", "--protocol=socket"]
    assert fake.restored.read_text() == DUMP_SQL
    # A failed release never counts as a completed schema update.
    assert not (tmp_path / "state").exists()


def test_a_failing_update_php_is_rolled_back(wiki, tmp_path):
    fake, archive = wiki
    fake.update_rc = 1
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    exc = excinfo.value
    assert exc.msg == (
        f"{fake.root}: switching to 1.39.18 failed and was rolled back: update.php exited 1: "
        "Error 1146: Table 'wikidb.actor' doesn't exist"
    )
    _assert_rolled_back(fake, tmp_path, exc.result)
    assert exc.result["rollback_steps"] == [
        "database wikidb restored from the dump",
        "wiki writable again",
        f"failed release kept as 1.39.18.failed-{RUN_ID}",
    ]
    assert "health" not in exc.result


def test_a_failing_health_check_after_the_switch_is_rolled_back(wiki, tmp_path):
    fake, archive = wiki
    fake.broken_versions.add("1.39.18")
    clock = Clock()
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path, clock=clock).switch(_params(fake, archive, tmp_path))
    exc = excinfo.value
    assert exc.msg.startswith(
        f"{fake.root}: switching to 1.39.18 failed and was rolled back: health checks failed "
        "after the switch: http://localhost/wiki/api.php?action=query&meta=siteinfo&format=json "
        "returned HTTP 500"
    )
    _assert_rolled_back(fake, tmp_path, exc.result)
    assert exc.result["rollback_steps"] == [
        "current -> releases/1.39.17",
        "database wikidb restored from the dump",
        "wiki writable again",
        f"failed release kept as 1.39.18.failed-{RUN_ID}",
    ]
    assert [h["ok"] for h in exc.result["health"]] == [False]
    assert clock.sleeps == [2, 2]
    # PHP caches paths per process: the services reload after the switch and after the rollback.
    reloads = [c for c in fake.commands() if c[0] == "systemctl"]
    assert reloads == [["systemctl", "reload", "apache2"]] * 2


def test_a_failing_reload_is_rolled_back_and_reported(wiki, tmp_path):
    fake, archive = wiki
    fake.reload_rc = 1
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    result = excinfo.value.result
    assert "systemctl reload apache2 exited 1" in excinfo.value.msg
    assert os.readlink(fake.root / "current") == "releases/1.39.17"
    # The reload after the rollback failed too: not a clean rollback, and it says why.
    assert result["rolled_back"] is False
    assert result["rollback_problems"] == [
        "systemctl reload apache2 exited 1: Job for apache2.service failed."
    ]


def test_a_rollback_through_a_symlinked_site_root_points_at_the_old_release(tmp_path):
    real = tmp_path / "srv" / "data" / "sites"
    _release(real / "wiki" / "releases", "1.39.17")
    os.symlink("releases/1.39.17", real / "wiki" / "current")
    (tmp_path / "var").mkdir()
    os.symlink(real, tmp_path / "var" / "www")
    fake = FakeWiki(tmp_path, tmp_path / "var" / "www" / "wiki")
    fake.broken_versions.add("1.39.18")
    archive = _archive(tmp_path / "dist", "1.39.18")
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert code_version(str(fake.root / "current")) == "1.39.17"
    assert excinfo.value.result["rolled_back"] is True


def test_a_stale_read_only_block_is_removed_with_a_warning(wiki, tmp_path):
    fake, archive = wiki
    settings = fake.root / "releases" / "1.39.17" / "LocalSettings.php"
    settings.write_text(LOCAL_SETTINGS + read_only_block(MESSAGE))
    switch = _switch(fake, tmp_path)
    result = switch.switch(_params(fake, archive, tmp_path))
    assert switch.warnings == [f"{settings} still held a read-only block from an earlier run"]
    assert settings.read_text() == LOCAL_SETTINGS
    new_settings = fake.root / "releases" / "1.39.18" / "LocalSettings.php"
    assert new_settings.read_text() == LOCAL_SETTINGS
    assert result["changed"] is True


def test_a_stale_read_only_block_does_not_survive_a_rollback(wiki, tmp_path):
    fake, archive = wiki
    settings = fake.root / "releases" / "1.39.17" / "LocalSettings.php"
    settings.write_text(LOCAL_SETTINGS + read_only_block(MESSAGE))
    fake.update_rc = 1
    with pytest.raises(ReleaseError):
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert settings.read_text() == LOCAL_SETTINGS


def test_local_settings_keeps_its_mode_through_the_read_only_switch(wiki, tmp_path):
    fake, archive = wiki
    settings = fake.root / "releases" / "1.39.17" / "LocalSettings.php"
    os.chmod(settings, 0o640)
    _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert os.stat(settings).st_mode & 0o7777 == 0o640
    assert os.stat(fake.root / "releases" / "1.39.18" / "LocalSettings.php").st_mode & 0o777 == (
        0o640
    )


# parameters and the read-only block


def _valid(**overrides):
    params = {
        "site_root": "/srv/wiki",
        "from_version": "1.39.17",
        "to_version": "1.39.18",
        "url": "https://releases.wikimedia.org/mediawiki/1.39/mediawiki-1.39.18.tar.gz",
        "path": None,
        "sha256": "ab" * 32,
        "db_server": "localhost",
        "run_id": "20261130T063000-web1",
    }
    params.update(overrides)
    return params


@pytest.mark.parametrize("server", ["localhost", "127.0.0.1", "localhost:3306", "", None])
def test_a_local_database_is_accepted(server):
    assert validate_params(_valid(db_server=server)) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"db_server": "db.internal"}, "the wiki's database is on db.internal"),
        ({"db_server": "10.0.0.5:3306"}, "only a local MariaDB can be dumped"),
        ({"run_id": "../../etc"}, "run_id '../../etc' may hold only"),
        ({"run_id": ""}, "run_id '' may hold only"),
        ({"sha256": None}, "sha256 must be the 64 hex digits"),
        ({"sha256": "ab" * 31}, "sha256 must be the 64 hex digits"),
        ({"path": "/srv/mw.tar.gz"}, "give exactly one of url and path"),
        ({"url": None}, "give exactly one of url and path"),
        ({"to_version": "1.39"}, "to_version is '1.39'; expected a MediaWiki version"),
        ({"site_root": "srv/wiki"}, "must be an absolute path"),
    ],
)
def test_bad_parameters_are_refused(overrides, message):
    errors = validate_params(_valid(**overrides))
    assert len(errors) == 1
    assert message in errors[0]


def test_the_read_only_block_round_trips_to_the_original():
    original = "<?php\n$wgSitename = 'Team Wiki';\n"
    blocked = original.rstrip("\n") + "\n" + read_only_block(MESSAGE)
    assert blocked.startswith(original)
    assert without_read_only(blocked) == original
    assert without_read_only(original) is original


def test_the_read_only_block_only_stops_web_requests():
    block = read_only_block("It's being updated \\ soon")
    assert block.strip().splitlines() == [
        READ_ONLY_BEGIN,
        "if ( PHP_SAPI !== 'cli' ) {",
        "\t$wgReadOnly = 'It\\'s being updated \\\\ soon';",
        "}",
        READ_ONLY_END,
    ]


# packaged MediaWiki


@pytest.fixture
def packaged(tmp_path):
    site = tmp_path / "usr" / "share" / "mediawiki"
    _write(site / "includes" / "Defines.php", _defines("1.39.13"))
    fake = FakeWiki(tmp_path, site)
    params = {
        "site_path": str(site),
        "database": "wikidb",
        "backup_dir": str(tmp_path / "backups"),
        "run_id": "run-1-schema",
    }
    return fake, params


def test_schema_runs_update_php_in_the_site_and_records_the_version(packaged, tmp_path):
    fake, params = packaged
    result = _switch(fake, tmp_path).schema(params)
    assert result["changed"] is True
    assert result["version"] == "1.39.13"
    assert result["msg"] == f"schema of {params['site_path']} updated for 1.39.13"
    assert result["steps"] == ["database wikidb dumped", "update.php --quick done"]
    php = [e for e in fake.events if e[1][0] == "php"]
    assert [(e[1], e[2]) for e in php] == [
        (["php", "maintenance/update.php", "--quick"], params["site_path"])
    ]
    dump = tmp_path / "backups" / "cms" / "run-1-schema" / "wikidb.sql.gz"
    assert result["database_dump"] == str(dump)
    assert dump.exists()
    assert _schema_state(tmp_path) == {params["site_path"]: "1.39.13"}


def test_schema_keeps_what_other_sites_recorded(packaged, tmp_path):
    fake, params = packaged
    _write(tmp_path / "state" / "cms-schema.json", json.dumps({"/srv/wiki": "1.39.18"}))
    _switch(fake, tmp_path).schema(params)
    assert _schema_state(tmp_path) == {"/srv/wiki": "1.39.18", params["site_path"]: "1.39.13"}


def test_a_failing_schema_update_names_the_dump_and_records_nothing(packaged, tmp_path):
    fake, params = packaged
    fake.update_rc = 1
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).schema(params)
    dump = tmp_path / "backups" / "cms" / "run-1-schema" / "wikidb.sql.gz"
    assert excinfo.value.msg.endswith(f"; the database as it was is in {dump}")
    assert "update.php exited 1" in excinfo.value.msg
    assert not (tmp_path / "state").exists()


def test_schema_in_check_mode_runs_nothing(packaged, tmp_path):
    fake, params = packaged
    before = _tree(tmp_path)
    result = _switch(fake, tmp_path, check_mode=True).schema(params)
    assert result["changed"] is True
    assert fake.events == []
    assert _tree(tmp_path) == before
