# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Two-phase rotation on the host, with MariaDB and the site's health played by fakes."""

from __future__ import annotations

import os

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils import credential_rotation
from ansible_collections.twovalue.sla.plugins.module_utils.credential_rotation import (
    CredentialRotation,
    RotationError,
    with_password,
)

OLD_HASH = "*" + "A" * 40
NEW = "new-secret-Zq9"
SETTINGS = '<?php\n$wgDBname = "wikidb";\n$wgDBpassword = "old-secret";\n$wgSitename = "W";\n'


class FakeMariaDB:
    """The user's password as MariaDB holds it, and every statement it was sent."""

    def __init__(self, login_fails=False):
        self.password = "old-secret"
        self.calls = []
        self.login_fails = login_fails

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        if argv[1].startswith("--defaults-extra-file="):
            with open(argv[1].split("=", 1)[1], encoding="utf-8") as handle:
                given = handle.read().split("password=", 1)[1].strip()
            ok = given == self.password and not self.login_fails
            return (0, "1\n", "") if ok else (1, "", "Access denied for user")
        if data.startswith("SHOW CREATE USER"):
            return (
                0,
                f"CREATE USER `wikiuser`@`localhost` IDENTIFIED BY PASSWORD '{OLD_HASH}'\n",
                "",
            )
        if "IDENTIFIED BY PASSWORD" in data:
            self.password = "old-secret"
        elif data.startswith("ALTER USER"):
            self.password = data.split("IDENTIFIED BY '", 1)[1].rstrip("'")
        return 0, "", ""


class FakeHealth:
    """Answers ok, or each run's answer in turn when given a list."""

    def __init__(self, ok):
        self.answers = ok if isinstance(ok, list) else None
        self.ok = ok
        self.checks = None
        self.runs = []

    def run(self, checks, retries, delay):
        self.checks = checks
        self.runs.append(checks)
        ok = self.answers.pop(0) if self.answers is not None else self.ok
        return ok, [{"check": "http", "ok": ok, "detail": "answered 500"}]


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setattr(credential_rotation, "first_existing", lambda c: "/usr/bin/mariadb")
    releases = tmp_path / "wiki" / "releases"
    (releases / "1.39.17").mkdir(parents=True)
    (releases / "1.39.18").mkdir()
    (releases / "1.39.17" / "LocalSettings.php").write_text(SETTINGS)
    # Releases carry the site's settings as hard links.
    os.link(releases / "1.39.17" / "LocalSettings.php", releases / "1.39.18" / "LocalSettings.php")
    (tmp_path / "wiki" / "current").symlink_to(releases / "1.39.18")
    return tmp_path / "wiki"


def params(site):
    return {
        "account": "wikiuser",
        "db_host": "localhost",
        "site": str(site),
        "site_url": "http://localhost/wiki",
        "health_checks": [],
        "health_retries": 1,
        "health_delay": 0,
    }


def test_success_sets_verifies_and_rewrites_every_release_copy(site):
    db, health = FakeMariaDB(), FakeHealth(True)
    result = CredentialRotation(db, health=health).rotate_db_user(params(site), NEW)
    assert db.password == NEW
    for release in ("1.39.17", "1.39.18"):
        text = (site / "releases" / release / "LocalSettings.php").read_text()
        assert f"$wgDBpassword = '{NEW}';" in text and "old-secret" not in text
    first, second = (
        os.stat(site / "releases" / r / "LocalSettings.php") for r in ("1.39.17", "1.39.18")
    )
    assert first.st_ino == second.st_ino
    assert "api.php?action=query&meta=siteinfo" in health.checks[0]["url"]
    assert result["steps"][-1] == "site healthy with the new password"
    # The secret went on stdin only: never on a command line, never in a step.
    assert all(NEW not in " ".join(argv) for argv, _data in db.calls)
    assert all(NEW not in step for step in result["steps"])


def test_an_unhealthy_site_gets_the_old_hash_and_configuration_back(site):
    db = FakeMariaDB()
    with pytest.raises(RotationError) as excinfo:
        CredentialRotation(db, health=FakeHealth(False)).rotate_db_user(params(site), NEW)
    assert excinfo.value.reverted is True
    assert "health check failed: answered 500" in excinfo.value.msg
    assert db.password == "old-secret"
    assert (site / "current" / "LocalSettings.php").read_text() == SETTINGS
    assert (site / "releases" / "1.39.17" / "LocalSettings.php").read_text() == SETTINGS
    assert any(
        data == f"ALTER USER 'wikiuser'@'localhost' IDENTIFIED BY PASSWORD '{OLD_HASH}'"
        for _argv, data in db.calls
    )


def test_a_revert_waits_until_the_site_answers_with_the_old_password(site):
    health = FakeHealth([False, True])
    with pytest.raises(RotationError) as excinfo:
        CredentialRotation(FakeMariaDB(), health=health).rotate_db_user(params(site), NEW)
    assert len(health.runs) == 2
    assert "api.php?action=query&meta=siteinfo" in health.runs[1][0]["url"]
    assert excinfo.value.steps[-1] == "site healthy again with the old password"
    assert "after the revert" not in excinfo.value.msg


def test_a_site_still_failing_after_the_revert_says_so(site):
    with pytest.raises(RotationError) as excinfo:
        CredentialRotation(FakeMariaDB(), health=FakeHealth(False)).rotate_db_user(
            params(site), NEW
        )
    assert excinfo.value.reverted is True
    assert "after the revert the site still fails: answered 500" in excinfo.value.msg


def test_a_failed_login_reverts_before_the_configuration_is_touched(site):
    db = FakeMariaDB(login_fails=True)
    with pytest.raises(RotationError, match="login with the new password: Access denied"):
        CredentialRotation(db, health=FakeHealth(True)).rotate_db_user(params(site), NEW)
    assert db.password == "old-secret"
    assert (site / "current" / "LocalSettings.php").read_text() == SETTINGS


def test_check_mode_only_reads(site):
    db = FakeMariaDB()
    result = CredentialRotation(db, check_mode=True, health=FakeHealth(True)).rotate_db_user(
        params(site), NEW
    )
    assert result["changed"] is True
    assert [data for _argv, data in db.calls] == ["SHOW CREATE USER 'wikiuser'@'localhost'"]
    assert (site / "current" / "LocalSettings.php").read_text() == SETTINGS


def test_a_user_without_a_native_password_hash_is_not_rotated(site):
    db = FakeMariaDB()
    db_answer = db.__call__

    def unix_socket_user(argv, data=None):
        if data and data.startswith("SHOW CREATE USER"):
            return 0, "CREATE USER `bob`@`localhost` IDENTIFIED VIA unix_socket\n", ""
        return db_answer(argv, data)

    with pytest.raises(RotationError, match="mysql_native_password") as excinfo:
        CredentialRotation(unix_socket_user, health=FakeHealth(True)).rotate_db_user(
            params(site), NEW
        )
    assert excinfo.value.reverted is False


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ('$wgDBpassword = "a\\"b";\n', "mediawiki", "$wgDBpassword = 'n\\'ew';\n"),
        ("  $wgDBpassword='x' ;\n", "mediawiki", "  $wgDBpassword='n\\'ew' ;\n"),
        ("define( 'DB_PASSWORD', 'x' );\n", "wordpress", "define( 'DB_PASSWORD', 'n\\'ew' );\n"),
        ("$wgDBpassword = getenv('PW');\n", "mediawiki", None),
    ],
)
def test_the_password_line_is_replaced_with_a_php_literal(text, kind, expected):
    assert with_password(text, kind, "n'ew") == expected
