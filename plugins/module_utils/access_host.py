# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Converge a host's agency-controlled accesses to the register in one pass.

Standard library only (runs on managed hosts). Reads the host's accounts,
keys, sudo rules, database users and MediaWiki accounts, compares them with
what the register says, and changes only the difference. Every change is
reported as one entry, which is the offboarding evidence. Commands go
through an injected ``call(argv, data=None) -> (rc, out, err)``; SQL goes
on stdin, never on a command line.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.module_utils.cms_site import mediawiki_settings
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    SQL_CLIENTS,
    first_existing,
    sql_string,
    tail,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_runner import HostError, HostRunner

STATE_FILE = "/var/lib/twovalue-sla/access.json"
SUDOERS_FILE = "/etc/sudoers.d/twovalue-sla-access"
NOLOGIN = "/usr/sbin/nologin"
KEYS_HEADER = (
    "# Managed by twovalue.sla from the access register: keys not in the register are removed.\n"
)
SUDOERS_HEADER = (
    "# Managed by twovalue.sla from the access register: rules not in the register are removed.\n"
)
_KEY_FILES = ("authorized_keys", "authorized_keys2")
_KEY_TYPE = re.compile(r"^(ssh-|ecdsa-|sk-)")


class AccessError(HostError):
    """A change that could not be made; ``changes`` holds what was done before it."""

    def __init__(self, msg, changes):
        super().__init__(msg, {"changes": changes})
        self.changes = changes


def line_fingerprint(line):
    """The SHA256 fingerprint of an authorized_keys line (options allowed), or None."""
    fields = line.split()
    for index, field in enumerate(fields[:-1]):
        if _KEY_TYPE.match(field):
            try:
                blob = base64.b64decode(fields[index + 1], validate=True)
            except ValueError:
                return None
            return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return None


def still_revoked(desired, revoked):
    """``desired`` with the accesses of people revoked on this host taken away again."""
    if not revoked:
        return desired
    os_accounts = []
    for entry in desired["os_accounts"]:
        holders = [pid for pid in entry["people"] if pid not in revoked]
        entry = dict(entry)
        # Rendered keys end with their owner's id (access_register drops the comment).
        entry["keys"] = [key for key in entry["keys"] if key.rsplit(" ", 1)[-1] not in revoked]
        if entry["people"] and not holders:
            entry.update(state="locked", keys=[], sudo=None)
        os_accounts.append(entry)
    return dict(
        desired,
        os_accounts=os_accounts,
        db_users=[
            dict(u, state="absent") if u["person"] in revoked else u for u in desired["db_users"]
        ],
        cms_accounts=[
            dict(c, state="revoked") if c["person"] in revoked else c
            for c in desired["cms_accounts"]
        ],
    )


