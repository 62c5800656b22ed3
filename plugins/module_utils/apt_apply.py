# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply an exact list of package updates on a Debian host, safely.

Runs on the managed host inside the ``apt_apply`` module, so it uses the
standard library only. One call checks the host is ready (plan still
current, disk, dpkg lock), backs up what it is about to replace (the old
``.deb`` files and, optionally, all databases), installs, restarts what
``needrestart`` names, runs health checks, and rolls back to the backed-up
packages when the install or a health check fails.

Host commands go through an injected ``run(argv, environ_update=..., cwd=...,
data=...) -> (rc, out, err)`` callable (``AnsibleModule.run_command``), and
every host path lives in ``HostPaths``, so the whole sequence is testable
without a host.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import time

from ansible_collections.twovalue.sla.plugins.module_utils.apt_packages import (
    APT_ENV,
    PLAN_MISMATCH,
    SYSTEMD_MANAGER,
    ApplyError,
    classify,
    groups,
    install_argv,
    installed_version,
    is_new,
    new_package_entry,
    package_summary,
    parse_installed,
    purge_argv,
    restartable,
    rollback_argv,
    simulation_problems,
    unplannable,
    validate_params,
)
from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    DUMP_BINARIES,
    SQL_CLIENTS,
    DumpError,
    HealthChecks,
    dump_to_gzip,
    existing_ancestor,
    http_get,
    tail,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import HostRunner
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import (
    dpkg_lock_state,
    kernel_reboot_state,
    parse_needrestart,
)

DEFAULT_BACKUP_DIR = "/var/backups/twovalue-sla"


class HostPaths:
    """Where things live on the host; tests point these at a temporary tree."""

    def __init__(self, **overrides):
        self.lock_frontend = "/var/lib/dpkg/lock-frontend"
        self.dpkg_updates = "/var/lib/dpkg/updates"
        self.reboot_required = "/var/run/reboot-required"
        self.boot = "/boot"
        self.disk_paths = ("/", "/var/cache/apt/archives")
        self.needrestart = "/usr/sbin/needrestart"
        self.dpkg_repack = "/usr/bin/dpkg-repack"
        self.dump_binaries = DUMP_BINARIES
        self.sql_clients = SQL_CLIENTS
        for key, value in overrides.items():
            if not hasattr(self, key):
                raise TypeError(f"unknown host path {key}")
            setattr(self, key, value)

    def first_existing(self, candidates):
        return next((path for path in candidates if os.path.exists(path)), None)


