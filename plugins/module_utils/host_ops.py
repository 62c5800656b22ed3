# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side building blocks every change module shares: health checks and database dumps.

Standard library only (runs on managed hosts). Commands go through an
injected ``run(argv, environ_update=..., data=...) -> (rc, out, err)``.
"""

from __future__ import annotations

import gzip
import http.client
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

_HTTP_BODY_LIMIT = 1024 * 1024
_DUMP_CHUNK = 1024 * 1024
SQL_CLIENTS = ("/usr/bin/mariadb", "/usr/bin/mysql")
DUMP_BINARIES = ("/usr/bin/mariadb-dump", "/usr/bin/mysqldump")


def tail(text, limit=300):
    """The line of a command's output that says what went wrong."""
    text = (text or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    error_lines = [line for line in lines if line.startswith(("E:", "dpkg: error"))]
    if error_lines:
        last = error_lines[-1]
    return last[:limit]


def sql_string(value):
    """A MariaDB string literal; statements go on stdin, so this is the only quoting they need."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def local_db_server(server):
    """Whether a site's database server is this host's, reached through its socket."""
    # A port may be a second server while dumps go through the default socket;
    # "localhost:/path/to.sock" names the socket itself.
    if server in ("", "localhost", "127.0.0.1", "::1"):
        return True
    host, _, rest = server.partition(":")
    return host == "localhost" and rest.startswith("/")


def socket_args(db_server):
    # "localhost:/run/mysqld/other.sock" names the socket the site's server listens on.
    _host, _, path = db_server.partition(":")
    return [f"--socket={path}"] if path.startswith("/") else []


def existing_ancestor(path):
    """``path`` or its nearest parent that exists: where a directory still to be made would live."""
    path = os.path.abspath(path)
    while not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    return path


def first_existing(candidates):
    return next((path for path in candidates if os.path.exists(path)), None)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def http_get(url, follow_redirects=False, timeout=10):
    """Return (status, body text) of a GET; an HTTP error status is a result, not an exception."""
    handlers = [] if follow_redirects else [_NoRedirect()]
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, headers={"User-Agent": "twovalue.sla health check"})
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(_HTTP_BODY_LIMIT).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        body = exc.read(_HTTP_BODY_LIMIT).decode("utf-8", "replace") if exc.fp else ""
        return exc.code, body


def shown_url(url):
    """The URL without user:password@, for results, logs and the audit trail."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def describe_check(check):
    if check["type"] == "http":
        return f"http {shown_url(check['url'])}"
    return f"sql {check.get('database') or '(no database)'}"


class HealthChecks:
    """HTTP and SQL checks, retried as a set until all pass or the retries run out."""

    def __init__(self, call, http=http_get, sleep=time.sleep, sql_clients=SQL_CLIENTS):
        self._call = call
        self._http = http
        self._sleep = sleep
        self._sql_clients = sql_clients

    def http_check(self, check):
        url = shown_url(check["url"])
        try:
            status, body = self._http(check["url"], bool(check.get("follow_redirects")), 10)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            return False, f"{url}: {exc}"
        expect = check.get("expect_status") or 200
        if status != expect:
            return False, f"{url} returned HTTP {status}, expected {expect}"
        contains = check.get("contains")
        if contains and contains not in body:
            return False, f"{url} returned HTTP {status} without {contains!r}"
        return True, f"{url} returned HTTP {status}"

    def sql_check(self, check):
        client = first_existing(self._sql_clients)
        if client is None:
            return False, "no mariadb client found for the sql check"
        argv = [client, "--batch", "-N", "--user=root", "--protocol=socket"]
        if check.get("database"):
            argv.append(f"--database={check['database']}")
        # The query goes on stdin: no shell, no variable expansion, not in the process list.
        rc, out, err = self._call(argv, data=check["query"])
        where = check.get("database") or "the server"
        if rc != 0:
            return (
                False,
                f"query on {where} failed: {os.path.basename(client)} exited {rc}: {tail(err)}",
            )
        expect = check.get("expect")
        if expect and expect not in out:
            return False, f"query on {where} returned no {expect!r}"
        return True, f"query on {where} succeeded"

    def run(self, checks, retries, delay):
        """Run every check, retrying the set until all pass; return (all ok, results)."""
        results = []
        for attempt in range(1, retries + 1):
            results = []
            for check in checks:
                ok, detail = (
                    self.http_check(check) if check["type"] == "http" else self.sql_check(check)
                )
                results.append({"check": describe_check(check), "ok": ok, "detail": detail})
            if all(r["ok"] for r in results):
                return True, results
            if attempt < retries:
                self._sleep(delay)
        return False, results


class DumpError(Exception):
    """The dump did not complete; the partial file is removed."""


def dump_to_gzip(argv, target, popen=subprocess.Popen):
    """Stream a dump command's output through gzip into ``target``; never hold it in memory."""
    partial = target + ".partial"
    with tempfile.TemporaryFile() as errors:
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb") as packed:
            process = popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=errors,
                env=dict(os.environ, LC_ALL="C"),
            )
            try:
                for chunk in iter(lambda: process.stdout.read(_DUMP_CHUNK), b""):
                    packed.write(chunk)
            finally:
                process.stdout.close()
                rc = process.wait()
        if rc != 0:
            errors.seek(0)
            message = errors.read(4096).decode("utf-8", "replace")
            # A partial dump restores nothing and may be what filled the disk.
            os.remove(partial)
            raise DumpError(f"{os.path.basename(argv[0])} exited {rc}: {tail(message)}")
    os.replace(partial, target)


def restore_from_gzip(argv, source, popen=subprocess.Popen):
    """Feed a gzip'd SQL dump to a client command; return (rc, error text)."""
    with tempfile.TemporaryFile() as errors:
        process = popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=errors,
            env=dict(os.environ, LC_ALL="C"),
        )
        try:
            with gzip.open(source, "rb") as dump:
                for chunk in iter(lambda: dump.read(_DUMP_CHUNK), b""):
                    process.stdin.write(chunk)
        except BrokenPipeError:
            pass
        finally:
            process.stdin.close()
            rc = process.wait()
        errors.seek(0)
        return rc, tail(errors.read(4096).decode("utf-8", "replace"))


# The argument spec of the health check options (doc fragment twovalue.sla.health_checks).
HEALTH_CHECK_SPEC = {
    "health_checks": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "type": {"type": "str", "required": True, "choices": ["http", "sql"]},
            "url": {"type": "str"},
            "expect_status": {"type": "int", "default": 200},
            "contains": {"type": "str"},
            "follow_redirects": {"type": "bool", "default": False},
            "database": {"type": "str"},
            "query": {"type": "str"},
            "expect": {"type": "str"},
        },
        "required_if": [["type", "http", ["url"]], ["type", "sql", ["query"]]],
    },
    "health_retries": {"type": "int", "default": 5},
    "health_delay": {"type": "int", "default": 2},
}
