# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a Debian host's maintenance state in one pass.

Everything here runs on the managed host, so it uses the standard library
only: inside the ``host_probe`` module, or (the usual way, see the action
plugin) as one plain Python program without Ansible's module runtime, whose
start-up costs more host CPU than the probe itself. Parsers are pure functions
over command output so they can be tested without a host; ``HostProbe`` wires
them to the real commands and files.
"""

from __future__ import annotations

import errno
import fcntl
import glob
import json
import os
import re
import subprocess
import sys
import time

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.module_utils.cms_site import (
    SCHEMA_STATE,
    discover_sites,
)

# Packages whose installed version names a component of the LAMP + CMS stack.
_COMPONENT_PACKAGES = {
    "apache": ("apache2", "apache2-bin"),
    "mariadb": ("mariadb-server", "mariadb-server-core", "mariadb-client"),
    "mediawiki": ("mediawiki",),
}
_PHP_PACKAGE = re.compile(r"^php(\d+\.\d+)-(common|cli)$")
_INST_LINE = re.compile(
    r"^Inst (?P<package>\S+)(?: \[(?P<installed>[^\]]+)\])? \((?P<candidate>\S+) (?P<origins>[^\[]*?)\s*\[(?P<arch>[^\]]+)\]\)"
)
# apt's own account of why it installs a package (Debug::pkgDepCache::AutoInstall).
_AUTO_INSTALL_LINE = re.compile(
    r"^\s*Installing (?P<package>\S+) as (?P<kind>PreDepends|Depends) of (?P<needed_by>\S+)\s*$"
)
# The simulation apt runs for pending updates, telling why it installs new packages.
SIMULATE_DIST_UPGRADE = (
    "apt-get",
    "-s",
    "-q",
    "-o",
    "Debug::NoLocking=1",
    "-o",
    "Debug::pkgDepCache::AutoInstall=1",
    "dist-upgrade",
)

DEFAULT_CMS_ROOTS = (
    "/usr/share/mediawiki",
    "/var/www/*",
    "/var/www/*/current",
    "/var/www/html",
)

PROBE_SECTIONS = ("os", "stack", "cms", "updates", "restarts")
PROBE_ARGUMENT_SPEC = {
    "sections": {
        "type": "list",
        "elements": "str",
        "choices": list(PROBE_SECTIONS),
        "default": list(PROBE_SECTIONS),
    },
    "cache_max_age": {"type": "int", "default": 3600},
    "cms_roots": {"type": "list", "elements": "str", "default": list(DEFAULT_CMS_ROOTS)},
}


def parse_os_release(text):
    """Return the key/value pairs of an os-release file, unquoted."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key and not key.startswith("#"):
            values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def parse_dpkg_query(text):
    """Map package name to version for installed packages.

    Input lines are ``name<TAB>version<TAB>status-abbrev``; only ``ii`` and
    held ``hi`` packages count as installed.
    """
    installed = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) != 3:
            continue
        name, version, status = fields
        if status.strip() in ("ii", "hi"):
            installed[name.split(":")[0]] = version
    return installed


def _parse_origins(text):
    origins = []
    for chunk in text.split(","):
        chunk = chunk.strip()
        if not chunk:
            continue
        label, _, rest = chunk.partition(":")
        release, _, suite = rest.partition("/")
        origins.append({"label": label, "release": release, "suite": suite})
    return origins


def is_security_origin(origin):
    return "security" in origin["label"].lower() or origin["suite"].endswith("-security")


def _bare_name(name):
    return name.split(":")[0]


def parse_auto_installs(text):
    """Map each package apt installs as a dependency to the packages that need it."""
    needed_by = {}
    for line in text.splitlines():
        match = _AUTO_INSTALL_LINE.match(line)
        if match:
            needing = needed_by.setdefault(_bare_name(match.group("package")), [])
            name = _bare_name(match.group("needed_by"))
            if name not in needing:
                needing.append(name)
    return needed_by


