# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Back up a host's CMS sites, prove each backup restores, and keep them for the SLA's retention.

Standard library only (runs on managed hosts). A backup set is a directory
``<backup_dir>/<site>/<UTC time>/`` holding ``database.sql.gz`` (one
transaction, loadable into any database name), ``files.tar.gz`` (the site's
configuration, code and uploads) and ``manifest.json``. The manifest is
written last, so a set without one is the remains of an interrupted run.

A set counts as a restore point only when it is verified: the dump
decompressed whole, the archive listed with the site's settings file in it,
and the dump loaded into a scratch database whose tables must be the site's.
Pruning removes sets older than the retention but never a site's newest
verified set, so backups that stop working never take the last good one.
"""

from __future__ import annotations

import datetime
import fcntl
import gzip
import json
import os
import re
import secrets
import shutil

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import sha256_of
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    DUMP_BINARIES,
    SQL_CLIENTS,
    DumpError,
    dump_to_gzip,
    existing_ancestor,
    first_existing,
    local_db_server,
    restore_from_gzip,
    socket_args,
    sql_string,
    tail,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import HostError, HostRunner

MANIFEST = "manifest.json"
DUMP = "database.sql.gz"
ARCHIVE = "files.tar.gz"
_SET_NAME = re.compile(r"^\d{8}T\d{6}Z$")
# Backquoted in statements and passed to the dump as an argument: a leading dash
# would make it an option, and anything else in a configuration is not a name to trust.
_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$-]{0,63}$")
_CHUNK = 1024 * 1024
# Room the run needs beyond the estimate: the scratch copy's indexes and logs.
_SPACE_MARGIN = 1.2
_SETTINGS_FILES = {"mediawiki": "LocalSettings.php", "wordpress": "wp-config.php"}
_UPLOADS = {"mediawiki": "images", "wordpress": "wp-content/uploads"}
# A set dated this far after the host's clock came from a clock that was wrong.
_FUTURE_TOLERANCE = datetime.timedelta(hours=1)


class BackupError(HostError):
    pass


def site_key(site_root):
    """The folder name of a site's backups: its root path, readable and flat."""
    return site_root.strip("/").replace("/", "-") or "root"


def set_name(moment):
    return moment.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def set_time(name):
    return datetime.datetime.strptime(name, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.UTC)


def site_target(site):
    """What to back up of one site the probe found: its database and its paths."""
    settings = site.get("settings") or {}
    kind = site.get("kind")
    if kind not in _SETTINGS_FILES:
        raise BackupError(f"unknown CMS kind {kind!r}")
    database = settings.get("db_name")
    if not database:
        raise BackupError(
            f"its {_SETTINGS_FILES[kind]} names no database "
            f"({'unreadable' if not settings.get('readable') else 'no database setting'})"
        )
    if not _DATABASE_NAME.match(database):
        raise BackupError(f"database name {database!r} is not a plain name")
    db_server = settings.get("db_server") or settings.get("db_host") or ""
    if not local_db_server(db_server):
        raise BackupError(
            f"its database is on {db_server}, not this host; back it up where it lives"
        )
    root, real = os.path.realpath(site["site_root"]), os.path.realpath(site["realpath"])
    if site.get("install") == "debian":
        # The code belongs to the package; the site is its configuration and uploads.
        paths = []
    elif site.get("layout") == "releases":
        # Old releases are the deploy's own rollback points, not the site.
        paths = [os.path.join(root, "current"), real]
        paths += [p for p in [os.path.join(root, "shared")] if os.path.isdir(p)]
    else:
        paths = [root]
    # What the site cannot run without, wherever links put it (Debian links the
    # wiki's images/ to /var/lib/mediawiki, wp-config.php may sit above the site).
    settings_file = os.path.realpath(
        settings.get("file") or os.path.join(real, _SETTINGS_FILES[kind])
    )
    if not os.path.isfile(settings_file):
        raise BackupError(f"its {_SETTINGS_FILES[kind]} ({settings_file}) is not a file")
    config = os.path.dirname(settings_file) if site.get("install") == "debian" else settings_file
    uploads = os.path.realpath(os.path.join(real, _UPLOADS[kind]))
    for extra in (config, uploads):
        if os.path.exists(extra) and not any(_inside(extra, p) for p in paths):
            paths.append(extra)
    return {
        "site_root": site["site_root"],
        "kind": kind,
        "version": site.get("version"),
        "database": database,
        "db_server": db_server,
        # Absolute paths without their leading slash: the archive restores with tar -C /.
        "paths": [p.lstrip("/") for p in paths],
        "settings_member": settings_file.lstrip("/"),
    }


