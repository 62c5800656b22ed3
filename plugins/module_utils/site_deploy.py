# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deploy one site release (an artifact with a checksum) with releases/, shared/ and current.

Standard library only (runs on managed hosts). One deploy per site root at
a time (a lock file held for the whole run). The release is unpacked under
a temporary name and renamed when complete, shared paths are links into
shared/, ``current`` changes in one rename, and a release that fails its
health check is switched back and kept as ``<release>.failed-<run_id>``.
Killed at any point, the site serves the old or the new release, and the
next run finishes or undoes what the killed one started: a release that is
current but was never verified is health-checked before anything else.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import shutil
import time

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import (
    KINDS,
    ReleaseError,
    ReleaseSwitch,
    sha256_of,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import tail

STATE_FILE = ".sla-deploy.json"
LOCK_FILE = ".sla-deploy.lock"
RELEASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
_SHARED_PATH = re.compile(r"^(?!/)(?!.*(?:^|/)\.\.(?:/|$))[^\x00]+$")


class DeployError(ReleaseError):
    pass


def validate_deploy_params(p):
    errors = []
    if not RELEASE_ID.match(p.get("release") or ""):
        errors.append(
            f"release {p.get('release')!r} is not a release name: letters, digits, '.', '_', "
            "'+' and '-', starting with a letter or digit"
        )
    if not re.fullmatch(r"[0-9a-fA-F]{64}", p.get("sha256") or ""):
        errors.append(f"sha256 {p.get('sha256')!r} is not a SHA-256 hex digest")
    for path in p.get("shared_paths") or []:
        if not _SHARED_PATH.match(path):
            errors.append(f"shared path {path!r} must be relative and stay inside the release")
    if p.get("schema") and not p.get("database"):
        errors.append("a schema step needs the site's database, for the dump it can roll back to")
    return errors


class SiteDeploy(ReleaseSwitch):
    error = DeployError
    backup_subdir = "deploy"

    def _state(self, root):
        try:
            with open(os.path.join(root, STATE_FILE), encoding="utf-8") as handle:
                return json.load(handle)
        except (FileNotFoundError, ValueError):
            return {}

    def _save_state(self, root, state):
        atomic_write(os.path.join(root, STATE_FILE), json.dumps(state, indent=1, sort_keys=True))

    def _lock(self, root):
        handle = open(os.path.join(root, LOCK_FILE), "a+", encoding="utf-8")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip() or "another run"
            handle.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise DeployError(
                    f"another deploy of {root} is running ({holder}); nothing changed: "
                    "wait for it or check it"
                ) from None
            raise
        handle.seek(0)
        handle.truncate()
        handle.write(f"run {self._params['run_id']}, pid {os.getpid()}, since {int(time.time())}\n")
        handle.flush()
        return handle

    def _checks(self, p, version):
        marker = {
            "type": "http",
            "url": f"{p['site_url'].rstrip('/')}/{p['version_marker'].lstrip('/')}",
            "contains": version,
        }
        return [marker, *(p.get("health_checks") or [])]

    def deploy(self, p):
        self._params = p
        root = p["site_root"]
        releases = os.path.join(root, "releases")
        current = os.path.join(root, "current")
        target = os.path.join(releases, p["release"])
        result = {"site_root": root, "release": p["release"], "steps": self.steps}
        if not os.path.isdir(root):
            raise DeployError(f"site root {root} does not exist; nothing changed", result)
        if self._check_mode:
            live = os.path.realpath(current) if os.path.islink(current) else None
            if live == os.path.realpath(target):
                return dict(result, changed=False, msg=f"{root} already serves {p['release']}")
            self._would(f"deploy {p['release']} to {root}")
            return dict(result, changed=True, msg=f"{p['release']} would be deployed to {root}")
        lock = self._lock(root)
        try:
            return self._deploy_locked(p, root, releases, current, target, result)
        finally:
            lock.close()

    def _deploy_locked(self, p, root, releases, current, target, result):
        os.makedirs(releases, exist_ok=True)
        os.makedirs(os.path.join(root, "shared"), exist_ok=True)
        for name in os.listdir(releases):
            if name.startswith(".partial-"):
                # Left by a killed run; never current, so safe to remove.
                shutil.rmtree(os.path.join(releases, name), ignore_errors=True)
        state = self._state(root)
        live = os.path.realpath(current) if os.path.islink(current) else None
        result["previous"] = os.path.basename(live) if live else None
        state = self._finish_interrupted_schema(p, root, live, state, result)
        if live == os.path.realpath(target):
            return self._verify_current(p, root, current, target, state, result)
        failed = sorted(n for n in os.listdir(releases) if n.startswith(f"{p['release']}.failed-"))
        if failed and not p.get("retry_failed"):
            raise DeployError(
                f"{p['release']} failed here before ({failed[-1]}); nothing changed: fix the "
                "artifact or deploy it again with retry_failed",
                result,
            )
        actual = sha256_of(p["artifact"])
        if actual != p["sha256"].lower():
            raise DeployError(
                f"artifact has SHA-256 {actual}, not {p['sha256'].lower()}; nothing changed", result
            )
        self._step("artifact verified (SHA-256)")
        if os.path.lexists(target):
            # Unpacked by a run killed before its switch; unpacked again from the verified artifact.
            shutil.rmtree(target)
        self._unpack_release(p, releases, target)
        run_dir = self._run_dir(p)
        result["backup"] = run_dir
        if p.get("schema"):
            result["database_dump"] = self._dump(p["database"], run_dir, p.get("db_server") or "")
        return self._switch(p, root, current, target, live, result)

    def _unpack_release(self, p, releases, target):
        partial = os.path.join(releases, f".partial-{p['release']}-{p['run_id']}")
        os.mkdir(partial, 0o755)
        try:
            rc, _out, err = self._call(
                [
                    "tar",
                    "-xf",
                    p["artifact"],
                    "-C",
                    partial,
                    f"--strip-components={p['strip_components']}",
                    "--no-same-owner",
                ]
            )
            if rc != 0:
                raise DeployError(
                    f"unpacking failed: tar exited {rc}: {tail(err)}; nothing changed"
                )
            for relative in p.get("shared_paths") or []:
                inside = os.path.join(partial, relative)
                if os.path.isdir(inside) and not os.path.islink(inside):
                    shutil.rmtree(inside)
                elif os.path.lexists(inside):
                    os.remove(inside)
                os.makedirs(os.path.dirname(inside), exist_ok=True)
                shared = os.path.join(os.path.dirname(releases), "shared", relative)
                # Relative from the final place, so the link holds after the rename.
                final_dir = os.path.dirname(os.path.join(target, relative))
                os.symlink(os.path.relpath(shared, final_dir), inside)
            os.rename(partial, target)
        except (DeployError, OSError) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise DeployError(
                exc.msg if isinstance(exc, DeployError) else f"{exc}; nothing changed"
            ) from None
        self._step(
            f"unpacked releases/{p['release']}; linked {', '.join(p.get('shared_paths') or []) or 'nothing'} to shared/"
        )

    def _finish_interrupted_schema(self, p, root, live, state, result):
        """A run killed between its dump and its switch may have left a half-migrated
        database under the old code: it is put back from that run's dump first."""
        pending = state.get("schema_pending")
        if not pending:
            return state
        target = os.path.join(root, "releases", pending["release"])
        if live != os.path.realpath(target):
            rc, error = self._restore(pending["database"], pending["dump"], pending["db_server"])
            if rc != 0:
                raise DeployError(
                    f"a deploy of {pending['release']} (run {pending['run_id']}) was interrupted "
                    f"during its schema step and restoring {pending['database']} from "
                    f"{pending['dump']} failed: {error}; nothing else changed",
                    result,
                )
            self._step(
                f"database {pending['database']} restored from the dump of the interrupted "
                f"deploy of {pending['release']} (run {pending['run_id']})"
            )
            result["restored_interrupted"] = pending
        state = {k: v for k, v in state.items() if k != "schema_pending"}
        self._save_state(root, state)
        return state

    def _switch(self, p, root, current, target, live, result):
        def schema_step():
            if p.get("schema"):
                # Written before the schema step: a run killed during it is undone by the next.
                pending = {
                    "release": p["release"],
                    "run_id": p["run_id"],
                    "database": p["database"],
                    "dump": result["database_dump"],
                    "db_server": p.get("db_server") or "",
                }
                self._save_state(root, dict(self._state(root), schema_pending=pending))
                self._schema_update(KINDS[p["schema"]], target, p["site_url"])

        self._go_live(
            p,
            f"deploying {p['release']}",
            target,
            self._checks(p, p["version"]),
            result,
            before=schema_step,
            undo=lambda switched: self._undo(p, root, current, target, live, result, switched),
        )
        self._record(root, p)
        result["pruned"] = self._prune_releases(root, p["keep_releases"])
        return dict(result, changed=True, msg=f"{root} serves {p['release']}")

    def _verify_current(self, p, root, current, target, state, result):
        if state.get("verified") == p["release"] and state.get("sha256") == p["sha256"].lower():
            ok, health = self._health.run(self._checks(p, p["version"]), 1, 0)
            if ok:
                return dict(result, changed=False, msg=f"{root} already serves {p['release']}")
        # Current but never verified (a killed run), or failing now: verify properly.
        ok, health = self._health.run(
            self._checks(p, p["version"]), p["health_retries"], p["health_delay"]
        )
        result["health"] = health
        if ok:
            self._record(root, p)
            self._step(f"releases/{p['release']} verified")
            return dict(result, changed=True, msg=f"{root} serves {p['release']}, now verified")
        previous = state.get("verified")
        back = os.path.join(root, "releases", previous) if previous else None
        if back is None or not os.path.isdir(back) or previous == p["release"]:
            raise DeployError(
                f"{root} serves {p['release']}, which fails its health checks, and no verified "
                "release is left to switch back to",
                result,
            )
        self._undo(p, root, current, target, back, result, True)
        raise DeployError(
            f"{root}: {p['release']} was current but unhealthy; switched back to {previous}", result
        )

    def _undo(self, p, root, current, target, live, result, switched):
        steps = []
        if switched:
            if live:
                self._point(current, live, p["run_id"])
                steps.append(f"current -> releases/{os.path.basename(live)}")
            else:
                os.remove(current)
                steps.append("current removed: there was no release before")
        if result.get("database_dump"):
            rc, error = self._restore(
                p["database"], result["database_dump"], p.get("db_server") or ""
            )
            steps.append(
                f"database {p['database']} restored"
                if rc == 0
                else f"database restore failed: {error}"
            )
        try:
            self._reload(p["reload_services"])
        except ReleaseError as exc:
            steps.append(exc.msg)
        failed = f"{target}.failed-{p['run_id']}"
        with open(os.path.join(target, ".sla-failed"), "w", encoding="utf-8") as marker:
            json.dump(
                {"run_id": p["run_id"], "sha256": p["sha256"].lower(), "steps": self.steps}, marker
            )
        os.rename(target, failed)
        steps.append(f"failed release kept as {os.path.basename(failed)}")
        state = self._state(root)
        restore_failed = any(step.startswith("database restore failed") for step in steps)
        if not restore_failed and state.pop("schema_pending", None) is not None:
            self._save_state(root, state)
        result.update(rolled_back=True, rollback_steps=steps, failed_release=failed)

    def _record(self, root, p):
        self._save_state(
            root,
            {
                "verified": p["release"],
                "sha256": p["sha256"].lower(),
                "version": p["version"],
                "run_id": p["run_id"],
                "time": int(time.time()),
            },
        )

    def _prune_releases(self, root, keep):
        # Aged by the time they were unpacked; failed releases are evidence and stay.
        pruned = self._prune_where(
            root,
            keep,
            lambda name: not name.startswith(".") and ".failed-" not in name,
            os.path.getmtime,
        )
        return sorted(pruned)
