# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switch a MediaWiki or WordPress site to a new patch release, or roll it back; stdlib only.

A site in the releases layout is ``<root>/current -> releases/<version>``.
One call verifies the release archive, unpacks it beside the running one,
carries over what belongs to the site (configuration, uploads, add-ons the
release does not bring), puts the site in maintenance mode, dumps the
database, runs the schema update, switches ``current`` atomically and
health-checks. Any failure after the dump switches back, restores the
database and keeps the failed release, marked, for inspection.

What differs per CMS (which files are the site's, how visitors are kept from
writing, the schema command, how the served version shows) lives in one small
class per kind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
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
    local_db_server,
    mask_secrets,
    restore_from_gzip,
    shown_url,
    socket_args,
    tail,
    url_request,
    url_secrets,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import (
    HostError,
    HostRunner,
    run_id_errors,
)

READ_ONLY_BEGIN = "# twovalue.sla maintenance: read-only begin"
READ_ONLY_END = "# twovalue.sla maintenance: read-only end"
_READ_ONLY_BLOCK = re.compile(
    r"\n?" + re.escape(READ_ONLY_BEGIN) + r".*?" + re.escape(READ_ONLY_END) + r"\n?", re.DOTALL
)
_CHUNK = 1024 * 1024
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")
MAINTENANCE_MARKER = "/* twovalue.sla maintenance */"
# WordPress's own upgrade step (wp-admin/upgrade.php) without the browser;
# the exit status says whether the database reached the code's db_version.
_WP_UPGRADE = """
define( 'WP_INSTALLING', true );
$_SERVER['HTTP_HOST'] = getenv( 'SLA_HTTP_HOST' );
require 'wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_upgrade();
exit( (int) get_option( 'db_version' ) === (int) $GLOBALS['wp_db_version'] ? 0 : 1 );
"""


class ReleaseError(HostError):
    """The task fails; ``result`` holds what the module returns with it."""


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
    atomic_write(path, text, like=path)


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


def carried_paths(kind, old_release, new_release):
    """Relative paths to carry: the site's own files, and add-ons the new release lacks."""
    paths = [p for p in kind.carried if os.path.lexists(os.path.join(old_release, p))]
    for folder in kind.addon_dirs:
        old_dir = os.path.join(old_release, folder)
        new_dir = os.path.join(new_release, folder)
        if not os.path.isdir(old_dir):
            continue
        for name in sorted(os.listdir(old_dir)):
            if not os.path.lexists(os.path.join(new_dir, name)):
                paths.append(os.path.join(folder, name))
    return paths


def _read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


class MediaWiki:
    """LocalSettings.php carries the configuration; $wgReadOnly keeps visitors from writing."""

    name = "mediawiki"
    label = "MediaWiki"
    carried = ("LocalSettings.php", "images")
    addon_dirs = ("extensions", "skins")
    schema_step = "update.php --quick"

    @staticmethod
    def schema_command(site_url):
        return ["php", "maintenance/update.php", "--quick"], None

    @staticmethod
    def version_check(site_url, version):
        return {
            "type": "http",
            "url": site_url.rstrip("/") + "/api.php?action=query&meta=siteinfo&format=json",
            "contains": f'"generator":"MediaWiki {version}"',
        }

    @staticmethod
    def enter_read_only(releases, message):
        """Append the block to every distinct LocalSettings.php; return how to undo it."""
        undo = []
        for path in {os.path.realpath(os.path.join(r, "LocalSettings.php")) for r in releases}:
            original = _read(path)
            undo.append((path, original))
            _replace_file(path, original.rstrip("\n") + "\n" + read_only_block(message))
        return undo

    @staticmethod
    def stale_read_only(release, check_mode):
        settings = os.path.realpath(os.path.join(release, "LocalSettings.php"))
        text = _read(settings)
        if READ_ONLY_BEGIN not in text:
            return None
        if not check_mode:
            _replace_file(settings, without_read_only(text))
        return settings


