# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils import host_state
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import (
    SIMULATE_DIST_UPGRADE,
    SOURCE_QUERY,
    HostProbe,
    ProbeError,
    apt_lists_age,
    apt_state_key,
    dpkg_lock_state,
    enabled_modules,
    find_cms_sites,
    kernel_reboot_state,
    parse_apt_simulation,
    parse_dpkg_query,
    parse_needrestart,
    parse_os_release,
    stack_components,
    upstream_version,
)

OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
# a comment=ignored
"""

DPKG_QUERY = (
    "apache2\t2.4.68-1~deb12u1\tii \n"
    "apache2-bin\t2.4.68-1~deb12u1\tii \n"
    "libc6\t2.36-9+deb12u10\tii \n"
    "mariadb-server\t1:10.11.11-0+deb12u1\thi \n"
    "php8.2-common\t8.2.28-1~deb12u1\tii \n"
    "php8.2-cli\t8.2.28-1~deb12u1\tii \n"
    "linux-image-6.1.0-18-amd64\t6.1.76-1\trc \n"
    "libssl3:amd64\t3.0.15-1~deb12u1\tii \n"
    "broken line without tabs\n"
)

APT_SIMULATION = """\
NOTE: This is only a simulation!
      apt-get needs root privileges for real execution.
      Keep also in mind that locking is deactivated,
      so don't depend on the relevance to the real current situation!
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following NEW packages will be installed:
  linux-image-6.1.0-28-amd64
The following packages will be upgraded:
  apache2 libperl5.36 tzdata
3 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.
Inst apache2 [2.4.68-1~deb12u1] (2.4.71-1~deb12u1 Debian-Security:12/oldstable-security [amd64]) []
Inst libperl5.36 [5.36.0-7+deb12u3] (5.36.0-7+deb12u4 Debian-Security:12/oldstable-security [amd64]) [perl:amd64 ]
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.12/oldstable, Debian-Security:12/oldstable-security [all])
Inst linux-image-6.1.0-28-amd64 (6.1.119-1 Debian:12.12/oldstable [amd64])
Conf perl-base (5.36.0-7+deb12u4 Debian-Security:12/oldstable-security [amd64]) []
Conf apache2 (2.4.71-1~deb12u1 Debian-Security:12/oldstable-security [amd64])
"""  # noqa: E501

NEEDRESTART = """\
NEEDRESTART-VER: 3.6
NEEDRESTART-KCUR: 6.1.0-18-amd64
NEEDRESTART-KEXP: 6.1.0-28-amd64
NEEDRESTART-KSTA: 3
NEEDRESTART-SVC: systemd-journald.service
NEEDRESTART-SVC: apache2.service
"""

MW_DEFINES = """<?php
/**
 * A few constants that might be needed during LocalSettings.php.
 */
define( 'MW_VERSION', '1.39.10' );
define( 'DB_PRIMARY', -2 );
"""

WP_VERSION = """<?php
/**
 * The WordPress version string.
 *
 * @global string $wp_version
 */
