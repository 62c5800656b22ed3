# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils.apt_apply import AptApply, HostPaths
from ansible_collections.twovalue.sla.plugins.module_utils.apt_packages import (
    APT_ENV,
    ApplyError,
    check_simulation,
    classify,
    restartable,
    validate_params,
)

_PLAN = [
    {"name": "apache2", "previous": "2.4.62-1~deb12u2", "version": "2.4.65-1~deb12u1"},
    {
        "name": "libapache2-mod-php8.2",
        "previous": "8.2.28-1~deb12u1",
        "version": "8.2.29-1~deb12u1",
    },
]


class FakeHost:
    """Answers the commands apt_apply runs, keeping a dpkg database in a dict."""

    def __init__(self, installed):
        self.installed = dict(installed)
        self.downloadable = {(n, v) for n, v in installed.items()}
        self.calls = []
        self.install_rc = 0
        self.install_partial = True
        self.rollback_rc = 0
        self.extra_simulation = ""
        # Simulation lines apt adds whenever the named package is in the set.
        self.simulation_extra_for = {}
        self.needrestart_out = "NEEDRESTART-VER: 3.6\nNEEDRESTART-SVC: apache2.service\n"
        self.sql_out = "1\n"

    def commands(self):
        return [call["argv"] for call in self.calls]

    def __call__(self, argv, environ_update=None, cwd=None, data=None):
        self.calls.append({"argv": list(argv), "env": environ_update, "cwd": cwd, "data": data})
        cmd = os.path.basename(argv[0])
        if cmd == "dpkg-query":
            names = argv[3:]
            lines = [f"{n}\t{self.installed[n]}\tii \n" for n in names if n in self.installed]
            missing = [n for n in names if n not in self.installed]
            err = "".join(f"dpkg-query: no packages found matching {n}\n" for n in missing)
            return (1 if missing else 0), "".join(lines), err
        if cmd == "apt-get" and "download" in argv:
            name, version = argv[-1].split("=")
            if (name, version) not in self.downloadable:
                return (
                    100,
                    "",
                    f"E: Can't find a source to download version '{version}' of '{name}:amd64'\n",
                )
            if "--print-uris" not in argv:
                with open(os.path.join(cwd, f"{name}_{version}_amd64.deb"), "w") as handle:
                    handle.write("deb")
            return 0, "", ""
        if cmd == "apt-get" and "-s" in argv:
            lines = [
                f"Inst {n}{f' [{self.installed[n]}]' if n in self.installed else ''} "
                f"({v} Debian-Security:12/stable-security [amd64])"
                for n, v in (
                    a.split("=") for a in argv if "=" in a and not a.startswith(("-", "D"))
                )
            ]
            extra = "".join(
                text
                for name, text in self.simulation_extra_for.items()
                if any(a.startswith(f"{name}=") for a in argv)
            )
            return 0, "\n".join(lines) + "\n" + self.extra_simulation + extra, ""
        if cmd == "apt-get" and "install" in argv and argv[-1].endswith(".deb"):
            if self.rollback_rc:
                return (
                    self.rollback_rc,
                    "",
                    "E: Sub-process /usr/bin/dpkg returned an error code (1)\n",
                )
            for path in argv[argv.index("--no-remove") + 1 :]:
                if path.endswith(".deb"):
                    name, version, _arch = os.path.basename(path)[: -len(".deb")].split("_")
                    self.installed[name] = version
            return 0, "", ""
        if cmd == "apt-get" and "install" in argv:
            if self.install_rc:
                if self.install_partial:
                    # dpkg unpacked the first package before the second failed.
                    name, version = argv[-2].split("=")
                    self.installed[name] = version
                return (
                    self.install_rc,
                    "",
                    "E: Sub-process /usr/bin/dpkg returned an error code (1)\n",
                )
            for arg in argv:
                if "=" in arg and not arg.startswith(("-", "Dpkg", "DPkg")):
                    name, version = arg.split("=")
                    self.installed[name] = version
            return 0, "", ""
        if cmd == "dpkg" and argv[1] == "--purge":
            for name in argv[2:]:
                if not name.startswith("-"):
                    self.installed.pop(name)
            return 0, "", ""
        if cmd == "apt-mark":
            return 0, "", ""
        if cmd == "dpkg-repack":
            name = argv[1]
            with open(os.path.join(cwd, f"{name}_{self.installed[name]}_amd64.deb"), "w") as handle:
                handle.write("repacked")
            return 0, "", ""
        if cmd == "needrestart":
            return 0, self.needrestart_out, ""
        if cmd == "systemctl":
            return 0, "", ""
        if cmd == "mariadb":
            return 0, self.sql_out, ""
        raise AssertionError(f"unexpected command {argv}")


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


