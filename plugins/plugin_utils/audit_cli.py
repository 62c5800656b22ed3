# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail command line: ``verify`` a trail or print its ``head``; ``export`` / ``import``.

Standard library only (psycopg only for a database), so trails can be checked
without ansible::

    python3 bin/sla_audit.py verify out/audit/acme.jsonl
    python3 -m ansible_collections.twovalue.sla.plugins.plugin_utils.audit_cli verify DIR
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_store
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_path
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import AuditError, load_key


def _add_database_arguments(parser, customer_help: str) -> None:
    parser.add_argument(
        "--dsn",
        default=os.environ.get("SLA_AUDIT_DSN"),
        help="audit database (libpq DSN or postgresql:// URI, without the password; "
        "default SLA_AUDIT_DSN); the password comes from SLA_AUDIT_DB_PASSWORD, "
        "--db-password-file, PGPASSWORD or ~/.pgpass",
    )
    parser.add_argument("--db-password-file", help="file holding the database password")
    parser.add_argument("--customer", help=customer_help)


def main(argv=None) -> int:
    """Command line: ``verify`` a trail or print its ``head``; ``export`` / ``import``.

    A trail is a file (or an audit directory), or with ``--dsn`` the trails
    of a PostgreSQL audit database. Exit status: 0 valid, 1 broken, 2 usage
    error (bad arguments, unreadable file or key, database unreachable, HMAC
    key required).
    """
    parser = argparse.ArgumentParser(
        prog="sla_audit", description="Verify twovalue.sla audit trails."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify", help="verify a trail file, an audit directory or the trails of a database"
    )
    verify.add_argument("path", nargs="?", help="trail file or audit directory (or use --dsn)")
    verify.add_argument("--head", help="published head hash the trail must still contain")
    verify.add_argument("--key-file", help="HMAC key file the trail was written with")
    verify.add_argument("--json", action="store_true", help="one JSON object per trail")
    verify.add_argument("--deep", action="store_true", help="also parse every record as JSON")
    _add_database_arguments(verify, "one customer's trail of the database (default: all)")
    head = commands.add_parser("head", help="print the seq and hash of the last record")
    head.add_argument("path", nargs="?", help="trail file (or use --dsn with --customer)")
    _add_database_arguments(head, "the customer whose database trail to read")
    export = commands.add_parser("export", help="copy database trails into trail files")
    export.add_argument("target", help="trail file (with --customer) or directory")
    export.add_argument("--key-file", help="HMAC key file, to verify the copies")
    _add_database_arguments(export, "export one customer's trail (default: all)")
    imports = commands.add_parser("import", help="copy trail files into the database")
    imports.add_argument("source", help="trail file or audit directory")
    imports.add_argument("--key-file", help="HMAC key file, to verify before and after")
    _add_database_arguments(imports, "customer of a trail file (default: its file name)")
    args = parser.parse_args(argv)

    if args.command in ("verify", "head") and not args.path and not args.dsn:
        parser.error("give a trail file or directory, or an audit database with --dsn")
    if args.command == "verify" and args.head and not re.fullmatch(r"[0-9a-fA-F]{64}", args.head):
        print("sla_audit: --head must be a 64 character hex hash", file=sys.stderr)
        return 2
    if args.command in ("export", "import") or not args.path:
        return _database_command(args)

    if args.command == "head":
        if not os.path.isfile(args.path):
            print(f"sla_audit: no trail at {args.path}", file=sys.stderr)
            return 2
        try:
            seq, digest = AuditTrail(args.path).head()
        except AuditError as exc:
            print(f"sla_audit: {exc}", file=sys.stderr)
            return 1
        print(f"{seq} {digest}")
        return 0

    if not os.path.exists(args.path) and not args.head:
        print(f"sla_audit: no trail at {args.path}", file=sys.stderr)
        return 2
    try:
        key = load_key(args.key_file)
        reports = verify_path(args.path, key=key, head=args.head, deep=args.deep)
    except (AuditError, OSError) as exc:
        print(f"sla_audit: {exc}", file=sys.stderr)
        return 2
    return _print_reports(reports, args.json)


def _print_reports(reports, as_json: bool) -> int:
    for report in reports:
        print(json.dumps(report.as_dict(), sort_keys=True) if as_json else report.summary())
    if any(report.problem == "key_required" for report in reports):
        return 2
    return 0 if all(report.valid for report in reports) else 1


def _database_command(args) -> int:
    """verify, head, export and import against the PostgreSQL audit database."""
    try:
        database = audit_store.cli_database(args.dsn, args.db_password_file)
        if args.command == "verify":
            key = load_key(args.key_file)
            reports = audit_store.verify_database(
                database, args.customer, key=key, head=args.head, deep=args.deep
            )
            return _print_reports(reports, args.json)
        if args.command == "head":
            if not args.customer:
                raise AuditError("head of a database trail needs --customer")
            seq, digest = audit_store.PostgresTrail(database, args.customer).head()
            print(f"{seq} {digest}")
            return 0
        key = load_key(args.key_file)
        if args.command == "export":
            reports = audit_store.export_trails(database, args.target, args.customer, key=key)
            return _print_reports(reports, False)
        results = audit_store.import_trails(database, args.source, args.customer, key=key)
        for added, report in results:
            print(f"imported {added} records; {report.summary()}")
        return 0 if all(report.valid for _added, report in results) else 1
    except (AuditError, OSError) as exc:
        print(f"sla_audit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