class AccessHost(HostRunner):
    def __init__(self, call, check_mode=False, root="/", owner=os.chown):
        super().__init__(call, check_mode)
        self._root = root
        self._chown = owner
        self.changes = []

    # -- files -------------------------------------------------------------

    def _path(self, path):
        return os.path.join(self._root, path.lstrip("/"))

    def _read(self, path):
        try:
            with open(self._path(path), encoding="utf-8") as handle:
                return handle.read()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _write(self, path, text, mode, uid=0, gid=0, check=None):
        """Replace ``path`` atomically with owner and mode set before it appears.

        ``check(candidate)`` runs on the finished file first; if it raises,
        the old file stays.
        """
        target = self._path(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        atomic_write(
            target, text, mode=mode, owner=(uid, gid), chown=self._chown, before_replace=check
        )

    def _run(self, argv, data=None, what=None):
        rc, out, err = self._call(argv, data=data)
        if rc != 0:
            raise AccessError(f"{what or argv[0]} failed: {tail(err or out)}", self.changes)
        return out

    def _change(self, kind, account, change, person=None, applied=True, **extra):
        entry = {"kind": kind, "account": account, "change": change, "applied": applied}
        if person is not None:
            entry["person"] = person
        entry.update(extra)
        self.changes.append(entry)
        return not self._check_mode and applied

    # -- OS accounts ---------------------------------------------------------

    def passwd(self):
        accounts = {}
        for line in (self._read("/etc/passwd") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 7:
                accounts[fields[0]] = {
                    "uid": int(fields[2]),
                    "gid": int(fields[3]),
                    "home": fields[5],
                    "shell": fields[6],
                }
        return accounts

    def _expired(self, account):
        # usermod --expiredate 1 leaves "1" in the eighth field: expired in 1970.
        for line in (self._read("/etc/shadow") or "").splitlines():
            fields = line.split(":")
            if fields[0] == account and len(fields) >= 8:
                return fields[7] not in ("", "-1") and int(fields[7]) <= 1
        return False

    def _keys_path(self, info):
        return os.path.join(info["home"], ".ssh", "authorized_keys")

    def _render_keys(self, account, info, keys, person):
        """Write the account's whole authorized_keys: a key not rendered stops working."""
        path = self._keys_path(info)
        wanted = KEYS_HEADER + "".join(f"{key}\n" for key in keys)
        current = self._read(path)
        if current == wanted:
            return
        before = {line_fingerprint(line) for line in (current or "").splitlines()} - {None}
        after = {line_fingerprint(line) for line in keys}
        removed = sorted(before - after)
        added = sorted(after - before)
        detail = {"keys_removed": removed, "keys_added": added}
        if self._change("os_account", account, "authorized_keys rendered", person, **detail):
            ssh_dir = os.path.dirname(path)
            os.makedirs(self._path(ssh_dir), mode=0o700, exist_ok=True)
            self._chown(self._path(ssh_dir), info["uid"], info["gid"])
            os.chmod(self._path(ssh_dir), 0o700)
            self._write(path, wanted, 0o600, info["uid"], info["gid"])

    def _end_sessions(self, account, person):
        rc, out, _err = self._call(["pgrep", "-u", account])
        if (
            rc == 0
            and out.strip()
            and self._change("os_account", account, "sessions ended", person)
        ):
            # pkill answers 1 when the processes ended on their own meanwhile.
            self._call(["pkill", "-KILL", "-u", account])

    def os_account(self, wanted, accounts, allow_grants):
        account = wanted["account"]
        person = ",".join(wanted["people"]) or None
        info = accounts.get(account)
        if wanted["state"] == "locked":
            if info is None:
                return
            stale = not self._expired(account) or info["shell"] != NOLOGIN
            if stale and self._change("os_account", account, "locked", person):
                self._run(
                    ["usermod", "--expiredate", "1", "--shell", NOLOGIN, account],
                    what=f"locking {account}",
                )
            self._render_keys(account, info, [], person)
            self._end_sessions(account, person)
            return
        if info is None:
            if not allow_grants:
                self._change("os_account", account, "created", person, applied=False)
                return
            if self._change("os_account", account, "created", person):
                self._run(
                    [
                        "useradd",
                        "--create-home",
                        "--shell",
                        wanted["shell"],
                        "--comment",
                        "twovalue.sla access register",
                        account,
                    ],
                    what=f"creating {account}",
                )
            info = self.passwd().get(account) if not self._check_mode else None
            if info is None:
                return
        elif self._expired(account) or info["shell"] != wanted["shell"]:
            if not allow_grants:
                self._change("os_account", account, "unlocked", person, applied=False)
                return
            if self._change("os_account", account, "unlocked", person):
                self._run(["chage", "--expiredate", "-1", account], what=f"unlocking {account}")
                self._run(
                    ["usermod", "--shell", wanted["shell"], account],
                    what=f"setting {account}'s shell",
                )
        keys = wanted["keys"]
        if not allow_grants:
            current = self._read(self._keys_path(info)) or ""
            present = {line.strip() for line in current.splitlines()}
            withheld = [key for key in keys if key not in present]
            if withheld:
                self._change(
                    "os_account",
                    account,
                    "keys added",
                    person,
                    applied=False,
                    keys_added=sorted(line_fingerprint(k) for k in withheld),
                )
            keys = [key for key in keys if key in present]
        self._render_keys(account, info, keys, person)

    def sweep_keys(self, sweep, accounts, rendered):
        """Take revoked people's keys out of every other authorized_keys file on the host."""
        if not sweep:
            return
        owner = {entry["fingerprint"]: entry["person"] for entry in sweep}
        homes = sorted(
            {
                (name, info["home"])
                for name, info in accounts.items()
                if name not in rendered and info["home"] not in ("", "/")
            }
        )
        for name, home in homes:
            for file_name in _KEY_FILES:
                path = os.path.join(home, ".ssh", file_name)
                current = self._read(path)
                if current is None:
                    continue
                lines = current.splitlines(keepends=True)
                removed = [fp for fp in map(line_fingerprint, lines) if fp in owner]
                if not removed:
                    continue
                people = sorted({owner[fp] for fp in removed})
                if self._change(
                    "ssh_key",
                    name,
                    f"revoked keys removed from {path}",
                    ",".join(people),
                    keys_removed=sorted(removed),
                ):
                    info = accounts[name]
                    text = "".join(line for line in lines if line_fingerprint(line) not in owner)
                    stat = os.stat(self._path(path))
                    self._write(path, text, stat.st_mode & 0o777, info["uid"], info["gid"])

    # -- sudo ----------------------------------------------------------------

    def sudoers(self, rules, allow_grants):
        current = self._read(SUDOERS_FILE)
        present = set((current or "").splitlines())
        lines = [f"{account} {rule}" for account, rule in sorted(rules.items())]
        if not allow_grants:
            withheld = [line for line in lines if line not in present]
            for line in withheld:
                self._change("sudo", line.split()[0], "sudo rule added", applied=False)
            lines = [line for line in lines if line in present]
        wanted = SUDOERS_HEADER + "".join(f"{line}\n" for line in lines)
        if current == wanted:
            return
        gone = sorted(
            {line.split()[0] for line in present - set(lines) if line and not line.startswith("#")}
        )
        new = sorted({line.split()[0] for line in set(lines) - present})
        for account in gone:
            self._change("sudo", account, "sudo rule removed")
        for account in new:
            self._change("sudo", account, "sudo rule added")
        if self._check_mode or not (gone or new or current is None):
            return
        # visudo checks the candidate before it replaces the file: a broken
        # sudoers would lock every administrator out, the agency included.
        self._write(
            SUDOERS_FILE,
            wanted,
            0o440,
            check=lambda candidate: self._run(
                ["visudo", "-c", "-q", "-f", candidate], what="visudo check of the sudo rules"
            ),
        )

    # -- database users -------------------------------------------------------

    def _sql(self, statement, database=None, what="SQL"):
        client = first_existing(SQL_CLIENTS)
        if client is None:
            raise AccessError("no mariadb client on the host for database users", self.changes)
        argv = [client, "--batch", "-N", "--user=root", "--protocol=socket"]
        if database:
            argv.append(f"--database={database}")
        return self._run(argv, data=statement, what=what)

    def db_users(self, wanted, managed, allow_grants):
        if not wanted and not managed:
            return
        rows = self._sql("SELECT User, Host FROM mysql.user", what="listing database users")
        existing = {tuple(line.split("\t")[:2]) for line in rows.splitlines() if "\t" in line}
        listed = set()
        for user in wanted:
            key = (user["account"], user["db_host"])
            listed.add(key)
            name = f"{sql_string(key[0])}@{sql_string(key[1])}"
            if user["state"] == "absent" and key in existing:
                self._drop(key, name, user["person"])
            elif (
                user["state"] == "present"
                and key not in existing
                and self._change(
                    "db_user", f"{key[0]}@{key[1]}", "created", user["person"], applied=allow_grants
                )
            ):
                # unix_socket: the person's OS login is the credential; no
                # password exists that could leak or need rotating.
                grants = "".join(f"GRANT {p} TO {name};\n" for p in user["privileges"])
                self._sql(
                    f"CREATE USER {name} IDENTIFIED VIA unix_socket;\n{grants}",
                    what=f"creating database user {key[0]}",
                )
        for account, host in managed:
            key = (account, host)
            if key not in listed and key in existing:
                self._drop(key, f"{sql_string(account)}@{sql_string(host)}", None)

    def _drop(self, key, name, person):
        if self._change("db_user", f"{key[0]}@{key[1]}", "dropped", person):
            rows = self._sql(
                f"SELECT ID FROM information_schema.PROCESSLIST WHERE USER = {sql_string(key[0])}",
                what="listing the user's connections",
            )
            kills = "".join(f"KILL CONNECTION {int(i)};\n" for i in rows.split() if i.isdigit())
            self._sql(f"DROP USER IF EXISTS {name};\n", what=f"dropping {key[0]}")
            if kills:
                # A connection may end between the listing and the kill; that is fine.
                self._call(
                    [first_existing(SQL_CLIENTS), "--user=root", "--protocol=socket"], data=kills
                )
                self._change("db_user", f"{key[0]}@{key[1]}", "sessions ended", person)

    # -- MediaWiki accounts -----------------------------------------------------

    def wiki_database(self, site):
        """(database, table prefix) of a MediaWiki site root, from its LocalSettings.php."""
        candidates = [
            os.path.join(site, "current", "LocalSettings.php"),
            os.path.join(site, "LocalSettings.php"),
        ]
        if site.rstrip("/") == "/usr/share/mediawiki":
            candidates.insert(0, "/etc/mediawiki/LocalSettings.php")
        path = next((c for c in candidates if os.path.exists(self._path(c))), None)
        if path is None:
            raise AccessError(f"no MediaWiki LocalSettings.php under {site}", self.changes)
        errors = []
        settings = mediawiki_settings(self._path(path), errors)
        if errors or not settings.get("db_name"):
            raise AccessError(f"{path} names no database ({'; '.join(errors)})", self.changes)
        server = settings.get("db_server") or "localhost"
        if server not in ("localhost", "127.0.0.1") and not server.startswith("localhost:"):
            raise AccessError(
                f"{site}'s database is on {server}; only a local server can be changed",
                self.changes,
            )
        return settings["db_name"], settings.get("db_prefix") or ""

    def cms_accounts(self, wanted):
        revoked_any = False
        for entry in wanted:
            database, prefix = self.wiki_database(entry["site"])
            label = f"{entry['account']} on {entry['site']}"
            row = self._sql(
                f"SELECT user_id, user_password = '', "
                f"(SELECT COUNT(*) FROM {prefix}user_groups WHERE ug_user = user_id) "
                f"FROM {prefix}user WHERE user_name = {sql_string(entry['account'])}",
                database=database,
                what=f"reading {label}",
            ).split()
            if entry["state"] == "present":
                if not row:
                    self._change(
                        "cms_account",
                        label,
                        "missing: create it in the wiki",
                        entry["person"],
                        applied=False,
                    )
                continue
            if not row or (row[1] == "1" and row[2] == "0"):
                continue
            if self._change(
                "cms_account",
                label,
                "groups removed, password and sessions invalidated",
                entry["person"],
            ):
                # An empty password hash cannot log in; a new token ends every
                # session and "remember me" cookie the account holds.
                user_id = int(row[0])
                self._sql(
                    f"DELETE FROM {prefix}user_groups WHERE ug_user = {user_id};\n"
                    f"UPDATE {prefix}user SET user_password = '', "
                    f"user_token = '{secrets.token_hex(16)}', "
                    f"user_touched = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s') "
                    f"WHERE user_id = {user_id};\n",
                    database=database,
                    what=f"revoking {label}",
                )
                revoked_any = True
        if revoked_any:
            # The web server's object cache may still hold the account's old groups.
            self._call(["systemctl", "reload-or-restart", "apache2"])

    # -- the whole host ----------------------------------------------------------

    def managed(self):
        try:
            state = json.loads(self._read(STATE_FILE) or "{}")
        except ValueError:
            state = {}
        return (
            list(state.get("os_accounts", [])),
            [tuple(pair) for pair in state.get("db_users", [])],
            set(state.get("revoked_people", [])),
        )

    def converge(self, desired, allow_grants):
        """Apply ``desired`` (host_access's answer); return the list of changes."""
        managed_os, managed_db, revoked_before = self.managed()
        # An offboarding holds on the host until the person is readmitted
        # explicitly: a register not yet updated must not hand access back.
        revoked = (revoked_before | set(desired["revoked_people"])) - set(
            desired.get("readmit", [])
        )
        desired = still_revoked(desired, revoked)
        accounts = self.passwd()
        wanted_os = list(desired["os_accounts"])
        listed = {entry["account"] for entry in wanted_os}
        # An account the register no longer lists is locked, not forgotten.
        for account in managed_os:
            if account not in listed:
                wanted_os.append(
                    {
                        "account": account,
                        "state": "locked",
                        "keys": [],
                        "sudo": None,
                        "shell": NOLOGIN,
                        "people": [],
                    }
                )
        for wanted in wanted_os:
            self.os_account(wanted, accounts, allow_grants)
        accounts = self.passwd() if not self._check_mode else accounts
        self.sweep_keys(desired["sweep_keys"], accounts, {e["account"] for e in wanted_os})
        self.sudoers(
            {e["account"]: e["sudo"] for e in wanted_os if e["state"] == "present" and e["sudo"]},
            allow_grants,
        )
        self.db_users(desired["db_users"], managed_db, allow_grants)
        self.cms_accounts(desired["cms_accounts"])
        state = {
            "revoked_people": sorted(revoked),
            "os_accounts": sorted(listed | {a for a in managed_os if a in accounts}),
            "db_users": sorted(
                {(u["account"], u["db_host"]) for u in desired["db_users"]} | set(managed_db)
            ),
        }
        text = json.dumps(state, indent=1, sort_keys=True) + "\n"
        if not self._check_mode and self._read(STATE_FILE) != text:
            self._write(STATE_FILE, text, 0o600)
        return self.changes