@pytest.fixture
def host(tmp_path):
    (tmp_path / "updates").mkdir()
    (tmp_path / "lock-frontend").write_text("")
    (tmp_path / "needrestart").write_text("")
    (tmp_path / "mariadb").write_text("")
    paths = HostPaths(
        lock_frontend=str(tmp_path / "lock-frontend"),
        dpkg_updates=str(tmp_path / "updates"),
        reboot_required=str(tmp_path / "reboot-required"),
        boot=str(tmp_path / "boot"),
        disk_paths=(str(tmp_path),),
        needrestart=str(tmp_path / "needrestart"),
        dpkg_repack=str(tmp_path / "dpkg-repack"),
        dump_binaries=(str(tmp_path / "mariadb-dump"),),
        sql_clients=(str(tmp_path / "mariadb"),),
    )
    fake = FakeHost({p["name"]: p["previous"] for p in _PLAN})
    return fake, paths, tmp_path


def _params(tmp_path, **overrides):
    params = {
        "packages": [dict(p) for p in _PLAN],
        "run_id": "run-1",
        "backup_dir": str(tmp_path / "backups"),
        "db_dump": None,
        "min_free_mb": 0,
        "lock_timeout": 120,
        "restart_services": True,
        "health_checks": [],
        "health_retries": 5,
        "health_delay": 2,
        "rollback": True,
        "partial": False,
    }
    params.update(overrides)
    return params


def _applier(fake, paths, http=None, check_mode=False, clock=None):
    clock = clock or Clock()
    return AptApply(
        fake,
        check_mode=check_mode,
        paths=paths,
        http=http or (lambda url, follow, timeout, headers=None: (200, "MediaWiki")),
        sleep=clock.sleep,
        clock=clock,
        now=lambda: 1_750_000_000,
    )


class _Recorder:
    """A FakeHost whose commands go through ``run`` first."""

    def __init__(self, fake, run):
        self._fake, self._run = fake, run

    def __call__(self, argv, **kwargs):
        return self._run(argv, **kwargs)

    def __getattr__(self, name):
        return getattr(self._fake, name)


def _down_after_update(fake):
    """An HTTP answer that is healthy until apache2 moved to its planned version."""
    updated = _PLAN[0]["version"]
    return lambda url, follow, timeout, headers=None: (
        (500, "") if fake.installed["apache2"] == updated else (200, "MediaWiki")
    )


def _manifest(tmp_path):
    return json.loads((tmp_path / "backups" / "run-1" / "manifest.json").read_text())


def _changing(argv):
    """Whether a command changes the host (anything but queries and simulations)."""
    if argv[0] == "dpkg-query":
        return False
    if argv[0] == "apt-get" and ("-s" in argv or "--print-uris" in argv):
        return False
    return not argv[0].endswith("needrestart")


_HTTP_CHECK = {
    "type": "http",
    "url": "http://127.0.0.1/",
    "expect_status": 200,
    "contains": "MediaWiki",
}
_SQL_CHECK = {
    "type": "sql",
    "database": "wikidb",
    "query": "SELECT COUNT(*) FROM page",
    "expect": "1",
}


def test_success_runs_backup_install_restart_and_health_in_order(host):
    fake, paths, tmp_path = host
    params = _params(tmp_path, health_checks=[_HTTP_CHECK, _SQL_CHECK])
    result = _applier(fake, paths).apply(params)

    commands = fake.commands()
    assert [c[0] if c[0] != "apt-get" else " ".join(c[:2]) for c in commands] == [
        "dpkg-query",
        "apt-get -s",
        paths.sql_clients[0],  # health before the update
        "apt-get download",
        "apt-get download",
        "apt-get install",
        "dpkg-query",
        paths.needrestart,
        "systemctl",
        paths.sql_clients[0],
    ]
    install = fake.calls[5]
    assert install["argv"] == [
        "apt-get",
        "install",
        "-y",
        "--only-upgrade",
        "-o",
        "Dpkg::Options::=--force-confdef",
        "-o",
        "Dpkg::Options::=--force-confold",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=120",
        "apache2=2.4.65-1~deb12u1",
        "libapache2-mod-php8.2=8.2.29-1~deb12u1",
    ]
    assert install["env"] == APT_ENV
    for key in (
        "DEBIAN_FRONTEND",
        "NEEDRESTART_MODE",
        "NEEDRESTART_SUSPEND",
        "APT_LISTCHANGES_FRONTEND",
    ):
        assert key in install["env"]
    assert fake.calls[3]["argv"][-1] == "apache2=2.4.62-1~deb12u2"
    assert fake.calls[3]["cwd"] == str(tmp_path / "backups" / "run-1" / "debs")
    assert commands[8] == ["systemctl", "restart", "apache2.service"]
    sql = fake.calls[9]
    assert sql["argv"] == [
        paths.sql_clients[0],
        "--batch",
        "-N",
        "--user=root",
        "--protocol=socket",
        "--database=wikidb",
    ]
    assert sql["data"] == "SELECT COUNT(*) FROM page"

    assert result["changed"] is True
    assert result["rolled_back"] is False
    assert result["applied"] == [
        {"name": p["name"], "previous": p["previous"], "version": p["version"]} for p in _PLAN
    ]
    assert result["backup"] == str(tmp_path / "backups" / "run-1")
    assert result["services_restarted"] == ["apache2.service"]
    assert [h["ok"] for h in result["health"]] == [True, True]
    assert result["reboot_required"] is False

    manifest = _manifest(tmp_path)
    assert manifest["status"] == "applied"
    assert manifest["databases"] is None
    assert [(p["name"], p["previous"], p["target"], p["source"]) for p in manifest["packages"]] == [
        (p["name"], p["previous"], p["version"], "download") for p in _PLAN
    ]
    assert sorted(os.listdir(tmp_path / "backups" / "run-1" / "debs")) == [
        "apache2_2.4.62-1~deb12u2_amd64.deb",
        "libapache2-mod-php8.2_8.2.28-1~deb12u1_amd64.deb",
    ]
    assert stat.S_IMODE(os.stat(tmp_path / "backups" / "run-1").st_mode) == 0o700


