"""playbooks/sla_report.yml writes one report per customer and prints where.

The hosts point at containers that do not exist: the reports are made on
the controller from the audit trail, so no host may be reached.
"""

import json
import pathlib
import textwrap

import sla_report_trail as recorded
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail
from playbook_runner import collection_env, playbook_args, run_playbook

INVENTORY = """
all:
  vars:
    ansible_connection: containers.podman.podman
  children:
    acme:
      vars:
        sla_customer: acme
        sla_tier: pro
      hosts:
        acme-staging:
          ansible_host: twovalue-sla-no-such-container-1
        acme-prod:
          ansible_host: twovalue-sla-no-such-container-2
    globex:
      vars:
        sla_customer: globex
        sla_tier: basic
        sla_report_language: nl
      hosts:
        globex-prod:
          ansible_host: twovalue-sla-no-such-container-3
"""


def _globex_trail(path):
    AuditTrail(str(path)).append(
        {
            "kind": "decision",
            "time": "2026-02-03T10:00:00Z",
            "run_id": "g1",
            "operator": "ops-bob",
            "controller": "ops-laptop",
            "customer": "globex",
            "host": "globex-prod",
            "tier": "basic",
            "activity": "updates",
            "item": "change_set",
            "decision": "planned",
            "after": "d" * 64,
            "result": {"summary": {"apply": 0, "advise": 0, "refuse": 0}},
        }
    )


def test_one_report_per_customer_with_its_paths_printed(tmp_path):
    audit, reports = tmp_path / "audit", tmp_path / "reports"
    recorded.write_trail(audit / "acme.jsonl")
    _globex_trail(audit / "globex.jsonl")
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(textwrap.dedent(INVENTORY))
    run = run_playbook(
        playbook_args(
            "playbooks/sla_report.yml",
            "-e",
            "sla_report_period_start=2026-01-01",
            "-e",
            "sla_report_period_end=2026-03-31",
            inventory=inventory,
        ),
        collection_env(audit, SLA_REPORT_DIR=reports),
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "UNREACHABLE" not in run.stdout

    for customer, language in (("acme", "en"), ("globex", "nl")):
        base = reports / customer / "sla-report-2026-Q1"
        paths = [f"{base}.html", f"{base}.md", f"{base}.json"]
        lines = run.stdout.splitlines()
        printed = [n for n, line in enumerate(lines) if line.endswith(f"- {customer} 2026-Q1")]
        assert len(printed) == 1, run.stdout
        assert [line.strip() for line in lines[printed[0] + 1 : printed[0] + 4]] == [
            f"- {path}" for path in paths
        ]
        for path in paths:
            assert pathlib.Path(path).stat().st_size > 500
        document = json.loads(pathlib.Path(paths[2]).read_text(encoding="utf-8"))
        assert (document["customer"], document["language"]) == (customer, language)

    acme = json.loads((reports / "acme" / "sla-report-2026-Q1.json").read_text(encoding="utf-8"))
    assert acme["kpis"][0]["measured_seconds"] == recorded.LATENCY_SECONDS
    assert '<html lang="nl">' in (reports / "globex" / "sla-report-2026-Q1.html").read_text(
        encoding="utf-8"
    )
