# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release switch on a real directory tree, with the host's services faked."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import (
    MAINTENANCE_MARKER,
    READ_ONLY_BEGIN,
    READ_ONLY_END,
    ReleaseError,
    ReleaseSwitch,
    WordPress,
    read_only_block,
    run_id_errors,
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
# What LocalSettings.php holds while visitors are kept from writing.
READ_ONLY_SETTINGS = LOCAL_SETTINGS.rstrip("\n") + "\n" + read_only_block(MESSAGE)
WP_CONFIG = (
    "<?php\n"
    "define( 'DB_NAME', 'blogdb' );\n"
    "define( 'DB_PASSWORD', 'PLANTED-wp-secret' );\n"
    "$table_prefix = 'wp_';\n"
    "require_once ABSPATH . 'wp-settings.php';\n"
)
HTACCESS = (
    "# BEGIN WordPress\nRewriteEngine On\nRewriteRule . /blog/index.php [L]\n# END WordPress\n"
)
DUMP_ERROR = (
    "mariadb-dump: Got error: 2002: \"Can't connect to local server through socket "
    "'/run/mysqld/mysqld.sock' (2)\" when trying to connect\n"
)
NOW = 1_750_000_000
SITEINFO = "http://localhost/wiki/api.php?action=query&meta=siteinfo&format=json"


def _defines(version):
    return f"<?php\ndefine( 'MW_VERSION', '{version}' );\ndefine( 'DB_PRIMARY', -2 );\n"


def _wp_version_php(version):
    return f"<?php\n$wp_version = '{version}';\n$wp_db_version = 53496;\n"


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


def _wp_release(releases, version):
    release = releases / version
    _write(release / "wp-includes" / "version.php", _wp_version_php(version))
    _write(release / "index.php", f"<?php // WordPress {version}\n")
    _write(release / "wp-config.php", WP_CONFIG)
    _write(release / ".htaccess", HTACCESS)
    _write(release / "wp-content" / "uploads" / "a.jpg", "JPEG upload")
    _write(release / "wp-content" / "plugins" / "custom" / "custom.php", "<?php // custom\n")
    return release


