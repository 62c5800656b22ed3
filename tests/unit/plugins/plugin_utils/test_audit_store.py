# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Choosing the audit store from settings and inventory variables, without a database.

The PostgreSQL backend itself runs against a real server in
tests/integration/test_audit_postgresql.py.
"""

from __future__ import annotations

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_file, audit_store, sla_audit
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import (
    AuditError,
    StoreConfig,
    mask_dsn,
    open_trail,
    resolve_store,
)

PASSWORD = "Unit-Db-Pass-7731"


def test_the_file_backend_is_the_default_and_is_the_trail_file(tmp_path):
    store = resolve_store({"audit_dir": str(tmp_path)})
    assert store == StoreConfig("file", str(tmp_path))
    trail = open_trail(store, "acme")
    assert isinstance(trail, audit_file.AuditTrail)
    assert trail.path == sla_audit.trail_path(str(tmp_path), "acme")
    assert not trail.exists()
    trail.append({"kind": "decision"})
    assert trail.exists() and trail.verify().valid
    assert open_trail(store, None).path.endswith("/_unassigned.jsonl")


def test_inventory_variables_win_over_the_callback_settings(tmp_path):
    settings = {"audit_dir": str(tmp_path), "backend": "file"}
    variables = {
        "sla_audit_backend": "postgresql",
        "sla_audit_db_host": "{{ db_host }}",
        "sla_audit_db_name": "sla_audit",
        "sla_audit_db_user": "sla",
        "sla_audit_db_password": PASSWORD,
    }
    store = resolve_store(settings, variables, lambda text: text.replace("{{ db_host }}", "db1"))
    assert (store.backend, store.db_host, store.db_name, store.db_user) == (
        "postgresql",
        "db1",
        "sla_audit",
        "sla",
    )
    assert store.db_password == PASSWORD
    assert PASSWORD not in repr(store)
    assert store.secret_values() == {PASSWORD}


def test_an_explicit_audit_dir_means_that_directory_s_files(tmp_path):
    settings = {"backend": "postgresql", "dsn": "host=db1 dbname=sla_audit"}
    assert resolve_store(settings, audit_dir=str(tmp_path)) == StoreConfig("file", str(tmp_path))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"backend": "mysql"}, "unknown audit backend 'mysql'.*expected one of file, postgresql"),
        ({"backend": "postgresql"}, "postgresql audit backend needs a database.*sla_audit_dsn"),
        ({"backend": "postgresql", "db_host": "db1"}, "needs a database"),
    ],
)
def test_bad_settings_are_refused_with_what_to_set(settings, message):
    with pytest.raises(AuditError, match=message):
        resolve_store(settings)


def test_an_unreadable_password_file_is_named(tmp_path):
    settings = {
        "backend": "postgresql",
        "dsn": "dbname=x",
        "db_password_file": str(tmp_path / "no"),
    }
    with pytest.raises(AuditError, match="cannot read the audit database password file"):
        resolve_store(settings)
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    settings["db_password_file"] = str(tmp_path / "pw")
    assert resolve_store(settings).db_password == PASSWORD


@pytest.mark.parametrize(
    ("dsn", "masked"),
    [
        (f"postgresql://sla:{PASSWORD}@db1:5432/sla_audit", "postgresql://sla:********@db1:5432/sla_audit"),
        (f"host=db1 password={PASSWORD} dbname=x", "host=db1 password=******** dbname=x"),
        (f"host=db1 password = '{PASSWORD} x' dbname=x", "host=db1 password = ******** dbname=x"),
        ("host=db1 dbname=x", "host=db1 dbname=x"),
        ("postgresql://sla@db1/sla_audit", "postgresql://sla@db1/sla_audit"),
    ],
)  # fmt: skip
def test_a_password_in_a_dsn_is_masked_and_counts_as_a_secret(dsn, masked):
    assert mask_dsn(dsn) == masked
    store = StoreConfig("postgresql", dsn=dsn)
    if PASSWORD in dsn:
        assert PASSWORD in " ".join(store.secret_values())
        assert dsn in store.secret_values()
    else:
        assert store.secret_values() == set()


def test_the_database_describes_itself_without_the_password():
    pytest.importorskip("psycopg")
    database = audit_store.Database(
        StoreConfig("postgresql", dsn=f"postgresql://sla:{PASSWORD}@db1:6543/sla_audit")
    )
    assert database.description == "host db1 port 6543 database sla_audit user sla"
    assert database.url == "postgresql://sla@db1:6543/sla_audit"
    assert database.scrub(f"failed for {PASSWORD}") == "failed for ********"
    trail = audit_store.PostgresTrail(database, "acme")
    assert trail.path == "postgresql://sla@db1:6543/sla_audit#acme"
    with pytest.raises(AuditError, match="cannot be used as a trail name"):
        audit_store.PostgresTrail(database, "../etc")


def test_a_dsn_that_does_not_parse_is_refused_without_echoing_it():
    pytest.importorskip("psycopg")
    with pytest.raises(AuditError, match="DSN cannot be parsed") as raised:
        audit_store.Database(StoreConfig("postgresql", dsn=f"host=db1 password={PASSWORD} ="))
    assert PASSWORD not in str(raised.value)


def test_a_missing_driver_is_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name == "psycopg":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(AuditError, match=r"needs the Python package psycopg 3"):
        open_trail(StoreConfig("postgresql", dsn="dbname=x"), "acme")


def test_a_path_is_a_trail_file_and_a_store_stays_itself(tmp_path):
    path = str(tmp_path / "acme.jsonl")
    assert audit_store.as_trail(path).path == path
    trail = audit_file.AuditTrail(path)
    assert audit_store.as_trail(trail) is trail


def test_read_lines_filters_and_tolerates_a_missing_trail(tmp_path):
    trail = audit_file.AuditTrail(str(tmp_path / "acme.jsonl"))
    assert list(trail.read_lines()) == []
    trail.append_many([{"kind": "decision", "item": "php8.2"}, {"kind": "decision"}])
    assert len(list(trail.read_lines())) == 2
    (line,) = trail.read_lines(contains="php8.2")
    assert b'"item":"php8.2"' in line