def parse_apt_simulation(text, debug=""):
    """Turn ``apt-get -s dist-upgrade`` output into pending changes.

    A package without an installed version is a new dependency that the
    upgrade would pull in; it is reported so nothing is installed unseen.
    ``debug`` is apt's AutoInstall debug output (its standard error): it names
    the packages that need each new one (``needed_by``).
    """
    needed_by = parse_auto_installs(debug)
    pending = []
    for line in text.splitlines():
        match = _INST_LINE.match(line)
        if not match:
            continue
        origins = _parse_origins(match.group("origins"))
        pending.append(
            {
                "package": match.group("package"),
                "installed": match.group("installed"),
                "candidate": match.group("candidate"),
                "arch": match.group("arch"),
                "origins": origins,
                "suite": origins[0]["suite"] if origins else "",
                "security": any(is_security_origin(o) for o in origins),
                "new_install": match.group("installed") is None,
            }
        )
        if pending[-1]["new_install"]:
            pending[-1]["needed_by"] = needed_by.get(_bare_name(match.group("package")), [])
    return pending


SOURCE_QUERY = ("dpkg-query", "-W", "-f=${Package}\t${source:Package}\n")


def parse_source_packages(text):
    """Map installed binary package names to the source package they are built from."""
    sources = {}
    for line in text.splitlines():
        name, _, source = line.partition("\t")
        if name and source.strip():
            sources[_bare_name(name)] = source.strip()
    return sources


def upstream_version(debian_version):
    """Strip the epoch and Debian revision: ``1:10.11.18-0+deb12u1`` -> ``10.11.18``."""
    version = debian_version.split(":", 1)[-1]
    if "-" in version:
        version = version.rsplit("-", 1)[0]
    return re.split(r"[+~]", version, maxsplit=1)[0]


def stack_components(installed):
    """The LAMP components present on the host, from installed packages."""
    components = {}
    for component, packages in _COMPONENT_PACKAGES.items():
        for package in packages:
            if package in installed:
                components[component] = {
                    "package": package,
                    "version": installed[package],
                    "upstream": upstream_version(installed[package]),
                    "source": "debian",
                }
                break
    php_branches = sorted(
        {m.group(1) for m in (_PHP_PACKAGE.match(p) for p in installed) if m},
        key=lambda b: tuple(int(x) for x in b.split(".")),
    )
    if php_branches:
        branch = php_branches[-1]
        package = (
            f"php{branch}-common" if f"php{branch}-common" in installed else f"php{branch}-cli"
        )
        components["php"] = {
            "package": package,
            "version": installed[package],
            "upstream": upstream_version(installed[package]),
            "source": "debian",
            "branches": php_branches,
        }
    return components


_INI_PRIORITY = re.compile(r"^\d+-")


def enabled_modules(components, etc="/etc"):
    """Apache's enabled modules and PHP's enabled extensions per SAPI, from their directories.

    Debian enables a module with a link in ``mods-enabled`` (Apache) or
    ``<sapi>/conf.d`` (PHP); listing those directories answers what is
    loaded without starting Apache or PHP, which keeps the probe one cheap
    module run. PHP's built-in extensions have no file and are not listed.
    """
    if "apache" in components:
        loads = glob.glob(os.path.join(etc, "apache2", "mods-enabled", "*.load"))
        components["apache"]["modules"] = sorted(
            os.path.basename(path)[: -len(".load")] for path in loads
        )
    if "php" in components:
        branch = components["php"]["branches"][-1]
        per_sapi = {}
        for conf_d in sorted(glob.glob(os.path.join(etc, "php", branch, "*", "conf.d"))):
            sapi = os.path.basename(os.path.dirname(conf_d))
            per_sapi[sapi] = sorted(
                _INI_PRIORITY.sub("", os.path.basename(path)[: -len(".ini")])
                for path in glob.glob(os.path.join(conf_d, "*.ini"))
            )
        components["php"]["modules"] = per_sapi
    return components


