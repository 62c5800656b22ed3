# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Back up a host's CMS sites, prove each backup restores, and keep them for the SLA's retention.

Standard library only (runs on managed hosts). A backup set is a directory
``<backup_dir>/<site>/<UTC time>/`` holding ``database.sql.gz`` (one
transaction, loadable into any database name), ``files.tar.gz`` (the site's
configuration, code and uploads) and ``manifest.json``. The manifest is
written last, so a set without one is the remains of an interrupted run.

A set counts as a restore point only when it is verified: each file's
SHA-256 read back, the dump decompressed whole, the archive listed, and the
dump loaded into a scratch database whose tables must be the site's.
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

from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import sha256_of
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    DUMP_BINARIES,
    SQL_CLIENTS,
    DumpError,
    dump_to_gzip,
    first_existing,
    local_db_server,
    restore_from_gzip,
    socket_args,
    sql_string,
    tail,
)

MANIFEST = "manifest.json"
DUMP = "database.sql.gz"
ARCHIVE = "files.tar.gz"
_SET_NAME = re.compile(r"^\d{8}T\d{6}Z$")
# Backquoted in statements; anything else in a configuration is not a name to trust.
_DATABASE_NAME = re.compile(r"^[A-Za-z0-9_$-]{1,64}$")
_CHUNK = 1024 * 1024
# Room the run needs beyond the estimate: the scratch copy's indexes and logs.
_SPACE_MARGIN = 1.2
_SETTINGS_FILES = {"mediawiki": "LocalSettings.php", "wordpress": "wp-config.php"}


class BackupError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


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
    root, real = site["site_root"], site["realpath"]
    if site.get("install") == "debian":
        # The code belongs to the package; the site is its configuration and uploads.
        config = os.path.dirname(os.path.realpath(settings.get("file") or real))
        # Debian links images/ to /var/lib/mediawiki: the archive needs the files, not the link.
        uploads = os.path.realpath(os.path.join(real, "images"))
        paths = [config] + ([uploads] if os.path.isdir(uploads) else [])
        base = "/"
    elif site.get("layout") == "releases":
        # Old releases are the deploy's own rollback points, not the site.
        base = root
        paths = ["current", os.path.relpath(real, root)]
        paths += [p for p in ["shared"] if os.path.isdir(os.path.join(root, p))]
    else:
        base, paths = root, ["."]
    return {
        "site_root": root,
        "kind": kind,
        "version": site.get("version"),
        "database": database,
        "db_server": db_server,
        "base": base,
        "paths": [p.lstrip("/") if base == "/" else p for p in paths],
        "settings_file": _SETTINGS_FILES[kind],
    }