def test_reports_reboot_required_and_leaves_protected_units_pending(host):
    fake, paths, tmp_path = host
    fake.needrestart_out = (
        "NEEDRESTART-SVC: dbus.service\nNEEDRESTART-SVC: php8.2-fpm.service\n"
        "NEEDRESTART-SVC: systemd-logind.service\n"
    )
    real_install = fake.__call__

    def run(argv, **kwargs):
        if argv[:2] == ["apt-get", "install"]:
            (tmp_path / "reboot-required").write_text("*** System restart required ***\n")
        return real_install(argv, **kwargs)

    result = _applier(run, paths).apply(_params(tmp_path))
    assert result["reboot_required"] is True
    assert result["services_restarted"] == ["php8.2-fpm.service"]
    assert result["services_pending"] == ["dbus.service", "systemd-logind.service"]
    assert [c for c in fake.commands() if c[0] == "systemctl"] == [
        ["systemctl", "restart", "php8.2-fpm.service"]
    ]


def test_restart_services_false_restarts_nothing(host):
    fake, paths, tmp_path = host
    result = _applier(fake, paths).apply(_params(tmp_path, restart_services=False))
    assert result["services_restarted"] == []
    assert not [c for c in fake.commands() if c[0] in ("systemctl", paths.needrestart)]


def test_database_dump_is_streamed_gzipped_and_private(host):
    fake, paths, tmp_path = host
    dump = tmp_path / "mariadb-dump"
    dump.write_text(
        "#!/bin/sh\n"
        'echo "-- args: $*"\n'
        'i=0; while [ $i -lt 2000 ]; do echo "INSERT INTO t VALUES ($i);"; i=$((i+1)); done\n'
    )
    dump.chmod(0o755)
    paths.dump_binaries = (str(dump),)
    result = _applier(fake, paths).apply(_params(tmp_path))  # db_dump unset: binary exists

    target = tmp_path / "backups" / "run-1" / "databases.sql.gz"
    with gzip.open(target, "rt") as handle:
        lines = handle.read().splitlines()
    assert lines[0] == (
        "-- args: --user=root --protocol=socket --single-transaction --all-databases --routines --events"
    )
    assert lines[-1] == "INSERT INTO t VALUES (1999);"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert _manifest(tmp_path)["databases"] == "databases.sql.gz"
    assert result["changed"] is True


def test_failed_database_dump_aborts_before_install(host):
    fake, paths, tmp_path = host
    dump = tmp_path / "mariadb-dump"
    dump.write_text(
        "#!/bin/sh\necho partial\necho 'Got error: 2002: Can not connect' >&2\nexit 2\n"
    )
    dump.chmod(0o755)
    paths.dump_binaries = (str(dump),)
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path, db_dump=True))
    assert "database dump failed, nothing changed" in excinfo.value.msg
    assert "Can not connect" in excinfo.value.msg
    assert not any(c[:2] == ["apt-get", "install"] for c in fake.commands())
    assert _manifest(tmp_path)["status"] == "aborted"
    # A partial dump restores nothing and may be what filled the disk.
    assert not [p for p in (tmp_path / "backups" / "run-1").iterdir() if "databases.sql" in p.name]


def test_db_dump_true_without_client_fails_before_backup(host):
    fake, paths, tmp_path = host
    with pytest.raises(ApplyError, match="neither mariadb-dump nor mysqldump"):
        _applier(fake, paths).apply(_params(tmp_path, db_dump=True))
    assert not (tmp_path / "backups").exists()


def test_stale_plan_fails_naming_the_package_and_changes_nothing(host):
    fake, paths, tmp_path = host
    fake.installed["libapache2-mod-php8.2"] = "8.2.27-1~deb12u1"
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path))
    msg = excinfo.value.msg
    assert msg.startswith("stale plan, nothing changed")
    assert "libapache2-mod-php8.2 is installed at 8.2.27-1~deb12u1" in msg
    assert "apache2 is" not in msg.replace("libapache2", "")
    assert fake.commands() == [fake.calls[0]["argv"]]
    assert not (tmp_path / "backups").exists()


def test_package_not_installed_is_a_stale_plan(host):
    fake, paths, tmp_path = host
    del fake.installed["apache2"]
    with pytest.raises(ApplyError, match="apache2 is not installed"):
        _applier(fake, paths).apply(_params(tmp_path))


