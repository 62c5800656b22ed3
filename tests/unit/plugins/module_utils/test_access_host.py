# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host side of the access register, on a scratch root with recorded commands."""

from __future__ import annotations

import os

import pytest
from ansible_collections.twovalue.sla.plugins.module_utils import access_host
from ansible_collections.twovalue.sla.plugins.module_utils.access_host import (
    KEYS_HEADER,
    SUDOERS_FILE,
    SUDOERS_HEADER,
    AccessError,
    AccessHost,
    line_fingerprint,
)
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import sql_string
from ssh_keys import ed25519

ALICE, BOB, OTHER = ed25519(1), ed25519(2), ed25519(7)


class FakeHost:
    """Just enough of useradd, usermod, chage, pgrep, pkill, visudo and mariadb."""

    def __init__(self, root, sessions=(), visudo_rc=0, db_users=(), processlist=""):
        self.root = root
        self.calls = []
        self.sessions = set(sessions)
        self.visudo_rc = visudo_rc
        self.db_users = set(db_users)
        self.processlist = processlist

    def _file(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def _passwd_lines(self):
        with open(self._file("/etc/passwd"), encoding="utf-8") as handle:
            return handle.read().splitlines()

    def _set(self, account, shell=None, expire=None):
        lines = []
        for line in self._passwd_lines():
            fields = line.split(":")
            if fields[0] == account and shell:
                fields[6] = shell
            lines.append(":".join(fields))
        with open(self._file("/etc/passwd"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        if expire is not None:
            with open(self._file("/etc/shadow"), encoding="utf-8") as handle:
                shadow = [line.split(":") for line in handle.read().splitlines()]
            for fields in shadow:
                if fields[0] == account:
                    fields[7] = expire
            with open(self._file("/etc/shadow"), "w", encoding="utf-8") as handle:
                handle.write("\n".join(":".join(f) for f in shadow) + "\n")

    def __call__(self, argv, data=None):
        self.calls.append((list(argv), data))
        name = os.path.basename(argv[0])
        if name == "useradd":
            account = argv[-1]
            home = f"/home/{account}"
            os.makedirs(self._file(home), exist_ok=True)
            with open(self._file("/etc/passwd"), "a", encoding="utf-8") as handle:
                handle.write(f"{account}:x:1001:1001::{home}:{argv[argv.index('--shell') + 1]}\n")
            with open(self._file("/etc/shadow"), "a", encoding="utf-8") as handle:
                handle.write(f"{account}:!:20000:0:99999:7:::\n")
        elif name == "usermod":
            self._set(
                argv[-1],
                shell=argv[argv.index("--shell") + 1],
                expire="1" if "--expiredate" in argv else None,
            )
        elif name == "chage":
            self._set(argv[-1], expire="")
        elif name == "pgrep":
            return (0, "4242\n", "") if argv[-1] in self.sessions else (1, "", "")
        elif name == "pkill":
            self.sessions.discard(argv[-1])
        elif name == "visudo":
            return self.visudo_rc, "", "syntax error near line 2" if self.visudo_rc else ""
        elif name in ("mariadb", "mysql"):
            if data.startswith("SELECT User, Host"):
                return 0, "".join(f"{u}\t{h}\n" for u, h in sorted(self.db_users)), ""
            if data.startswith("SELECT ID"):
                return 0, self.processlist, ""
            if data.startswith("DROP USER"):
                self.db_users = {u for u in self.db_users if f"'{u[0]}'" not in data}
        return 0, "", ""

    def commands(self):
        return [os.path.basename(argv[0]) for argv, _data in self.calls]


@pytest.fixture
def root(tmp_path, monkeypatch):
    os.makedirs(tmp_path / "etc")
    os.makedirs(tmp_path / "root" / ".ssh")
    os.makedirs(tmp_path / "home" / "bob" / ".ssh")
    (tmp_path / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/bash\nbob:x:1002:1002::/home/bob:/bin/bash\n"
    )
    (tmp_path / "etc" / "shadow").write_text(
        "root:*:20000:0:99999:7:::\nbob:!:20000:0:99999:7:::\n"
    )
    (tmp_path / "root" / ".ssh" / "authorized_keys").write_text(f'{OTHER}\nfrom="10.0.0.1" {BOB}\n')
    (tmp_path / "home" / "bob" / ".ssh" / "authorized_keys").write_text(f"{BOB}\n")
    # The scratch root has no mariadb; the fake answers for it.
    monkeypatch.setattr(access_host, "first_existing", lambda candidates: candidates[0])
    return tmp_path


def desired(**overrides):
    base = {
        "os_accounts": [
            {
                "account": "alice",
                "state": "present",
                "keys": [ALICE.rsplit(" ", 1)[0] + " alice"],
                "sudo": "ALL=(ALL:ALL) NOPASSWD: ALL",
                "shell": "/bin/bash",
                "people": ["alice"],
            },
            {
                "account": "bob",
                "state": "locked",
                "keys": [],
                "sudo": None,
                "shell": "/bin/bash",
                "people": ["bob"],
            },
        ],
        "db_users": [],
        "cms_accounts": [],
        "sweep_keys": [{"fingerprint": line_fingerprint(BOB), "person": "bob"}],
        "revoked_people": ["bob"],
    }
    base.update(overrides)
    return base


def _noop_chown(*_args):
    pass


def test_converge_grants_revokes_and_sweeps_then_changes_nothing(root):
    fake = FakeHost(str(root), sessions={"bob"})
    changes = AccessHost(fake, root=str(root), owner=_noop_chown).converge(desired(), True)
    done = {(c["account"], c["change"]) for c in changes}
    assert ("alice", "created") in done
    assert ("bob", "locked") in done and ("bob", "sessions ended") in done
    assert ("root", "revoked keys removed from /root/.ssh/authorized_keys") in done
    assert ("alice", "sudo rule added") in done
    assert (root / "home/bob/.ssh/authorized_keys").read_text() == KEYS_HEADER
    assert (root / "root/.ssh/authorized_keys").read_text() == f"{OTHER}\n"
    assert (root / "home/alice/.ssh/authorized_keys").read_text().endswith(" alice\n")
    assert (root / SUDOERS_FILE.lstrip("/")).read_text() == (
        SUDOERS_HEADER + "alice ALL=(ALL:ALL) NOPASSWD: ALL\n"
    )
    assert "pkill" in fake.commands()

    again = FakeHost(str(root))
    assert AccessHost(again, root=str(root), owner=_noop_chown).converge(desired(), True) == []
    assert "usermod" not in again.commands() and "visudo" not in again.commands()


def test_an_account_dropped_from_the_register_is_locked_on_the_next_run(root):
    AccessHost(FakeHost(str(root)), root=str(root), owner=_noop_chown).converge(desired(), True)
    without_alice = desired(os_accounts=desired()["os_accounts"][1:])
    changes = AccessHost(FakeHost(str(root)), root=str(root), owner=_noop_chown).converge(
        without_alice, True
    )
    done = {(c["account"], c["change"]) for c in changes}
    assert {
        ("alice", "locked"),
        ("alice", "authorized_keys rendered"),
        ("alice", "sudo rule removed"),
    } <= done
    assert (root / "home/alice/.ssh/authorized_keys").read_text() == KEYS_HEADER


def test_without_grant_permission_only_removals_are_made(root):
    fake = FakeHost(str(root))
    changes = AccessHost(fake, root=str(root), owner=_noop_chown).converge(desired(), False)
    withheld = {(c["account"], c["change"]) for c in changes if not c["applied"]}
    assert withheld == {("alice", "created"), ("alice", "sudo rule added")}
    assert "useradd" not in fake.commands()
    assert ("bob", "locked") in {(c["account"], c["change"]) for c in changes if c["applied"]}
    assert not (root / "home/alice").exists()


def test_check_mode_reports_and_changes_nothing(root):
    before = (root / "root/.ssh/authorized_keys").read_text()
    fake = FakeHost(str(root), sessions={"bob"})
    changes = AccessHost(fake, check_mode=True, root=str(root), owner=_noop_chown).converge(
        desired(), True
    )
    assert {c["change"] for c in changes} >= {"created", "locked", "sessions ended"}
    assert set(fake.commands()) <= {"pgrep"}
    assert (root / "root/.ssh/authorized_keys").read_text() == before
    assert not (root / SUDOERS_FILE.lstrip("/")).exists()
    assert not (root / "var/lib/twovalue-sla/access.json").exists()


def test_a_sudoers_file_visudo_rejects_is_never_installed(root):
    fake = FakeHost(str(root), visudo_rc=1)
    with pytest.raises(AccessError, match="visudo check of the sudo rules failed: syntax error"):
        AccessHost(fake, root=str(root), owner=_noop_chown).converge(desired(), True)
    assert not (root / SUDOERS_FILE.lstrip("/")).exists()
    assert [name for name in os.listdir(root / "etc/sudoers.d") if name.startswith(".sla-")] == []


def test_a_revoked_database_user_is_dropped_and_disconnected_via_stdin(root):
    fake = FakeHost(
        str(root),
        db_users={("bob", "localhost"), ("wikiuser", "localhost")},
        processlist="17\n18\n",
    )
    users = [
        {
            "account": "bob",
            "db_host": "localhost",
            "state": "absent",
            "privileges": [],
            "person": "bob",
        }
    ]
    changes = AccessHost(fake, root=str(root), owner=_noop_chown).converge(
        desired(db_users=users), True
    )
    assert {("bob@localhost", "dropped"), ("bob@localhost", "sessions ended")} <= {
        (c["account"], c["change"]) for c in changes
    }
    statements = [data for argv, data in fake.calls if os.path.basename(argv[0]) == "mariadb"]
    assert "DROP USER IF EXISTS 'bob'@'localhost';\n" in statements
    assert "KILL CONNECTION 17;\nKILL CONNECTION 18;\n" in statements
    assert all("bob" not in " ".join(argv) for argv, _ in fake.calls if "mariadb" in argv[0])
    assert fake.db_users == {("wikiuser", "localhost")}


def test_sql_strings_are_escaped():
    assert sql_string("O'Brien\\") == "'O\\'Brien\\\\'"
