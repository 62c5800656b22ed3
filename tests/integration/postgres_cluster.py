# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway PostgreSQL cluster for the audit trail's database tests.

Debian's ``postgresql`` package provides the server binaries; nothing has to
be running before the tests. The cluster lives in a temporary directory,
listens on 127.0.0.1 on a free port with password (SCRAM) authentication,
and is stopped and removed afterwards. As root the server runs as the
``postgres`` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile

SUPERUSER_PASSWORD = "Cluster-Super-Pass-5518"
WRITER = "sla_writer"
# Planted: the tests assert it appears in no output, log or record.
WRITER_PASSWORD = "Planted-Audit-Db-Pass-8842"
DATABASE = "sla_audit"


def server_bin() -> str | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return os.path.dirname(candidates[0]) if candidates else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Cluster:
    def __init__(self, directory: str, port: int, bindir: str, run_as: str | None):
        self.directory = directory
        self.port = port
        self.bindir = bindir
        self.run_as = run_as
        self.data = os.path.join(directory, "data")
        self.log = os.path.join(directory, "server.log")

    def dsn(self, password: bool = False, user: str = WRITER, dbname: str = DATABASE) -> str:
        text = f"host=127.0.0.1 port={self.port} dbname={dbname} user={user}"
        if password:
            text += f" password={WRITER_PASSWORD if user == WRITER else SUPERUSER_PASSWORD}"
        return text

    def _command(self, *argv) -> list[str]:
        command = [os.path.join(self.bindir, argv[0]), *argv[1:]]
        return ["runuser", "-u", self.run_as, "--", *command] if self.run_as else command

    def run(self, *argv, **kwargs):
        return subprocess.run(self._command(*argv), check=True, capture_output=True, **kwargs)

    def sql(self, statement: str, dbname: str = DATABASE):
        """Run SQL as the superuser (for setting up and tampering)."""
        import psycopg

        with psycopg.connect(self.dsn(True, "postgres", dbname), autocommit=True) as connection:
            cursor = connection.execute(statement)
            return cursor.fetchall() if cursor.description else None

    def start(self) -> None:
        self.run(
            "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
            "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
            "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")


@contextlib.contextmanager
def cluster():
    bindir = server_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries are missing: apt-get install postgresql")
    run_as = "postgres" if os.geteuid() == 0 else None
    directory = tempfile.mkdtemp(prefix="sla-audit-pg-")
    try:
        if run_as:
            entry = pwd.getpwnam(run_as)
            os.chown(directory, entry.pw_uid, entry.pw_gid)
        pwfile = os.path.join(directory, "pwfile")
        with open(pwfile, "w", encoding="utf-8") as handle:
            handle.write(SUPERUSER_PASSWORD + "\n")
        if run_as:
            os.chown(pwfile, entry.pw_uid, entry.pw_gid)
        instance = Cluster(directory, free_port(), bindir, run_as)
        instance.run(
            "initdb", "-D", instance.data, "-U", "postgres", "-A", "scram-sha-256",
            f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        os.unlink(pwfile)
        with open(os.path.join(instance.data, "postgresql.conf"), "a", encoding="utf-8") as conf:
            # Throwaway data: durability across a crash of the test machine is not needed.
            conf.write("fsync = off\nmax_connections = 100\n")
        instance.start()
        try:
            instance.sql(f"CREATE ROLE {WRITER} LOGIN PASSWORD '{WRITER_PASSWORD}'", "postgres")
            instance.sql(f"CREATE DATABASE {DATABASE} OWNER {WRITER}", "postgres")
            yield instance
        finally:
            instance.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
