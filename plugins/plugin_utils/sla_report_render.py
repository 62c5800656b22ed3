# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The customer's SLA report as documents: HTML (phone and print), Markdown and JSON.

``build_report`` (sla_report_data) makes the report's data; ``render_html``
and ``render_markdown`` lay that data out in the customer's language from
one outline, so the two never say different things. The words are the
``sla_report`` texts of document_texts, one file per language.

Every document is a function of the trail alone: no clock, no host, no
environment. Regenerating a report from the same trail gives the same bytes,
so a customer can compare two copies with ``cmp``.
"""

from __future__ import annotations

import json
import zoneinfo

from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import (
    Cell,
    Chart,
    Code,
    Facts,
    Heading,
    Paragraph,
    html_page,
    markdown_document,
    table,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.document_texts import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    decimal,
    texts_of,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report_charts import (
    ReportRenderError,
    periodic_chart,
    security_chart,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report_data import (
    build_report,
    last_complete_quarter,
    period_bounds,
    period_label,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import utc_time

# What the report action and its callers import from here: the report's public face.
__all__ = [
    "DEFAULT_LANGUAGE",
    "EXTENSIONS",
    "LANGUAGES",
    "STRINGS",
    "ReportRenderError",
    "build_report",
    "last_complete_quarter",
    "period_bounds",
    "period_label",
    "render_all",
    "render_html",
    "render_json",
    "render_markdown",
]

EXTENSIONS = ("html", "md", "json")
STRINGS = {language: texts_of("sla_report", language) for language in LANGUAGES}


def _texts(language):
    if language not in STRINGS:
        raise ReportRenderError(
            f"report language is {language!r}; expected one of {', '.join(LANGUAGES)}"
        )
    return STRINGS[language]


# --------------------------------------------------------------------------- formatting


def _duration(seconds, texts):
    """Exact: ``1 h 45 min 30.5 s``; parts that are zero at the end are left out."""
    micro = round(seconds * 1_000_000)
    hours, micro = divmod(micro, 3_600_000_000)
    minutes, micro = divmod(micro, 60_000_000)
    parts = [f"{hours} {texts['unit_hours']}"]
    if minutes or micro:
        parts.append(f"{minutes} {texts['unit_minutes']}")
    if micro:
        whole, fraction = divmod(micro, 1_000_000)
        second = str(whole)
        if fraction:
            second += texts["decimal_separator"] + f"{fraction:06d}".rstrip("0")
        parts.append(f"{second} {texts['unit_seconds']}")
    return " ".join(parts)


def _local(text, zone):
    if not text:
        return ""
    return utc_time(text, "time").astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _word(texts, table, value):
    if value is None:
        return ""
    return texts[table].get(value, str(value))


# --------------------------------------------------------------------------- outline


def _met_cell(met, texts):
    if met is None:
        return Cell(texts["met_unknown"], "unknown")
    return Cell(texts["met_yes"], "met") if met else Cell(texts["met_no"], "not_met")


def _outline(data, texts, with_charts):
    zone = zoneinfo.ZoneInfo(data["period"]["timezone"])
    tier = data["tier"].capitalize()
    blocks = [
        Heading(1, f"{texts['title']}: {data['customer']} {data['period']['label']}"),
        Facts(
            (
                (texts["customer"], data["customer"]),
                (texts["tier"], tier),
                (
                    texts["period"],
                    texts["period_range"].format(
                        first=data["period"]["first_day"], last=data["period"]["last_day"]
                    ),
                ),
            )
        ),
        Paragraph(texts["intro"].format(customer=data["customer"], tier=tier)),
        Paragraph(texts["times_in"].format(timezone=data["period"]["timezone"])),
    ]
    if data["ignored_check_mode"]:
        blocks.append(Paragraph(texts["check_mode_note"].format(count=data["ignored_check_mode"])))
    blocks += _kpi_section(data, texts)
    blocks += _security_section(data, texts, zone, with_charts)
    blocks += _periodic_section(data, texts, zone, with_charts)
    blocks += _activities_section(data, texts, zone)
    blocks += _trail_section(data, texts)
    return blocks


def _days_measured(row, texts):
    if row["measured"] is None:
        return texts["none_recorded"]
    return texts["kpi_periodic_measured"].format(days=decimal(row["measured"], texts))


def _kpi_section(data, texts):
    rows = []
    for row in data["kpis"]:
        kpi_id = row["id"]
        if kpi_id == "security_in_time":
            name = texts["kpi_security_in_time"]
            target = texts["kpi_security_in_time_target"].format(hours=row["target"])
            measured = (
                texts["kpi_security_in_time_measured"].format(
                    duration=_duration(row["measured_seconds"], texts),
                    in_time=row["in_time"],
                    applied=row["applied"],
                )
                if row["applied"]
                else texts["kpi_security_none_applied"]
            )
        elif kpi_id == "security_past_deadline":
            name = texts["kpi_security_past_deadline"]
            target = texts["kpi_security_past_deadline_target"]
            measured = texts["kpi_security_past_deadline_measured"].format(
                count=row["measured"], within=row["pending_within_deadline"]
            )
        elif kpi_id in ("periodic_updates", "periodic_updates_host"):
            name = (
                texts["kpi_periodic_host"].format(host=row["host"])
                if kpi_id == "periodic_updates_host"
                else texts["kpi_periodic"]
            )
            target = texts["kpi_periodic_target"].format(days=row["target"])
            measured = _days_measured(row, texts)
        elif kpi_id == "access_review":
            name = texts["kpi_access"]
            target = texts["kpi_access_target"].format(days=row["target"])
            measured = _days_measured(row, texts)
        else:
            name = texts["kpi_backup"]
            target = texts["kpi_backup_target"].format(days=row["target"])
            measured = _days_measured(row, texts)
        rows.append((name, target, measured, _met_cell(row["met"], texts)))
    return [
        Heading(2, texts["section_kpis"], "kpis"),
        table(
            texts,
            ("col_kpi", "col_target", "col_measured", "col_met"),
            tuple(rows),
            "kpis",
        ),
    ]


def _security_section(data, texts, zone, with_charts):
    hours = data["targets"]["security_update_deadline_hours"]
    updates = data["security_updates"]
    blocks = [
        Heading(2, texts["section_security"], "security"),
        Paragraph(texts["security_intro"].format(hours=hours)),
    ]
    if not updates:
        return [*blocks, Paragraph(texts["security_none"])]
    if with_charts and any(entry["seconds"] is not None for entry in updates):
        blocks.append(Chart(security_chart(updates, hours, texts), texts["chart_security_caption"]))
    rows = []
    for entry in updates:
        rows.append(
            (
                entry["host"],
                entry["package"],
                entry["installed"] or "",
                entry["applied_version"] or entry["version"],
                _local(entry["first_seen"], zone),
                _local(entry["applied"] or entry["resolved"], zone),
                _time_to_apply(entry, texts),
                texts["status"][entry["status"]],
                _met_cell(entry["within_deadline"], texts)
                if entry["within_deadline"] is not None
                else Cell(""),
                _word(texts, "addressed_to", entry["addressed_to"])
                if entry["status"] == "pending"
                else "",
            )
        )
    headers = (
        "col_host",
        "col_package",
        "col_installed",
        "col_version",
        "col_first_seen",
        "col_applied",
        "col_latency",
        "col_status",
        "col_within",
        "col_addressed_to",
    )
    return [*blocks, table(texts, headers, rows, "security")]


def _time_to_apply(entry, texts):
    seconds = entry["seconds"]
    if seconds is None:
        return ""
    if entry["status"] == "pending":
        # An age at the period's end is not a measurement; whole minutes read better.
        seconds = seconds // 60 * 60
    return _duration(seconds, texts)


def _periodic_section(data, texts, zone, with_charts):
    days = data["targets"]["periodic_update_interval_days"]
    hosts = data["periodic_updates"]
    blocks = [
        Heading(2, texts["section_periodic"], "periodic"),
        Paragraph(texts["periodic_intro"].format(days=days)),
    ]
    if not hosts:
        return [*blocks, Paragraph(texts["periodic_none"])]
    if with_charts:
        blocks.append(Chart(periodic_chart(hosts, days, texts), texts["chart_periodic_caption"]))
    rows = []
    for host, figures in hosts.items():
        between = " – ".join(
            f"{_local(point['time'], zone)} ({_word(texts, 'period_point', point['what'])})"
            for point in (figures["gap_from"], figures["gap_to"])
        )
        rows.append(
            (
                host,
                texts["kpi_periodic_measured"].format(days=decimal(figures["measured"], texts)),
                between,
                str(figures["periodic_updates_applied"]),
                _local(figures["last_periodic_update"], zone) or texts["none_recorded"],
                _met_cell(figures["met"], texts),
            )
        )
    headers = (
        "col_host",
        "col_longest_gap",
        "col_gap_between",
        "col_updates_applied",
        "col_last_periodic",
        "col_met",
    )
    return [*blocks, table(texts, headers, rows, "periodic")]


def _activities_section(data, texts, zone):
    activities = data["activities"]
    counts = activities["counts"]
    blocks = [
        Heading(2, texts["section_activities"], "activities"),
        Paragraph(texts["counts_intro"]),
        Facts(
            (
                (texts["count_applied"], str(counts["applied"])),
                (texts["count_advised"], str(counts["advised"])),
                (texts["count_refused"], str(counts["refused"])),
                (texts["count_rollbacks"], str(counts["rolled_back"])),
                (texts["count_failures"], str(counts["failed"])),
            )
        ),
    ]

    def section(key, headers, rows, name):
        blocks.append(Heading(3, texts[key]))
        if rows:
            blocks.append(table(texts, headers, rows, name))
        else:
            blocks.append(Paragraph(texts["none_recorded"]))

    def activity(value):
        return _word(texts, "activity", value)

    section(
        "sub_applied",
        ("col_time", "col_host", "col_activity", "col_item", "col_before", "col_after",
         "col_approval"),
        [
            (_local(c["time"], zone), c["host"] or "", activity(c["activity"]), c["item"] or "",
             c["before"] or "", c["after"] or "", c["approval"] or "")
            for c in activities["applied"]
        ],
        "applied",
    )  # fmt: skip
    section(
        "sub_advised",
        ("col_host", "col_activity", "col_item", "col_installed", "col_candidate",
         "col_security", "col_addressed_to", "col_times", "col_reason"),
        [
            (a["host"] or "", activity(a["activity"]), a["item"] or "", a["installed"] or "",
             a["candidate"] or "", _yes_no(a["security"], texts),
             _word(texts, "addressed_to", a["addressed_to"]), str(a["times"]), a["reason"] or "")
            for a in activities["advised"]
        ],
        "advised",
    )  # fmt: skip

    def references(key, entries, name):
        section(
            key,
            ("col_reference", "col_hosts", "col_records", "col_time"),
            [
                (e["reference"], ", ".join(e["hosts"]), str(e["records"]), _local(e["first"], zone))
                for e in entries
            ],
            name,
        )

    references("sub_approvals", activities["approvals"], "approvals")
    section(
        "sub_migration_advice",
        ("col_host", "col_activity", "col_item", "col_installed", "col_candidate",
         "col_decision", "col_times", "col_reason"),
        [
            (m["host"] or "", activity(m["activity"]), m["item"] or "", m["installed"] or "",
             m["candidate"] or "", _word(texts, "decision", m["decision"]),
             str(m["times_recorded"]), m["reason"] or "")
            for m in activities["migration_advice"]
        ],
        "migration",
    )  # fmt: skip
    if activities["migration_projects"]:
        references("sub_migration_projects", activities["migration_projects"], "projects")
    section(
        "sub_rollbacks",
        ("col_time", "col_host", "col_activity", "col_item", "col_decision", "col_reason"),
        [
            (_local(r["time"], zone), r["host"] or "", activity(r["activity"]), r["item"] or "",
             _word(texts, "decision", r["decision"]), r["reason"] or "")
            for r in activities["rollbacks"]
        ],
        "rollbacks",
    )  # fmt: skip
    section(
        "sub_reboots",
        ("col_time", "col_host", "col_kernel"),
        [
            (_local(r["time"], zone), r["host"] or "", r["kernel"])
            for r in activities["reboots_pending"]
        ],
        "reboots_pending",
    )
    for key, name in (("access_changes", "sub_access"), ("backups_verified", "sub_backups")):
        section(
            name,
            ("col_time", "col_host", "col_item", "col_decision"),
            [
                (_local(r["time"], zone), r["host"] or "", r["item"] or "",
                 _word(texts, "decision", r["decision"]))
                for r in activities[key]
            ],
            key,
        )  # fmt: skip
    return blocks


def _yes_no(value, texts):
    if value is None:
        return ""
    return texts["yes"] if value else texts["no"]


def _trail_section(data, texts):
    trail = data["trail"]
    blocks = [Heading(2, texts["section_trail"], "trail")]
    if not trail["seq"]:
        return [*blocks, Paragraph(texts["trail_empty"])]
    return [
        *blocks,
        Paragraph(texts["trail_text"].format(file=trail["file"], seq=trail["seq"])),
        Code(trail["head"]),
        Paragraph(texts["trail_check"]),
        Code(f"python3 bin/sla_audit.py verify {trail['file']} --head {trail['head']}", wrap=False),
    ]


def render_html(data, language=DEFAULT_LANGUAGE):
    """One self-contained page: readable on a phone, and printable through its print styles."""
    texts = _texts(language)
    blocks = _outline(data, texts, with_charts=True)
    title = f"{texts['title']}: {data['customer']} {data['period']['label']}"
    return html_page(title, language, blocks)


def render_markdown(data, language=DEFAULT_LANGUAGE):
    """The same report for a docs repository or an e-mail; tables carry the charts' numbers."""
    texts = _texts(language)
    blocks = _outline(data, texts, with_charts=False)
    return markdown_document(blocks)


# --------------------------------------------------------------------------- JSON


def render_json(data, language=DEFAULT_LANGUAGE):
    """The report's data; ``language`` is what the HTML and Markdown of this report use."""
    _texts(language)
    return json.dumps({**data, "language": language}, indent=2, sort_keys=True) + "\n"


def render_all(data, language=DEFAULT_LANGUAGE):
    """Every document of the report by file extension."""
    return {
        "html": render_html(data, language),
        "md": render_markdown(data, language),
        "json": render_json(data, language),
    }