def find_cms_sites(roots, schema_state=SCHEMA_STATE):
    """Find MediaWiki and WordPress installations under the given glob roots.

    Each site carries the code version its database schema was last updated
    for (``schema_version``, None when never recorded), so a package update
    that changed the code is seen to need its schema step.
    """
    try:
        with open(schema_state, encoding="utf-8") as handle:
            recorded = json.load(handle)
    except (OSError, ValueError):
        recorded = {}
    sites = discover_sites(roots)
    for site in sites:
        key = site["realpath"] if site["install"] == "debian" else site["site_root"]
        site["schema_version"] = recorded.get(os.path.realpath(key))
    return sites


def parse_needrestart(text):
    """Read ``needrestart -b`` batch output."""
    services = []
    kernel = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "NEEDRESTART-SVC":
            services.append(value)
        elif key == "NEEDRESTART-KSTA":
            # 0 unknown, 1 current, 2 ABI compatible upgrade pending, 3 version upgrade pending
            kernel["status"] = int(value) if value.isdigit() else 0
        elif key == "NEEDRESTART-KCUR":
            kernel["running"] = value
        elif key == "NEEDRESTART-KEXP":
            kernel["expected"] = value
    return {
        "services": sorted(services),
        "kernel": kernel,
        "kernel_outdated": kernel.get("status", 0) in (2, 3),
    }


def _release_key(release):
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", release)]


def kernel_reboot_state(running, boot_dir="/boot"):
    """The newest installed kernel and whether the host must reboot into it.

    Every Debian kernel package puts ``vmlinuz-<release>`` in /boot; the host
    boots the newest one. needrestart knows this too, but only where it can
    read the running kernel's image, which a container cannot.
    """
    releases = [
        os.path.basename(path)[len("vmlinuz-") :]
        for path in glob.glob(os.path.join(boot_dir, "vmlinuz-*"))
    ]
    newest = max(releases, key=_release_key, default=None)
    return {
        "running": running,
        "installed": newest,
        "reboot_pending_for": newest if newest is not None and newest != running else None,
    }


def dpkg_lock_state(lock_path="/var/lib/dpkg/lock-frontend"):
    """Report whether another process holds the dpkg frontend lock."""
    try:
        fd = os.open(lock_path, os.O_RDWR)
    except OSError as exc:
        return {"locked": False, "checked": False, "error": os.strerror(exc.errno)}
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return {"locked": True, "checked": True}
            raise
        fcntl.lockf(fd, fcntl.LOCK_UN)
        return {"locked": False, "checked": True}
    finally:
        os.close(fd)


def disk_usage(paths):
    usage = []
    for path in paths:
        if not os.path.exists(path):
            continue
        stat = os.statvfs(path)
        usage.append(
            {
                "path": path,
                "free_mb": stat.f_bavail * stat.f_frsize // (1024 * 1024),
                "total_mb": stat.f_blocks * stat.f_frsize // (1024 * 1024),
            }
        )
    return usage


UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"


def apt_lists_age(
    lists_dir="/var/lib/apt/lists",
    sources_glob="/etc/apt/sources.list*",
    now=None,
    stamp=UPDATE_STAMP,
):
    """Seconds since the package lists were last refreshed, or None if they
    must be refreshed regardless of age: never fetched, or the apt sources
    changed after the last refresh (a suite was added or switched on).

    apt leaves an unchanged list file untouched, so the newest Release file
    alone makes a quiet archive look stale; the refresh stamp and the lists
    directory's own mtime tell when apt last ran.
    """
    releases = glob.glob(os.path.join(lists_dir, "*Release"))
    if not releases:
        return None
    candidates = releases + [lists_dir] + ([stamp] if os.path.exists(stamp) else [])
    refreshed = max(os.path.getmtime(p) for p in candidates)
    sources = glob.glob(sources_glob) + glob.glob(os.path.join(sources_glob, "*"))
    if sources and max(os.path.getmtime(p) for p in sources) > refreshed:
        return None
    return max(0, int((now or time.time()) - refreshed))


