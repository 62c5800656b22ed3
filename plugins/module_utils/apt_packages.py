# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an update plan means to apt and dpkg: checks against their answers and the
command lines that act on them.

Pure functions, standard library only: ``apt_apply`` runs them on the host, and they
read nothing themselves, so the plan's rules are tested without a host.
"""

from __future__ import annotations

import re

from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import RUN_ID, HostError
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import parse_apt_simulation

# Environment of every apt-get and dpkg call that changes packages: nothing may prompt.
APT_ENV = {
    "DEBIAN_FRONTEND": "noninteractive",
    "NEEDRESTART_MODE": "l",
    "NEEDRESTART_SUSPEND": "1",
    "APT_LISTCHANGES_FRONTEND": "none",
    "UCF_FORCE_CONFFOLD": "1",
    "LC_ALL": "C",
}
_CONFFILE_OPTIONS = ("--force-confdef", "--force-confold")

# Units that needrestart may name but that are never restarted from a
# maintenance run (needrestart's own defaults skip them too): restarting them
# ends sessions or the machine's message bus. They are reported as pending.
_NEVER_RESTART = re.compile(
    r"^(dbus(-broker)?|systemd-logind|(serial-)?getty@.*|user@.*|"
    r"emergency|rescue|display-manager|gdm3?|lightdm|sddm)(\.service)?$"
)
# needrestart's name for PID 1 itself: it is re-executed, not restarted.
SYSTEMD_MANAGER = ("systemd-manager", "systemd-manager.service")
_REMV_LINE = re.compile(r"^Remv (?P<package>\S+)")


class ApplyError(HostError):
    """The task fails. ``result`` holds what the module returns with the failure."""


def validate_params(params):
    """Check what the argument spec cannot; return a list of messages."""
    errors = []
    packages = params["packages"]
    if not packages:
        errors.append("packages must name at least one package")
    names = [p["name"] for p in packages]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        errors.append(f"packages names each package once; repeated: {', '.join(duplicates)}")
    for package in packages:
        if package["version"] == package["previous"]:
            errors.append(
                f"package {package['name']}: version equals previous ({package['version']})"
            )
    if not RUN_ID.match(params["run_id"]) or params["run_id"] in (".", ".."):
        errors.append(
            "run_id must be one path component of letters, digits and . _ : + - "
            f"(at most 128 characters), got {params['run_id']!r}"
        )
    for option, minimum in (
        ("min_free_mb", 0),
        ("lock_timeout", 0),
        ("health_retries", 1),
        ("health_delay", 0),
    ):
        if params[option] < minimum:
            errors.append(f"{option} must be at least {minimum}")
    return errors


def parse_installed(text):
    """Map package name (without architecture) to (version, status abbreviation)."""
    installed = {}
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) == 3 and fields[0]:
            installed[fields[0].split(":")[0]] = (fields[1], fields[2].strip())
    return installed


def is_new(package):
    """A planned package with no installed version: an update installs it newly."""
    return package["previous"] is None


def installed_version(installed, name):
    """The version dpkg has fully installed, or None (absent, removed, half-installed)."""
    version, status = installed.get(name.split(":")[0], (None, ""))
    return version if status.startswith(("ii", "hi")) else None


def classify(packages, installed):
    """Split the plan into packages to upgrade and packages already at the target.

    Raises ApplyError naming every package that is neither at ``previous``
    nor at ``version``, or is held: the plan no longer matches the host. A
    new package (``previous`` None) must not be installed yet, or be at its
    target already.
    """
    to_apply, current, problems = [], [], []
    for package in packages:
        name = package["name"]
        version, status = installed.get(name.split(":")[0], (None, ""))
        if is_new(package):
            present = installed_version(installed, name)
            if present is None:
                to_apply.append(package)
            elif present == package["version"]:
                current.append(package)
            else:
                problems.append(f"{name} is installed at {present}, the plan expects it new")
            continue
        if version is None or not status.startswith(("ii", "hi")):
            state = "not installed" if version is None else f"in dpkg state {status!r}"
            problems.append(f"{name} is {state}")
        elif status.startswith("h"):
            problems.append(f"{name} is held (apt-mark hold); leave it out of the plan")
        elif version == package["version"]:
            current.append(package)
        elif version == package["previous"]:
            to_apply.append(package)
        else:
            problems.append(
                f"{name} is installed at {version}, the plan expects {package['previous']}"
            )
    if problems:
        raise ApplyError(
            "stale plan, nothing changed: "
            + "; ".join(problems)
            + ". Probe the host again and plan from its current state."
        )
    return to_apply, current


def simulation_problems(text, to_apply):
    """What apt would do other than install exactly the planned versions, in apt's words."""
    wanted = {p["name"].split(":")[0]: p["version"] for p in to_apply}
    problems = []
    seen = set()
    for change in parse_apt_simulation(text):
        name = change["package"].split(":")[0]
        if name not in wanted:
            what = "install" if change["new_install"] else "upgrade"
            problems.append(f"apt would also {what} {name} {change['candidate']}")
        elif change["candidate"] != wanted[name]:
            problems.append(f"apt would install {name} {change['candidate']}, not {wanted[name]}")
        else:
            seen.add(name)
    for line in text.splitlines():
        match = _REMV_LINE.match(line)
        if match:
            problems.append(f"apt would remove {match.group('package')}")
    problems.extend(f"apt would not upgrade {name}" for name in sorted(set(wanted) - seen))
    return problems


