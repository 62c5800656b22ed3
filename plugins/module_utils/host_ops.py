# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host-side building blocks every change module shares: health checks and database dumps.

Standard library only (runs on managed hosts). Commands go through an
injected ``run(argv, environ_update=..., data=...) -> (rc, out, err)``.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_file

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


def http_get(url, follow_redirects=False, timeout=10, headers=None):
    """Return (status, body text) of a GET; an HTTP error status is a result, not an exception."""
    handlers = [] if follow_redirects else [_NoRedirect()]
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(
        url, headers={"User-Agent": "twovalue.sla health check", **(headers or {})}
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(_HTTP_BODY_LIMIT).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        body = exc.read(_HTTP_BODY_LIMIT).decode("utf-8", "replace") if exc.fp else ""
        return exc.code, body


def _split_userinfo(url):
    """``(url without user information, user information as written or None)``.

    RFC 3986 wants a password percent-encoded, but a templated one often is not: a
    ``/`` in it makes every URL parser take the rest of the password for a path and
    name its first part in an error (``nonnumeric port``). So when the authority
    does not parse, the user information runs to the last ``@`` before the query.
    """
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a password's characters taken for a port
    except ValueError:
        scheme, separator, rest = url.partition("://")
        end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
        at = rest.rfind("@", 0, end)
        if not separator or at < 0:
            return url, None
        return f"{scheme}://{rest[at + 1 :]}", rest[:at]
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, host = parts.netloc.rpartition("@")
    return urllib.parse.urlunsplit(parts._replace(netloc=host)), userinfo


def split_url_credentials(url):
    """``(url without user:password@, user, password)``; user and password are None when absent."""
    clean, userinfo = _split_userinfo(url)
    if userinfo is None:
        return url, None, None
    user, has_password, password = userinfo.partition(":")
    return (
        clean,
        urllib.parse.unquote(user),
        urllib.parse.unquote(password) if has_password else None,
    )


def url_secrets(url):
    """The password of a URL as written and percent-decoded: what output must never show."""
    _clean, userinfo = _split_userinfo(url)
    written = (userinfo or "").partition(":")[2]
    return {value for value in (written, urllib.parse.unquote(written)) if value}


def shown_url(url):
    """The URL with its password as ``***``, for results, logs and the audit trail."""
    clean, user, password = split_url_credentials(url)
    if user is None:
        return url
    scheme, _, rest = clean.partition("://")
    userinfo = urllib.parse.quote(user, safe="") + (":***" if password is not None else "")
    return f"{scheme}://{userinfo}@{rest}"


def basic_auth_header(user, password):
    token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
    return f"Basic {token}"


def url_request(url, headers=None):
    """What urllib should open for ``url``: its credentials become a basic auth header.

    urllib sends no credentials from a URL and takes ``user:password@host`` for a
    host with a port; the plain URL is returned when it has none.
    """
    clean, user, password = split_url_credentials(url)
    headers = dict(headers or {})
    if user is not None:
        headers["Authorization"] = basic_auth_header(user, password)
    if not headers:
        return url
    return urllib.request.Request(clean, headers=headers)


def describe_check(check):
    if check["type"] == "http":
        return f"http {shown_url(check['url'])}"
    return f"sql {check.get('database') or '(no database)'}"


def mask_secrets(text, secrets):
    """``text`` with each secret replaced by ``********``, longest first."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "********")
    return text


def check_secrets(check):
    """Every credential a health check carries, for masking what its messages quote."""
    found = set(url_secrets(check.get("url") or ""))
    found.update(str(check[key]) for key in ("url_password", "login_password") if check.get(key))
    found.update(str(value) for value in (check.get("headers") or {}).values() if value)
    _url, user, password = split_url_credentials(check.get("url") or "")
    user = check.get("url_username") or user
    if user is not None:
        authorization = basic_auth_header(user, check.get("url_password") or password)
        found.update((authorization, authorization.partition(" ")[2]))
    return found


def protect_url_credentials(module):
    """Add every URL password among ``module``'s parameters to what Ansible masks.

    A URL option cannot be no_log as a whole (its messages would lose the host
    they name), so its password joins the no_log values once the parameters
    are known: Ansible then masks it in the result, the invocation and warnings.
    """

    def _walk(value):
        if isinstance(value, str) and "@" in value and "://" in value:
            module.no_log_values.update(url_secrets(value))
        elif isinstance(value, dict):
            for item in value.values():
                _walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                _walk(item)

    _walk(module.params)


def _option_file_value(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _login_file(check, scratch):
    """The option naming the check's own login, if it has one (else root through the socket).

    A password goes into an option file readable by root only, never on the
    command line, where every process list would show it.
    """
    if not check.get("login_user"):
        return []
    path = os.path.join(scratch, "login.cnf")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("[client]\n")
        handle.write(f"user={_option_file_value(check['login_user'])}\n")
        if check.get("login_password"):
            handle.write(f"password={_option_file_value(check['login_password'])}\n")
    return [f"--defaults-extra-file={path}"]


class HealthChecks:
    """HTTP and SQL checks, retried as a set until all pass or the retries run out."""

    def __init__(self, call, http=http_get, sleep=time.sleep, sql_clients=SQL_CLIENTS):
        self._call = call
        self._http = http
        self._sleep = sleep
        self._sql_clients = sql_clients

    def http_check(self, check):
        url, user, password = split_url_credentials(check["url"])
        shown = shown_url(check["url"])
        headers = {str(k): str(v) for k, v in (check.get("headers") or {}).items()}
        user = check.get("url_username") or user
        if user is not None:
            headers["Authorization"] = basic_auth_header(
                user, check.get("url_password") or password
            )
        try:
            status, body = self._http(url, bool(check.get("follow_redirects")), 10, headers=headers)
        except (OSError, ValueError, http.client.HTTPException) as exc:
            # An error may quote the URL or a header: what it says is masked, not trusted.
            return False, f"{shown}: {mask_secrets(str(exc), check_secrets(check))}"
        expect = check.get("expect_status") or 200
        if status != expect:
            return False, f"{shown} returned HTTP {status}, expected {expect}"
        contains = check.get("contains")
        if contains and contains not in body:
            return False, f"{shown} returned HTTP {status} without {contains!r}"
        return True, f"{shown} returned HTTP {status}"

    def sql_check(self, check):
        client = first_existing(self._sql_clients)
        if client is None:
            return False, "no mariadb client found for the sql check"
        with tempfile.TemporaryDirectory(prefix="sla-health-") as scratch:
            # An option file must be the client's first option.
            argv = [client, *_login_file(check, scratch), "--batch", "-N"]
            if not check.get("login_user"):
                argv.append("--user=root")
            argv.append("--protocol=socket")
            if check.get("database"):
                argv.append(f"--database={check['database']}")
            # The query goes on stdin: no shell, no variable expansion, not in the process list.
            rc, out, err = self._call(argv, data=check["query"])
        where = check.get("database") or "the server"
        if rc != 0:
            detail = mask_secrets(tail(err), check_secrets(check))
            return (
                False,
                f"query on {where} failed: {os.path.basename(client)} exited {rc}: {detail}",
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


def _client(popen, argv, errors, **streams):
    """Start a dump or SQL client in the C locale, its error output into ``errors``."""
    return popen(argv, stderr=errors, env=dict(os.environ, LC_ALL="C"), **streams)


def dump_to_gzip(argv, target, popen=subprocess.Popen):
    """Stream a dump command's output through gzip into ``target``; never hold it in memory."""
    with (
        tempfile.TemporaryFile() as errors,
        atomic_file(target, mode=0o600) as raw,
        gzip.GzipFile(fileobj=raw, mode="wb") as packed,
    ):
        process = _client(popen, argv, errors, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
        try:
            for chunk in iter(lambda: process.stdout.read(_DUMP_CHUNK), b""):
                packed.write(chunk)
        finally:
            process.stdout.close()
            rc = process.wait()
        if rc != 0:
            errors.seek(0)
            message = errors.read(4096).decode("utf-8", "replace")
            # Raised inside the write, so the partial dump is removed: it restores
            # nothing and may be what filled the disk.
            raise DumpError(f"{os.path.basename(argv[0])} exited {rc}: {tail(message)}")


def restore_from_gzip(argv, source, popen=subprocess.Popen):
    """Feed a gzip'd SQL dump to a client command; return (rc, error text)."""
    with tempfile.TemporaryFile() as errors:
        process = _client(popen, argv, errors, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
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


# The argument spec of the health check options (doc fragment twovalue.sla.health_checks),
# shared by every module and action that takes them. Every option that can carry a
# credential is no_log; those that only look like one say no_log=False. A URL's own
# password is masked by protect_url_credentials once the parameters are known.
HEALTH_CHECK_SPEC = {
    "health_checks": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "type": {"type": "str", "required": True, "choices": ["http", "sql"]},
            "url": {"type": "str"},
            "url_username": {"type": "str", "no_log": False},
            "url_password": {"type": "str", "no_log": True},
            "headers": {"type": "dict", "no_log": True},
            "expect_status": {"type": "int", "default": 200},
            "contains": {"type": "str"},
            "follow_redirects": {"type": "bool", "default": False},
            "database": {"type": "str"},
            "login_user": {"type": "str", "no_log": False},
            "login_password": {"type": "str", "no_log": True},
            "query": {"type": "str"},
            "expect": {"type": "str"},
        },
        "required_if": [["type", "http", ["url"]], ["type", "sql", ["query"]]],
    },
    "health_retries": {"type": "int", "default": 5},
    "health_delay": {"type": "int", "default": 2},
}
