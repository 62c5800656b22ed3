# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail in a real PostgreSQL database: same chain, concurrency, export/import, outage.

A throwaway cluster is started for the session (tests/integration/postgres_cluster.py).
The writers are the collection's real audit path: the twovalue.sla.audit
callback and the twovalue.sla.audit_event action in ansible-playbook runs.

Run with:  .venv/bin/pytest tests/integration/test_audit_postgresql.py -q
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_file, audit_store, sla_audit
from playbook_runner import collection_env, playbook_args, run_playbook, start_playbook
from postgres_cluster import DATABASE, WRITER_PASSWORD

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VERIFIER = os.path.join(ROOT, "bin", "sla_audit.py")
PLAYBOOK = os.path.join(ROOT, "tests", "integration", "audit_postgresql.yml")

RUNS = 8
HOSTS = ("wiki1", "wiki2")
DECISIONS_PER_HOST = 4
# Tasks of tests/integration/audit_postgresql.yml, each recorded per host by the callback.
TASKS_PER_HOST = 3
RECORDS_PER_RUN = 2 + len(HOSTS) * (TASKS_PER_HOST + DECISIONS_PER_HOST)  # run_start, run_end


def _vault(plaintext, password):
    from ansible.parsing.vault import VaultLib, VaultSecret

    return VaultLib([("default", VaultSecret(password))]).encrypt(plaintext).decode()


def _env(base, **extra):
    env = collection_env(
        base / "audit",
        ANSIBLE_LOG_PATH=base / "ansible.log",
        ANSIBLE_LOCAL_TEMP=base / "tmp",
        **extra,
    )
    # The database is named by the run's settings only, never by libpq's own variables.
    return {name: value for name, value in env.items() if not name.startswith("PG")}


def _inventory(base, name, dsn, vaulted_password=True, port_override=None):
    """An inventory whose customer keeps its trail in the database, password in a vault."""
    folder = base / name
    (folder / "group_vars" / "all").mkdir(parents=True)
    hosts = "\n".join(f"{host} sla_customer=acme sla_tier=pro" for host in HOSTS)
    (folder / "hosts.ini").write_text(hosts + "\n")
    plain = f"ansible_connection: local\nansible_python_interpreter: {sys.executable}\n"
    if dsn is not None:
        plain += f"sla_audit_backend: postgresql\nsla_audit_dsn: '{dsn}'\n"
    if port_override is not None:
        plain += f"sla_audit_db_port: {port_override}\n"
    (folder / "group_vars" / "all" / "main.yml").write_text(plain)
    if vaulted_password:
        (folder / "group_vars" / "all" / "vault.yml").write_text(
            _vault(f"sla_audit_db_password: {WRITER_PASSWORD}\n", b"vault-pass")
        )
    return folder / "hosts.ini"


def _start_playbook(base, inventory, *args, **env):
    (base / "vault-pass").write_text("vault-pass")
    args = playbook_args(
        PLAYBOOK,
        "--vault-password-file",
        base / "vault-pass",
        "-e",
        f"decisions={DECISIONS_PER_HOST} marker_dir={base}",
        *args,
        inventory=inventory,
    )
    return start_playbook(
        args, _env(base, **env), cwd=base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _cli(*args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("SLA_AUDIT_", "PG"))}
    environment.update(env)
    return subprocess.run(
        [sys.executable, VERIFIER, *args],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )


def _database(cluster):
    return audit_store.Database(
        audit_store.StoreConfig("postgresql", dsn=cluster.dsn(), db_password=WRITER_PASSWORD)
    )


def _record(number, **fields):
    return dict(
        kind="decision",
        time=f"2026-03-0{1 + number % 9}T04:10:11.123456Z",
        controller="ctl1",
        operator="ops",
        customer=fields.pop("customer", "initech"),
        activity="updates",
        item=f"php8.{number}",
        decision="advised",
        **fields,
    )


def _assert_no_password(*texts):
    for text in texts:
        assert WRITER_PASSWORD not in text


# --------------------------------------------------------------------------- the chain


def test_a_database_trail_holds_the_same_bytes_as_a_trail_file(pg_cluster, tmp_path):
    records = [_record(number, reason=f"pw {WRITER_PASSWORD}") for number in range(5)]
    key = b"k" * 32
    file_trail = audit_file.AuditTrail(
        str(tmp_path / "initech.jsonl"), key=key, secrets={WRITER_PASSWORD}
    )
    file_trail.append_many(records[:2])
    file_trail.append_many(records[2:])
    database_trail = audit_store.PostgresTrail(_database(pg_cluster), "initech", key=key)
    database_trail.append_many(records[:2])
    database_trail.append_many(records[2:])

    assert list(database_trail.read_lines()) == list(file_trail.read_lines())
    assert database_trail.head() == file_trail.head()
    report = database_trail.verify(key=key)
    assert report.valid and report.records == 5, report.summary()
    assert database_trail.verify().problem == "key_required"
    # The trail's own redactor knows the database password, whoever wrote the record.
    assert WRITER_PASSWORD.encode() not in b"".join(database_trail.read_lines())
    assert (
        database_trail.path
        == f"postgresql://sla_writer@127.0.0.1:{pg_cluster.port}/{DATABASE}#initech"
    )


