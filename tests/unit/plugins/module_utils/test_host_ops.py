# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import base64
import gzip
import http.server
import os
import sys
import threading
import types
import urllib.parse

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    HEALTH_CHECK_SPEC,
    DumpError,
    HealthChecks,
    describe_check,
    dump_to_gzip,
    http_get,
    protect_url_credentials,
    restore_from_gzip,
    shown_url,
    split_url_credentials,
    url_request,
    url_secrets,
)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/")
            self.end_headers()
            return
        code = 500 if self.path == "/broken" else 200
        body = b"Welcome to MediaWiki"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_http_get_against_a_real_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert http_get(base + "/") == (200, "Welcome to MediaWiki")
        assert http_get(base + "/broken") == (500, "Welcome to MediaWiki")
        assert http_get(base + "/moved")[0] == 302
        assert http_get(base + "/moved", follow_redirects=True) == (200, "Welcome to MediaWiki")
    finally:
        server.shutdown()
        server.server_close()
    ok, detail = HealthChecks(None).http_check({"type": "http", "url": base + "/"})
    assert ok is False
    assert detail.startswith(base + "/: ")


def test_credentials_in_a_health_url_are_never_shown():
    assert (
        shown_url("http://admin:s3cret@wiki.example:8080/x?y=1")
        == "http://admin:***@wiki.example:8080/x?y=1"
    )
    assert shown_url("https://wiki.example/") == "https://wiki.example/"
    assert shown_url("https://token@wiki.example/") == "https://token@wiki.example/"


def test_dump_streams_through_gzip_and_restore_feeds_it_back(tmp_path):
    target = str(tmp_path / "db.sql.gz")
    dump_to_gzip([sys.executable, "-c", "print('CREATE TABLE t (x int);' * 3)"], target)
    with gzip.open(target, "rt") as handle:
        assert handle.read().count("CREATE TABLE") == 3
    echoed = tmp_path / "echoed.sql"
    rc, error = restore_from_gzip(
        [
            sys.executable,
            "-c",
            f"import sys; open({str(echoed)!r}, 'wb').write(sys.stdin.buffer.read())",
        ],
        target,
    )
    assert (rc, error) == (0, "")
    assert echoed.read_text().count("CREATE TABLE") == 3


def test_a_failed_dump_leaves_no_file(tmp_path):
    target = tmp_path / "db.sql.gz"
    try:
        dump_to_gzip([sys.executable, "-c", "import sys; sys.exit('Access denied')"], str(target))
    except DumpError as exc:
        assert "exited 1: Access denied" in str(exc)
    else:
        raise AssertionError("a failing dump must raise")
    assert list(tmp_path.iterdir()) == []


# --- credentials in health checks -------------------------------------------------------------

_PASSWORD = "PLANTED-s3cret/with+slash"


class _AuthHandler(http.server.BaseHTTPRequestHandler):
    """Answers 200 only to basic auth monitor:_PASSWORD, else 401; records the headers."""

    seen = []

    def do_GET(self):  # noqa: N802 - the http.server API
        type(self).seen.append(dict(self.headers))
        expected = "Basic " + base64.b64encode(f"monitor:{_PASSWORD}".encode()).decode()
        code = 200 if self.headers.get("Authorization") == expected else 401
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def auth_server():
    _AuthHandler.seen = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _AuthHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "password_in_url",
    [urllib.parse.quote(_PASSWORD, safe=""), _PASSWORD],
    ids=["percent-encoded", "as-templated"],
)
def test_a_password_in_the_url_works_as_basic_auth_and_is_never_shown(auth_server, password_in_url):
    url = f"http://monitor:{password_in_url}@{auth_server}/wiki/Main_Page"
    ok, detail = HealthChecks(None).http_check({"type": "http", "url": url})
    assert ok, detail
    assert detail == f"http://monitor:***@{auth_server}/wiki/Main_Page returned HTTP 200"
    assert (
        describe_check({"type": "http", "url": url})
        == f"http http://monitor:***@{auth_server}/wiki/Main_Page"
    )
    assert _AuthHandler.seen[0]["Host"] == auth_server


def test_url_username_and_password_and_headers_reach_the_server(auth_server):
    check = {
        "type": "http",
        "url": f"http://{auth_server}/",
        "url_username": "monitor",
        "url_password": _PASSWORD,
        "headers": {"X-Api-Token": "PLANTED-token"},
    }
    ok, detail = HealthChecks(None).http_check(check)
    assert ok, detail
    assert _AuthHandler.seen[0]["X-Api-Token"] == "PLANTED-token"
    wrong = dict(check, url_password="not-it")
    assert HealthChecks(None).http_check(wrong) == (
        False,
        f"http://{auth_server}/ returned HTTP 401, expected 200",
    )


