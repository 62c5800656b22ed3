# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switch a MediaWiki site to a new patch release, or roll it back; standard library only.

A site in the releases layout is ``<root>/current -> releases/<version>``.
One call verifies the release archive, unpacks it beside the running one,
carries over what belongs to the site (LocalSettings.php, uploads, extensions
and skins the release does not bring), dumps the database, makes the wiki
read-only, runs the schema update, switches ``current`` atomically and
health-checks. Any failure after the dump switches back, restores the
database and keeps the failed release, marked, for inspection.

The read-only switch is a marked block appended to the LocalSettings.php the
running release reads; it applies to web requests only, so the schema update
(command line) can write while visitors cannot.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

from ansible_collections.twovalue.sla.plugins.module_utils.cms_site import (
    FAILED_MARKER,
    SCHEMA_STATE,
    code_version,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    DUMP_BINARIES,
    SQL_CLIENTS,
    DumpError,
    HealthChecks,
    dump_to_gzip,
    first_existing,
    http_get,
    restore_from_gzip,
    shown_url,
    tail,
)

READ_ONLY_BEGIN = "# twovalue.sla maintenance: read-only begin"
READ_ONLY_END = "# twovalue.sla maintenance: read-only end"
_READ_ONLY_BLOCK = re.compile(
    r"\n?" + re.escape(READ_ONLY_BEGIN) + r".*?" + re.escape(READ_ONLY_END) + r"\n?", re.DOTALL
)
_LOCAL_DB_SERVERS = ("", "localhost", "127.0.0.1", "::1")
_CHUNK = 1024 * 1024
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")
_VERSION = re.compile(r"^\d+\.\d+\.\d+$")
# Site data that lives in a release directory and must follow the site.
CARRIED = ("LocalSettings.php", "images")


class ReleaseError(Exception):
    """The task fails; ``result`` holds what the module returns with it."""

    def __init__(self, msg, result=None):
        super().__init__(msg)
        self.msg = msg
        self.result = result or {}


def read_only_block(message):
    # PHP_SAPI: web requests are refused writes; update.php on the command line is not.
    quoted = message.replace("\\", "\\\\").replace("'", "\\'")
    return (
        f"\n{READ_ONLY_BEGIN}\nif ( PHP_SAPI !== 'cli' ) {{\n"
        f"\t$wgReadOnly = '{quoted}';\n}}\n{READ_ONLY_END}\n"
    )


def without_read_only(text):
    return _READ_ONLY_BLOCK.sub("\n", text).rstrip("\n") + "\n" if READ_ONLY_BEGIN in text else text


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _replace_file(path, text):
    """Rewrite ``path`` atomically, keeping its owner and mode (it holds the site's secrets)."""
    info = os.stat(path)
    tmp = f"{path}.sla-tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chown(tmp, info.st_uid, info.st_gid)
    os.chmod(tmp, info.st_mode & 0o7777)
    os.replace(tmp, path)


def _carry(old, new):
    """Make ``new`` hold what ``old`` holds: a symlink stays a symlink, data is hard-linked."""
    if os.path.islink(new) or os.path.isfile(new):
        os.remove(new)
    elif os.path.isdir(new):
        shutil.rmtree(new)
    if os.path.islink(old):
        os.symlink(os.readlink(old), new)
    elif os.path.isdir(old):
        # Hard links: uploads cost no space or time twice and keep their owner.
        shutil.copytree(old, new, symlinks=True, copy_function=os.link)
        for directory, _dirs, _files in os.walk(old):
            # The web server writes uploads here: its directories keep their owner too.
            _same_owner(directory, os.path.join(new, os.path.relpath(directory, old)))
    else:
        shutil.copy2(old, new)
        # LocalSettings.php is readable by the web server's group only.
        _same_owner(old, new)


def _same_owner(source, target):
    info = os.stat(source)
    os.chown(target, info.st_uid, info.st_gid)


def carried_paths(old_release, new_release):
    """Relative paths to carry: site data, and extensions and skins the new release lacks."""
    paths = [p for p in CARRIED if os.path.lexists(os.path.join(old_release, p))]
    for folder in ("extensions", "skins"):
        old_dir = os.path.join(old_release, folder)
        new_dir = os.path.join(new_release, folder)
        if not os.path.isdir(old_dir):
            continue
        for name in sorted(os.listdir(old_dir)):
            if not os.path.lexists(os.path.join(new_dir, name)):
                paths.append(os.path.join(folder, name))
    return paths