def read_manifest(set_dir):
    try:
        with open(os.path.join(set_dir, MANIFEST), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def existing_sets(site_dir):
    """(name, manifest or None) of every set of a site, oldest first."""
    try:
        names = sorted(n for n in os.listdir(site_dir) if _SET_NAME.match(n))
    except FileNotFoundError:
        return []
    return [(n, read_manifest(os.path.join(site_dir, n))) for n in names]


def prune_plan(sets, now, retention_days, keep=()):
    """Which sets go: incomplete ones, and complete ones past the retention
    except the newest verified one. ``keep`` names sets never to remove."""
    verified = [n for n, m in sets if m and m.get("verified", {}).get("ok")]
    newest_verified = verified[-1] if verified else None
    limit = now - datetime.timedelta(days=retention_days)
    gone = []
    for name, manifest in sets:
        if name in keep or name == newest_verified:
            continue
        if manifest is None:
            gone.append((name, "incomplete: an interrupted run left it"))
        elif set_time(name) < limit:
            gone.append((name, f"older than the {retention_days}-day retention"))
    return gone


def due(sets, now, max_age_hours):
    """(due, reason, newest verified set name) for one site."""
    verified = [n for n, m in sets if m and m.get("verified", {}).get("ok")]
    if not verified:
        return True, "no verified backup yet", None
    newest = verified[-1]
    age = now - set_time(newest)
    hours = age.total_seconds() / 3600
    if hours < max_age_hours:
        return False, f"verified backup {newest} is {hours:.1f} h old (< {max_age_hours} h)", newest
    return True, f"newest verified backup {newest} is {hours:.1f} h old", newest


class SiteBackup:
    def __init__(self, call, check_mode=False, popen=None, clock=None, disk_free=None):
        self._call = call
        self._check = check_mode
        self._popen = {"popen": popen} if popen else {}
        self._clock = clock or (lambda: datetime.datetime.now(datetime.UTC))
        self._disk_free = disk_free or _disk_free
        self.steps = []

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
            sets = existing_sets(os.path.join(p["backup_dir"], site_key(target["site_root"])))
            needed, reason, newest = due(sets, now, p["max_age_hours"])
            plans.append({"target": target, "due": needed or p["force"],
                          "reason": "forced" if p["force"] else reason, "latest_verified": newest,
                          "pruned": [n for n, _ in prune_plan(sets, now, p["retention_days"])]})  # fmt: skip
        self._refuse_without_room(p["backup_dir"], [plan for plan in plans if plan["due"]])
        if self._check:
            return results + [_planned(plan) for plan in plans]
        work = [plan for plan in plans if "problem" not in plan and (plan["due"] or plan["pruned"])]
        results += [_failed(plan["target"]["site_root"], plan["problem"], plan["target"])
                    for plan in plans if "problem" in plan]  # fmt: skip
        results += [
            _planned(plan, "recent") for plan in plans if plan not in work and "problem" not in plan
        ]
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
                results.append(self._site(p, plan["target"]))
        return results

    def _refuse_without_room(self, backup_dir, plans):
        """Mark the due sites failed when the disk cannot hold their backups; write nothing."""
        needed = 0
        for plan in plans:
            try:
                needed += self._estimate(plan["target"])
            except BackupError as exc:
                plan["problem"] = exc.msg
        counted = [plan for plan in plans if "problem" not in plan]
        if not counted:
            return
        where = _existing_ancestor(backup_dir)
        free = self._disk_free(where)
        if free < needed:
            problem = (
                f"{where} has {free // 2**20} MiB free and the backup of "
                f"{len(counted)} site(s) needs about {max(1, needed // 2**20)} MiB; nothing written"
            )
            for plan in counted:
                plan["problem"] = problem

    def _site(self, p, target):
        site_dir = os.path.join(p["backup_dir"], site_key(target["site_root"]))
        now = self._clock()
        # Read again under the lock: a run that just finished may have made a backup.
        sets = existing_sets(site_dir)
        needed, reason, newest = due(sets, now, p["max_age_hours"])
        result = {"site_root": target["site_root"], "database": target["database"],
                  "latest_verified": newest, "reason": reason}  # fmt: skip
        if p["force"]:
            needed, result["reason"] = True, "forced"
        name = None
        if needed:
            try:
                name, manifest = self._take(site_dir, target, now, p["verify"])
            except BackupError as exc:
                result.update(status="failed", reason=exc.msg)
                return result
            result.update(status="backed up", set=os.path.join(site_dir, name),
                          files=manifest["files"], verified=manifest["verified"],
                          latest_verified=name)  # fmt: skip
            sets = existing_sets(site_dir)
        else:
            result["status"] = "recent"
        result["pruned"] = self._prune(site_dir, sets, now, p["retention_days"], name)
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
        argv = base + ["--single-transaction", "--routines", "--triggers", "--events",
                       target["database"]]  # fmt: skip
        try:
            dump_to_gzip(argv, dump, **self._popen)
        except DumpError as exc:
            raise BackupError(f"database dump of {target['database']} failed: {exc}") from None
        self.steps.append(f"{target['site_root']}: database {target['database']} dumped")
        archive = os.path.join(set_dir, ARCHIVE)
        rc, _out, err = self._call(
            [
                "tar",
                "--create",
                "--gzip",
                "--file",
                archive,
                "--directory",
                target["base"],
                "--",
                *target["paths"],
            ]  # fmt: skip
        )
        if rc not in (0, 1):
            # tar exits 1 when a file changed while it was read: the set is still whole.
            raise BackupError(f"archiving {target['site_root']} failed: {tail(err)}")
        self.steps.append(f"{target['site_root']}: files archived ({', '.join(target['paths'])})")
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
            "paths": {"base": target["base"], "archived": target["paths"]},
            "files": files,
        }
        manifest["verified"] = self.verify(set_dir, manifest, target) if verify else {
            "ok": False, "problem": "verification turned off (verify: false)"}  # fmt: skip
        _write_json(os.path.join(set_dir, MANIFEST), manifest)
        return manifest

    def verify(self, set_dir, manifest, target):
        """Read the set back and load its dump into a scratch database."""
        checks = []
        for name, expected in manifest["files"].items():
            if sha256_of(os.path.join(set_dir, name)) != expected["sha256"]:
                return {"ok": False, "problem": f"{name} changed after it was written"}
        checks.append("checksums read back")
        try:
            with gzip.open(os.path.join(set_dir, DUMP), "rb") as handle:
                for _chunk in iter(lambda: handle.read(_CHUNK), b""):
                    pass
        except (OSError, EOFError) as exc:
            return {"ok": False, "problem": f"{DUMP} does not decompress: {exc}"}
        rc, out, err = self._call(
            ["tar", "--list", "--gzip", "--file", os.path.join(set_dir, ARCHIVE)]
        )
        members = out.splitlines()
        if rc != 0:
            return {"ok": False, "problem": f"{ARCHIVE} does not list: {tail(err)}"}
        if not any(m.rstrip("/").endswith(target["settings_file"]) for m in members):
            return {"ok": False, "problem": f"{ARCHIVE} holds no {target['settings_file']}"}
        checks.append(f"archive lists {len(members)} entries with {target['settings_file']}")
        restored = self._restore_check(set_dir, target)
        if "problem" in restored:
            return {"ok": False, "problem": restored["problem"], "checks": checks}
        checks.append(
            f"dump restored into a scratch database: {restored['tables']} tables, "
            f"{restored['rows']} rows, the same tables as {target['database']}"
        )
        self.steps.append(f"{target['site_root']}: backup verified")
        return {"ok": True, "at": _now_text(self._clock()), "checks": checks,
                "tables": restored["tables"], "rows": restored["rows"]}  # fmt: skip

    def _restore_check(self, set_dir, target):
        client = first_existing(SQL_CLIENTS)
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
            counts = [f"SELECT COUNT(*) FROM `{scratch}`.`{t}`" for t in copy]
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
                self.steps.append(f"scratch database {scratch} could not be dropped")

    def _estimate(self, target):
        client = first_existing(SQL_CLIENTS)
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
        rc, out, _err = self._call(
            ["du", "-sb", "--", *[os.path.join(target["base"], p) for p in target["paths"]]]
        )
        files = sum(int(line.split()[0]) for line in out.splitlines() if line.split())
        # The dump and archive compress, but the scratch copy in the database does not.
        return int((database * 2 + files) * _SPACE_MARGIN)

    def _prune(self, site_dir, sets, now, retention_days, keep):
        gone = []
        for name, why in prune_plan(sets, now, retention_days, keep=(keep,) if keep else ()):
            shutil.rmtree(os.path.join(site_dir, name), ignore_errors=True)
            gone.append({"set": name, "reason": why})
            self.steps.append(f"{site_dir}/{name} removed: {why}")
        return gone


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


def _existing_ancestor(path):
    while not os.path.exists(path):
        path = os.path.dirname(path)
    return path


def _disk_free(path):
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def _now_text(moment):
    return moment.astimezone(datetime.UTC).isoformat(timespec="seconds")


def _write_json(path, data):
    partial = path + ".partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