def test_tampering_in_the_database_is_named(pg_cluster):
    trail = audit_store.PostgresTrail(_database(pg_cluster), "tampered")
    trail.append_many([_record(number, customer="tampered") for number in range(6)])
    assert trail.verify().valid
    # The writer's role cannot change a record: the table is append-only.
    with pytest.raises(sla_audit.AuditError), trail._connected("tamper with") as connection:
        connection.execute("DELETE FROM sla_audit_record WHERE customer = 'tampered'")
    # A superuser can, with triggers off; the verifier still notices.
    pg_cluster.sql(
        "SET session_replication_role = replica; "
        "UPDATE sla_audit_record SET line = replace(line, '\"advised\"', '\"approved\"') "
        "WHERE customer = 'tampered' AND seq = 3"
    )
    report = trail.verify()
    assert (report.valid, report.problem, report.seq) == (False, "edited", 3)
    pg_cluster.sql(
        "SET session_replication_role = replica; "
        "DELETE FROM sla_audit_record WHERE customer = 'tampered' AND seq >= 3"
    )
    report = trail.verify()
    assert (report.valid, report.problem) == (False, "truncated"), report.summary()
    with pytest.raises(sla_audit.AuditError, match="does not match its last record"):
        trail.append(_record(9, customer="tampered"))


def test_a_writer_waits_on_the_head_row_and_gives_up_with_a_clear_error(pg_cluster):
    import psycopg

    trail = audit_store.PostgresTrail(_database(pg_cluster), "locked", lock_timeout=1)
    trail.append(_record(1, customer="locked"))
    with psycopg.connect(pg_cluster.dsn(password=True)) as holder:
        holder.execute("SELECT seq FROM sla_audit_head WHERE customer = 'locked' FOR UPDATE")
        started = time.monotonic()
        with pytest.raises(
            sla_audit.AuditError, match="cannot lock the head of .*#locked within 1s"
        ):
            trail.append(_record(2, customer="locked"))
        assert 0.9 < time.monotonic() - started < 10
    # Released: the next append goes on from the same head.
    assert trail.append(_record(2, customer="locked")).seq == 2
    assert trail.verify().valid


