# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""twovalue.sla.sla_report on the controller: trail in, three report files out."""

from __future__ import annotations

import datetime
import json
import pathlib

import pytest
import sla_report_trail as recorded
from action_harness import controller_action, run_on_controller
from ansible_collections.twovalue.sla.plugins.action import sla_report as sla_report_action
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report_render import (
    last_complete_quarter,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets

QUARTER = {"period_start": recorded.PERIOD[0], "period_end": recorded.PERIOD[1]}


@pytest.fixture
def audit_dir(audit_dir):
    recorded.write_trail(audit_dir / "acme.jsonl")
    return audit_dir


def _sla(tier="pro"):
    return {"customer": "acme", "tier": tier, "targets": resolve_targets(tier), "control": None}


def _run(tmp_path, check_mode=False, **extra):
    args = {"sla": _sla(), "report_dir": str(tmp_path / "reports"), **extra}
    action, connection = controller_action(
        sla_report_action.ActionModule,
        args,
        check_mode=check_mode,
        action_name="twovalue.sla.sla_report",
    )
    result = run_on_controller(action, connection, {"inventory_hostname": "acme-prod"})
    return result


def test_the_report_is_written_in_three_formats(tmp_path, audit_dir):
    result = _run(tmp_path, **QUARTER)
    assert not result.get("failed"), result.get("msg")
    base = tmp_path / "reports" / "acme" / "sla-report-2026-Q1"
    assert result["paths"] == {
        "html": f"{base}.html",
        "md": f"{base}.md",
        "json": f"{base}.json",
    }
    assert result["changed"] is True
    for path in result["paths"].values():
        assert pathlib.Path(path).stat().st_size > 1000
    document = json.loads(pathlib.Path(result["paths"]["json"]).read_text(encoding="utf-8"))
    assert document["kpis"][0]["measured_seconds"] == recorded.LATENCY_SECONDS
    assert (result["head_seq"], result["head"]) == (
        document["trail"]["seq"],
        document["trail"]["head"],
    )
    assert result["period"]["label"] == "2026-Q1"
    assert result["kpis_met"] == {
        "security_in_time": True,
        "security_past_deadline": False,
        "periodic_updates": False,
        "periodic_updates_host:acme-prod": True,
        "periodic_updates_host:acme-staging": False,
        "backups_verified": None,
        "access_review": None,
    }


def test_a_second_run_rewrites_nothing(tmp_path, audit_dir):
    first = _run(tmp_path, **QUARTER)
    before = {name: pathlib.Path(path).stat().st_mtime_ns for name, path in first["paths"].items()}
    second = _run(tmp_path, **QUARTER)
    assert second["changed"] is False
    assert second["paths"] == first["paths"]
    assert {n: pathlib.Path(p).stat().st_mtime_ns for n, p in second["paths"].items()} == before


def test_the_language_is_the_customers(tmp_path, audit_dir):
    result = _run(tmp_path, language="nl", **QUARTER)
    page = pathlib.Path(result["paths"]["html"]).read_text(encoding="utf-8")
    assert '<html lang="nl">' in page
    assert "traagste 12 u 15 min 30,5 s" in page
    english = _run(tmp_path, language="en", **QUARTER)
    assert english["changed"] is True


def test_check_mode_writes_nothing(tmp_path, audit_dir):
    result = _run(tmp_path, check_mode=True, **QUARTER)
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is True
    assert not (tmp_path / "reports").exists()


def test_without_a_period_the_last_complete_quarter_is_reported(tmp_path, audit_dir):
    result = _run(tmp_path)
    assert not result.get("failed"), result.get("msg")
    first, last = last_complete_quarter(datetime.date.today())
    assert result["period"]["first_day"] == first.isoformat()
    assert result["period"]["last_day"] == last.isoformat()
    assert result["paths"]["html"].endswith(f"-Q{(first.month - 1) // 3 + 1}.html")


def test_report_period_uses_the_given_days_or_the_last_quarter():
    today = datetime.date(2026, 5, 20)
    assert sla_report_action.report_period(None, None, "Europe/Amsterdam", today) == (
        "2026-01-01",
        "2026-03-31",
    )
    assert sla_report_action.report_period("2026-03-01", "2026-03-31", "UTC", today) == (
        "2026-03-01",
        "2026-03-31",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            {"period_start": "2026-01-01", "period_end": None},
            "give period_start and period_end together",
        ),
        ({"period_start": "2026-04-01", "period_end": "2026-03-01"}, "is before period_start"),
        ({"period_start": "Q1", "period_end": "2026-03-31"}, "period_start is 'Q1'"),
        ({"sla": {"customer": "acme", "tier": "pro"}}, "targets is None"),
        ({"sla": {"customer": "../etc", "tier": "pro"}}, "sla.customer is '../etc'"),
        ({"sla": {"customer": "acme", "tier": "gold"}}, "sla.tier is 'gold'"),
    ],
)
def test_bad_arguments_fail_naming_what_to_fix(tmp_path, audit_dir, args, message):
    result = _run(tmp_path, **{**QUARTER, **args})
    assert result["failed"] is True
    assert message in result["msg"]
    assert not (tmp_path / "reports").exists()


def test_a_tampered_trail_gives_no_report(tmp_path, audit_dir):
    trail = audit_dir / "acme.jsonl"
    lines = trail.read_bytes().splitlines(keepends=True)
    number = next(n for n, line in enumerate(lines) if b'"item":"curl"' in line)
    lines[number] = lines[number].replace(b'"decision":"approved"', b'"decision":"advised"')
    trail.write_bytes(b"".join(lines))
    result = _run(tmp_path, **QUARTER)
    assert result["failed"] is True
    assert "does not verify" in result["msg"]
    assert f"line {number + 1} " in result["msg"]
    assert not (tmp_path / "reports").exists()


def test_a_customer_without_a_trail_gets_no_report(tmp_path, audit_dir):
    result = _run(tmp_path, sla={**_sla(), "customer": "globex"}, **QUARTER)
    assert result["failed"] is True
    assert "SLA report for globex" in result["msg"]
    assert "absent" in result["msg"]


def test_the_audit_dir_option_overrides_the_callback_setting(tmp_path, audit_dir):
    elsewhere = tmp_path / "elsewhere"
    recorded.write_trail(elsewhere / "acme.jsonl")
    (audit_dir / "acme.jsonl").unlink()
    result = _run(tmp_path, audit_dir=str(elsewhere), **QUARTER)
    assert not result.get("failed"), result.get("msg")