PLAN_MISMATCH = "the plan does not match what apt would do, nothing changed: "


def unplannable(problems):
    return ApplyError(
        PLAN_MISMATCH + "; ".join(problems) + ". Plan every package the update needs."
    )


def check_simulation(text, to_apply):
    """Check that apt would install exactly the planned versions and nothing else."""
    problems = simulation_problems(text, to_apply)
    if problems:
        raise unplannable(problems)


def group_of(package):
    return package.get("group") or package["name"]


def groups(packages):
    """The planned groups in plan order: ``{group: [packages]}``."""
    grouped = {}
    for package in packages:
        grouped.setdefault(group_of(package), []).append(package)
    return grouped


def install_argv(to_apply, lock_timeout, simulate=False):
    argv = ["apt-get"]
    if simulate:
        argv += ["-s", "-o", "Debug::NoLocking=1"]
    argv += ["install", "-y"]
    # --only-upgrade would skip a planned new package; classify has checked
    # that every other package is installed, which is what it guards.
    if not any(is_new(p) for p in to_apply):
        argv.append("--only-upgrade")
    for option in _CONFFILE_OPTIONS:
        argv += ["-o", f"Dpkg::Options::={option}"]
    argv += ["--no-install-recommends", "-o", f"DPkg::Lock::Timeout={lock_timeout}"]
    argv += [f"{p['name']}={p['version']}" for p in to_apply]
    return argv


def rollback_argv(debs):
    """Reinstall the backed-up .debs through apt.

    apt orders the downgrade by Pre-Depends (libpam-modules needs
    libpam-modules-bin at its own version configured first); ``dpkg -i`` with
    every archive at once unpacks them all first and refuses such a package.
    apt may take a version the mirror still has from the mirror instead of
    the file; the files are what it falls back on.
    """
    argv = ["apt-get", "install", "-y", "--allow-downgrades", "--no-remove"]
    for option in _CONFFILE_OPTIONS:
        argv += ["-o", f"Dpkg::Options::={option}"]
    return argv + list(debs)


def purge_argv(names):
    """Purge packages an update had newly installed.

    dpkg, not apt: dpkg refuses to remove a package something still depends
    on, where apt would remove the dependants along with it.
    """
    return ["dpkg", "--purge", *_CONFFILE_OPTIONS, *names]


def restartable(services):
    """Split needrestart's services into (restart, leave pending)."""
    restart = [s for s in services if not _NEVER_RESTART.match(s)]
    pending = [s for s in services if _NEVER_RESTART.match(s)]
    return restart, pending


def package_summary(package):
    return {"name": package["name"], "previous": package["previous"], "version": package["version"]}


def new_package_entry(package):
    """The manifest entry of a new package: nothing to back up, purged on rollback."""
    return dict(
        name=package["name"], previous=None, target=package["version"], new_install=True, debs=[]
    )