def test_export_and_import_keep_the_chain_verifiable(pg_cluster, tmp_path):
    key_file = tmp_path / "hmac.key"
    key_file.write_bytes(b"export-import-key\n")
    source = tmp_path / "globex.jsonl"
    trail = audit_file.AuditTrail(str(source))
    trail.append_many([_record(number, customer="globex") for number in range(3)])
    audit_file.AuditTrail(str(source), key=b"export-import-key").append_many(
        [_record(number, customer="globex") for number in range(3, 7)]
    )
    env = {"SLA_AUDIT_DSN": pg_cluster.dsn(), "SLA_AUDIT_DB_PASSWORD": WRITER_PASSWORD}

    refused = _cli("import", str(source), **env)
    assert refused.returncode == 2 and "key_required" in refused.stderr
    imported = _cli("import", str(source), "--key-file", str(key_file), **env)
    assert imported.returncode == 0, imported.stderr
    assert "imported 7 records; OK" in imported.stdout
    again = _cli("import", str(source), "--key-file", str(key_file), **env)
    assert "imported 0 records; OK" in again.stdout

    verified = _cli("verify", "--customer", "globex", "--key-file", str(key_file), "--json", **env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["records"] == 7

    exported = tmp_path / "out" / "globex.jsonl"
    done = _cli("export", str(exported), "--customer", "globex", "--key-file", str(key_file), **env)
    assert done.returncode == 0, done.stderr
    assert exported.read_bytes() == source.read_bytes()
    assert _cli("verify", str(exported), "--key-file", str(key_file)).returncode == 0
    head = _cli("head", "--customer", "globex", **env)
    assert head.stdout.split() == [str(7), trail.head()[1]]
    for completed in (refused, imported, again, verified, done, head):
        _assert_no_password(completed.stdout, completed.stderr)

    # A trail that does not verify is not imported.
    broken = tmp_path / "hooli.jsonl"
    lines = source.read_bytes().splitlines(keepends=True)
    broken.write_bytes(b"".join(lines[:2] + lines[3:]))
    refused = _cli("import", str(broken), "--key-file", str(key_file), **env)
    assert refused.returncode == 2 and "deleted" in refused.stderr
    assert "hooli" not in _database(pg_cluster).customers()


# --------------------------------------------------------------------------- real runs


def test_parallel_runs_append_one_unbroken_chain(pg_cluster, tmp_path):
    """8 ansible-playbook runs at once, all for customer acme, half configured by the
    inventory (password in a vault), half by the callback's environment."""
    inventory_db = _inventory(tmp_path, "by-inventory", pg_cluster.dsn())
    inventory_env = _inventory(tmp_path, "by-environment", None, vaulted_password=False)
    env_settings = {
        "SLA_AUDIT_BACKEND": "postgresql",
        "SLA_AUDIT_DSN": pg_cluster.dsn(),
        "SLA_AUDIT_DB_PASSWORD": WRITER_PASSWORD,
    }
    started = time.monotonic()
    runs = [
        _start_playbook(tmp_path, inventory_db, "-v")
        if number % 2 == 0
        else _start_playbook(tmp_path, inventory_env, "-v", **env_settings)
        for number in range(RUNS)
    ]
    outputs = [run.communicate(timeout=600) for run in runs]
    elapsed = time.monotonic() - started
    print(f"{RUNS} parallel runs took {elapsed:.1f}s")
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stdout + stderr
        assert "twovalue.sla.audit: acme head" in stdout
        _assert_no_password(stdout, stderr)
    _assert_no_password((tmp_path / "ansible.log").read_text())
    with open(pg_cluster.log, encoding="utf-8", errors="replace") as server_log:
        _assert_no_password(server_log.read())
    assert not (tmp_path / "audit" / "acme.jsonl").exists()  # nothing went to a file

    verified = _cli(
        "verify",
        "--customer",
        "acme",
        "--json",
        SLA_AUDIT_DSN=pg_cluster.dsn(),
        SLA_AUDIT_DB_PASSWORD=WRITER_PASSWORD,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["valid"] and report["records"] == RUNS * RECORDS_PER_RUN

    trail = audit_store.PostgresTrail(_database(pg_cluster), "acme")
    records = [json.loads(line) for line in trail.read_lines()]
    _assert_no_password(json.dumps(records))
    assert [record["seq"] for record in records] == list(range(1, RUNS * RECORDS_PER_RUN + 1))
    per_run = collections.Counter(record["run_id"] for record in records)
    assert sorted(per_run.values()) == [RECORDS_PER_RUN] * RUNS
    kinds = collections.Counter(record["kind"] for record in records)
    assert kinds == {
        "run_start": RUNS,
        "run_end": RUNS,
        "task": RUNS * len(HOSTS) * TASKS_PER_HOST,
        "decision": RUNS * len(HOSTS) * DECISIONS_PER_HOST,
    }
    # The verify_audit playbook checks the database when the callback's backend says so.
    playbook = run_playbook(
        playbook_args(
            os.path.join(ROOT, "playbooks", "verify_audit.yml"),
            "-v",
            "-e",
            "verify_audit_customer=acme",
        ),
        _env(tmp_path, **env_settings),
        cwd=tmp_path,
    )
    assert playbook.returncode == 0, playbook.stdout + playbook.stderr
    assert f"valid, {RUNS * RECORDS_PER_RUN} records" in playbook.stdout
    _assert_no_password(playbook.stdout, playbook.stderr)

    # Runs configured by the inventory had the vaulted password in the reason: redacted.
    decisions = [record for record in records if record["kind"] == "decision"]
    assert {record["reason"] for record in decisions} == {
        "connected with ********",
        "connected with no password",
    }


def test_an_unreachable_database_fails_the_change_closed(pg_cluster, tmp_path):
    inventory = _inventory(tmp_path, "down", pg_cluster.dsn(), port_override=1)
    run = _start_playbook(tmp_path, inventory, "-vvv")
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode != 0
    assert "audit record could not be written" in stdout
    assert "cannot reach the audit database (host 127.0.0.1 port 1 database sla_audit" in stdout
    assert not list(tmp_path.glob("changed-*")), "a change ran without its record"
    _assert_no_password(stdout, stderr, (tmp_path / "ansible.log").read_text())

    unknown = _inventory(tmp_path, "unknown", None, vaulted_password=False)
    with open(unknown.parent / "group_vars" / "all" / "main.yml", "a", encoding="utf-8") as vars_:
        vars_.write("sla_audit_backend: mongodb\n")
    run = _start_playbook(tmp_path, unknown)
    stdout, _stderr = run.communicate(timeout=300)
    assert run.returncode != 0
    assert "unknown audit backend 'mongodb'" in stdout

    missing = _cli("verify", "--customer", "acme", SLA_AUDIT_DSN=pg_cluster.dsn().replace(
        f"port={pg_cluster.port}", "port=1"), SLA_AUDIT_DB_PASSWORD=WRITER_PASSWORD)  # fmt: skip
    assert missing.returncode == 2
    assert "host 127.0.0.1 port 1 database sla_audit" in missing.stderr
    _assert_no_password(missing.stdout, missing.stderr)


def test_the_file_backend_never_loads_the_database_driver(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {os.path.join(ROOT, ".cache", "collections")!r})
        from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_store
        trail = audit_store.open_trail(audit_store.resolve_store({{"audit_dir": {str(tmp_path)!r}}}), "acme")
        trail.append({{"kind": "decision"}})
        assert trail.verify().valid
        print("psycopg" in sys.modules)
        """
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert completed.stdout.strip() == "False"
