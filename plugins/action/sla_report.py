# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.sla_report: one customer's SLA report for one period.

Reads the customer's audit trail where the twovalue.sla.audit callback
writes it, verifies it, and writes the report as HTML, Markdown and JSON.
Nothing runs on the managed host.
"""

from __future__ import annotations

import datetime
import os
import zoneinfo

from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import write_changed
from ansible_collections.twovalue.sla.plugins.plugin_utils.decision_action import (
    DocumentAction,
    document_argument_spec,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report import load_period
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report_render import (
    EXTENSIONS,
    build_report,
    last_complete_quarter,
    period_bounds,
    render_all,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    validate_targets,
)

ARGUMENT_SPEC = document_argument_spec(
    report_dir={"type": "path", "required": True},
    period_start={"type": "str"},
    period_end={"type": "str"},
)


def report_period(period_start, period_end, timezone, today=None):
    """First and last day of the report: as given, or the last complete quarter."""
    if bool(period_start) != bool(period_end):
        raise ValueError("give period_start and period_end together, or neither for last quarter")
    if period_start:
        return period_start, period_end
    today = today or datetime.datetime.now(zoneinfo.ZoneInfo(timezone)).date()
    first_day, last_day = last_complete_quarter(today)
    return first_day.isoformat(), last_day.isoformat()


class ActionModule(DocumentAction):
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def act(self, args, result):
        sla = args["sla"]
        with self.documenting("SLA report", sla) as (customer, tier):
            targets = validate_targets(sla.get("targets"))
            first_day, last_day = report_period(
                args["period_start"], args["period_end"], targets["timezone"]
            )
            start, end = period_bounds(first_day, last_day, targets["timezone"])
            trail, key = self.trail_and_key(args, customer)
            period = load_period(trail, start, end, key=key)
            data = build_report(period, targets, customer, tier)
            documents = render_all(data, args["language"])

        base = os.path.join(args["report_dir"], customer, f"sla-report-{data['period']['label']}")
        paths = {extension: f"{base}.{extension}" for extension in EXTENSIONS}
        with self.failing_as(f"SLA report for {customer}", OSError):
            changed = write_changed(
                [(paths[extension], documents[extension]) for extension in EXTENSIONS],
                self.check_mode,
            )
        result.update(
            changed=changed,
            paths=paths,
            period=data["period"],
            head=data["trail"]["head"],
            head_seq=data["trail"]["seq"],
            kpis_met={
                row["id"] + (f":{row['host']}" if "host" in row else ""): row["met"]
                for row in data["kpis"]
            },
        )
        return result