def _tarball(path, top, files):
    """A release archive as published: one top directory holding the code."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    return path


def _archive(directory, version, top=None):
    files = {
        "includes/Defines.php": _defines(version),
        "index.php": f"<?php // {version}\n",
        "maintenance/update.php": "<?php // update\n",
        "extensions/Cite/extension.json": '{"version": "new"}\n',
        "skins/Vector/skin.json": '{"version": "new"}\n',
        # Tarballs ship images/ with a README; the site's uploads must win.
        "images/README": "uploads go here\n",
    }
    return _tarball(directory / f"mediawiki-{version}.tar.gz", top or f"mediawiki-{version}", files)


def _wp_archive(directory, version):
    files = {
        "wp-includes/version.php": _wp_version_php(version),
        "index.php": f"<?php // WordPress {version}\n",
        "wp-load.php": "<?php // load\n",
        "wp-admin/includes/upgrade.php": "<?php // upgrade\n",
        "wp-config-sample.php": "<?php // sample\n",
        # Tarballs ship wp-content with the bundled plugins; the site's wp-content must win.
        "wp-content/index.php": "<?php // Silence is golden.\n",
        "wp-content/plugins/akismet/akismet.php": "<?php // akismet\n",
    }
    return _tarball(directory / f"wordpress-{version}.tar.gz", "wordpress", files)


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _kind_of(release):
    wordpress = os.path.exists(os.path.join(release, "wp-includes", "version.php"))
    return "wordpress" if wordpress else "mediawiki"


def _held(release):
    """What would keep visitors of ``release`` from writing: LocalSettings.php or .maintenance."""
    name = ".maintenance" if _kind_of(release) == "wordpress" else "LocalSettings.php"
    try:
        with open(os.path.join(release, name), encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _wp_maintenance_active(text, now):
    # As wp_is_maintenance_mode(): an $upgrading older than ten minutes no longer counts,
    # and "time()" is evaluated per request, so it always does.
    if "$upgrading = time();" in text:
        return True
    match = re.search(r"\$upgrading\s*=\s*(\d+)", text)
    return bool(match) and now - int(match.group(1)) < 600


class FakeSite:
    """The host around a site: tar runs for real; PHP, systemd and MariaDB are answered here."""

    def __init__(self, tmp_path, root):
        self.root = root
        self.events = []
        self.asked = []
        self.php_rc = 0
        self.php_error = "Error 1146: Table 'wikidb.actor' doesn't exist\n"
        self.reload_rc = 0
        self.dump_rc = 0
        self.broken_versions = set()
        self.during_dump = []
        self.during_schema = []
        self.restored = tmp_path / "restored.sql"
        self.bin = tmp_path / "bin"
        self.bin.mkdir(exist_ok=True)
        # Only their existence is looked at; every call goes through the fakes.
        for name in ("mariadb", "mariadb-dump"):
            (self.bin / name).write_text("")

    def commands(self):
        return [event[1] for event in self.events]

    def maintenance(self):
        """Per release directory, what holds its visitors off at this moment."""
        releases = self.root / "releases"
        if not releases.is_dir():
            return {}
        return {
            p.name: _held(str(p)) for p in sorted(releases.iterdir()) if not p.name.startswith(".")
        }

    def __call__(self, argv, environ_update=None, cwd=None, data=None):
        self.events.append(("run", list(argv), cwd, data, environ_update))
        name = os.path.basename(argv[0])
        if name == "tar":
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            return done.returncode, done.stdout, done.stderr
        if name == "php":
            self.during_schema.append(self.maintenance())
            if self.php_rc:
                return self.php_rc, "", self.php_error
            return 0, "...done.\n", ""
        if name == "systemctl":
            return self.reload_rc, "", "Job for apache2.service failed.\n" if self.reload_rc else ""
        if name == "mariadb":
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")

    def popen(self, argv, **kwargs):
        self.events.append(("popen", list(argv), None, None, None))
        name = os.path.basename(argv[0])
        if name == "mariadb-dump":
            self.during_dump.append(self.maintenance())
            script = f"import sys; sys.stdout.write({DUMP_SQL!r})"
            if self.dump_rc:
                script += f"; sys.stderr.write({DUMP_ERROR!r}); sys.exit({self.dump_rc})"
        elif name == "mariadb":
            script = (
                f"import sys; open({str(self.restored)!r}, 'wb').write(sys.stdin.buffer.read())"
            )
        else:
            raise AssertionError(f"unexpected process {argv}")
        return subprocess.Popen([sys.executable, "-c", script], **kwargs)

    def http(self, url, follow_redirects, timeout, headers=None):
        self.asked.append((url, follow_redirects))
        # The site answers from whatever code `current` resolves to now.
        release = os.path.realpath(self.root / "current")
        kind = _kind_of(release)
        version = code_version(release, kind)
        if version is None or version in self.broken_versions:
            return 500, "<h1>Internal Server Error</h1>"
        if kind == "mediawiki":
            body = {
                "batchcomplete": "",
                "query": {"general": {"generator": f"MediaWiki {version}"}},
            }
            return 200, json.dumps(body, separators=(",", ":"))
        maintenance = _held(release)
        if maintenance is not None and _wp_maintenance_active(maintenance, NOW):
            return 503, "<h1>Briefly unavailable for scheduled maintenance.</h1>"
        return 200, (
            "<!DOCTYPE html>\n<html><head>\n"
            f'<meta name="generator" content="WordPress {version}" />\n'
            "</head><body>Team Blog</body></html>\n"
        )


class Clock:
    def __init__(self):
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)

    @staticmethod
    def now():
        return NOW


@pytest.fixture
def wiki(tmp_path):
    root = tmp_path / "site"
    releases = root / "releases"
    _release(releases, "1.39.17")
    os.symlink("releases/1.39.17", root / "current")
    archive = _archive(tmp_path / "dist", "1.39.18")
    return FakeSite(tmp_path, root), archive


@pytest.fixture
def blog(tmp_path):
    root = tmp_path / "blog"
    _wp_release(root / "releases", "6.1.9")
    os.symlink("releases/6.1.9", root / "current")
    archive = _wp_archive(tmp_path / "dist", "6.1.10")
    return FakeSite(tmp_path, root), archive


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
        "kind": "mediawiki",
        "site_root": str(fake.root),
        "from_version": "1.39.17",
        "to_version": "1.39.18",
        "url": None,
        "path": str(archive),
        "sha256": _sha256(archive),
        "database": "wikidb",
        "db_server": "localhost",
        "site_url": "http://localhost/wiki",
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


def _wp_params(fake, archive, tmp_path, **overrides):
    wordpress = {
        "kind": "wordpress",
        "from_version": "6.1.9",
        "to_version": "6.1.10",
        "database": "blogdb",
        "site_url": "http://localhost/blog",
    }
    return _params(fake, archive, tmp_path, **{**wordpress, **overrides})


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
        "site in maintenance mode for visitors",
        "database wikidb dumped",
        "update.php --quick done",
        "current -> releases/1.39.18",
        "maintenance mode lifted",
    ]
    assert switch.warnings == []
    # No visitor's write lands after the dump, whichever release serves it: the running
    # one until the switch, the new one after it.
    held = {"1.39.17": READ_ONLY_SETTINGS, "1.39.18": READ_ONLY_SETTINGS}
    assert fake.during_dump == [held]
    assert fake.during_schema == [held]
    kinds = [(kind, os.path.basename(argv[0])) for kind, argv, *_rest in fake.events]
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
    assert (php[1], php[2], php[4]) == (
        ["php", "maintenance/update.php", "--quick"],
        str(new),
        {"LC_ALL": "C"},
    )
    assert reload_[1] == ["systemctl", "reload", "apache2"]
    # Before and after: the served version is read from api.php's siteinfo.
    assert fake.asked == [(SITEINFO, False)] * 2

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
    fake = FakeSite(tmp_path, tmp_path / "var" / "www" / "wiki")
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
        "downloading https://mirror:***@mirror.example/mediawiki-1.39.18.tar.gz failed, "
        "nothing changed"
    )
    assert "PLANTED-pw" not in excinfo.value.msg
    _assert_site_untouched(fake, tmp_path)


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
    settings.write_text(READ_ONLY_SETTINGS)
    before = _tree(tmp_path)
    switch = _switch(fake, tmp_path, check_mode=True)
    switch.switch(_params(fake, archive, tmp_path))
    assert _tree(tmp_path) == before
    assert switch.warnings == [f"{settings} still held maintenance mode from an earlier run"]


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


def test_uploads_that_cannot_be_hard_linked_change_nothing(wiki, tmp_path, monkeypatch):
    # images/ on another file system (a bind mount) cannot be hard-linked into the release.
    fake, archive = wiki

    def cross_device(src, dst, *args, **kwargs):
        raise OSError(errno.EXDEV, "Invalid cross-device link", src)

    monkeypatch.setattr(os, "link", cross_device)
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert "Invalid cross-device link" in excinfo.value.msg
    assert excinfo.value.msg.endswith("; nothing changed")
    _assert_site_untouched(fake, tmp_path)
    assert [os.path.basename(c[0]) for c in fake.commands()] == ["tar"]


def test_an_os_error_before_tar_runs_is_reported_as_nothing_changed(wiki, tmp_path):
    fake, archive = wiki
    leftover = _write(fake.root / "releases" / f".partial-1.39.18-{RUN_ID}" / "index.php", "half")
    before = _tree(fake.root)
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert excinfo.value.msg == (
        f"[Errno {errno.EEXIST}] File exists: '{leftover.parent}'; nothing changed"
    )
    assert excinfo.value.result["from"] == "1.39.17"
    # Whoever left that tree, it is not this run's to remove.
    assert _tree(fake.root) == before
    assert fake.commands() == []


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


def test_a_failed_dump_lifts_maintenance_mode_and_changes_nothing(wiki, tmp_path):
    fake, archive = wiki
    fake.dump_rc = 2
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert excinfo.value.msg == (
        "database dump failed, nothing changed: mariadb-dump exited 2: " + DUMP_ERROR.strip()
    )
    # The dump ran with both releases read-only, so both blocks had to go again.
    assert fake.during_dump == [{"1.39.17": READ_ONLY_SETTINGS, "1.39.18": READ_ONLY_SETTINGS}]
    _assert_site_untouched(fake, tmp_path)
    # A cut-off dump is no backup: nothing in the run directory claims to be one.
    assert os.listdir(tmp_path / "backups" / "cms" / RUN_ID) == []
    assert "database_dump" not in excinfo.value.result


# rollback


def _assert_restored(fake, database):
    """The database went back to the dump: dropped first, then the dump piped in."""
    client = str(fake.bin / "mariadb")
    drop = [i for i, e in enumerate(fake.events) if e[0] == "run" and e[1][0] == client]
    restore = [i for i, e in enumerate(fake.events) if e[0] == "popen" and e[1][0] == client]
    assert len(drop) == 1 and len(restore) == 1 and drop[0] < restore[0]
    assert fake.events[drop[0]][3] == f"DROP DATABASE IF EXISTS `{database}`;"
    assert fake.events[restore[0]][1] == [client, "--user=root", "--protocol=socket"]
    assert fake.restored.read_text() == DUMP_SQL


def _assert_rolled_back(fake, tmp_path, result):
    releases = fake.root / "releases"
    failed = releases / f"1.39.18.failed-{RUN_ID}"
    assert os.readlink(fake.root / "current") == "releases/1.39.17"
    assert code_version(str(fake.root / "current")) == "1.39.17"
    assert sorted(p.name for p in releases.iterdir()) == ["1.39.17", failed.name]
    assert (releases / "1.39.17" / "LocalSettings.php").read_text() == LOCAL_SETTINGS
    # The kept release must not lock out visitors should someone switch to it by hand.
    assert (failed / "LocalSettings.php").read_text() == LOCAL_SETTINGS
    marker = json.loads((failed / FAILED_MARKER).read_text())
    assert marker["run_id"] == RUN_ID
    assert marker["time"] == NOW
    # The marker tells whoever inspects the release how far the run got.
    assert marker["steps"] == result["steps"]
    assert "site in maintenance mode for visitors" in marker["steps"]
    assert result["rolled_back"] is True
    assert result["rollback_problems"] == []
    assert result["failed_release"] == str(failed)
    assert [h["ok"] for h in result["health_after_rollback"]] == [True]
    _assert_restored(fake, "wikidb")
    # A failed release never counts as a completed schema update.
    assert not (tmp_path / "state").exists()


def test_a_failing_update_php_is_rolled_back(wiki, tmp_path):
    fake, archive = wiki
    fake.php_rc = 1
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    exc = excinfo.value
    assert exc.msg == (
        f"{fake.root}: switching to 1.39.18 failed and was rolled back: update.php --quick "
        "exited 1: Error 1146: Table 'wikidb.actor' doesn't exist"
    )
    _assert_rolled_back(fake, tmp_path, exc.result)
    assert exc.result["rollback_steps"] == [
        "database wikidb restored from the dump",
        "maintenance mode lifted",
        f"failed release kept as 1.39.18.failed-{RUN_ID}",
    ]
    assert "health" not in exc.result


def test_a_named_socket_is_used_for_the_dump_and_the_restore(wiki, tmp_path):
    fake, archive = wiki
    fake.php_rc = 1
    params = _params(fake, archive, tmp_path, db_server="localhost:/run/mysqld/site.sock")
    with pytest.raises(ReleaseError):
        _switch(fake, tmp_path).switch(params)
    database_commands = [
        event[1] for event in fake.events if "mariadb" in os.path.basename(event[1][0])
    ]
    # The dump, the DROP DATABASE and the re-import all go to the site's own server.
    assert len(database_commands) == 3
    assert all("--socket=/run/mysqld/site.sock" in argv for argv in database_commands)


def test_a_failing_health_check_after_the_switch_is_rolled_back(wiki, tmp_path):
    fake, archive = wiki
    fake.broken_versions.add("1.39.18")
    clock = Clock()
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path, clock=clock).switch(_params(fake, archive, tmp_path))
    exc = excinfo.value
    assert exc.msg.startswith(
        f"{fake.root}: switching to 1.39.18 failed and was rolled back: health checks failed "
        f"after the switch: {SITEINFO} returned HTTP 500"
    )
    _assert_rolled_back(fake, tmp_path, exc.result)
    assert exc.result["rollback_steps"] == [
        "current -> releases/1.39.17",
        "database wikidb restored from the dump",
        "maintenance mode lifted",
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
    fake = FakeSite(tmp_path, tmp_path / "var" / "www" / "wiki")
    fake.broken_versions.add("1.39.18")
    archive = _archive(tmp_path / "dist", "1.39.18")
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_params(fake, archive, tmp_path))
    assert code_version(str(fake.root / "current")) == "1.39.17"
    assert excinfo.value.result["rolled_back"] is True


# maintenance mode of MediaWiki


@pytest.mark.parametrize("php_rc", [0, 1], ids=["success", "rollback"])
def test_each_local_settings_is_read_only_during_the_update_and_then_as_it_was(
    wiki, tmp_path, php_rc
):
    # The new release's LocalSettings.php is a copy: it needs a block of its own, or
    # visitors could write through the new code between the switch and the lift.
    fake, archive = wiki
    fake.php_rc = php_rc
    releases = fake.root / "releases"
    os.chmod(releases / "1.39.17" / "LocalSettings.php", 0o640)
    switch = _switch(fake, tmp_path)
    if php_rc:
        with pytest.raises(ReleaseError):
            switch.switch(_params(fake, archive, tmp_path))
        new = releases / f"1.39.18.failed-{RUN_ID}"
    else:
        switch.switch(_params(fake, archive, tmp_path))
        new = releases / "1.39.18"
    assert fake.during_schema == [{"1.39.17": READ_ONLY_SETTINGS, "1.39.18": READ_ONLY_SETTINGS}]
    for settings in (releases / "1.39.17" / "LocalSettings.php", new / "LocalSettings.php"):
        assert settings.read_text() == LOCAL_SETTINGS
        assert os.stat(settings).st_mode & 0o7777 == 0o640


@pytest.mark.parametrize("php_rc", [0, 1], ids=["success", "rollback"])
def test_a_shared_local_settings_gets_one_block_and_stays_shared(wiki, tmp_path, php_rc):
    fake, archive = wiki
    fake.php_rc = php_rc
    releases = fake.root / "releases"
    shared = _write(tmp_path / "etc" / "mediawiki" / "LocalSettings.php", LOCAL_SETTINGS)
    os.remove(releases / "1.39.17" / "LocalSettings.php")
    os.symlink(shared, releases / "1.39.17" / "LocalSettings.php")
    switch = _switch(fake, tmp_path)
    if php_rc:
        with pytest.raises(ReleaseError):
            switch.switch(_params(fake, archive, tmp_path))
        new = releases / f"1.39.18.failed-{RUN_ID}"
    else:
        switch.switch(_params(fake, archive, tmp_path))
        new = releases / "1.39.18"
    # Both releases read the one file: a second block would be left behind by the undo.
    assert fake.during_schema == [{"1.39.17": READ_ONLY_SETTINGS, "1.39.18": READ_ONLY_SETTINGS}]
    assert os.readlink(releases / "1.39.17" / "LocalSettings.php") == str(shared)
    assert os.readlink(new / "LocalSettings.php") == str(shared)
    assert shared.read_text() == LOCAL_SETTINGS


def test_a_stale_read_only_block_is_removed_with_a_warning(wiki, tmp_path):
    fake, archive = wiki
    settings = fake.root / "releases" / "1.39.17" / "LocalSettings.php"
    settings.write_text(READ_ONLY_SETTINGS)
    switch = _switch(fake, tmp_path)
    result = switch.switch(_params(fake, archive, tmp_path))
    assert switch.warnings == [f"{settings} still held maintenance mode from an earlier run"]
    # Removed before the copy: the new release gets one block of its own, not two.
    assert fake.during_schema == [{"1.39.17": READ_ONLY_SETTINGS, "1.39.18": READ_ONLY_SETTINGS}]
    assert settings.read_text() == LOCAL_SETTINGS
    new_settings = fake.root / "releases" / "1.39.18" / "LocalSettings.php"
    assert new_settings.read_text() == LOCAL_SETTINGS
    assert result["changed"] is True


def test_a_stale_read_only_block_does_not_survive_a_rollback(wiki, tmp_path):
    fake, archive = wiki
    settings = fake.root / "releases" / "1.39.17" / "LocalSettings.php"
    settings.write_text(READ_ONLY_SETTINGS)
    fake.php_rc = 1
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


# WordPress


def _files(top):
    return sorted(
        os.path.relpath(os.path.join(directory, name), top)
        for directory, _dirs, files in os.walk(top)
        for name in files
    )


def test_a_wordpress_switch_carries_the_site_and_runs_wp_upgrade(blog, tmp_path):
    fake, archive = blog
    releases = fake.root / "releases"
    old, new = releases / "6.1.9", releases / "6.1.10"
    config = old / "wp-config.php"
    os.chmod(config, 0o640)
    if os.geteuid() == 0:
        # Only root can give a file away; otherwise equal owners would prove nothing.
        os.chown(config, 33, 33)
    old_tree = _tree(old)
    switch = _switch(fake, tmp_path)
    result = switch.switch(_wp_params(fake, archive, tmp_path))

    assert result["changed"] is True
    assert result["msg"] == f"{fake.root} switched from 6.1.9 to 6.1.10"
    assert os.readlink(fake.root / "current") == "releases/6.1.10"
    assert code_version(str(fake.root / "current"), "wordpress") == "6.1.10"
    assert (new / "index.php").read_text() == "<?php // WordPress 6.1.10\n"
    # wp-config.php holds the database password: same text, mode and owner.
    assert (new / "wp-config.php").read_text() == WP_CONFIG
    was, now = os.stat(config), os.stat(new / "wp-config.php")
    assert (now.st_mode, now.st_uid, now.st_gid) == (was.st_mode, was.st_uid, was.st_gid)
    assert (new / ".htaccess").read_text() == HTACCESS
    # wp-content is the site's, hard-linked: the bundled one of the tarball does not win.
    for name in ("uploads/a.jpg", "plugins/custom/custom.php"):
        linked = os.stat(new / "wp-content" / name).st_ino
        assert linked == os.stat(old / "wp-content" / name).st_ino
    assert _files(new / "wp-content") == _files(old / "wp-content")
    assert not (new / ".maintenance").exists()
    # Maintenance mode left no trace in the release that ran until now.
    assert _tree(old) == old_tree

    assert result["steps"] == [
        "archive wordpress-6.1.10.tar.gz verified (SHA-256)",
        "unpacked releases/6.1.10; carried wp-config.php, .htaccess, wp-content",
        "site in maintenance mode for visitors",
        "database blogdb dumped",
        "wp_upgrade() done",
        "current -> releases/6.1.10",
        "maintenance mode lifted",
    ]
    assert switch.warnings == []
    # Visitors of the running release get WordPress's maintenance page from before the dump
    # until the switch; the new release has none, or its health check could not pass.
    (held,) = fake.during_schema
    assert held["6.1.10"] is None
    assert MAINTENANCE_MARKER in held["6.1.9"]
    # WordPress drops maintenance mode after ten minutes; a long dump must not outlast it.
    assert _wp_maintenance_active(held["6.1.9"], NOW + 3600)
    assert fake.during_dump == fake.during_schema

    kinds = [(kind, os.path.basename(argv[0])) for kind, argv, *_rest in fake.events]
    assert kinds == [
        ("run", "tar"),
        ("popen", "mariadb-dump"),
        ("run", "php"),
        ("run", "systemctl"),
    ]
    _tar, dump, php, _reload = fake.events
    assert dump[1][-2:] == ["--databases", "blogdb"]
    assert php[1][:2] == ["php", "-r"] and len(php[1]) == 3
    snippet = php[1][2]
    assert "require 'wp-load.php';" in snippet
    assert "wp_upgrade();" in snippet
    assert "getenv( 'SLA_HTTP_HOST' )" in snippet
    # wp-load.php is found relative to the working directory: the new release's code.
    assert php[2] == str(new)
    assert php[4] == {"SLA_HTTP_HOST": "localhost", "LC_ALL": "C"}
    # The served version shows in the home page's generator tag, behind any redirect.
    assert fake.asked == [("http://localhost/blog/", True)] * 2
    assert [h["ok"] for h in result["health"]] == [True]
    assert _schema_state(tmp_path) == {os.path.realpath(fake.root): "6.1.10"}


def test_a_failing_wp_upgrade_is_rolled_back(blog, tmp_path):
    fake, archive = blog
    fake.php_rc = 1
    fake.php_error = "WordPress database error Table 'blogdb.wp_options' doesn't exist\n"
    releases = fake.root / "releases"
    old = releases / "6.1.9"
    failed = releases / f"6.1.10.failed-{RUN_ID}"
    old_tree = _tree(old)
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_wp_params(fake, archive, tmp_path))
    exc = excinfo.value
    assert exc.msg == (
        f"{fake.root}: switching to 6.1.10 failed and was rolled back: wp_upgrade() exited 1: "
        "WordPress database error Table 'blogdb.wp_options' doesn't exist"
    )
    assert os.readlink(fake.root / "current") == "releases/6.1.9"
    assert code_version(str(fake.root / "current"), "wordpress") == "6.1.9"
    assert sorted(p.name for p in releases.iterdir()) == sorted(["6.1.9", failed.name])
    # No .maintenance left behind, and nothing else of the running release touched.
    assert _tree(old) == old_tree
    assert not (failed / ".maintenance").exists()
    marker = json.loads((failed / FAILED_MARKER).read_text())
    assert (marker["run_id"], marker["time"]) == (RUN_ID, NOW)
    assert marker["steps"] == exc.result["steps"]
    assert exc.result["rollback_steps"] == [
        "database blogdb restored from the dump",
        "maintenance mode lifted",
        f"failed release kept as 6.1.10.failed-{RUN_ID}",
    ]
    assert exc.result["rolled_back"] is True
    assert exc.result["failed_release"] == str(failed)
    # The fake answers 503 while .maintenance is there: it was lifted before this check.
    assert [h["ok"] for h in exc.result["health_after_rollback"]] == [True]
    _assert_restored(fake, "blogdb")
    assert not (tmp_path / "state").exists()


def test_a_failed_dump_of_a_wordpress_site_lifts_maintenance_mode(blog, tmp_path):
    fake, archive = blog
    fake.dump_rc = 2
    releases = fake.root / "releases"
    old_tree = _tree(releases / "6.1.9")
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).switch(_wp_params(fake, archive, tmp_path))
    assert excinfo.value.msg.startswith("database dump failed, nothing changed: ")
    assert MAINTENANCE_MARKER in fake.during_dump[0]["6.1.9"]
    assert os.readlink(fake.root / "current") == "releases/6.1.9"
    assert sorted(p.name for p in releases.iterdir()) == ["6.1.9"]
    assert _tree(releases / "6.1.9") == old_tree
    assert not [c for c in fake.commands() if os.path.basename(c[0]) in ("php", "systemctl")]


def test_a_stale_maintenance_file_of_ours_is_removed_with_a_warning(blog, tmp_path):
    fake, archive = blog
    stale = _write(
        fake.root / "releases" / "6.1.9" / ".maintenance",
        f"<?php {MAINTENANCE_MARKER} $upgrading = time(); ?>\n",
    )
    switch = _switch(fake, tmp_path)
    result = switch.switch(_wp_params(fake, archive, tmp_path))
    assert switch.warnings == [f"{stale} still held maintenance mode from an earlier run"]
    assert not stale.exists()
    assert result["changed"] is True


def test_check_mode_leaves_a_stale_maintenance_file_and_warns(blog, tmp_path):
    fake, archive = blog
    stale = _write(
        fake.root / "releases" / "6.1.9" / ".maintenance",
        f"<?php {MAINTENANCE_MARKER} $upgrading = time(); ?>\n",
    )
    before = _tree(tmp_path)
    switch = _switch(fake, tmp_path, check_mode=True)
    switch.switch(_wp_params(fake, archive, tmp_path))
    assert _tree(tmp_path) == before
    assert switch.warnings == [f"{stale} still held maintenance mode from an earlier run"]


def test_wordpress_own_maintenance_file_is_left_alone(blog, tmp_path):
    # WordPress writes one while it updates itself; that update must not be raced.
    fake, archive = blog
    _write(fake.root / "releases" / "6.1.9" / ".maintenance", f"<?php $upgrading = {NOW - 60}; ?>")
    before = _tree(tmp_path)
    switch = _switch(fake, tmp_path)
    with pytest.raises(ReleaseError) as excinfo:
        switch.switch(_wp_params(fake, archive, tmp_path))
    assert excinfo.value.msg == (
        "the site fails its health checks before the update, nothing changed: "
        "http://localhost/blog/ returned HTTP 503, expected 200"
    )
    assert switch.warnings == []
    assert _tree(tmp_path) == before


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_maintenance_file_without_our_marker_is_never_taken_for_ours(blog, tmp_path, check_mode):
    # Also one WordPress no longer honours (older than ten minutes): not ours to remove.
    fake, _archive = blog
    release = fake.root / "releases" / "6.1.9"
    theirs = _write(release / ".maintenance", "<?php $upgrading = 1700000000; ?>")
    assert WordPress.stale_read_only(str(release), check_mode) is None
    assert theirs.read_text() == "<?php $upgrading = 1700000000; ?>"


def test_wordpress_releases_are_pruned_oldest_first_by_number(blog, tmp_path):
    fake, archive = blog
    releases = fake.root / "releases"
    # 6.0 is a release name too; 6.0.10 is newer than 6.0.9 though it sorts first as text.
    for version in ("6.0", "6.0.9", "6.0.10"):
        _wp_release(releases, version)
    result = _switch(fake, tmp_path).switch(_wp_params(fake, archive, tmp_path))
    assert result["pruned"] == ["6.0", "6.0.9"]
    assert sorted(p.name for p in releases.iterdir()) == ["6.0.10", "6.1.10", "6.1.9"]


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


@pytest.mark.parametrize(
    "server", ["localhost", "127.0.0.1", "::1", "localhost:/run/mysqld/mysqld.sock", "", None]
)
def test_a_local_database_is_accepted(server):
    assert validate_params(_valid(db_server=server)) == []


@pytest.mark.parametrize(
    ("old", "new"), [("1.39.17", "1.39.18"), ("6.8.3", "6.9"), ("6.9", "6.9.1")]
)
def test_release_versions_may_have_two_or_three_parts(old, new):
    assert validate_params(_valid(from_version=old, to_version=new)) == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"db_server": "db.internal"},
            "the site's database is on db.internal: only the local MariaDB (reached through its "
            "socket) can be dumped and restored around the switch",
        ),
        ({"db_server": "10.0.0.5:3306"}, "the site's database is on 10.0.0.5:3306: only"),
        # A port may be a second server on this host while the dump reads the default socket.
        ({"db_server": "localhost:3306"}, "the site's database is on localhost:3306: only"),
        ({"db_server": "127.0.0.1:3307"}, "the site's database is on 127.0.0.1:3307: only"),
        ({"run_id": "../../etc"}, "run_id '../../etc' may hold only"),
        ({"run_id": ""}, "run_id '' may hold only"),
        ({"sha256": None}, "sha256 must be the 64 hex digits"),
        ({"sha256": "ab" * 31}, "sha256 must be the 64 hex digits"),
        ({"path": "/srv/mw.tar.gz"}, "give exactly one of url and path"),
        ({"url": None}, "give exactly one of url and path"),
        (
            {"to_version": "1.39.18-rc.1"},
            "to_version is '1.39.18-rc.1'; expected a release version like 1.39.17",
        ),
        ({"from_version": "1"}, "from_version is '1'; expected a release version like 1.39.17"),
        ({"site_root": "srv/wiki"}, "must be an absolute path"),
    ],
)
def test_bad_parameters_are_refused(overrides, message):
    errors = validate_params(_valid(**overrides))
    assert len(errors) == 1
    assert message in errors[0]


def test_run_id_errors_need_nothing_but_the_run_id():
    # Schema mode has no site_root or versions: its parameters must not trip the check.
    assert run_id_errors({"run_id": "run-1-schema", "site_path": "/usr/share/mediawiki"}) == []
    assert run_id_errors({"run_id": "../x"}) == [
        "run_id '../x' may hold only letters, digits and ._:+-"
    ]
    assert run_id_errors({"run_id": None}) == [
        "run_id None may hold only letters, digits and ._:+-"
    ]


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
    fake = FakeSite(tmp_path, site)
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
    fake.php_rc = 1
    with pytest.raises(ReleaseError) as excinfo:
        _switch(fake, tmp_path).schema(params)
    dump = tmp_path / "backups" / "cms" / "run-1-schema" / "wikidb.sql.gz"
    assert excinfo.value.msg == (
        f"{params['site_path']}: update.php --quick exited 1: Error 1146: Table 'wikidb.actor' "
        f"doesn't exist; the database as it was is in {dump}"
    )
    assert not (tmp_path / "state").exists()


def test_schema_in_check_mode_runs_nothing(packaged, tmp_path):
    fake, params = packaged
    before = _tree(tmp_path)
    result = _switch(fake, tmp_path, check_mode=True).schema(params)
    assert result["changed"] is True
    assert fake.events == []
    assert _tree(tmp_path) == before
