# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Advice tables keep every cell in its column, whatever a reason or a name holds."""

from __future__ import annotations

import re

from ansible_collections.twovalue.sla.plugins.plugin_utils import access_plan, cms_plan, update_plan

REASON = "held back | see SR-1 | ask the `hoster`"
# A cell border is a "|" that no backslash escapes.
_BORDER = re.compile(r"(?<!\\)\|")


def _rows(markdown, header):
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header} |"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def _assert_columns_hold(rows):
    widths = {len(_BORDER.findall(row)) for row in rows}
    assert len(widths) == 1, rows
    assert any("held back \\| see SR-1 \\| ask the \\`hoster\\`" in row for row in rows), rows


def test_a_pipe_in_an_update_reason_stays_in_its_cell():
    item = {
        "component": "apache2",
        "installed": "2.4.62-1",
        "candidate": "2.4.62-2",
        "security": True,
        "decision": "advise",
        "reason": REASON,
        "addressed_to": "customer",
    }
    plan = {
        "now": "2025-11-03T10:00:00+01:00",
        "change_set": "c" * 64,
        "advice": [item],
        "new_packages": [],
        "decision_mode": "active",
    }
    _assert_columns_hold(_rows(update_plan.advice_markdown(plan, "acme", "web1", "pro"), "package"))


def test_a_pipe_in_a_cms_reason_stays_in_its_cell():
    decided = {
        "component": "mediawiki /srv/wiki",
        "installed": "1.43.1",
        "candidate": "1.43.2",
        "kind": "update",
        "decision": "advise",
        "reason": REASON,
        "addressed_to": "customer",
    }
    plan = {
        "now": "2025-11-03T10:00:00+01:00",
        "change_set": "c" * 64,
        "catalogue": {"as_of": "2026-02-03", "origin": "shipped"},
        "support": [],
        "advice": [decided],
        "migrations": [],
        "schema": [],
        "notes": [],
        "decision_mode": "active",
    }
    _assert_columns_hold(
        _rows(cms_plan.advice_markdown(plan, "acme", "web1", "pro"), "site | installed")
    )


def test_a_pipe_in_an_access_concern_or_grant_stays_in_its_cell():
    change = {"kind": "os_account", "account": "a|b", "change": "created", "applied": False}
    review = {
        "access": "wiki admin",
        "controlled_by": "customer",
        "holders": ["Bob"],
        "concerns": [REASON],
        "urgent": True,
    }
    plan = {"changes": [change], "review": [review], "grant_reason": "withheld"}
    markdown = access_plan.advice_markdown(plan, "acme", "web1", "basic", 90)
    _assert_columns_hold(_rows(markdown, "access"))
    (header, _rule, row) = _rows(markdown, "kind")
    assert len(_BORDER.findall(row)) == len(_BORDER.findall(header))
    assert "| a\\|b |" in row