def test_disk_too_low_refuses_before_anything_changes(host):
    fake, paths, tmp_path = host
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path, min_free_mb=10**12))
    assert "not enough disk space, nothing changed" in excinfo.value.msg
    assert str(tmp_path) in excinfo.value.msg
    assert not any(_changing(c) for c in fake.commands())
    assert not (tmp_path / "backups").exists()


def test_interrupted_dpkg_fails_and_asks_for_configure(host):
    fake, paths, tmp_path = host
    (tmp_path / "updates" / "0001").write_text("")
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path))
    assert "dpkg --configure -a" in excinfo.value.msg
    assert not any(_changing(c) for c in fake.commands())
    assert not any("configure" in " ".join(c) for c in fake.commands())


@pytest.fixture
def lock_holder(tmp_path):
    """Another process holding the dpkg frontend lock, as apt would."""
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time\n"
            "fd = os.open(sys.argv[1], os.O_RDWR)\n"
            "fcntl.lockf(fd, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(30)\n",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "locked"
    yield process
    process.kill()
    process.wait()


def test_lock_held_past_timeout_fails_clearly(host, lock_holder):
    fake, paths, tmp_path = host
    clock = Clock()
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths, clock=clock).apply(_params(tmp_path, lock_timeout=7))
    assert "still held by another process after 7 s (lock_timeout 7)" in excinfo.value.msg
    assert sum(clock.sleeps) == 7
    assert not any(_changing(c) for c in fake.commands())
    assert not (tmp_path / "backups").exists()


def test_lock_released_while_waiting_lets_the_update_run(host, lock_holder):
    fake, paths, tmp_path = host
    clock = Clock()

    def sleep(seconds):
        clock.sleep(seconds)
        lock_holder.kill()
        lock_holder.wait()

    applier = _applier(fake, paths, clock=clock)
    applier._sleep = sleep
    result = applier.apply(_params(tmp_path))
    assert result["changed"] is True
    assert clock.sleeps == [2]


def test_missing_old_version_falls_back_to_dpkg_repack(host):
    fake, paths, tmp_path = host
    fake.downloadable.discard(("apache2", "2.4.62-1~deb12u2"))
    (tmp_path / "dpkg-repack").write_text("")
    paths.dpkg_repack = str(tmp_path / "dpkg-repack")
    result = _applier(fake, paths).apply(_params(tmp_path))
    assert result["changed"] is True
    repack = [c for c in fake.calls if c["argv"][0] == paths.dpkg_repack]
    assert [c["argv"] for c in repack] == [[paths.dpkg_repack, "apache2"]]
    assert repack[0]["cwd"] == str(tmp_path / "backups" / "run-1" / "debs")
    sources = {p["name"]: p["source"] for p in _manifest(tmp_path)["packages"]}
    assert sources == {"apache2": "dpkg-repack", "libapache2-mod-php8.2": "download"}


def test_missing_old_version_without_dpkg_repack_means_no_rollback_possible(host):
    fake, paths, tmp_path = host
    fake.downloadable.discard(("libapache2-mod-php8.2", "8.2.28-1~deb12u1"))
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path))
    msg = excinfo.value.msg
    assert msg.startswith(
        "no rollback possible, nothing changed: libapache2-mod-php8.2 8.2.28-1~deb12u1"
    )
    assert "dpkg-repack is not installed" in msg
    assert not any(c[:2] == ["apt-get", "install"] for c in fake.commands())
    manifest = _manifest(tmp_path)
    assert manifest["status"] == "aborted"
    assert excinfo.value.result["backup"] == str(tmp_path / "backups" / "run-1")


def test_install_failure_rolls_back_to_the_backed_up_debs(host):
    fake, paths, tmp_path = host
    fake.install_rc = 100
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path, health_checks=[_HTTP_CHECK]))
    msg = excinfo.value.msg
    assert msg.startswith(
        "apt-get install exited 100: E: Sub-process /usr/bin/dpkg returned an error code (1)"
    )
    assert "Rolled back to the previous versions; the health checks pass after the rollback" in msg
    debs = str(tmp_path / "backups" / "run-1" / "debs")
    rollback = [c for c in fake.calls if c["argv"][-1].endswith(".deb")]
    assert [c["argv"] for c in rollback] == [
        [
            "apt-get",
            "install",
            "-y",
            "--allow-downgrades",
            "--no-remove",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            f"{debs}/apache2_2.4.62-1~deb12u2_amd64.deb",
            f"{debs}/libapache2-mod-php8.2_8.2.28-1~deb12u1_amd64.deb",
        ]
    ]
    assert rollback[0]["env"] == APT_ENV
    assert fake.installed == {p["name"]: p["previous"] for p in _PLAN}
    result = excinfo.value.result
    assert result["rolled_back"] is True
    assert result["services_restarted"] == ["apache2.service"]
    assert [h["ok"] for h in result["health_after_rollback"]] == [True]
    assert _manifest(tmp_path)["status"] == "rolled_back"
    assert (tmp_path / "backups" / "run-1" / "debs").is_dir()


