# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refresh staging from production: a consistent copy, sanitised before staging sees it.

Standard library only (runs on managed hosts). ``export`` runs on
production: a single-transaction dump, the uploads as an archive, and what
identifies the host. ``import_copy`` runs on staging: it refuses a target
that is production by its own account (marker file, same machine, or it
answers at production's URL), imports into a scratch database, applies the
sanitising rules there and checks them, and only then swaps the tables in
and the uploads.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket

from ansible_collections.twovalue.sla.plugins.module_utils.cms_site import (
    mediawiki_settings,
    wordpress_settings,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    DUMP_BINARIES,
    SQL_CLIENTS,
    DumpError,
    dump_to_gzip,
    first_existing,
    restore_from_gzip,
    sql_string,
    tail,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import HostError, HostRunner

ENVIRONMENT_MARKER = "/etc/twovalue-sla/environment"
ACTIONS = ("email", "empty", "null", "token", "fixed", "truncate", "delete", "url")
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


# The options refresh_export and refresh_import share: which site, which CMS, which run.
SITE_SPEC = {
    "site_root": {"type": "path", "required": True},
    "kind": {"type": "str", "default": "mediawiki", "choices": ["mediawiki", "wordpress"]},
    "run_id": {"type": "str", "required": True},
}


class RefreshError(HostError):
    pass


def _ident(name, what):
    if not _NAME.match(name or ""):
        raise RefreshError(f"{what} {name!r} is not a plain table or column name")
    return f"`{name}`"


def validate_rules(rules):
    """Rules as data can still be wrong data: each must name a known action and plain names."""
    if not isinstance(rules, list) or not rules:
        raise RefreshError("the sanitising rules are empty; a copy of production is never left raw")
    for index, rule in enumerate(rules):
        where = f"rule {index + 1}"
        if not isinstance(rule, dict) or "table" not in rule:
            raise RefreshError(f"{where} names no table")
        _ident(rule["table"], f"{where} table")
        if "check" in rule:
            continue
        if rule.get("action") not in ACTIONS:
            raise RefreshError(
                f"{where} action is {rule.get('action')!r}; expected one of {', '.join(ACTIONS)}"
            )
        if rule["action"] != "truncate":
            _ident(rule.get("column"), f"{where} column")
        if rule["action"] == "email":
            _ident(rule.get("key"), f"{where} key")
        if rule["action"] in ("fixed", "delete") and "value" not in rule:
            raise RefreshError(f"{where} needs a value")
    return rules


def sanitising_sql(rules, prefix, source_url, target_url):
    """One statement per rule; the checks come back separately as (rule, SELECT COUNT)."""
    statements, checks = [], []
    for rule in validate_rules(rules):
        table = _ident(prefix + rule["table"], "table")
        if "check" in rule:
            checks.append((rule, f"SELECT COUNT(*) FROM {table} WHERE {rule['check']}"))
            continue
        action = rule["action"]
        if action == "truncate":
            statements.append(f"DELETE FROM {table}")
            continue
        column = _ident(rule["column"], "column")
        if action == "delete":
            statements.append(f"DELETE FROM {table} WHERE {column} = {sql_string(rule['value'])}")
            continue
        if action == "url":
            if not source_url or not target_url or source_url == target_url:
                continue
            value = f"REPLACE({column}, {sql_string(source_url)}, {sql_string(target_url)})"
        elif action == "email":
            value = f"CONCAT('user', {_ident(rule['key'], 'key')}, '@example.invalid')"
        elif action == "token":
            # One random value per statement run is enough: no production token survives.
            value = sql_string(secrets.token_hex(16))
        elif action == "fixed":
            value = sql_string(rule["value"])
        else:
            value = {"empty": "''", "null": "NULL"}[action]
        statements.append(f"UPDATE {table} SET {column} = {value}")
    return statements, checks


def site_identity(site_root, kind):
    """The URL the site answers at and its database, from its own configuration."""
    candidates = {
        "mediawiki": ("shared/LocalSettings.php", "current/LocalSettings.php", "LocalSettings.php"),
        "wordpress": ("shared/wp-config.php", "current/wp-config.php", "wp-config.php"),
    }[kind]
    path = next(
        (
            os.path.join(site_root, c)
            for c in candidates
            if os.path.isfile(os.path.join(site_root, c))
        ),
        None,
    )
    if path is None:
        raise RefreshError(f"no {candidates[0].split('/')[-1]} under {site_root}")
    errors = []
    if kind == "mediawiki":
        settings = mediawiki_settings(path, errors)
        return {"url": settings.get("server"), "database": settings.get("db_name"),
                "prefix": settings.get("db_prefix") or ""}  # fmt: skip
    settings = wordpress_settings(path, errors)
    return {"url": settings.get("home") or settings.get("siteurl"),
            "database": settings.get("db_name"), "prefix": settings.get("table_prefix") or "wp_"}  # fmt: skip


def host_identity(root="/"):
    # machine-id alone is not enough: cloned VMs and containers from one image share it.
    identity = {"hostname": socket.gethostname()}
    for key, path in (("machine_id", "/etc/machine-id"), ("environment", ENVIRONMENT_MARKER)):
        try:
            with open(os.path.join(root, path.lstrip("/")), encoding="utf-8") as handle:
                identity[key] = handle.read().strip()
        except OSError:
            identity[key] = None
    return identity


class Refresh(HostRunner):
    error = RefreshError

    def __init__(self, call, check_mode=False, popen=None):
        super().__init__(call, check_mode)
        self._popen = popen

    def _sql(self, statement, database=None, what="SQL"):
        client = first_existing(SQL_CLIENTS)
        argv = [client, "--batch", "-N", "--user=root", "--protocol=socket"]
        if database:
            argv.append(f"--database={database}")
        rc, out, err = self._call(argv, data=statement)
        if rc != 0:
            raise RefreshError(f"{what} failed: {tail(err or out)}")
        return out

    def export(self, p):
        identity = dict(host_identity(), **site_identity(p["site_root"], p["kind"]))
        if self._check_mode:
            return {"changed": False, "identity": identity}
        os.makedirs(p["work_dir"], mode=0o700, exist_ok=True)
        dump = os.path.join(p["work_dir"], f"refresh-{p['run_id']}.sql.gz")
        binary = first_existing(DUMP_BINARIES)
        # One transaction: the copy is the database at one moment, without locking the site.
        argv = [binary, "--user=root", "--protocol=socket", "--single-transaction",
                "--routines", "--triggers", identity["database"]]  # fmt: skip
        kwargs = {"popen": self._popen} if self._popen else {}
        try:
            dump_to_gzip(argv, dump, **kwargs)
        except DumpError as exc:
            raise RefreshError(f"dump of {identity['database']} failed: {exc}") from None
        self._step(f"database {identity['database']} dumped in one transaction")
        uploads = os.path.join(p["work_dir"], f"refresh-{p['run_id']}-uploads.tar.gz")
        shared = os.path.join(p["site_root"], "shared")
        present = [u for u in p["uploads"] if os.path.exists(os.path.join(shared, u))]
        self._act(
            ["tar", "-czf", uploads, "-C", shared, "--", *present],
            "packing the uploads",
            f"uploads packed: {', '.join(present) or 'none'}",
        )
        return {"changed": False, "identity": identity, "dump": dump, "uploads": uploads}

    def guard(self, source, target):
        """Why this host must not be overwritten with production's data, if it must not."""
        if target.get("environment") == "production":
            return f"{ENVIRONMENT_MARKER} on this host says production"
        same = ("machine_id", "hostname")
        if all(source.get(k) and source.get(k) == target.get(k) for k in same):
            return "this is the same machine as the production source"
        if source.get("url") and source.get("url") == target.get("url"):
            return f"this site answers at production's URL {source['url']}"
        return None

    def import_copy(self, p):
        target = dict(host_identity(), **site_identity(p["site_root"], p["kind"]))
        reason = self.guard(p["source"], target)
        if reason:
            raise RefreshError(f"refused: {reason}; a refresh only ever overwrites staging")
        statements, checks = sanitising_sql(
            p["rules"], target["prefix"], p["source"].get("url"), target["url"]
        )
        if self._would(f"refresh {target['database']}"):
            return {"changed": True, "steps": self.steps}
        database = target["database"]
        scratch, retired = f"{database}__sla_refresh", f"{database}__sla_retired"
        self._sql(
            f"DROP DATABASE IF EXISTS `{scratch}`; DROP DATABASE IF EXISTS `{retired}`;"
            f" CREATE DATABASE `{scratch}` CHARACTER SET binary; CREATE DATABASE `{retired}`;",
            what="preparing the scratch database",
        )
        client = first_existing(SQL_CLIENTS)
        kwargs = {"popen": self._popen} if self._popen else {}
        rc, error = restore_from_gzip(
            [client, "--user=root", "--protocol=socket", f"--database={scratch}"],
            p["dump"],
            **kwargs,
        )
        if rc != 0:
            raise RefreshError(f"importing the copy failed: {error}")
        self._step("production's copy imported into a scratch database")
        for statement in statements:
            self._sql(statement, scratch, what=f"sanitising ({statement.split(' SET ')[0]})")
        for rule, query in checks:
            left = self._sql(query, scratch, what="checking the sanitising").strip()
            if left != "0":
                raise RefreshError(
                    f"{left} rows of {rule['table']} still match {rule['check']!r} after sanitising; "
                    "staging keeps its old data"
                )
        self._step(f"sanitised: {len(statements)} rules applied, {len(checks)} checks passed")
        self._swap(database, scratch, retired)
        self._step(f"{database} now holds the sanitised copy")
        self._replace_uploads(p)
        return {"changed": True, "steps": self.steps, "database": database}

    def _swap(self, database, scratch, retired):
        def tables(name):
            out = self._sql(
                f"SHOW FULL TABLES FROM `{name}` WHERE Table_type = 'BASE TABLE'",
                what="listing tables",
            )
            return [line.split("\t")[0] for line in out.splitlines() if line.strip()]

        renames = [f"`{database}`.`{t}` TO `{retired}`.`{t}`" for t in tables(database)]
        renames += [f"`{scratch}`.`{t}` TO `{database}`.`{t}`" for t in tables(scratch)]
        # One RENAME TABLE: the site sees the old tables or the new ones, never a mix.
        self._sql("RENAME TABLE " + ", ".join(renames), what="swapping the tables in")
        self._sql(f"DROP DATABASE `{retired}`; DROP DATABASE `{scratch}`;", what="cleaning up")

    def _replace_uploads(self, p):
        shared = os.path.join(p["site_root"], "shared")
        incoming = os.path.join(shared, f".sla-refresh-{p['run_id']}")
        os.makedirs(incoming, mode=0o755)
        try:
            self._must(
                ["tar", "-xzf", p["uploads"], "-C", incoming, "--no-same-owner"],
                "unpacking the uploads",
            )
            for name in sorted(os.listdir(incoming)):
                current = os.path.join(shared, name)
                stat = os.stat(current) if os.path.exists(current) else None
                old = f"{current}.sla-old-{p['run_id']}"
                if os.path.lexists(current):
                    os.rename(current, old)
                os.rename(os.path.join(incoming, name), current)
                if stat is not None:
                    self._call(["chown", "-R", f"{stat.st_uid}:{stat.st_gid}", current])
                shutil.rmtree(old, ignore_errors=True)
                self._step(f"shared/{name} replaced by production's")
        finally:
            shutil.rmtree(incoming, ignore_errors=True)