$wp_version = '6.8.3';
$wp_db_version = 60421;
$tinymce_version = '49110-20250317';
"""


# --- parsers ---------------------------------------------------------------


def test_parse_os_release_unquotes_and_skips_comments():
    values = parse_os_release(OS_RELEASE)
    assert values["PRETTY_NAME"] == "Debian GNU/Linux 12 (bookworm)"
    assert values["VERSION_ID"] == "12"
    assert values["VERSION_CODENAME"] == "bookworm"
    assert values["ID"] == "debian"
    assert values["HOME_URL"] == "https://www.debian.org/"
    assert not any(key.startswith("#") for key in values)


def test_parse_os_release_single_quotes_and_empty():
    assert parse_os_release("ID='debian'\n\nnot a pair\n") == {"ID": "debian"}
    assert parse_os_release("") == {}


def test_parse_dpkg_query_keeps_installed_and_held_only():
    installed = parse_dpkg_query(DPKG_QUERY)
    assert installed["apache2"] == "2.4.68-1~deb12u1"
    assert installed["mariadb-server"] == "1:10.11.11-0+deb12u1"  # held (hi)
    assert "linux-image-6.1.0-18-amd64" not in installed  # removed, config left (rc)
    assert installed["libssl3"] == "3.0.15-1~deb12u1"  # architecture qualifier dropped
    assert len(installed) == 7


def test_parse_apt_simulation_security_update():
    pending = {p["package"]: p for p in parse_apt_simulation(APT_SIMULATION)}
    assert pending["apache2"] == {
        "package": "apache2",
        "installed": "2.4.68-1~deb12u1",
        "candidate": "2.4.71-1~deb12u1",
        "arch": "amd64",
        "origins": [{"label": "Debian-Security", "release": "12", "suite": "oldstable-security"}],
        "suite": "oldstable-security",
        "security": True,
        "new_install": False,
    }
    assert pending["libperl5.36"]["installed"] == "5.36.0-7+deb12u3"
    assert pending["libperl5.36"]["candidate"] == "5.36.0-7+deb12u4"
    assert pending["libperl5.36"]["security"] is True


def test_parse_apt_simulation_multi_origin_line():
    pending = {p["package"]: p for p in parse_apt_simulation(APT_SIMULATION)}
    tzdata = pending["tzdata"]
    assert tzdata["origins"] == [
        {"label": "Debian", "release": "12.12", "suite": "oldstable"},
        {"label": "Debian-Security", "release": "12", "suite": "oldstable-security"},
    ]
    assert tzdata["suite"] == "oldstable"
    assert tzdata["arch"] == "all"
    assert tzdata["candidate"] == "2025b-0+deb12u1"
    # Available from the security suite too, so it counts as a security update.
    assert tzdata["security"] is True


def test_parse_apt_simulation_new_install_and_ignores_conf_lines():
    pending = parse_apt_simulation(APT_SIMULATION)
    assert [p["package"] for p in pending] == [
        "apache2",
        "libperl5.36",
        "tzdata",
        "linux-image-6.1.0-28-amd64",
    ]
    kernel = pending[-1]
    assert kernel["new_install"] is True
    assert kernel["installed"] is None
    assert kernel["candidate"] == "6.1.119-1"
    assert kernel["security"] is False
    assert kernel["suite"] == "oldstable"


def test_parse_apt_simulation_nothing_pending():
    text = (
        "Reading package lists...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
    )
    assert parse_apt_simulation(text) == []


@pytest.mark.parametrize(
    ("version", "upstream"),
    [
        ("2.4.68-1~deb12u1", "2.4.68"),
        ("1:10.11.11-0+deb12u1", "10.11.11"),
        ("8.2.28-1~deb12u1", "8.2.28"),
        ("5.36.0-7+deb12u4", "5.36.0"),
        ("1:1.39.10-1", "1.39.10"),
        ("2.0.12+dfsg-2", "2.0.12"),
        ("1.2.3", "1.2.3"),
        ("2:1.0-2-1", "1.0-2"),
    ],
)
def test_upstream_version(version, upstream):
    assert upstream_version(version) == upstream


def test_stack_components_from_dpkg_output():
    components = stack_components(parse_dpkg_query(DPKG_QUERY))
    assert set(components) == {"apache", "mariadb", "php"}
    assert components["apache"] == {
        "package": "apache2",
        "version": "2.4.68-1~deb12u1",
        "upstream": "2.4.68",
        "source": "debian",
    }
    assert components["mariadb"]["upstream"] == "10.11.11"
    assert components["php"]["package"] == "php8.2-common"
    assert components["php"]["branches"] == ["8.2"]


def test_stack_components_prefers_first_listed_package():
    components = stack_components(
        {"apache2-bin": "2.4.62-1~deb12u2", "mariadb-client": "1:10.11.6-0"}
    )
    assert components["apache"]["package"] == "apache2-bin"
    assert components["mariadb"]["package"] == "mariadb-client"
    assert components["mariadb"]["upstream"] == "10.11.6"


def test_stack_components_several_php_branches_picks_newest_numerically():
    installed = {
        "php7.4-common": "7.4.33-1+deb11u7",
        "php8.2-cli": "8.2.28-1~deb12u1",
        "php8.10-cli": "8.10.1-1",
        "php-common": "2:93",
        "php8.2-mysql": "8.2.28-1~deb12u1",
    }
    php = stack_components(installed)["php"]
    assert php["branches"] == ["7.4", "8.2", "8.10"]
    # No php8.10-common installed, so the CLI package names the version.
    assert php["package"] == "php8.10-cli"
    assert php["upstream"] == "8.10.1"


def test_stack_components_empty():
    assert stack_components({"libc6": "2.36-9+deb12u10"}) == {}


def _cms_tree(tmp_path):
    mediawiki = tmp_path / "usr/share/mediawiki"
    (mediawiki / "includes").mkdir(parents=True)
    (mediawiki / "includes/Defines.php").write_text(MW_DEFINES)
    www = tmp_path / "var/www"
    blog_release = www / "blog/releases/20250101"
    (blog_release / "wp-includes").mkdir(parents=True)
    (blog_release / "wp-includes/version.php").write_text(WP_VERSION)
    (www / "blog/current").symlink_to(blog_release)
    (www / "wiki").symlink_to(mediawiki)  # second name for the packaged MediaWiki
    (www / "html").mkdir()
    (www / "html/index.html").write_text("<html></html>")
    (www / "notes.txt").write_text("not a site")
    return mediawiki, www, blog_release


def _basics(sites):
    # cms_site reports much more; these tests only pin what find_cms_sites always returned.
    return [{key: site[key] for key in ("kind", "path", "realpath", "version")} for site in sites]


def test_find_cms_sites_dedupes_symlinks(tmp_path):
    mediawiki, www, blog_release = _cms_tree(tmp_path)
    roots = (str(mediawiki), f"{www}/*", f"{www}/*/current", f"{www}/html")
    sites = find_cms_sites(roots)
    assert _basics(sites) == [
        {
            "kind": "mediawiki",
            "path": str(mediawiki),
            "realpath": str(mediawiki),
            "version": "1.39.10",
        },
        {
            "kind": "wordpress",
            "path": f"{www}/blog/current",
            "realpath": str(blog_release),
            "version": "6.8.3",
        },
    ]


def test_find_cms_sites_reports_symlink_path_when_seen_first(tmp_path):
    mediawiki, www, _ = _cms_tree(tmp_path)
    sites = find_cms_sites((f"{www}/wiki", str(mediawiki)))
    assert len(sites) == 1
    assert sites[0]["path"] == f"{www}/wiki"
    assert sites[0]["realpath"] == str(mediawiki)


def test_find_cms_sites_unreadable_version_and_missing_roots(tmp_path):
    site = tmp_path / "site"
    (site / "wp-includes").mkdir(parents=True)
    (site / "wp-includes/version.php").write_text("<?php\n// truncated\n")
    sites = find_cms_sites((str(site), str(tmp_path / "absent/*")))
    assert _basics(sites) == [
        {"kind": "wordpress", "path": str(site), "realpath": str(site), "version": None}
    ]


# --- needrestart ------------------------------------------------------------


def test_parse_needrestart_kernel_upgrade_and_services():
    result = parse_needrestart(NEEDRESTART)
    assert result == {
        "services": ["apache2.service", "systemd-journald.service"],
        "kernel": {"running": "6.1.0-18-amd64", "expected": "6.1.0-28-amd64", "status": 3},
        "kernel_outdated": True,
    }


@pytest.mark.parametrize(("status", "outdated"), [("0", False), ("1", False), ("2", True)])
def test_parse_needrestart_kernel_status(status, outdated):
    result = parse_needrestart(f"NEEDRESTART-VER: 3.6\nNEEDRESTART-KSTA: {status}\n")
    assert result["kernel_outdated"] is outdated
    assert result["services"] == []


def test_parse_needrestart_garbage_status_counts_as_unknown():
    assert parse_needrestart("NEEDRESTART-KSTA: x\n")["kernel"] == {"status": 0}


# --- dpkg lock --------------------------------------------------------------

_HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


def test_dpkg_lock_state_held_by_another_process(tmp_path):
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert dpkg_lock_state(str(lock)) == {"locked": True, "checked": True}
    finally:
        holder.stdin.close()
        holder.wait(timeout=5)
    # Released when the holder exits.
    assert dpkg_lock_state(str(lock)) == {"locked": False, "checked": True}


def test_dpkg_lock_state_free_and_left_free(tmp_path):
    lock = tmp_path / "lock-frontend"
    lock.write_text("")
    assert dpkg_lock_state(str(lock)) == {"locked": False, "checked": True}
    # The probe must not keep the lock: another process can still take it.
    fd = os.open(lock, os.O_RDWR)
    try:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                child_fd = os.open(lock, os.O_RDWR)
                fcntl.lockf(child_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os._exit(0)
            except OSError:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        os.close(fd)


def test_dpkg_lock_state_missing_file(tmp_path):
    state = dpkg_lock_state(str(tmp_path / "absent"))
    assert state == {"locked": False, "checked": False, "error": "No such file or directory"}


# --- package-list age -------------------------------------------------------


def _apt_dirs(tmp_path, lists_mtime, sources_mtime, dropin_mtime=None):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "partial").mkdir()
    for name in (
        "mirror.example_debian_dists_bookworm_InRelease",
        "mirror.example_debian_dists_bookworm_main_binary-amd64_Packages",
    ):
        (lists / name).write_text("")
        os.utime(lists / name, (lists_mtime, lists_mtime))
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "sources.list").write_text("deb http://mirror.example/debian bookworm main\n")
    os.utime(etc / "sources.list", (sources_mtime, sources_mtime))
    dropins = etc / "sources.list.d"
    dropins.mkdir()
    if dropin_mtime is not None:
        (dropins / "debian-security.sources").write_text("Types: deb\n")
        os.utime(dropins / "debian-security.sources", (dropin_mtime, dropin_mtime))
    os.utime(dropins, (sources_mtime, sources_mtime))
    os.utime(lists, (lists_mtime, lists_mtime))
    return str(lists), str(etc / "sources.list*")


def test_apt_lists_age_seconds_since_refresh(tmp_path):
    now = 1_750_000_000
    lists, sources = _apt_dirs(tmp_path, lists_mtime=now - 600, sources_mtime=now - 86400)
    assert apt_lists_age(lists, sources, now=now, stamp=str(tmp_path / "no-stamp")) == 600


def test_apt_lists_age_never_negative(tmp_path):
    now = 1_750_000_000
    lists, sources = _apt_dirs(tmp_path, lists_mtime=now + 30, sources_mtime=now - 86400)
    assert apt_lists_age(lists, sources, now=now, stamp=str(tmp_path / "no-stamp")) == 0


def test_apt_lists_age_sources_newer_than_lists(tmp_path):
    now = 1_750_000_000
    lists, sources = _apt_dirs(tmp_path, lists_mtime=now - 600, sources_mtime=now - 60)
    assert apt_lists_age(lists, sources, now=now, stamp=str(tmp_path / "no-stamp")) is None


def test_apt_lists_age_dropin_source_newer_than_lists(tmp_path):
    now = 1_750_000_000
    lists, sources = _apt_dirs(
        tmp_path, lists_mtime=now - 600, sources_mtime=now - 86400, dropin_mtime=now - 10
    )
    assert apt_lists_age(lists, sources, now=now, stamp=str(tmp_path / "no-stamp")) is None


def test_apt_lists_age_counts_from_the_refresh_stamp(tmp_path):
    # An unchanged archive leaves old Release mtimes; the stamp says apt ran.
    now = 1_750_000_000
    lists, sources = _apt_dirs(tmp_path, lists_mtime=now - 86400, sources_mtime=now - 90000)
    stamp = tmp_path / "update-success-stamp"
    stamp.write_text("")
    os.utime(stamp, (now - 60, now - 60))
    assert apt_lists_age(lists, sources, now=now, stamp=str(stamp)) == 60


def test_apt_lists_age_never_fetched(tmp_path):
    lists = tmp_path / "lists"
    (lists / "partial").mkdir(parents=True)
    assert (
        apt_lists_age(
            str(lists), str(tmp_path / "sources.list*"), now=1, stamp=str(tmp_path / "no-stamp")
        )
        is None
    )


def test_apt_lists_age_defaults_to_current_time(tmp_path):
    stamp = time.time() - 120
    lists, sources = _apt_dirs(tmp_path, lists_mtime=stamp, sources_mtime=stamp - 3600)
    assert 119 <= apt_lists_age(lists, sources, stamp=str(tmp_path / "no-stamp")) <= 130


# --- HostProbe --------------------------------------------------------------

_DPKG_ARGV = ("dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n")
_UPDATE_ARGV = ("apt-get", "update", "-qq")
_SIMULATE_ARGV = SIMULATE_DIST_UPGRADE
_SHOWHOLD_ARGV = ("apt-mark", "showhold")
_SOURCES_ARGV = (*SOURCE_QUERY, "apache2", "libperl5.36", "tzdata")
_NEEDRESTART_ARGV = ("/usr/sbin/needrestart", "-b", "-r", "l")


class FakeRun:
    """Stands in for ``AnsibleModule.run_command`` with canned output per argv."""

    def __init__(self, outputs):
        self.outputs = outputs
        self.calls = []

    def __call__(self, argv, environ_update=None):
        self.calls.append((tuple(argv), dict(environ_update or {})))
        try:
            return self.outputs[tuple(argv)]
        except KeyError:
            raise AssertionError(f"unexpected command {argv}") from None

    @property
    def argvs(self):
        return [argv for argv, _ in self.calls]


def _outputs(overrides=None):
    outputs = {
        _DPKG_ARGV: (0, DPKG_QUERY, ""),
        _UPDATE_ARGV: (0, "", ""),
        _SIMULATE_ARGV: (0, APT_SIMULATION, ""),
        # tzdata is unknown to this dpkg: dpkg-query exits 1 and lists the rest.
        _SOURCES_ARGV: (1, "apache2\tapache2\nlibperl5.36\tperl\n", "no packages found"),
        _SHOWHOLD_ARGV: (0, "mariadb-server\nlinux-image-amd64\n", ""),
        _NEEDRESTART_ARGV: (0, NEEDRESTART, ""),
    }
    outputs.update(overrides or {})
    return outputs


@pytest.fixture
def host(tmp_path, monkeypatch):
    """Point every fixed host path the probe reads at a fake tree."""
    files = {
        "/etc/os-release": OS_RELEASE,
        "/etc/debian_version": "12.12\n",
        "/var/run/reboot-required.pkgs": "linux-image-6.1.0-28-amd64\nlibc6\nlibc6\n",
    }
    present = {"/var/run/reboot-required", "/usr/sbin/needrestart"}
    globbed = {
        "/var/lib/dpkg/updates/*": ["/var/lib/dpkg/updates/0003"],
        "/boot/vmlinuz-*": ["/boot/vmlinuz-6.1.0-27-amd64", "/boot/vmlinuz-6.1.0-28-amd64"],
    }
    ages = []

    real_exists = host_state.os.path.exists
    real_glob = host_state.glob.glob

    def fake_exists(path):
        if path in present:
            return True
        if path.startswith(("/var/run/", "/usr/sbin/")):
            return False
        return real_exists(path)

    def fake_glob(pattern, *args, **kwargs):
        if pattern in globbed:
            return list(globbed[pattern])
        return real_glob(pattern, *args, **kwargs)

    def fake_age():
        return ages.pop(0) if ages else 7200

    monkeypatch.setattr(host_state, "_read", files.get)
    monkeypatch.setattr(host_state.os.path, "exists", fake_exists)
    monkeypatch.setattr(host_state.glob, "glob", fake_glob)
    monkeypatch.setattr(host_state, "apt_lists_age", fake_age)
    monkeypatch.setattr(host_state, "SIMULATION_CACHE", str(tmp_path / "cache" / "sim.json"))
    monkeypatch.setattr(host_state, "dpkg_lock_state", lambda: {"locked": False, "checked": True})
    monkeypatch.setattr(
        host_state,
        "disk_usage",
        lambda paths: [{"path": p, "free_mb": 5000, "total_mb": 20000} for p in paths],
    )

    mediawiki = tmp_path / "mediawiki"
    (mediawiki / "includes").mkdir(parents=True)
    (mediawiki / "includes/Defines.php").write_text(MW_DEFINES)

    class Host:
        pass

    fake = Host()
    fake.files, fake.present, fake.globbed, fake.ages = files, present, globbed, ages
    fake.cms_roots = (str(mediawiki),)
    return fake


def test_collect_all_sections(host):
    run = FakeRun(_outputs())
    host.ages[:] = [7200, 5]
    before = int(time.time())
    state = HostProbe(run).collect(
        ["os", "stack", "cms", "updates", "restarts"], 3600, host.cms_roots
    )

    assert before <= state["probe_time"] <= int(time.time())
    assert state["os"]["id"] == "debian"
    assert state["os"]["version_id"] == "12"
    assert state["os"]["codename"] == "bookworm"
    assert state["os"]["pretty_name"] == "Debian GNU/Linux 12 (bookworm)"
    assert state["os"]["debian_version"] == "12.12"
    assert state["os"]["kernel"] == os.uname().release

    assert state["package_count"] == 7
    assert state["components"]["apache"]["upstream"] == "2.4.68"
    assert state["components"]["php"]["upstream"] == "8.2.28"
    assert _basics(state["cms"]) == [
        {
            "kind": "mediawiki",
            "path": host.cms_roots[0],
            "realpath": host.cms_roots[0],
            "version": "1.39.10",
        }
    ]

    updates = state["updates"]
    assert updates["cache_refreshed"] is True
    assert updates["cache_age_s"] == 5  # measured again after the refresh
    assert updates["held"] == ["linux-image-amd64", "mariadb-server"]
    assert updates["security_count"] == 3
    assert updates["regular_count"] == 1
    assert len(updates["pending"]) == 4

    assert state["dpkg"] == {"locked": False, "checked": True, "interrupted": True}
    assert [d["path"] for d in state["disk"]] == ["/", "/var", "/var/cache/apt/archives"]

    restarts = state["restarts"]
    assert restarts["reboot_required"] is True
    assert restarts["reboot_packages"] == ["libc6", "linux-image-6.1.0-28-amd64"]
    assert restarts["needrestart"] is True
    assert restarts["services"] == ["apache2.service", "systemd-journald.service"]
    assert restarts["kernel_outdated"] is True
    assert restarts["kernel_reboot"] == {
        "running": os.uname().release,
        "installed": "6.1.0-28-amd64",
        "reboot_pending_for": "6.1.0-28-amd64",
    }

    assert run.argvs == [
        _DPKG_ARGV,
        _UPDATE_ARGV,
        _SIMULATE_ARGV,
        _SOURCES_ARGV,
        _SHOWHOLD_ARGV,
        _NEEDRESTART_ARGV,
    ]
    sources = {p["package"]: p.get("source_package") for p in state["updates"]["pending"]}
    assert sources == {
        "apache2": "apache2",
        "libperl5.36": "perl",
        "tzdata": "tzdata",
        "linux-image-6.1.0-28-amd64": None,
    }
    envs = dict(run.calls)
    assert envs[_SIMULATE_ARGV] == {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
    assert envs[_UPDATE_ARGV]["LC_ALL"] == "C"
    assert envs[_NEEDRESTART_ARGV] == {"LC_ALL": "C"}


def test_collect_only_requested_sections(host):
    run = FakeRun(_outputs())
    state = HostProbe(run).collect(["os"], 3600, host.cms_roots)
    assert set(state) == {"probe_time", "os"}
    assert run.calls == []


def test_check_mode_never_refreshes_package_lists(host):
    run = FakeRun(_outputs())
    host.ages[:] = [None]  # lists missing or outdated sources: would refresh otherwise
    state = HostProbe(run, check_mode=True).collect(["updates"], 3600, host.cms_roots)
    assert _UPDATE_ARGV not in run.argvs
    assert run.argvs == [_SIMULATE_ARGV, _SOURCES_ARGV, _SHOWHOLD_ARGV]
    assert state["updates"]["cache_refreshed"] is False
    assert state["updates"]["cache_age_s"] is None


def test_fresh_lists_are_not_refreshed(host):
    run = FakeRun(_outputs())
    host.ages[:] = [120]
    state = HostProbe(run).collect(["updates"], 3600, host.cms_roots)
    assert _UPDATE_ARGV not in run.argvs
    assert state["updates"]["cache_age_s"] == 120
    assert state["updates"]["cache_refreshed"] is False


def test_cache_max_age_zero_never_refreshes(host):
    run = FakeRun(_outputs())
    host.ages[:] = [None]
    state = HostProbe(run).collect(["updates"], 0, host.cms_roots)
    assert _UPDATE_ARGV not in run.argvs
    assert state["updates"]["cache_refreshed"] is False


def test_no_pending_updates_and_no_needrestart(host):
    host.present.clear()
    host.globbed.clear()
    host.globbed["/boot/vmlinuz-*"] = []
    host.files.pop("/var/run/reboot-required.pkgs")
    run = FakeRun(
        _outputs(
            {
                _SIMULATE_ARGV: (0, "0 upgraded, 0 newly installed, 0 to remove\n", ""),
                _SHOWHOLD_ARGV: (0, "", ""),
            }
        )
    )
    host.ages[:] = [10]
    state = HostProbe(run).collect(["updates", "restarts"], 3600, host.cms_roots)
    assert state["updates"]["pending"] == []
    assert state["updates"]["security_count"] == 0
    assert state["updates"]["regular_count"] == 0
    assert state["dpkg"]["interrupted"] is False
    assert state["restarts"] == {
        "reboot_required": False,
        "reboot_packages": [],
        "needrestart": False,
        "services": [],
        "kernel_outdated": False,
        "kernel_reboot": {
            "running": os.uname().release,
            "installed": None,
            "reboot_pending_for": None,
        },
    }
    assert _NEEDRESTART_ARGV not in run.argvs


def test_failing_command_raises_probe_error(host):
    run = FakeRun(
        _outputs(
            {
                _SIMULATE_ARGV: (
                    100,
                    "",
                    "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by "
                    "process 4242 (apt-get)\n",
                )
            }
        )
    )
    host.ages[:] = [10]
    with pytest.raises(ProbeError) as excinfo:
        HostProbe(run).collect(["updates"], 3600, host.cms_roots)
    message = str(excinfo.value)
    assert message.startswith("apt-get -s -q exited 100: E: Could not get lock")
    assert message.endswith("(apt-get)")


def test_failing_update_raises_before_simulation(host):
    run = FakeRun(_outputs({_UPDATE_ARGV: (100, "", "E: Failed to fetch\n")}))
    host.ages[:] = [None]
    with pytest.raises(ProbeError, match=r"^apt-get update -qq exited 100: E: Failed to fetch$"):
        HostProbe(run).collect(["updates"], 3600, host.cms_roots)
    assert run.argvs == [_UPDATE_ARGV]


def test_probe_error_message_is_truncated(host):
    run = FakeRun(_outputs({_DPKG_ARGV: (2, "", "x" * 1000)}))
    with pytest.raises(ProbeError) as excinfo:
        HostProbe(run).collect(["stack"], 3600, host.cms_roots)
    message = str(excinfo.value)
    assert message.startswith("dpkg-query -W -f=${Package}")
    assert message.endswith(" exited 2: " + "x" * 300)


def test_unchanged_apt_state_reuses_the_simulation(host, tmp_path, monkeypatch):
    run = FakeRun(_outputs())
    key = [["/var/lib/dpkg/status", 1, 2]]
    monkeypatch.setattr(host_state, "apt_state_key", lambda: key)
    first = HostProbe(run).collect(["updates"], 0, host.cms_roots)["updates"]
    second = HostProbe(run).collect(["updates"], 0, host.cms_roots)["updates"]
    simulations = [a for a in run.argvs if a == _SIMULATE_ARGV]
    assert len(simulations) == 1
    assert first["simulation_cached"] is False and second["simulation_cached"] is True
    assert second["pending"] == first["pending"] and second["held"] == first["held"]
    # Anything apt's answer depends on changes the key: simulate again.
    key[0][1] = 3
    third = HostProbe(run).collect(["updates"], 0, host.cms_roots)["updates"]
    assert third["simulation_cached"] is False
    assert len([a for a in run.argvs if a == _SIMULATE_ARGV]) == 2


def test_check_mode_writes_no_simulation_cache(host, tmp_path):
    HostProbe(FakeRun(_outputs()), check_mode=True).collect(["updates"], 0, host.cms_roots)
    assert not (tmp_path / "cache" / "sim.json").exists()


def test_apt_state_key_follows_files_in_watched_directories(tmp_path):
    watched = tmp_path / "preferences.d"
    watched.mkdir()
    before = apt_state_key([str(watched)])
    (watched / "pin").write_text("Package: *\n")
    assert apt_state_key([str(watched)]) != before


def test_enabled_modules_from_debian_link_directories(tmp_path):
    for name in ("rewrite.load", "php8.2.load", "ssl.conf", "mpm_prefork.load"):
        path = tmp_path / "apache2" / "mods-enabled" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    for sapi, names in {
        "apache2": ["20-mysqli.ini", "10-opcache.ini", "20-intl.ini"],
        "cli": ["20-intl.ini"],
    }.items():
        conf_d = tmp_path / "php" / "8.2" / sapi / "conf.d"
        conf_d.mkdir(parents=True)
        for name in names:
            (conf_d / name).write_text("")
    components = stack_components(parse_dpkg_query(DPKG_QUERY))

    enabled = enabled_modules(components, etc=str(tmp_path))

    assert enabled["apache"]["modules"] == ["mpm_prefork", "php8.2", "rewrite"]
    assert enabled["php"]["modules"] == {"apache2": ["intl", "mysqli", "opcache"], "cli": ["intl"]}


def test_enabled_modules_without_the_directories(tmp_path):
    components = stack_components(parse_dpkg_query(DPKG_QUERY))
    enabled = enabled_modules(components, etc=str(tmp_path))
    assert enabled["apache"]["modules"] == []
    assert enabled["php"]["modules"] == {}


APT_AUTO_INSTALL_DEBUG = """\
Starting pkgProblemResolver with broken count: 0
  Installing linux-image-6.1.0-57-amd64:amd64 as Depends of linux-image-amd64:amd64
    Installing initramfs-tools:amd64 as Recommends of linux-image-6.1.0-57-amd64:amd64
  Installing libnew2:amd64 as PreDepends of apache2-bin:amd64
  Installing libnew2:amd64 as Depends of apache2:amd64