def test_install_failing_before_dpkg_ran_needs_no_rollback(host):
    fake, paths, tmp_path = host
    fake.install_rc = 100
    fake.install_partial = False
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path))
    assert "No package was changed, nothing to roll back" in excinfo.value.msg
    assert not any(c[-1].endswith(".deb") or c[0] == "systemctl" for c in fake.commands())
    assert excinfo.value.result["changed"] is False
    assert excinfo.value.result["rolled_back"] is False
    assert _manifest(tmp_path)["status"] == "aborted"


def test_health_failure_rolls_back_and_says_so(host):
    fake, paths, tmp_path = host
    # Healthy before the update, down after it, healthy again after the rollback.
    answers = iter([(200, "MediaWiki")] + [(503, "down")] * 3 + [(200, "MediaWiki")])
    clock = Clock()
    applier = _applier(
        fake, paths, http=lambda url, follow, timeout, headers=None: next(answers), clock=clock
    )
    with pytest.raises(ApplyError) as excinfo:
        applier.apply(
            _params(tmp_path, health_checks=[_HTTP_CHECK], health_retries=3, health_delay=4)
        )
    msg = excinfo.value.msg
    assert msg.startswith("health check failed: http://127.0.0.1/ returned HTTP 503, expected 200")
    assert "Rolled back to the previous versions; the health checks pass after the rollback" in msg
    assert clock.sleeps == [4, 4]
    result = excinfo.value.result
    assert result["rolled_back"] is True
    assert result["health"] == [
        {
            "check": "http http://127.0.0.1/",
            "ok": False,
            "detail": "http://127.0.0.1/ returned HTTP 503, expected 200",
        }
    ]
    assert fake.installed == {p["name"]: p["previous"] for p in _PLAN}
    commands = fake.commands()
    install = commands.index(next(c for c in commands if c[:2] == ["apt-get", "install"]))
    assert [c[0] for c in commands[install:]] == [
        "apt-get",
        "dpkg-query",
        paths.needrestart,
        "systemctl",
        "dpkg-query",
        "apt-get",
        "dpkg-query",
        paths.needrestart,
        "systemctl",
    ]
    assert _manifest(tmp_path)["status"] == "rolled_back"


def test_health_still_failing_after_rollback_is_reported(host):
    fake, paths, tmp_path = host
    answers = iter(["1\n", "0\n", "0\n"])  # healthy only before the update
    host_fake = fake

    def run(argv, **kwargs):
        if os.path.basename(argv[0]) == "mariadb":
            host_fake.sql_out = next(answers)
        return host_fake(argv, **kwargs)

    fake = _Recorder(host_fake, run)
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path, health_checks=[_SQL_CHECK], health_retries=1))
    assert (
        "the health checks still fail after the rollback: query on wikidb returned no '1'"
        in excinfo.value.msg
    )
    assert excinfo.value.result["rolled_back"] is True


def test_rollback_false_keeps_new_versions_and_marks_failed(host):
    fake, paths, tmp_path = host
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths, http=_down_after_update(fake)).apply(
            _params(tmp_path, health_checks=[_HTTP_CHECK], health_retries=1, rollback=False)
        )
    assert "Not rolled back (rollback is false)" in excinfo.value.msg
    assert not any(c[-1].endswith(".deb") for c in fake.commands())
    assert _manifest(tmp_path)["status"] == "failed"
    assert excinfo.value.result["rolled_back"] is False


def test_failed_rollback_asks_for_manual_repair(host):
    fake, paths, tmp_path = host
    fake.install_rc = 100
    fake.rollback_rc = 100
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path))
    assert (
        "Rollback failed: apt-get install of the backed-up packages exited 100" in excinfo.value.msg
    )
    assert "manual repair" in excinfo.value.msg
    assert excinfo.value.result["rolled_back"] is False
    assert _manifest(tmp_path)["status"] == "failed"


def test_check_mode_runs_no_changing_command_and_takes_no_backup(host):
    fake, paths, tmp_path = host
    result = _applier(fake, paths, check_mode=True).apply(_params(tmp_path, db_dump=False))
    assert result["changed"] is True
    assert [a["version"] for a in result["applied"]] == [p["version"] for p in _PLAN]
    assert result["backup"] is None
    assert not [c for c in fake.commands() if _changing(c)]
    assert any(
        c[:2] == ["apt-get", "-s"] and "apache2=2.4.65-1~deb12u1" in c for c in fake.commands()
    )
    assert not (tmp_path / "backups").exists()
    assert fake.installed == {p["name"]: p["previous"] for p in _PLAN}


def test_check_mode_reports_a_version_that_cannot_be_backed_up(host):
    fake, paths, tmp_path = host
    fake.downloadable.discard(("apache2", "2.4.62-1~deb12u2"))
    with pytest.raises(ApplyError, match="no rollback possible: apache2"):
        _applier(fake, paths, check_mode=True).apply(_params(tmp_path))
    assert not [c for c in fake.commands() if _changing(c)]


def test_already_at_target_is_a_no_op(host):
    fake, paths, tmp_path = host
    fake.installed = {p["name"]: p["version"] for p in _PLAN}
    result = _applier(fake, paths).apply(_params(tmp_path, min_free_mb=10**12))
    assert result["changed"] is False
    assert result["applied"] == []
    assert len(result["already_current"]) == 2
    assert [c[0] for c in fake.commands()] == ["dpkg-query"]
    assert not (tmp_path / "backups").exists()