def _inside(path, directory):
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def read_manifest(set_dir):
    """The set's manifest; None when it has none (an interrupted run), and a
    manifest saying ``unreadable`` when it cannot be read: such a set is kept."""
    path = os.path.join(set_dir, MANIFEST)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as exc:
        return {"unreadable": str(exc)}
    return manifest if isinstance(manifest, dict) else {"unreadable": "not a JSON object"}


def _verified(manifest):
    return bool(manifest) and (manifest.get("verified") or {}).get("ok") is True


def existing_sets(site_dir):
    """(name, manifest or None) of every set of a site, oldest first."""
    try:
        names = sorted(n for n in os.listdir(site_dir) if _SET_NAME.match(n))
    except FileNotFoundError:
        return []
    return [(n, read_manifest(os.path.join(site_dir, n))) for n in names]


def prune_plan(sets, now, retention_days, keep=()):
    """Which sets go: incomplete ones, failed ones but the newest, and all past the
    retention except the newest verified one. ``keep`` names sets never to remove;
    a set whose manifest cannot be read is never removed."""
    verified = [n for n, m in sets if _verified(m)]
    failed = [n for n, m in sets if m is not None and "unreadable" not in m and not _verified(m)]
    limit = now - datetime.timedelta(days=retention_days)
    gone = []
    for name, manifest in sets:
        if name in keep or name in verified[-1:] or (manifest and "unreadable" in manifest):
            continue
        if manifest is None:
            gone.append((name, "incomplete: an interrupted run left it"))
        elif name in failed[:-1]:
            gone.append((name, "did not verify; the newest failed set is kept for inspection"))
        elif set_time(name) < limit:
            gone.append((name, f"older than the {retention_days}-day retention"))
    return gone


def due(sets, now, max_age_hours):
    """(due, reason, newest verified set name) for one site."""
    verified = [n for n, m in sets if _verified(m)]
    if not verified:
        return True, "no verified backup yet", None
    newest = verified[-1]
    if set_time(newest) > now + _FUTURE_TOLERANCE:
        return (
            True,
            f"newest verified backup {newest} is dated in the future: check the clock",
            newest,
        )
    age = now - set_time(newest)
    hours = age.total_seconds() / 3600
    if hours < max_age_hours:
        return False, f"verified backup {newest} is {hours:.1f} h old (< {max_age_hours} h)", newest
    return True, f"newest verified backup {newest} is {hours:.1f} h old", newest