def test_a_failing_check_masks_every_credential_the_error_quotes():
    def refusing(url, follow_redirects, timeout, headers=None):
        raise OSError(f"cannot reach {url} with {headers}")

    check = {
        "type": "http",
        "url": f"http://monitor:{_PASSWORD}@localhost:9/",
        "headers": {"X-Api-Token": "PLANTED-token"},
    }
    ok, detail = HealthChecks(None, http=refusing).http_check(check)
    assert not ok
    assert detail.startswith("http://monitor:***@localhost:9/: cannot reach http://localhost:9/")
    assert _PASSWORD not in detail and "PLANTED-token" not in detail
    assert base64.b64encode(f"monitor:{_PASSWORD}".encode()).decode() not in detail


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://localhost/x", ("http://localhost/x", None, None)),
        ("http://a:b@h:8080/p?q=1", ("http://h:8080/p?q=1", "a", "b")),
        ("http://a:b%2Fc@h/p", ("http://h/p", "a", "b/c")),
        # Unencoded, as a template fills it in: taken up to the last @ before the query.
        ("http://a:b/c+d@h/p?x=@", ("http://h/p?x=@", "a", "b/c+d")),
        ("http://token@h/", ("http://h/", "token", None)),
        ("http://h/users/@me", ("http://h/users/@me", None, None)),
    ],
)
def test_url_credentials_are_split_from_the_url(url, expected):
    assert split_url_credentials(url) == expected


def test_the_url_password_is_masked_as_written_and_decoded():
    assert url_secrets("http://a:b%2Fc@h/") == {"b%2Fc", "b/c"}
    assert url_secrets("http://a@h/") == set()
    assert url_secrets("http://h/") == set()


def test_a_module_masks_the_password_of_every_url_among_its_parameters():
    module = types.SimpleNamespace(
        params={
            "site_url": "http://admin:pw%2Bone@wiki.example/",
            "health_checks": [{"type": "http", "url": f"http://monitor:{_PASSWORD}@localhost/"}],
            "plain": "http://wiki.example/",
        },
        no_log_values=set(),
    )
    protect_url_credentials(module)
    assert module.no_log_values == {"pw%2Bone", "pw+one", _PASSWORD}


def test_a_download_with_credentials_sends_them_as_basic_auth():
    request = url_request("https://mirror:pw@mirror.example/x.tar.gz")
    assert request.full_url == "https://mirror.example/x.tar.gz"
    assert request.get_header("Authorization") == "Basic " + base64.b64encode(b"mirror:pw").decode()
    assert url_request("https://mirror.example/x.tar.gz") == "https://mirror.example/x.tar.gz"


def test_an_sql_check_logs_in_through_an_option_file_never_the_command_line(tmp_path):
    client = tmp_path / "mariadb"
    client.write_text("")
    seen = {}

    def call(argv, data=None):
        seen["argv"] = argv
        option_file = argv[1].partition("=")[2]
        seen["mode"] = os.stat(option_file).st_mode & 0o777
        with open(option_file, encoding="utf-8") as handle:
            seen["options"] = handle.read()
        return (
            1,
            "",
            f"ERROR 1045: Access denied for user 'health' (using password: {_PASSWORD}\"q)",
        )

    check = {
        "type": "sql",
        "query": "SELECT 1",
        "database": "wikidb",
        "login_user": "health",
        "login_password": _PASSWORD + '"q',
    }
    ok, detail = HealthChecks(call, sql_clients=(str(client),)).sql_check(check)
    assert not ok
    assert seen["argv"][1].startswith("--defaults-extra-file=")
    assert "--user=root" not in seen["argv"]
    assert not any(_PASSWORD in arg for arg in seen["argv"])
    assert seen["mode"] == 0o600
    assert seen["options"] == f'[client]\nuser="health"\npassword="{_PASSWORD}\\"q"\n'
    assert _PASSWORD not in detail
    assert not os.path.exists(seen["argv"][1].partition("=")[2])


def test_every_option_that_can_carry_a_credential_is_no_log():
    options = HEALTH_CHECK_SPEC["health_checks"]["options"]
    secret = {name for name, spec in options.items() if spec.get("no_log") is True}
    assert secret == {"url_password", "headers", "login_password"}
    # Names that only look secret say so, so Ansible does not guess.
    assert options["url_username"]["no_log"] is False
    assert options["login_user"]["no_log"] is False


def test_ansible_masks_the_no_log_options_of_a_health_check():
    validator = ArgumentSpecValidator(HEALTH_CHECK_SPEC)
    result = validator.validate(
        {
            "health_checks": [
                {
                    "type": "http",
                    "url": "http://localhost/",
                    "url_username": "monitor",
                    "url_password": "PLANTED-url-password",
                    "headers": {"X-Api-Token": "PLANTED-header-token"},
                },
                {
                    "type": "sql",
                    "query": "SELECT 1",
                    "login_user": "health",
                    "login_password": "PLANTED-login-password",
                },
            ]
        }
    )
    assert result.error_messages == []
    assert {"PLANTED-url-password", "PLANTED-header-token", "PLANTED-login-password"} <= (
        result._no_log_values
    )
    assert "monitor" not in result._no_log_values
    assert not result._warnings