def test_partly_applied_plan_only_upgrades_the_rest(host):
    fake, paths, tmp_path = host
    fake.installed["apache2"] = _PLAN[0]["version"]
    result = _applier(fake, paths).apply(_params(tmp_path))
    assert [a["name"] for a in result["applied"]] == ["libapache2-mod-php8.2"]
    install = next(c for c in fake.commands() if c[:2] == ["apt-get", "install"])
    assert install[-1] == "libapache2-mod-php8.2=8.2.29-1~deb12u1"
    assert "apache2=2.4.65-1~deb12u1" not in install


def test_simulation_with_unplanned_changes_refuses(host):
    fake, paths, tmp_path = host
    fake.extra_simulation = (
        "Inst libapr1 [1.7.2-3] (1.7.2-3+deb12u1 Debian-Security:12/stable-security [amd64])\n"
        "Remv php8.2-opcache [8.2.28-1~deb12u1]\n"
    )
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path))
    assert "apt would also upgrade libapr1 1.7.2-3+deb12u1" in excinfo.value.msg
    assert "apt would remove php8.2-opcache" in excinfo.value.msg
    assert not (tmp_path / "backups").exists()


def test_check_simulation_notices_wrong_or_missing_versions():
    plan = [dict(_PLAN[0])]
    with pytest.raises(ApplyError, match="not 2.4.65-1~deb12u1"):
        check_simulation(
            "Inst apache2 [2.4.62-1~deb12u2] (2.4.66-1 Debian:12/stable [amd64])\n", plan
        )
    with pytest.raises(ApplyError, match="apt would not upgrade apache2"):
        check_simulation("", plan)


def test_existing_backup_directory_is_never_reused(host):
    fake, paths, tmp_path = host
    (tmp_path / "backups" / "run-1").mkdir(parents=True)
    (tmp_path / "backups" / "run-1" / "manifest.json").write_text('{"status": "rolled_back"}')
    with pytest.raises(ApplyError, match="already exists"):
        _applier(fake, paths).apply(_params(tmp_path))
    assert _manifest(tmp_path) == {"status": "rolled_back"}
    assert not any(c[:2] == ["apt-get", "install"] for c in fake.commands())


def test_validate_params_catches_what_the_spec_cannot(tmp_path):
    params = _params(
        tmp_path,
        packages=[dict(_PLAN[0]), dict(_PLAN[0]), dict(_PLAN[1], version=_PLAN[1]["previous"])],
        run_id="../etc",
        health_retries=0,
    )
    errors = validate_params(params)
    assert any("repeated: apache2" in e for e in errors)
    assert any("version equals previous" in e for e in errors)
    assert any(e.startswith("run_id must be one path component") for e in errors)
    assert "health_retries must be at least 1" in errors
    assert (
        validate_params(_params(tmp_path, packages=[]))[0]
        == "packages must name at least one package"
    )
    assert validate_params(_params(tmp_path)) == []


def test_restartable_keeps_session_units_pending():
    assert restartable(
        ["apache2.service", "getty@tty1.service", "user@0.service", "ssh.service"]
    ) == (
        ["apache2.service", "ssh.service"],
        ["getty@tty1.service", "user@0.service"],
    )


def test_systemd_itself_is_reexecuted_not_restarted(host):
    # needrestart names PID 1 "systemd-manager", a name systemctl restart rejects.
    fake, paths, tmp_path = host
    fake.needrestart_out = (
        "NEEDRESTART-SVC: systemd-manager\nNEEDRESTART-SVC: apache2.service\n"
        "NEEDRESTART-SVC: dbus\n"
    )
    result = _applier(fake, paths).apply(_params(tmp_path))
    assert result["services_restarted"] == ["apache2.service", "systemd-manager"]
    assert result["services_pending"] == ["dbus"]
    assert [c for c in fake.commands() if c[0] == "systemctl"] == [
        ["systemctl", "restart", "apache2.service"],
        ["systemctl", "daemon-reexec"],
    ]


def test_an_unhealthy_site_is_not_updated(host):
    fake, paths, tmp_path = host
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths, http=lambda url, follow, timeout, headers=None: (502, "")).apply(
            _params(tmp_path, health_checks=[_HTTP_CHECK], health_retries=2)
        )
    assert excinfo.value.msg.startswith(
        "the site fails its health checks before the update, nothing changed"
    )
    assert not any(_changing(c) for c in fake.commands())
    assert not (tmp_path / "backups").exists()


# --- packages an update installs newly ---------------------------------------

_KERNEL_PLAN = [
    {"name": "linux-image-amd64", "previous": "6.1.176-1", "version": "6.1.192-3"},
    {"name": "linux-image-6.1.0-57-amd64", "previous": None, "version": "6.1.192-3"},
]


@pytest.fixture
def kernel_host(host):
    fake, paths, tmp_path = host
    fake.installed = {"linux-image-amd64": "6.1.176-1", "linux-image-6.1.0-50-amd64": "6.1.176-1"}
    fake.downloadable = {("linux-image-amd64", "6.1.176-1")}
    return fake, paths, tmp_path