def validate_params(params):
    errors = []
    for key in ("from_version", "to_version"):
        if not _VERSION.match(params[key] or ""):
            errors.append(f"{key} is {params[key]!r}; expected a MediaWiki version like 1.39.17")
    if not _RUN_ID.match(params["run_id"] or ""):
        errors.append(f"run_id {params['run_id']!r} may hold only letters, digits and ._:+-")
    if bool(params.get("url")) == bool(params.get("path")):
        errors.append("give exactly one of url and path for the release archive")
    if not re.match(r"^[0-9a-f]{64}$", (params.get("sha256") or "").lower()):
        errors.append("sha256 must be the 64 hex digits published with the release")
    if not os.path.isabs(params["site_root"] or ""):
        errors.append(f"site_root {params['site_root']!r} must be an absolute path")
    if (params.get("db_server") or "").split(":")[0] not in _LOCAL_DB_SERVERS:
        errors.append(
            f"the wiki's database is on {params['db_server']}: only a local MariaDB can be "
            "dumped and restored around the switch"
        )
    return errors


def record_schema(path, site, version):
    state = {}
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        state = {}
    state[site] = version
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


class ReleaseSwitch:
    """One site's switch to one release, with the rollback that undoes it."""

    def __init__(
        self,
        run,
        check_mode=False,
        http=http_get,
        sleep=time.sleep,
        popen=subprocess.Popen,
        now=time.time,
        opener=urllib.request.urlopen,
        schema_state=SCHEMA_STATE,
        sql_clients=SQL_CLIENTS,
        dump_binaries=DUMP_BINARIES,
    ):
        self._run = run
        self._check_mode = check_mode
        self._sleep = sleep
        self._popen = popen
        self._now = now
        self._opener = opener
        self._schema_state = schema_state
        self._sql_clients = sql_clients
        self._dump_binaries = dump_binaries
        self._health = HealthChecks(self._call, http, sleep, sql_clients)
        self.steps = []
        self.warnings = []

    def _call(self, argv, env=None, **kwargs):
        return self._run(argv, environ_update=dict(env or {"LC_ALL": "C"}), **kwargs)

    def _step(self, text):
        self.steps.append(text)

    # the sequence

    def switch(self, p):
        root = p["site_root"]
        current = os.path.join(root, "current")
        releases = os.path.join(root, "releases")
        old_release = self._current_release(root, current, releases)
        old_version = code_version(old_release)
        to = p["to_version"]
        result = {"site_root": root, "from": old_version, "to": to, "steps": self.steps}
        if old_version == to:
            return dict(result, changed=False, msg=f"{root} already runs {to}")
        if old_version != p["from_version"]:
            raise ReleaseError(
                f"{root} runs {old_version}, not {p['from_version']} as planned: the site "
                "changed since it was probed; nothing changed",
                result,
            )
        new_release = os.path.join(releases, to)
        if os.path.lexists(new_release):
            raise ReleaseError(
                f"{new_release} exists but is not the current release; nothing changed: "
                "remove or rename it after checking what it holds",
                result,
            )
        settings = os.path.realpath(os.path.join(old_release, "LocalSettings.php"))
        self._clear_stale_read_only(settings)
        if self._check_mode:
            self._step(f"would switch {root} from {old_version} to {to}")
            return dict(result, changed=True, msg=f"{root} would be switched to {to}")

        checks = self._site_checks(p, old_version)
        ok, health = self._health.run(checks, p["health_retries"], p["health_delay"])
        if not ok:
            raise ReleaseError(
                "the site fails its health checks before the update, nothing changed: "
                + "; ".join(h["detail"] for h in health if not h["ok"]),
                dict(result, health_before=health),
            )
        run_dir = self._run_dir(p)
        result["backup"] = run_dir
        archive = self._fetch(p, run_dir)
        self._unpack(archive, releases, new_release, old_release, to, p["run_id"])
        dump = self._dump(p["database"], run_dir)
        result["database_dump"] = dump
        return self._switch_and_check(p, result, old_release, new_release, settings, dump)

    def _switch_and_check(self, p, result, old_release, new_release, settings, dump):
        root, to = p["site_root"], p["to_version"]
        current = os.path.join(root, "current")
        original = self._read(settings)
        switched = False
        try:
            _replace_file(
                settings, original.rstrip("\n") + "\n" + read_only_block(p["read_only_message"])
            )
            self._step("wiki read-only for visitors")
            self._schema_update(new_release)
            self._point(current, new_release, p["run_id"])
            switched = True
            self._step(f"current -> releases/{to}")
            self._reload(p["reload_services"])
            ok, health = self._health.run(
                self._site_checks(p, to), p["health_retries"], p["health_delay"]
            )
            result["health"] = health
            if not ok:
                raise ReleaseError(
                    "health checks failed after the switch: "
                    + "; ".join(h["detail"] for h in health if not h["ok"])
                )
        except (ReleaseError, OSError) as exc:
            reason = exc.msg if isinstance(exc, ReleaseError) else f"{exc}"
            self._roll_back(p, result, old_release, new_release, settings, original, dump, switched)
            raise ReleaseError(
                f"{root}: switching to {to} failed and was rolled back: {reason}", result
            ) from None
        _replace_file(settings, without_read_only(self._read(settings)))
        self._step("wiki writable again")
        record_schema(self._schema_state, os.path.realpath(root), to)
        result["pruned"] = self._prune(root, p["keep_releases"])
        return dict(result, changed=True, msg=f"{root} switched from {result['from']} to {to}")

    # steps

    def _current_release(self, root, current, releases):
        if not os.path.islink(current):
            raise ReleaseError(
                f"{current} is not a symlink: the site is not in the releases layout "
                "(current -> releases/<version>); nothing changed"
            )
        target = os.path.realpath(current)
        if os.path.dirname(target) != os.path.realpath(releases):
            raise ReleaseError(f"{current} points to {target}, outside {releases}; nothing changed")
        return target

    def _clear_stale_read_only(self, settings):
        text = self._read(settings)
        if READ_ONLY_BEGIN in text:
            # Left by an interrupted run: the wiki has been read-only since.
            self.warnings.append(f"{settings} still held a read-only block from an earlier run")
            if not self._check_mode:
                _replace_file(settings, without_read_only(text))

    @staticmethod
    def _read(path):
        with open(path, encoding="utf-8") as handle:
            return handle.read()

    @staticmethod
    def _site_checks(p, version):
        checks = [
            {
                "type": "http",
                "url": p["api_url"] + "?action=query&meta=siteinfo&format=json",
                "contains": f'"generator":"MediaWiki {version}"',
            }
        ]
        return checks + list(p.get("health_checks") or [])

    def _run_dir(self, p):
        run_dir = os.path.join(p["backup_dir"], "cms", p["run_id"])
        try:
            os.makedirs(os.path.dirname(run_dir), mode=0o700, exist_ok=True)
            os.mkdir(run_dir, 0o700)
        except FileExistsError:
            raise ReleaseError(
                f"backup directory {run_dir} already exists, nothing changed: every run needs "
                "its own run_id"
            ) from None
        return run_dir

    def _fetch(self, p, run_dir):
        if p.get("path"):
            archive = p["path"]
            if not os.path.isfile(archive):
                raise ReleaseError(f"release archive {archive} does not exist; nothing changed")
        else:
            archive = os.path.join(run_dir, os.path.basename(p["url"].split("?")[0]) or "release")
            try:
                with self._opener(p["url"], timeout=60) as answer, open(archive, "wb") as out:
                    shutil.copyfileobj(answer, out, _CHUNK)
            except OSError as exc:
                raise ReleaseError(
                    f"downloading {shown_url(p['url'])} failed, nothing changed: {exc}"
                ) from None
        actual = sha256_of(archive)
        if actual != p["sha256"].lower():
            raise ReleaseError(
                f"release archive {os.path.basename(archive)} has SHA-256 {actual}, not the "
                f"published {p['sha256'].lower()}; nothing changed"
            )
        self._step(f"archive {os.path.basename(archive)} verified (SHA-256)")
        return archive

    def _unpack(self, archive, releases, new_release, old_release, to, run_id):
        partial = os.path.join(releases, f".partial-{to}-{run_id}")
        os.mkdir(partial, 0o755)
        try:
            rc, _out, err = self._call(
                ["tar", "-xf", archive, "-C", partial, "--strip-components=1", "--no-same-owner"]
            )
            if rc != 0:
                raise ReleaseError(f"unpacking failed: tar exited {rc}: {tail(err)}")
            found = code_version(partial)
            if found != to:
                raise ReleaseError(f"the archive holds MediaWiki {found}, not {to}")
            carried = carried_paths(old_release, partial)
            for relative in carried:
                _carry(os.path.join(old_release, relative), os.path.join(partial, relative))
            os.rename(partial, new_release)
        except (ReleaseError, OSError) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            reason = exc.msg if isinstance(exc, ReleaseError) else str(exc)
            raise ReleaseError(f"{reason}; nothing changed") from None
        self._step(f"unpacked releases/{to}; carried {', '.join(carried) or 'nothing'}")

    def _dump(self, database, run_dir):
        binary = first_existing(self._dump_binaries)
        if not database or binary is None:
            raise ReleaseError(
                "no database name in LocalSettings.php or no mariadb-dump on the host: "
                "the switch needs a dump to roll back to; nothing changed"
            )
        target = os.path.join(run_dir, f"{database}.sql.gz")
        argv = [binary, "--user=root", "--protocol=socket", "--single-transaction"]
        argv += ["--routines", "--triggers", "--databases", database]
        try:
            dump_to_gzip(argv, target, self._popen)
        except DumpError as exc:
            raise ReleaseError(f"database dump failed, nothing changed: {exc}") from None
        self._step(f"database {database} dumped")
        return target

    def _schema_update(self, release):
        rc, out, err = self._call(["php", "maintenance/update.php", "--quick"], cwd=release)
        if rc != 0:
            raise ReleaseError(f"update.php exited {rc}: {tail(err) or tail(out)}")
        self._step("update.php --quick done")

    @staticmethod
    def _point(link, target, run_id):
        tmp = f"{link}.sla-{run_id}"
        # Relative to the real directory: the kernel resolves ".." physically, so a
        # site root reached through a symlink would otherwise get a dangling link.
        real_dir = os.path.realpath(os.path.dirname(link))
        os.symlink(os.path.relpath(os.path.realpath(target), real_dir), tmp)
        # rename(2) replaces the link in one step: no request sees a missing site.
        os.replace(tmp, link)

    def _reload(self, services):
        for service in services:
            # PHP keeps resolved paths and bytecode per process; a reload drops them.
            rc, _out, err = self._call(["systemctl", "reload", service])
            if rc != 0:
                raise ReleaseError(f"systemctl reload {service} exited {rc}: {tail(err)}")

    def _roll_back(self, p, result, old_release, new_release, settings, original, dump, switched):
        problems = []
        steps = []
        if switched:
            self._point(os.path.join(p["site_root"], "current"), old_release, p["run_id"])
            steps.append(f"current -> releases/{os.path.basename(old_release)}")
        rc, error = self._restore(p["database"], dump)
        if rc == 0:
            steps.append(f"database {p['database']} restored from the dump")
        else:
            problems.append(f"database restore failed ({error}); the dump is {dump}")
        try:
            self._reload(p["reload_services"])
        except ReleaseError as exc:
            problems.append(exc.msg)
        _replace_file(settings, original)
        steps.append("wiki writable again")
        failed = f"{new_release}.failed-{p['run_id']}"
        with open(os.path.join(new_release, FAILED_MARKER), "w", encoding="utf-8") as marker:
            json.dump(
                {"run_id": p["run_id"], "time": int(self._now()), "steps": self.steps}, marker
            )
        os.rename(new_release, failed)
        steps.append(f"failed release kept as {os.path.basename(failed)}")
        ok, health = self._health.run(
            self._site_checks(p, result["from"]), p["health_retries"], p["health_delay"]
        )
        if not ok:
            problems.append("the old release fails its health checks after the rollback")
        result.update(
            rolled_back=not problems,
            rollback_steps=steps,
            rollback_problems=problems,
            failed_release=failed,
            health_after_rollback=health,
        )

    def _restore(self, database, dump):
        client = first_existing(self._sql_clients)
        if client is None:
            return 1, "no mariadb client on the host"
        base = [client, "--user=root", "--protocol=socket"]
        # Dropped first: tables a failed schema update created must not survive.
        rc, _out, err = self._call(base, data=f"DROP DATABASE IF EXISTS `{database}`;")
        if rc != 0:
            return rc, tail(err)
        return restore_from_gzip(base, dump, self._popen)

    def _prune(self, root, keep):
        releases = os.path.join(root, "releases")
        current = os.path.realpath(os.path.join(root, "current"))
        candidates = [
            os.path.join(releases, name)
            for name in os.listdir(releases)
            # Real paths: through a symlinked site root the running release must still match.
            if _VERSION.match(name) and os.path.realpath(os.path.join(releases, name)) != current
        ]
        candidates.sort(key=lambda path: tuple(int(x) for x in os.path.basename(path).split(".")))
        # Failed releases are named <version>.failed-<run>, so they never match and stay.
        pruned = candidates[: max(0, len(candidates) - (keep - 1))]
        for path in pruned:
            shutil.rmtree(path)
        return [os.path.basename(path) for path in pruned]

    # packaged MediaWiki

    def schema(self, p):
        """Run update.php for a Debian-packaged wiki whose code changed; record the version."""
        site = p["site_path"]
        version = code_version(site)
        result = {"site": site, "version": version, "steps": self.steps}
        if self._check_mode:
            return dict(result, changed=True, msg=f"update.php would run in {site}")
        run_dir = self._run_dir(p)
        result["database_dump"] = self._dump(p["database"], run_dir)
        try:
            self._schema_update(site)
        except ReleaseError as exc:
            raise ReleaseError(
                f"{site}: {exc.msg}; the database as it was is in {result['database_dump']}",
                result,
            ) from None
        record_schema(self._schema_state, os.path.realpath(site), version)
        return dict(result, changed=True, msg=f"schema of {site} updated for {version}")