class WordPress:
    """wp-config.php and wp-content are the site's; WordPress's .maintenance file holds visitors."""

    name = "wordpress"
    label = "WordPress"
    carried = ("wp-config.php", ".htaccess", "wp-content")
    addon_dirs = ()
    schema_step = "wp_upgrade()"

    @staticmethod
    def schema_command(site_url):
        parts = urllib.parse.urlsplit(site_url)
        # hostname and port only: credentials in the URL never reach PHP's environment.
        host = parts.hostname or "localhost"
        if parts.port:
            host = f"{host}:{parts.port}"
        return ["php", "-r", _WP_UPGRADE], {"SLA_HTTP_HOST": host, "LC_ALL": "C"}

    @staticmethod
    def version_check(site_url, version):
        return {
            "type": "http",
            "url": site_url.rstrip("/") + "/",
            "follow_redirects": True,
            "contains": f'content="WordPress {version}"',
        }

    @staticmethod
    def enter_read_only(releases, message):
        # Only the running release: the new one must answer the health check normally.
        path = os.path.join(releases[0], ".maintenance")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(f"<?php {MAINTENANCE_MARKER} $upgrading = time(); ?>\n")
        return [(path, None)]

    @staticmethod
    def stale_read_only(release, check_mode):
        path = os.path.join(release, ".maintenance")
        try:
            ours = MAINTENANCE_MARKER in _read(path)
        except OSError:
            return None
        if not ours:
            return None
        if not check_mode:
            os.remove(path)
        return path


KINDS = {kind.name: kind for kind in (MediaWiki, WordPress)}


def leave_read_only(undo):
    for path, original in undo:
        if original is None:
            if os.path.exists(path):
                os.remove(path)
        else:
            _replace_file(path, original)