def _install_command(fake):
    return next(c for c in fake.commands() if c[:2] == ["apt-get", "install"] and "-s" not in c)


def _installing_kernels(fake, boot):
    """A FakeHost that puts each kernel package's image in ``boot``, as dpkg does."""

    def run(argv, **kwargs):
        answer = fake(argv, **kwargs)
        if argv[:2] == ["apt-get", "install"] and "-s" not in argv:
            boot.mkdir(exist_ok=True)
            for name in fake.installed:
                if name.startswith("linux-image-6"):
                    (boot / f"vmlinuz-{name[len('linux-image-') :]}").write_text("")
        return answer

    return _Recorder(fake, run)


def test_a_new_package_is_installed_without_only_upgrade_and_marked_automatic(kernel_host):
    fake, paths, tmp_path = kernel_host
    applier = _applier(_installing_kernels(fake, tmp_path / "boot"), paths)
    result = applier.apply(_params(tmp_path, packages=_KERNEL_PLAN))
    assert result["changed"] is True
    assert "--only-upgrade" not in _install_command(fake)
    assert "linux-image-6.1.0-57-amd64=6.1.192-3" in _install_command(fake)
    assert fake.installed["linux-image-6.1.0-57-amd64"] == "6.1.192-3"
    assert ["apt-mark", "auto", "linux-image-6.1.0-57-amd64"] in fake.commands()
    # Nothing to back up for the new package: only the metapackage's old version.
    downloads = [c[-1] for c in fake.commands() if "download" in c]
    assert downloads == ["linux-image-amd64=6.1.176-1"]
    entries = {e["name"]: e for e in _manifest(tmp_path)["packages"]}
    assert result["kernel_reboot"]["reboot_pending_for"] == "6.1.0-57-amd64"
    assert entries["linux-image-6.1.0-57-amd64"] == {
        "name": "linux-image-6.1.0-57-amd64",
        "previous": None,
        "target": "6.1.192-3",
        "new_install": True,
        "debs": [],
    }
    assert {"name": "linux-image-6.1.0-57-amd64", "previous": None, "version": "6.1.192-3"} in (
        result["applied"]
    )


def test_updates_of_installed_packages_alone_keep_only_upgrade(host):
    fake, paths, tmp_path = host
    _applier(fake, paths).apply(_params(tmp_path))
    assert "--only-upgrade" in _install_command(fake)
    assert not any(c[0] == "apt-mark" for c in fake.commands())


def test_rollback_reinstalls_the_old_versions_then_purges_the_new_package(kernel_host):
    fake, paths, tmp_path = kernel_host
    before = dict(fake.installed)
    answers = iter([(200, "MediaWiki"), (503, "down"), (200, "MediaWiki")])
    applier = _applier(fake, paths, http=lambda url, follow, timeout, headers=None: next(answers))
    with pytest.raises(ApplyError) as excinfo:
        applier.apply(
            _params(tmp_path, packages=_KERNEL_PLAN, health_checks=[_HTTP_CHECK], health_retries=1)
        )
    assert "Rolled back to the previous versions" in excinfo.value.msg
    assert fake.installed == before
    commands = fake.commands()
    reinstall = next(i for i, c in enumerate(commands) if c[-1].endswith(".deb"))
    purge = commands.index(
        [
            "dpkg",
            "--purge",
            "--force-confdef",
            "--force-confold",
            "linux-image-6.1.0-57-amd64",
        ]
    )
    assert reinstall < purge
    assert excinfo.value.result["rolled_back"] is True
    assert _manifest(tmp_path)["status"] == "rolled_back"


def test_a_failed_purge_asks_for_manual_repair(kernel_host):
    fake, paths, tmp_path = kernel_host
    answers = iter([(200, "MediaWiki"), (503, "down")])

    def run(argv, **kwargs):
        if argv[:2] == ["dpkg", "--purge"]:
            return (
                2,
                "",
                "dpkg: dependency problems prevent removal of linux-image-6.1.0-57-amd64\n",
            )
        return fake(argv, **kwargs)

    applier = _applier(_Recorder(fake, run), paths, http=lambda *a, **kw: next(answers))
    with pytest.raises(ApplyError) as excinfo:
        applier.apply(
            _params(tmp_path, packages=_KERNEL_PLAN, health_checks=[_HTTP_CHECK], health_retries=1)
        )
    msg = excinfo.value.msg
    assert "purging the newly installed linux-image-6.1.0-57-amd64 exited 2" in msg
    assert "dependency problems prevent removal" in msg
    assert "needs manual repair" in msg
    assert _manifest(tmp_path)["status"] == "failed"


@pytest.mark.parametrize(
    ("installed", "outcome"),
    [
        (None, "apply"),
        ("6.1.192-3", "current"),
        ("6.1.190-1", "installed at 6.1.190-1, the plan expects it new"),
    ],
)
def test_classify_reads_a_new_package_by_whether_it_is_installed(installed, outcome):
    new = dict(_KERNEL_PLAN[1])
    dpkg = {} if installed is None else {new["name"]: (installed, "ii ")}
    if outcome in ("apply", "current"):
        to_apply, current = classify([new], dpkg)
        assert (to_apply, current) == (([new], []) if outcome == "apply" else ([], [new]))
    else:
        with pytest.raises(ApplyError, match=outcome):
            classify([new], dpkg)


