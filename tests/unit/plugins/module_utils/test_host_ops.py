# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import gzip
import http.server
import sys
import threading

from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    DumpError,
    HealthChecks,
    dump_to_gzip,
    http_get,
    restore_from_gzip,
    shown_url,
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
        shown_url("http://admin:s3cret@wiki.example:8080/x?y=1") == "http://wiki.example:8080/x?y=1"
    )
    assert shown_url("https://wiki.example/") == "https://wiki.example/"


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