SIMULATION_CACHE = "/var/cache/twovalue-sla/apt-simulation.json"
# Raised when the cached entries change shape: an older cache lacks needed_by
# and source_package.
_SIMULATION_CACHE_FORMAT = 3
# What apt's answer depends on: installed packages, package lists, configuration.
_APT_STATE_PATHS = (
    "/var/lib/dpkg/status",
    "/var/lib/apt/lists",
    UPDATE_STAMP,
    "/etc/apt/sources.list",
    "/etc/apt/sources.list.d",
    "/etc/apt/preferences",
    "/etc/apt/preferences.d",
    "/etc/apt/apt.conf.d",
)


def apt_state_key(paths=_APT_STATE_PATHS):
    """A fingerprint of everything the pending-update simulation depends on.

    The simulation (apt's resolver) is the costliest probe command; when
    neither the installed packages, nor the package lists, nor apt's
    configuration changed, its answer cannot have changed either.
    """
    entries = []
    for path in paths:
        names = [path]
        if os.path.isdir(path):
            names += sorted(glob.glob(os.path.join(path, "*")))
        for name in names:
            try:
                stat = os.stat(name)
            except OSError:
                continue
            entries.append([name, stat.st_mtime_ns, stat.st_size])
    return entries


def read_simulation_cache(path):
    try:
        with open(path, encoding="utf-8") as handle:
            cached = json.load(handle)
    except (OSError, ValueError):
        return None
    return cached if isinstance(cached, dict) else None


def write_simulation_cache(path, content):
    """Write atomically, root-only; a cache that cannot be written is skipped."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        atomic_write(path, json.dumps(content), mode=0o600)
    except OSError:
        pass


def touch_update_stamp(stamp=UPDATE_STAMP):
    os.makedirs(os.path.dirname(stamp), exist_ok=True)
    with open(stamp, "a", encoding="utf-8"):
        pass
    os.utime(stamp, None)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


class HostProbe:
    """Collect the state of one host. ``run`` is ``AnsibleModule.run_command``."""

    def __init__(self, run, check_mode=False, simulation_cache=None):
        self._run = run
        self._check_mode = check_mode
        self._simulation_cache = simulation_cache or SIMULATION_CACHE

    def _output(self, argv, env=None):
        return self._outputs(argv, env)[0]

    def _outputs(self, argv, env=None):
        rc, out, err = self._run(argv, environ_update=env or {})
        if rc != 0:
            raise ProbeError(f"{' '.join(argv[:3])} exited {rc}: {err.strip()[-300:]}")
        return out, err

    def os_facts(self):
        release = parse_os_release(_read("/etc/os-release") or "")
        uname = os.uname()
        return {
            "id": release.get("ID", ""),
            "version_id": release.get("VERSION_ID", ""),
            "codename": release.get("VERSION_CODENAME", ""),
            "pretty_name": release.get("PRETTY_NAME", ""),
            "debian_version": (_read("/etc/debian_version") or "").strip(),
            "kernel": uname.release,
            "arch": uname.machine,
        }

    def installed_packages(self):
        out = self._output(["dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n"])
        return parse_dpkg_query(out)

    def updates(self, cache_max_age):
        env = {"LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
        age = apt_lists_age()
        refreshed = False
        if cache_max_age > 0 and (age is None or age > cache_max_age) and not self._check_mode:
            self._output(["apt-get", "update", "-qq"], env)
            touch_update_stamp()
            refreshed = True
            age = apt_lists_age()
        key = apt_state_key()
        cached = read_simulation_cache(self._simulation_cache)
        from_cache = (
            cached is not None
            and cached.get("key") == key
            and cached.get("format") == _SIMULATION_CACHE_FORMAT
        )
        if from_cache:
            pending, held = cached["pending"], cached["held"]
        else:
            simulation, debug = self._outputs(list(SIMULATE_DIST_UPGRADE), env)
            pending = parse_apt_simulation(simulation, debug)
            self._add_source_packages(pending)
            held = sorted(self._output(["apt-mark", "showhold"], env).split())
            if not self._check_mode:
                write_simulation_cache(
                    self._simulation_cache,
                    {
                        "format": _SIMULATION_CACHE_FORMAT,
                        "key": key,
                        "pending": pending,
                        "held": held,
                    },
                )
        return {
            "cache_age_s": age,
            "cache_refreshed": refreshed,
            "simulation_cached": from_cache,
            "pending": pending,
            "held": held,
            "security_count": sum(1 for p in pending if p["security"]),
            "regular_count": sum(1 for p in pending if not p["security"]),
        }

    def _add_source_packages(self, pending):
        """Name each pending upgrade's source package: the controller plans them together."""
        upgrades = [p["package"] for p in pending if not p["new_install"]]
        if not upgrades:
            return
        # dpkg-query exits 1 when a name is unknown; the others are still listed.
        rc, out, err = self._run([*SOURCE_QUERY, *upgrades], environ_update={"LC_ALL": "C"})
        if rc not in (0, 1):
            raise ProbeError(f"dpkg-query -W exited {rc}: {err.strip()[-300:]}")
        sources = parse_source_packages(out)
        for package in pending:
            if not package["new_install"]:
                name = _bare_name(package["package"])
                package["source_package"] = sources.get(name, name)

    def restarts(self):
        reboot_pkgs = _read("/var/run/reboot-required.pkgs")
        state = {
            "reboot_required": os.path.exists("/var/run/reboot-required"),
            "reboot_packages": sorted(set((reboot_pkgs or "").split())),
            "needrestart": False,
            "services": [],
            "kernel_outdated": False,
            "kernel_reboot": kernel_reboot_state(os.uname().release),
        }
        if os.path.exists("/usr/sbin/needrestart"):
            # -b batch output, -r l lists only: the probe never restarts anything.
            out = self._output(["/usr/sbin/needrestart", "-b", "-r", "l"], {"LC_ALL": "C"})
            state.update(parse_needrestart(out), needrestart=True)
        return state

    def collect(self, sections, cache_max_age=3600, cms_roots=DEFAULT_CMS_ROOTS):
        state = {"probe_time": int(time.time())}
        if "os" in sections:
            state["os"] = self.os_facts()
        if "stack" in sections:
            installed = self.installed_packages()
            state["components"] = enabled_modules(stack_components(installed))
            state["package_count"] = len(installed)
        if "cms" in sections:
            state["cms"] = find_cms_sites(cms_roots)
        if "updates" in sections:
            state["updates"] = self.updates(cache_max_age)
            state["dpkg"] = dict(
                dpkg_lock_state(), interrupted=bool(glob.glob("/var/lib/dpkg/updates/*"))
            )
            state["disk"] = disk_usage(["/", "/var", "/var/cache/apt/archives"])
        if "restarts" in sections:
            state["restarts"] = self.restarts()
        return state