class SiteBackup(HostRunner):
    error = BackupError

    def __init__(self, call, check_mode=False, popen=None, clock=None, disk_free=None):
        super().__init__(call, check_mode)
        self._popen = {"popen": popen} if popen else {}
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._disk_free = disk_free or _disk_free

    def run(self, p):
        """Back up every site that is due, verify and prune; one result per site."""
        results, plans = [], []
        now = self._clock()
        for site in p["sites"]:
            try:
                target = site_target(site)
            except BackupError as exc:
                results.append(_failed(site.get("site_root"), exc.msg))
                continue
            site_dir = os.path.join(p["backup_dir"], site_key(target["site_root"]))
            sets = existing_sets(site_dir)
            needed, reason, newest = due(sets, now, p["max_age_hours"])
            pruned = [n for n, _ in prune_plan(sets, now, p["retention_days"])]
            plans.append({"target": target, "due": needed or p["force"],
                          "reason": "forced" if p["force"] else reason, "latest_verified": newest,
                          "pruned": pruned,
                          "freed": sum(_bytes(os.path.join(site_dir, n)) for n in pruned)})  # fmt: skip
        self._refuse_without_room(p["backup_dir"], plans)
        if self._check_mode:
            return results + [_planned(plan) for plan in plans]
        # A site refused for room still has its old sets removed: the next night has more room.
        work = [plan for plan in plans if plan["pruned"] or (plan["due"] and "problem" not in plan)]
        results += [_planned(plan, "recent") for plan in plans
                    if plan not in work and "problem" not in plan]  # fmt: skip
        results += [_failed(plan["target"]["site_root"], plan["problem"], plan["target"])
                    for plan in plans if plan not in work and "problem" in plan]  # fmt: skip
        if not work:
            # Nothing to write or remove: not even the lock file is created.
            return results
        os.makedirs(p["backup_dir"], mode=0o700, exist_ok=True)
        with open(os.path.join(p["backup_dir"], ".lock"), "w", encoding="utf-8") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise BackupError(
                    f"another backup run holds {p['backup_dir']}/.lock; nothing changed"
                ) from None
            for plan in work:
                results.append(self._site(p, plan))
        return results

    def _refuse_without_room(self, backup_dir, plans):
        """Mark the due sites failed when the disk cannot hold their backups, counting
        what pruning frees; a refused site gets no new set."""
        due_plans, needed = [], 0
        for plan in plans:
            if not plan["due"]:
                continue
            try:
                needed += self._estimate(plan["target"])
                due_plans.append(plan)
            except BackupError as exc:
                plan["problem"] = exc.msg
        if not due_plans:
            return
        where = existing_ancestor(backup_dir)
        free = self._disk_free(where) + sum(plan["freed"] for plan in plans)
        if free < needed:
            problem = (
                f"{where} has {free // 2**20} MiB free (counting old sets to remove) and the "
                f"backup of {len(due_plans)} site(s) needs about {max(1, needed // 2**20)} MiB; "
                "no new backup written"
            )
            for plan in due_plans:
                plan["problem"] = problem

    def _site(self, p, plan):
        target = plan["target"]
        site_dir = os.path.join(p["backup_dir"], site_key(target["site_root"]))
        now = self._clock()
        result = {"site_root": target["site_root"], "database": target["database"]}
        # Old sets go first, to make room; the newest verified one always stays.
        result["pruned"] = self._prune(site_dir, now, p["retention_days"])
        if "problem" in plan:
            result.update(status="failed", reason=plan["problem"])
            return result
        # Read again under the lock: a run that just finished may have made a backup.
        needed, reason, newest = due(existing_sets(site_dir), now, p["max_age_hours"])
        result.update(latest_verified=newest, reason="forced" if p["force"] else reason)
        if not (needed or p["force"]):
            result["status"] = "recent"
            return result
        try:
            name, manifest = self._take(site_dir, target, now, p["verify"])
        except BackupError as exc:
            result.update(status="failed", reason=exc.msg)
            return result
        result.update(status="backed up", set=os.path.join(site_dir, name),
                      files=manifest["files"], verified=manifest["verified"],
                      latest_verified=name)  # fmt: skip
        # The new verified set can retire the one that was kept as the newest.
        result["pruned"] += self._prune(site_dir, now, p["retention_days"], keep=name)
        return result

    def _take(self, site_dir, target, now, verify):
        name = set_name(now)
        set_dir = os.path.join(site_dir, name)
        if os.path.exists(set_dir):
            raise BackupError(f"{set_dir} exists already; run again in a second")
        os.makedirs(set_dir, mode=0o700)
        try:
            manifest = self._write_set(set_dir, target, now, verify)
        except BaseException:
            # Not a restore point: nothing half-written stays to be mistaken for one.
            shutil.rmtree(set_dir, ignore_errors=True)
            raise
        if not manifest["verified"]["ok"]:
            raise BackupError(
                f"backup {set_dir} did not verify: {manifest['verified']['problem']}; "
                "it is kept for inspection and does not count as a restore point"
            )
        return name, manifest

    def _write_set(self, set_dir, target, now, verify):
        dump = os.path.join(set_dir, DUMP)
        binary = first_existing(DUMP_BINARIES)
        if binary is None:
            raise BackupError("no mariadb-dump or mysqldump on the host")
        base = [binary, "--user=root", "--protocol=socket", *socket_args(target["db_server"])]
        # No --databases: the dump loads into any name, which the verification needs.
        # No --events: neither CMS uses them, and loaded into the scratch database
        # they would run there under the event scheduler.
        argv = base + ["--single-transaction", "--routines", "--triggers", target["database"]]
        try:
            dump_to_gzip(argv, dump, **self._popen)
        except DumpError as exc:
            raise BackupError(f"database dump of {target['database']} failed: {exc}") from None
        self._step(f"{target['site_root']}: database {target['database']} dumped")
        archive = os.path.join(set_dir, ARCHIVE)
        rc, _out, err = self._call(
            [
                "tar",
                "--create",
                "--gzip",
                "--file",
                archive,
                "--directory",
                "/",
                "--",
                *target["paths"],
            ]  # fmt: skip
        )
        if rc not in (0, 1):
            # tar exits 1 when a file changed while it was read: the set is still whole.
            raise BackupError(f"archiving {target['site_root']} failed: {tail(err)}")
        self._step(f"{target['site_root']}: files archived ({', '.join(target['paths'])})")
        files = {
            n: {
                "bytes": os.path.getsize(os.path.join(set_dir, n)),
                "sha256": sha256_of(os.path.join(set_dir, n)),
            }  # fmt: skip
            for n in (DUMP, ARCHIVE)
        }
        manifest = {
            "format": 1,
            "created": _now_text(now),
            "site_root": target["site_root"],
            "kind": target["kind"],
            "version": target["version"],
            "database": target["database"],
            "archived": target["paths"],
            "restore": "tar -xzf files.tar.gz -C /",
            "files": files,
        }
        manifest["verified"] = self.verify(set_dir, manifest, target) if verify else {
            "ok": False, "problem": "verification turned off (verify: false)"}  # fmt: skip
        _write_json(os.path.join(set_dir, MANIFEST), manifest)
        return manifest

    def verify(self, set_dir, manifest, target):
        """Read the set back and load its dump into a scratch database."""
        checks = []
        try:
            with gzip.open(os.path.join(set_dir, DUMP), "rb") as handle:
                for _chunk in iter(lambda: handle.read(_CHUNK), b""):
                    pass
        except (OSError, EOFError) as exc:
            return {"ok": False, "problem": f"{DUMP} does not decompress: {exc}"}
        checks.append("dump decompresses to its end")
        rc, out, err = self._call(
            ["tar", "--list", "--gzip", "--file", os.path.join(set_dir, ARCHIVE)]
        )
        members = out.splitlines()
        if rc != 0:
            return {"ok": False, "problem": f"{ARCHIVE} does not list: {tail(err)}"}
        settings = target["settings_member"]
        if settings not in members:
            return {"ok": False, "problem": f"{ARCHIVE} does not hold /{settings}"}
        checks.append(f"archive lists {len(members)} entries with /{settings}")
        restored = self._restore_check(set_dir, target)
        if "problem" in restored:
            return {"ok": False, "problem": restored["problem"], "checks": checks}
        checks.append(
            f"dump restored into a scratch database: {restored['tables']} tables, "
            f"{restored['rows']} rows, the same tables as {target['database']}"
        )
        self._step(f"{target['site_root']}: backup verified")
        return {"ok": True, "at": _now_text(self._clock()), "checks": checks,
                "tables": restored["tables"], "rows": restored["rows"]}  # fmt: skip

    def _restore_check(self, set_dir, target):
        try:
            client = _client()
        except BackupError as exc:
            return {"problem": exc.msg}
        base = [client, "--batch", "-N", "--user=root", "--protocol=socket",
                *socket_args(target["db_server"])]  # fmt: skip
        scratch = f"sla_backup_verify_{secrets.token_hex(4)}"

        def sql(statement):
            rc, out, err = self._call(base, data=statement)
            if rc != 0:
                raise BackupError(tail(err or out))
            return out

        def tables(database):
            out = sql(
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = {sql_string(database)} AND table_type = 'BASE TABLE'"
            )
            return sorted(line.split("\t")[0] for line in out.splitlines() if line.strip())

        try:
            sql(f"CREATE DATABASE `{scratch}` CHARACTER SET binary")
        except BackupError as exc:
            return {"problem": f"cannot create the scratch database: {exc.msg}"}
        try:
            rc, error = restore_from_gzip(
                base + [f"--database={scratch}"], os.path.join(set_dir, DUMP), **self._popen
            )
            if rc != 0:
                return {"problem": f"the dump does not load: {error}"}
            live, copy = tables(target["database"]), tables(scratch)
            if live != copy:
                missing = sorted(set(live) - set(copy))
                return {"problem": f"the restored copy lacks tables {', '.join(missing[:5])}"
                        if missing else "the restored copy has tables the site has not"}  # fmt: skip
            counts = [f"SELECT COUNT(*) FROM `{scratch}`.{_quoted(t)}" for t in copy]
            rows = 0
            if counts:
                out = sql(" UNION ALL ".join(counts))
                rows = sum(int(x) for x in out.split())
            return {"tables": len(copy), "rows": rows}
        except BackupError as exc:
            return {"problem": f"checking the restored copy failed: {exc.msg}"}
        finally:
            try:
                sql(f"DROP DATABASE IF EXISTS `{scratch}`")
            except BackupError:
                self._step(f"scratch database {scratch} could not be dropped")

    def _estimate(self, target):
        client = _client()
        rc, out, err = self._call(
            [
                client,
                "--batch",
                "-N",
                "--user=root",
                "--protocol=socket",
                *socket_args(target["db_server"]),
            ],  # fmt: skip
            data="SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
            f"information_schema.tables WHERE table_schema = {sql_string(target['database'])}",
        )
        if rc != 0:
            raise BackupError(
                f"cannot read the size of database {target['database']}: {tail(err or out)}"
            )
        database = int(out.strip() or 0)
        rc, out, _err = self._call(["du", "-sb", "--", *["/" + p for p in target["paths"]]])
        files = sum(int(line.split()[0]) for line in out.splitlines() if line.split())
        # The dump and archive compress, but the scratch copy in the database does not.
        return int((database * 2 + files) * _SPACE_MARGIN)

    def _prune(self, site_dir, now, retention_days, keep=None):
        gone = []
        sets = existing_sets(site_dir)
        for name, why in prune_plan(sets, now, retention_days, keep=(keep,) if keep else ()):
            shutil.rmtree(os.path.join(site_dir, name), ignore_errors=True)
            gone.append({"set": name, "reason": why})
            self._step(f"{site_dir}/{name} removed: {why}")
        return gone


def _client():
    client = first_existing(SQL_CLIENTS)
    if client is None:
        raise BackupError("no mariadb or mysql client on the host")
    return client


def _quoted(name):
    # Table names come from the site's database, which the site's own user can name.
    return "`" + name.replace("`", "``") + "`"


def _failed(site_root, reason, target=None):
    result = {"site_root": site_root, "status": "failed", "reason": reason}
    if target:
        result["database"] = target["database"]
    return result


def _planned(plan, status=None):
    return {
        "site_root": plan["target"]["site_root"],
        "database": plan["target"]["database"],
        "status": status or ("would fail" if "problem" in plan else
                             "would back up" if plan["due"] else "recent"),
        "reason": plan.get("problem", plan["reason"]),
        "latest_verified": plan["latest_verified"],
        "pruned": [] if status else plan["pruned"],
    }  # fmt: skip


def _bytes(path):
    total = 0
    for folder, _dirs, names in os.walk(path):
        total += sum(os.lstat(os.path.join(folder, n)).st_size for n in names)
    return total


def _disk_free(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def _now_text(moment):
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")


def _write_json(path, data):
    atomic_write(path, json.dumps(data, indent=1, sort_keys=True))