def validate_params(params):
    errors = run_id_errors(params)
    for key in ("from_version", "to_version"):
        if not _VERSION.match(params[key] or ""):
            errors.append(f"{key} is {params[key]!r}; expected a release version like 1.39.17")
    if bool(params.get("url")) == bool(params.get("path")):
        errors.append("give exactly one of url and path for the release archive")
    if not re.match(r"^[0-9a-f]{64}$", (params.get("sha256") or "").lower()):
        errors.append("sha256 must be the 64 hex digits published with the release")
    if not os.path.isabs(params["site_root"] or ""):
        errors.append(f"site_root {params['site_root']!r} must be an absolute path")
    if not local_db_server(params.get("db_server") or ""):
        errors.append(
            f"the site's database is on {params['db_server']}: only the local MariaDB (reached "
            "through its socket) can be dumped and restored around the switch"
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
    atomic_write(path, json.dumps(state, indent=2, sort_keys=True))


class ReleaseSwitch(HostRunner):
    """One site's switch to one release, with the rollback that undoes it."""

    error = ReleaseError

    # Each activity keeps its backups apart under backup_dir.
    backup_subdir = "cms"

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
        super().__init__(run, check_mode, environ={"LC_ALL": "C"})
        self._sleep = sleep
        self._popen = popen
        self._now = now
        self._opener = opener
        self._schema_state = schema_state
        self._sql_clients = sql_clients
        self._dump_binaries = dump_binaries
        self._health = HealthChecks(self._call, http, sleep, sql_clients)

    # the sequence

    def switch(self, p):
        kind = KINDS[p.get("kind") or "mediawiki"]
        root = p["site_root"]
        current = os.path.join(root, "current")
        releases = os.path.join(root, "releases")
        old_release = self._current_release(root, current, releases)
        old_version = code_version(old_release, kind.name)
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
        stale = kind.stale_read_only(old_release, self._check_mode)
        if stale:
            # Left by an interrupted run: visitors have been locked out since.
            self.warnings.append(f"{stale} still held maintenance mode from an earlier run")
        if self._would(f"switch {root} from {old_version} to {to}"):
            return dict(result, changed=True, msg=f"{root} would be switched to {to}")

        ok, health = self._health.run(
            self._site_checks(kind, p, old_version), p["health_retries"], p["health_delay"]
        )
        if not ok:
            raise ReleaseError(
                "the site fails its health checks before the update, nothing changed: "
                + "; ".join(h["detail"] for h in health if not h["ok"]),
                dict(result, health_before=health),
            )
        run_dir = self._run_dir(p)
        result["backup"] = run_dir
        try:
            archive = self._fetch(p, run_dir)
            self._unpack(kind, archive, releases, new_release, old_release, to, p["run_id"])
        except OSError as exc:
            raise ReleaseError(f"{exc}; nothing changed", result) from None
        undo = kind.enter_read_only([old_release, new_release], p["read_only_message"])
        self._step("site in maintenance mode for visitors")
        try:
            # After the lock: no visitor's write lands between the dump and the switch.
            result["database_dump"] = self._dump(p["database"], run_dir, p.get("db_server") or "")
        except (ReleaseError, OSError) as exc:
            leave_read_only(undo)
            self._step("maintenance mode lifted")
            shutil.rmtree(new_release, ignore_errors=True)
            reason = exc.msg if isinstance(exc, ReleaseError) else f"{exc}; nothing changed"
            raise ReleaseError(reason, result) from None
        return self._switch_and_check(kind, p, result, old_release, new_release, undo)

    def _switch_and_check(self, kind, p, result, old_release, new_release, undo):
        root, to = p["site_root"], p["to_version"]
        self._go_live(
            p,
            f"switching to {to}",
            new_release,
            self._site_checks(kind, p, to),
            result,
            before=lambda: self._schema_update(kind, new_release, p["site_url"]),
            undo=lambda switched: self._roll_back(
                kind, p, result, old_release, new_release, undo, switched
            ),
        )
        leave_read_only(undo)
        self._step("maintenance mode lifted")
        record_schema(self._schema_state, os.path.realpath(root), to)
        result["pruned"] = self._prune(root, p["keep_releases"])
        return dict(result, changed=True, msg=f"{root} switched from {result['from']} to {to}")

    def _go_live(self, p, doing, release, checks, result, before, undo):
        """Run ``before`` (the schema step), point ``current`` at ``release``, reload and
        health-check; on any failure ``undo(switched)`` and fail saying ``doing`` failed."""
        root = p["site_root"]
        switched = False
        try:
            before()
            self._point(os.path.join(root, "current"), release, p["run_id"])
            switched = True
            self._step(f"current -> releases/{os.path.basename(release)}")
            self._reload(p["reload_services"])
            ok, health = self._health.run(checks, p["health_retries"], p["health_delay"])
            result["health"] = health
            if not ok:
                raise self.error(
                    "health checks failed after the switch: "
                    + "; ".join(h["detail"] for h in health if not h["ok"])
                )
        except (ReleaseError, OSError) as exc:
            reason = exc.msg if isinstance(exc, ReleaseError) else str(exc)
            undo(switched)
            raise self.error(
                f"{root}: {doing} failed and was rolled back: {reason}", result
            ) from None

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

    @staticmethod
    def _site_checks(kind, p, version):
        return [kind.version_check(p["site_url"], version), *(p.get("health_checks") or [])]

    def _run_dir(self, p):
        run_dir = os.path.join(p["backup_dir"], self.backup_subdir, p["run_id"])
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
                with (
                    self._opener(url_request(p["url"]), timeout=60) as answer,
                    open(archive, "wb") as out,
                ):
                    shutil.copyfileobj(answer, out, _CHUNK)
            except OSError as exc:
                problem = mask_secrets(str(exc), url_secrets(p["url"]))
                raise ReleaseError(
                    f"downloading {shown_url(p['url'])} failed, nothing changed: {problem}"
                ) from None
        actual = sha256_of(archive)
        if actual != p["sha256"].lower():
            raise ReleaseError(
                f"release archive {os.path.basename(archive)} has SHA-256 {actual}, not the "
                f"published {p['sha256'].lower()}; nothing changed"
            )
        self._step(f"archive {os.path.basename(archive)} verified (SHA-256)")
        return archive

    def _unpack(self, kind, archive, releases, new_release, old_release, to, run_id):
        partial = os.path.join(releases, f".partial-{to}-{run_id}")
        os.mkdir(partial, 0o755)
        try:
            self._must(
                ["tar", "-xf", archive, "-C", partial, "--strip-components=1", "--no-same-owner"],
                "unpacking",
            )
            found = code_version(partial, kind.name)
            if found != to:
                raise ReleaseError(f"the archive holds {kind.label} {found}, not {to}")
            carried = carried_paths(kind, old_release, partial)
            for relative in carried:
                _carry(os.path.join(old_release, relative), os.path.join(partial, relative))
            os.rename(partial, new_release)
        except (ReleaseError, OSError) as exc:
            shutil.rmtree(partial, ignore_errors=True)
            reason = exc.msg if isinstance(exc, ReleaseError) else str(exc)
            raise ReleaseError(f"{reason}; nothing changed") from None
        self._step(f"unpacked releases/{to}; carried {', '.join(carried) or 'nothing'}")

    def _dump(self, database, run_dir, db_server=""):
        binary = first_existing(self._dump_binaries)
        if not database or binary is None:
            raise ReleaseError(
                "no database name in the site's configuration or no mariadb-dump on the host: "
                "the switch needs a dump to roll back to; nothing changed"
            )
        target = os.path.join(run_dir, f"{database}.sql.gz")
        argv = [binary, "--user=root", "--protocol=socket", *socket_args(db_server)]
        argv += ["--single-transaction"]
        argv += ["--routines", "--triggers", "--databases", database]
        try:
            dump_to_gzip(argv, target, self._popen)
        except DumpError as exc:
            raise ReleaseError(f"database dump failed, nothing changed: {exc}") from None
        self._step(f"database {database} dumped")
        return target

    def _schema_update(self, kind, release, site_url):
        argv, env = kind.schema_command(site_url)
        rc, out, err = self._call(argv, env, cwd=release)
        if rc != 0:
            raise ReleaseError(f"{kind.schema_step} exited {rc}: {tail(err) or tail(out)}")
        self._step(f"{kind.schema_step} done")

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

    def _roll_back(self, kind, p, result, old_release, new_release, undo, switched):
        problems = []
        steps = []
        if switched:
            self._point(os.path.join(p["site_root"], "current"), old_release, p["run_id"])
            steps.append(f"current -> releases/{os.path.basename(old_release)}")
        dump = result["database_dump"]
        rc, error = self._restore(p["database"], dump, p.get("db_server") or "")
        if rc == 0:
            steps.append(f"database {p['database']} restored from the dump")
        else:
            problems.append(f"database restore failed ({error}); the dump is {dump}")
        try:
            self._reload(p["reload_services"])
        except ReleaseError as exc:
            problems.append(exc.msg)
        leave_read_only(undo)
        steps.append("maintenance mode lifted")
        failed = f"{new_release}.failed-{p['run_id']}"
        with open(os.path.join(new_release, FAILED_MARKER), "w", encoding="utf-8") as marker:
            json.dump(
                {"run_id": p["run_id"], "time": int(self._now()), "steps": self.steps}, marker
            )
        os.rename(new_release, failed)
        steps.append(f"failed release kept as {os.path.basename(failed)}")
        ok, health = self._health.run(
            self._site_checks(kind, p, result["from"]), p["health_retries"], p["health_delay"]
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

    def _restore(self, database, dump, db_server=""):
        client = first_existing(self._sql_clients)
        if client is None:
            return 1, "no mariadb client on the host"
        base = [client, "--user=root", "--protocol=socket", *socket_args(db_server)]
        # Dropped first: tables a failed schema update created must not survive.
        rc, _out, err = self._call(base, data=f"DROP DATABASE IF EXISTS `{database}`;")
        if rc != 0:
            return rc, tail(err)
        return restore_from_gzip(base, dump, self._popen)

    def _prune(self, root, keep):
        # Failed releases are named <version>.failed-<run>, so they never match and stay.
        return self._prune_where(
            root,
            keep,
            _VERSION.match,
            lambda path: tuple(int(x) for x in os.path.basename(path).split(".")),
        )

    @staticmethod
    def _prune_where(root, keep, prunable, oldest_first):
        """Remove the releases named ``prunable`` but the running one and the ``keep - 1``
        newest; return their names, oldest first."""
        releases = os.path.join(root, "releases")
        current = os.path.realpath(os.path.join(root, "current"))
        candidates = sorted(
            (
                os.path.join(releases, name)
                for name in os.listdir(releases)
                # Real paths: through a symlinked site root the running release must still match.
                if prunable(name) and os.path.realpath(os.path.join(releases, name)) != current
            ),
            key=oldest_first,
        )
        pruned = candidates[: max(0, len(candidates) - max(0, keep - 1))]
        for path in pruned:
            shutil.rmtree(path)
        return [os.path.basename(path) for path in pruned]

    # packaged MediaWiki

    def schema(self, p):
        """Run update.php for a Debian-packaged wiki whose code changed; record the version."""
        site = p["site_path"]
        version = code_version(site, "mediawiki")
        result = {"site": site, "version": version, "steps": self.steps}
        if self._check_mode:
            return dict(result, changed=True, msg=f"update.php would run in {site}")
        run_dir = self._run_dir(p)
        result["database_dump"] = self._dump(p["database"], run_dir, p.get("db_server") or "")
        try:
            self._schema_update(MediaWiki, site, "")
        except ReleaseError as exc:
            raise ReleaseError(
                f"{site}: {exc.msg}; the database as it was is in {result['database_dump']}",
                result,
            ) from None
        record_schema(self._schema_state, os.path.realpath(site), version)
        return dict(result, changed=True, msg=f"schema of {site} updated for {version}")