class ProbeError(Exception):
    """A probe command failed; the message names the command."""


def probe_parameter_problem(params):
    """What is wrong with already type-checked probe parameters, or None."""
    if params["cache_max_age"] < 0:
        return "cache_max_age must be 0 (never refresh) or a positive number of seconds"
    return None


def run_argv(argv, environ_update=None):
    """``AnsibleModule.run_command`` for an argv list, for the probe run as a plain program."""
    env = dict(os.environ)
    env.update(environ_update or {})
    try:
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True)
    except OSError as exc:
        return 127, "", str(exc)
    return (
        done.returncode,
        done.stdout.decode("utf-8", "replace"),
        done.stderr.decode("utf-8", "replace"),
    )


def probe_result(params, run, check_mode):
    """The probe's task result for parameters that passed the argument spec."""
    problem = probe_parameter_problem(params)
    if problem:
        return {"failed": True, "msg": problem}
    probe = HostProbe(run, check_mode=check_mode)
    try:
        state = probe.collect(params["sections"], params["cache_max_age"], params["cms_roots"])
    except ProbeError as exc:
        return {"failed": True, "msg": f"probe failed: {exc}"}
    return {"changed": False, "ansible_facts": {"sla_state": state}}


def standalone_main(params_json, check_mode):
    """Entry point of the plain-program probe: the result goes to stdout as JSON."""
    sys.stdout.write(json.dumps(probe_result(json.loads(params_json), run_argv, check_mode)))