def free_mb(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize // (1024 * 1024)


# --- the sequence -----------------------------------------------------------


class AptApply(HostRunner):
    """Back up, apply, check and roll back one planned set of package updates."""

    error = ApplyError
    failure_note = ", nothing changed"

    def __init__(
        self,
        run,
        check_mode=False,
        paths=None,
        http=http_get,
        popen=subprocess.Popen,
        sleep=time.sleep,
        clock=time.monotonic,
        now=time.time,
    ):
        super().__init__(run, check_mode, environ={"LC_ALL": "C"})
        self.paths = paths or HostPaths()
        self._http = http
        self._popen = popen
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._manifest = None
        self._manifest_path = None

    # commands

    def installed(self, names):
        # dpkg-query exits 1 when a name is unknown; the missing name is reported by classify.
        rc, out, err = self._call(
            ["dpkg-query", "-W", "-f=${Package}\t${Version}\t${db:Status-Abbrev}\n", *names]
        )
        if rc not in (0, 1):
            raise ApplyError(
                f"reading installed versions failed: dpkg-query exited {rc}: {tail(err)}"
            )
        return parse_installed(out)

    # preconditions

    def check_disk(self, min_free_mb, backup_dir):
        paths = list(self.paths.disk_paths) + [existing_ancestor(backup_dir)]
        low = []
        for path in paths:
            if os.path.exists(path):
                free = free_mb(path)
                if free < min_free_mb:
                    low.append(f"{path} has {free} MiB free")
        if low:
            raise ApplyError(
                f"not enough disk space, nothing changed: {'; '.join(low)}, "
                f"below min_free_mb {min_free_mb}. Free space first (apt-get clean, old backups)."
            )

    def check_dpkg_interrupted(self):
        if glob.glob(os.path.join(self.paths.dpkg_updates, "*")):
            raise ApplyError(
                "a previous dpkg run was interrupted, nothing changed: "
                f"{self.paths.dpkg_updates} is not empty. Run 'dpkg --configure -a' "
                "on the host, check its outcome, then probe and plan again."
            )

    def wait_for_lock(self, timeout):
        start = self._clock()
        while True:
            state = dpkg_lock_state(self.paths.lock_frontend)
            if not state["locked"]:
                return
            waited = self._clock() - start
            if waited >= timeout:
                raise ApplyError(
                    f"the dpkg lock {self.paths.lock_frontend} is still held by another "
                    f"process after {int(waited)} s (lock_timeout {timeout}), nothing changed. "
                    "Another package run (unattended-upgrades, apt) is busy; try again later."
                )
            self._sleep(min(2, max(0.1, timeout - waited)))

    # simulation

    def _simulate(self, packages, lock_timeout):
        simulation = self._must(
            install_argv(packages, lock_timeout, simulate=True), "simulating the install", APT_ENV
        )
        return simulation_problems(simulation, packages)

    def simulate(self, to_apply, params):
        """Have apt simulate exactly the planned set; return (what to apply, skipped groups).

        When apt disagrees, each group is simulated on its own to find the
        ones it disagrees with. With ``partial`` (an active SLA) the others
        are applied and the skipped groups returned with apt's words; without
        it (the customer approved the whole set) nothing is applied.
        """
        problems = self._simulate(to_apply, params["lock_timeout"])
        planned = groups(to_apply)
        if not problems:
            return to_apply, []
        if len(planned) == 1:
            raise unplannable(problems)
        skipped = []
        for group, members in planned.items():
            group_problems = self._simulate(members, params["lock_timeout"])
            if group_problems:
                skipped.append(
                    {
                        "group": group,
                        "packages": [p["name"] for p in members],
                        "reason": "; ".join(group_problems),
                    }
                )
        words = "; ".join(f"group {s['group']}: {s['reason']}" for s in skipped)
        if not skipped:
            # Each group alone is fine, together apt disagrees: nothing is safe to apply.
            raise unplannable(problems)
        if not params.get("partial"):
            raise ApplyError(
                f"{PLAN_MISMATCH}{words}. An approved set is applied whole or not at all, "
                "so no other group was applied either.",
                {"skipped_groups": skipped},
            )
        names = {name for s in skipped for name in s["packages"]}
        remaining = [p for p in to_apply if p["name"] not in names]
        if not remaining:
            raise ApplyError(
                f"{PLAN_MISMATCH}no group could be applied: {words}.", {"skipped_groups": skipped}
            )
        problems = self._simulate(remaining, params["lock_timeout"])
        if problems:
            raise ApplyError(
                f"{PLAN_MISMATCH}{words}; without them: {'; '.join(problems)}.",
                {"skipped_groups": skipped},
            )
        self.warnings.extend(f"not applied, group {s['group']}: {s['reason']}" for s in skipped)
        return remaining, skipped

    # backup

    def _write_manifest(self, **updates):
        self._manifest.update(updates, updated=_iso(self._now()))
        text = json.dumps(self._manifest, indent=2, sort_keys=True) + "\n"
        atomic_write(self._manifest_path, text, mode=0o600)

    def _new_debs(self, debs_dir, before):
        return sorted(set(os.listdir(debs_dir)) - before)

    def backup_package(self, package, debs_dir):
        """Put the installed version's .deb into debs_dir; return the manifest entry."""
        entry = {
            "name": package["name"],
            "previous": package["previous"],
            "target": package["version"],
        }
        before = set(os.listdir(debs_dir))
        rc, _out, err = self._call(
            [
                "apt-get",
                "download",
                "-o",
                "APT::Sandbox::User=root",
                f"{package['name']}={package['previous']}",
            ],
            cwd=debs_dir,
        )
        files = self._new_debs(debs_dir, before)
        if rc == 0 and files:
            return dict(entry, source="download", debs=files)
        if os.path.exists(self.paths.dpkg_repack):
            rc, _out, err2 = self._call([self.paths.dpkg_repack, package["name"]], cwd=debs_dir)
            files = self._new_debs(debs_dir, before)
            if rc == 0 and files:
                return dict(entry, source="dpkg-repack", debs=files)
            reason = f"dpkg-repack exited {rc}: {tail(err2)}"
        else:
            reason = "dpkg-repack is not installed"
        raise ApplyError(
            f"no rollback possible, nothing changed: {package['name']} {package['previous']} "
            f"cannot be downloaded any more ({tail(err) or f'apt-get exited {rc}'}) and {reason}. "
            "Install dpkg-repack on the host or take the update without this package."
        )

    def dump_databases(self, binary, target):
        argv = [
            binary,
            "--user=root",
            "--protocol=socket",
            "--single-transaction",
            "--all-databases",
            "--routines",
            "--events",
        ]
        try:
            dump_to_gzip(argv, target, self._popen)
        except DumpError as exc:
            raise ApplyError(f"database dump failed, nothing changed: {exc}") from None

    def backup(self, to_apply, backup_root, run_id, db_dump, dump_binary):
        run_dir = os.path.join(backup_root, run_id)
        try:
            os.makedirs(backup_root, mode=0o700, exist_ok=True)
            os.mkdir(run_dir, 0o700)
        except FileExistsError:
            raise ApplyError(
                f"backup directory {run_dir} already exists, nothing changed: "
                "every run needs its own run_id; an earlier backup is never overwritten."
            ) from None
        except OSError as exc:
            raise ApplyError(
                f"cannot create the backup directory, nothing changed: {exc}"
            ) from None
        debs_dir = os.path.join(run_dir, "debs")
        os.mkdir(debs_dir, 0o700)
        self._manifest_path = os.path.join(run_dir, "manifest.json")
        self._manifest = {
            "run_id": run_id,
            "created": _iso(self._now()),
            "status": "backing_up",
            "packages": [
                {"name": p["name"], "previous": p["previous"], "target": p["version"]}
                for p in to_apply
            ],
            "databases": None,
        }
        self._write_manifest()
        try:
            entries = [
                new_package_entry(p) if is_new(p) else self.backup_package(p, debs_dir)
                for p in to_apply
            ]
            self._write_manifest(packages=entries)
            if db_dump:
                target = os.path.join(run_dir, "databases.sql.gz")
                self.dump_databases(dump_binary, target)
                self._write_manifest(databases=os.path.basename(target))
        except OSError as exc:
            message = f"writing the backup failed, nothing changed: {exc}"
            self._write_manifest(status="aborted", error=message)
            raise ApplyError(message, {"backup": run_dir}) from None
        except ApplyError as exc:
            self._write_manifest(status="aborted", error=exc.msg)
            exc.result.setdefault("backup", run_dir)
            raise
        self._write_manifest(status="backed_up")
        return run_dir, entries

    # services and health

    def restart_services(self):
        """Restart what needrestart names; return (restarted, pending, failures)."""
        if not os.path.exists(self.paths.needrestart):
            return [], [], []
        rc, out, err = self._call([self.paths.needrestart, "-b", "-r", "l"])
        if rc != 0:
            self.warnings.append(f"needrestart exited {rc}: {tail(err)}; no service restarted")
            return [], [], []
        restart, pending = restartable(parse_needrestart(out)["services"])
        restarted, failures = [], []
        for unit in restart:
            if unit in SYSTEMD_MANAGER:
                argv = ["systemctl", "daemon-reexec"]
            else:
                argv = ["systemctl", "restart", unit]
            rc, _out, err = self._call(argv)
            if rc == 0:
                restarted.append(unit)
            else:
                failures.append(f"systemctl restart {unit} exited {rc}: {tail(err)}")
        return restarted, pending, failures

    def run_health_checks(self, checks, retries, delay):
        return HealthChecks(self._call, self._http, self._sleep, self.paths.sql_clients).run(
            checks, retries, delay
        )

    # rollback

    def _rollback_failure(self, argv, what):
        rc, _out, err = self._call(argv, APT_ENV)
        return f"rollback failed: {what} exited {rc}: {tail(err)}" if rc != 0 else ""

    def rollback(self, run_dir, entries, services_before, restart=True):
        # The old versions go back first: until the packages that need a new
        # package are back at versions that do not, dpkg refuses to purge it.
        debs = [os.path.join(run_dir, "debs", f) for e in entries for f in e["debs"]]
        failed = debs and self._rollback_failure(
            rollback_argv(debs), "apt-get install of the backed-up packages"
        )
        if failed:
            return False, failed, services_before
        versions = self.installed([e["name"] for e in entries])
        new = [e["name"] for e in entries if e.get("new_install")]
        present = [n for n in new if installed_version(versions, n) is not None]
        if present:
            failed = self._rollback_failure(
                purge_argv(present), f"purging the newly installed {', '.join(present)}"
            )
            if failed:
                return False, failed, services_before
            versions = self.installed([e["name"] for e in entries])
        wrong = [
            f"{e['name']} is at {installed_version(versions, e['name']) or 'none'}"
            for e in entries
            if installed_version(versions, e["name"]) != e["previous"]
        ]
        if wrong:
            return False, "rollback incomplete: " + "; ".join(wrong), services_before
        if not restart:
            return True, "", []
        restarted, _pending, failures = self.restart_services()
        # Restart the services restarted for the update again, plus what needrestart names now.
        for unit in services_before:
            if unit not in restarted and unit not in SYSTEMD_MANAGER:
                rc, _out, err = self._call(["systemctl", "restart", unit])
                if rc == 0:
                    restarted.append(unit)
                else:
                    failures.append(f"systemctl restart {unit} exited {rc}: {tail(err)}")
        if failures:
            self.warnings.extend(failures)
        return True, "", restarted

    # the whole sequence

    def apply(self, params):
        errors = validate_params(params)
        if errors:
            raise ApplyError("; ".join(errors))
        packages = params["packages"]
        result = {
            "changed": False,
            "applied": [],
            "already_current": [],
            "backup": None,
            "services_restarted": [],
            "services_pending": [],
            "health": [],
            "rolled_back": False,
            "skipped_groups": [],
        }
        self._note_reboot(result)

        to_apply, current = classify(packages, self.installed([p["name"] for p in packages]))
        result["already_current"] = [package_summary(p) for p in current]
        if not to_apply:
            return result

        self.check_disk(params["min_free_mb"], params["backup_dir"])
        self.check_dpkg_interrupted()
        to_apply, skipped = self.simulate(to_apply, params)
        result["skipped_groups"] = skipped

        db_dump = params.get("db_dump")
        dump_binary = self.paths.first_existing(self.paths.dump_binaries)
        if db_dump is None:
            db_dump = dump_binary is not None
        elif db_dump and dump_binary is None:
            raise ApplyError(
                "db_dump is true but neither mariadb-dump nor mysqldump is installed, nothing changed"
            )

        if params["health_checks"]:
            # A site that is unhealthy before the update would be rolled back
            # after it for a fault the update did not cause.
            ok, health = self.run_health_checks(
                params["health_checks"], params["health_retries"], params["health_delay"]
            )
            if not ok:
                raise ApplyError(
                    "the site fails its health checks before the update, nothing changed: "
                    + "; ".join(h["detail"] for h in health if not h["ok"])
                    + ". Fix the site or the health checks first.",
                    dict(result, health_before=health),
                )

        result.update(changed=True, applied=[package_summary(p) for p in to_apply])
        if self._check_mode:
            self._check_rollback_possible(to_apply)
            return result

        self.wait_for_lock(params["lock_timeout"])
        run_dir, entries = self.backup(
            to_apply, params["backup_dir"], params["run_id"], db_dump, dump_binary
        )
        result["backup"] = run_dir

        # The backup may have taken minutes: make sure dpkg is still ours to use.
        try:
            self.wait_for_lock(params["lock_timeout"])
        except ApplyError as exc:
            self._write_manifest(status="aborted", error=exc.msg)
            raise ApplyError(exc.msg, dict(result, changed=False, applied=[])) from None

        self._write_manifest(status="applying")
        failure = self._install(to_apply, params["lock_timeout"])
        if failure is None and params["restart_services"]:
            restarted, pending, failures = self.restart_services()
            result.update(services_restarted=restarted, services_pending=pending)
            if failures:
                failure = "restarting services failed: " + "; ".join(failures)
        if failure is None and params["health_checks"]:
            ok, health = self.run_health_checks(
                params["health_checks"], params["health_retries"], params["health_delay"]
            )
            result["health"] = health
            if not ok:
                failure = "health check failed: " + "; ".join(
                    h["detail"] for h in health if not h["ok"]
                )

        if failure is None:
            self._write_manifest(status="applied")
            self._note_reboot(result)
            return result
        raise ApplyError(self._fail(failure, params, run_dir, entries, result), result)

    def _install(self, to_apply, lock_timeout):
        rc, _out, err = self._call(install_argv(to_apply, lock_timeout), APT_ENV)
        if rc != 0:
            return f"apt-get install exited {rc}: {tail(err)}"
        versions = self.installed([p["name"] for p in to_apply])
        wrong = [
            p["name"]
            for p in to_apply
            if versions.get(p["name"].split(":")[0], (None,))[0] != p["version"]
        ]
        if wrong:
            return f"apt-get install left {', '.join(wrong)} below the planned version"
        new = [p["name"] for p in to_apply if is_new(p)]
        if new:
            # Installed by name, apt would mark them manual; they came as
            # dependencies, and apt's autoremove must see them as such.
            rc, _out, err = self._call(["apt-mark", "auto", *new])
            if rc != 0:
                self.warnings.append(f"apt-mark auto {' '.join(new)} exited {rc}: {tail(err)}")
        return None

    def _fail(self, failure, params, run_dir, entries, result):
        """Roll back if allowed, record the outcome, and return the task's failure message."""
        self._note_reboot(result)
        if self._untouched(entries):
            # apt-get failed before dpkg ran (a download failed, say): nothing to roll back.
            self._write_manifest(status="aborted", error=failure)
            result.update(changed=False, applied=[])
            return f"{failure}. No package was changed, nothing to roll back; backup kept at {run_dir}."
        if not params["rollback"]:
            self._write_manifest(status="failed", error=failure)
            return (
                f"{failure}. Not rolled back (rollback is false); the backup is kept at {run_dir}."
            )
        ok, problem, restarted = self.rollback(
            run_dir, entries, result["services_restarted"], params["restart_services"]
        )
        if not ok:
            self._write_manifest(status="failed", error=f"{failure}; {problem}")
            return (
                f"{failure}. {problem[0].upper()}{problem[1:]}; the host needs manual repair "
                f"from the backup kept at {run_dir}."
            )
        result.update(rolled_back=True, services_restarted=restarted)
        after = "no health checks are configured"
        if params["health_checks"]:
            healthy, health = self.run_health_checks(
                params["health_checks"], params["health_retries"], params["health_delay"]
            )
            result["health_after_rollback"] = health
            if healthy:
                after = "the health checks pass after the rollback"
            else:
                after = "the health checks still fail after the rollback: " + "; ".join(
                    h["detail"] for h in health if not h["ok"]
                )
        self._write_manifest(status="rolled_back", error=failure, after_rollback=after)
        self._note_reboot(result)
        return (
            f"{failure}. Rolled back to the previous versions; {after}. Backup kept at {run_dir}."
        )

    def _note_reboot(self, result):
        result["reboot_required"] = os.path.exists(self.paths.reboot_required)
        result["kernel_reboot"] = kernel_reboot_state(os.uname().release, self.paths.boot)

    def _untouched(self, entries):
        versions = self.installed([e["name"] for e in entries])
        return all(
            installed_version(versions, e["name"]) is None
            if e.get("new_install")
            else versions.get(e["name"].split(":")[0]) == (e["previous"], "ii")
            for e in entries
        ) and not glob.glob(os.path.join(self.paths.dpkg_updates, "*"))

    def _check_rollback_possible(self, to_apply):
        """In check mode, confirm each previous version can still be backed up."""
        repack = os.path.exists(self.paths.dpkg_repack)
        for package in (p for p in to_apply if not is_new(p)):
            rc, _out, err = self._call(
                ["apt-get", "download", "--print-uris", f"{package['name']}={package['previous']}"]
            )
            if rc != 0 and not repack:
                raise ApplyError(
                    f"no rollback possible: {package['name']} {package['previous']} cannot be "
                    f"downloaded any more ({tail(err)}) and dpkg-repack is not installed"
                )


def _iso(timestamp):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