Done
"""


def test_parse_apt_simulation_names_what_needs_a_new_package():
    simulation = (
        "Inst linux-image-amd64 [6.1.176-1] (6.1.192-3 Debian-Security:12/oldstable-security "
        "[amd64])\n"
        "Inst linux-image-6.1.0-57-amd64 (6.1.192-3 Debian-Security:12/oldstable-security "
        "[amd64])\n"
        "Inst libnew2 (2.0-1 Debian-Security:12/oldstable-security [amd64])\n"
        "Inst initramfs-tools (0.142 Debian:12.12/oldstable [all])\n"
    )
    pending = {p["package"]: p for p in parse_apt_simulation(simulation, APT_AUTO_INSTALL_DEBUG)}
    assert pending["linux-image-6.1.0-57-amd64"]["needed_by"] == ["linux-image-amd64"]
    assert pending["libnew2"]["needed_by"] == ["apache2-bin", "apache2"]
    # A recommendation is not a need.
    assert pending["initramfs-tools"]["needed_by"] == []
    assert "needed_by" not in pending["linux-image-amd64"]


@pytest.mark.parametrize(
    ("images", "running", "pending"),
    [
        (["6.1.0-50-amd64", "6.1.0-57-amd64"], "6.1.0-50-amd64", "6.1.0-57-amd64"),
        # ABI numbers compare as numbers: -9 is older than -10.
        (["6.1.0-9-amd64", "6.1.0-10-amd64"], "6.1.0-9-amd64", "6.1.0-10-amd64"),
        (["6.1.0-50-amd64", "6.1.0-57-amd64"], "6.1.0-57-amd64", None),
        # A container runs the machine's kernel: any installed one waits for a reboot.
        (["6.1.0-57-amd64"], "6.18.44-fc-v1300", "6.1.0-57-amd64"),
        ([], "6.18.44-fc-v1300", None),
    ],
)
def test_kernel_reboot_state_names_the_kernel_a_reboot_would_start(
    tmp_path, images, running, pending
):
    for release in images:
        (tmp_path / f"vmlinuz-{release}").write_text("")
    (tmp_path / "config-9.9.9").write_text("")
    state = kernel_reboot_state(running, str(tmp_path))
    assert state["reboot_pending_for"] == pending
    assert state["installed"] == (
        max(images, key=lambda r: int(r.split("-")[1])) if images else None
    )