def test_check_mode_does_not_ask_to_back_up_a_new_package(kernel_host):
    fake, paths, tmp_path = kernel_host
    result = _applier(fake, paths, check_mode=True).apply(_params(tmp_path, packages=_KERNEL_PLAN))
    assert result["changed"] is True
    assert [c[-1] for c in fake.commands() if "--print-uris" in c] == [
        "linux-image-amd64=6.1.176-1"
    ]
    assert not [c for c in fake.commands() if _changing(c)]


# --- groups apt will not take as planned ---------------------------------------

_GROUPED_PLAN = [
    {**_PLAN[0], "group": "apache2"},
    {**_PLAN[1], "group": "php8.2"},
    {
        "name": "openssl",
        "previous": "3.0.15-1~deb12u1",
        "version": "3.0.17-1~deb12u2",
        "group": "openssl",
    },
]


@pytest.fixture
def grouped_host(host):
    fake, paths, tmp_path = host
    fake.installed["openssl"] = "3.0.15-1~deb12u1"
    fake.downloadable.add(("openssl", "3.0.15-1~deb12u1"))
    # The new openssl needs a package the plan does not hold.
    fake.simulation_extra_for["openssl"] = (
        "Inst libssl3t64 (3.0.17-1~deb12u2 Debian-Security:12/stable-security [amd64])\n"
    )
    return fake, paths, tmp_path


def test_active_sla_applies_the_groups_apt_agrees_with_and_reports_the_other(grouped_host):
    fake, paths, tmp_path = grouped_host
    applier = _applier(fake, paths)
    result = applier.apply(_params(tmp_path, packages=_GROUPED_PLAN, partial=True))
    assert [p["name"] for p in result["applied"]] == ["apache2", "libapache2-mod-php8.2"]
    assert result["skipped_groups"] == [
        {
            "group": "openssl",
            "packages": ["openssl"],
            "reason": "apt would also install libssl3t64 3.0.17-1~deb12u2",
        }
    ]
    assert fake.installed["openssl"] == "3.0.15-1~deb12u1"
    assert fake.installed["apache2"] == _PLAN[0]["version"]
    assert "openssl=3.0.17-1~deb12u2" not in _install_command(fake)
    assert applier.warnings == [
        "not applied, group openssl: apt would also install libssl3t64 3.0.17-1~deb12u2"
    ]
    # The skipped package's old version was not backed up: it is not touched.
    assert [p["name"] for p in _manifest(tmp_path)["packages"]] == [
        "apache2",
        "libapache2-mod-php8.2",
    ]


def test_an_approved_set_apt_disagrees_with_changes_nothing(grouped_host):
    fake, paths, tmp_path = grouped_host
    before = dict(fake.installed)
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path, packages=_GROUPED_PLAN, partial=False))
    msg = excinfo.value.msg
    assert msg.startswith(
        "the plan does not match what apt would do, nothing changed: group openssl: "
        "apt would also install libssl3t64 3.0.17-1~deb12u2"
    )
    assert "applied whole or not at all" in msg
    assert excinfo.value.result["skipped_groups"][0]["group"] == "openssl"
    assert fake.installed == before
    assert not [c for c in fake.commands() if _changing(c)]


def test_the_host_fails_when_no_group_can_be_applied(grouped_host):
    fake, paths, tmp_path = grouped_host
    fake.simulation_extra_for["apache2"] = "Remv apache2-doc [2.4.62-1~deb12u2]\n"
    fake.simulation_extra_for["libapache2-mod-php8.2"] = "Remv php8.2-opcache [8.2.28-1~deb12u1]\n"
    with pytest.raises(ApplyError) as excinfo:
        _applier(fake, paths).apply(_params(tmp_path, packages=_GROUPED_PLAN, partial=True))
    msg = excinfo.value.msg
    assert "no group could be applied" in msg
    assert "group apache2: apt would remove apache2-doc" in msg
    assert "group php8.2: apt would remove php8.2-opcache" in msg
    assert not [c for c in fake.commands() if _changing(c)]


def test_a_set_whose_groups_pass_alone_but_not_together_changes_nothing(grouped_host):
    fake, paths, tmp_path = grouped_host
    fake.simulation_extra_for.clear()
    fake.extra_simulation = ""

    def run(argv, **kwargs):
        rc, out, err = fake(argv, **kwargs)
        if "-s" in argv and sum("=" in a and not a.startswith(("-", "D")) for a in argv) == 3:
            out += "Remv mariadb-server [1:10.11.11-0+deb12u1]\n"
        return rc, out, err

    with pytest.raises(ApplyError, match="apt would remove mariadb-server"):
        _applier(_Recorder(fake, run), paths).apply(
            _params(tmp_path, packages=_GROUPED_PLAN, partial=True)
        )
