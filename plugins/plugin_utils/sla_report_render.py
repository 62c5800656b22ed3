# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The customer's SLA report as documents: HTML (phone and print), Markdown and JSON.

``build_report`` turns a verified period (``sla_report.load_period``) and the
customer's targets into the report's data: plain, language-free, and what the
JSON document holds. ``render_html`` and ``render_markdown`` lay that data out
in the customer's language from one outline, so the two never say different
things. Texts live in ``STRINGS``, one table per language.

Every document is a function of the trail alone: no clock, no host, no
environment. Regenerating a report from the same trail gives the same bytes,
so a customer can compare two copies with ``cmp``. Record fields reach a
document only where a section names them; nothing is copied wholesale.

Charts are drawn by matplotlib as SVG and put inline, so the HTML needs no
other file and no network.
"""

from __future__ import annotations

import datetime
import html
import io
import json
import os
import re
import zoneinfo

from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import (
    Cell,
    Chart,
    Code,
    Facts,
    Heading,
    Paragraph,
    Table,
    html_page,
    markdown_document,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report import (
    kpis,
    security_latencies,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import validate_targets

REPORT_FORMAT = 1
LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"
EXTENSIONS = ("html", "md", "json")

_UTC = datetime.UTC
_MICROSECOND = datetime.timedelta(microseconds=1)
_CHANGE_SET = "change_set"


class ReportRenderError(Exception):
    """The report cannot be laid out: an unknown language, or no plotting library."""


# --------------------------------------------------------------------------- texts

STRINGS = {
    "en": {
        "title": "SLA report",
        "customer": "Customer",
        "tier": "SLA tier",
        "period": "Period",
        "period_range": "{first} to {last} (both included)",
        "times_in": "Times are shown in {timezone}.",
        "intro": (
            "What the agency did for {customer} under SLA {tier} in this period, and how that "
            "measures against the agreed targets. Every figure is computed from the audit "
            "trail alone; the last section says how to check that trail."
        ),
        "check_mode_note": "{count} records of dry runs (check mode) are left out.",
        "section_kpis": "Service levels",
        "col_kpi": "KPI",
        "col_target": "Target",
        "col_measured": "Measured",
        "col_met": "Met",
        "met_yes": "yes",
        "met_no": "no",
        "met_unknown": "not measured",
        "none_recorded": "none recorded",
        "kpi_security_in_time": "Security updates applied within the deadline",
        "kpi_security_in_time_target": "at most {hours} h from first seen to applied",
        "kpi_security_in_time_measured": "slowest {duration}; {in_time} of {applied} in time",
        "kpi_security_none_applied": "none applied in the period",
        "kpi_security_past_deadline": "Security updates pending past the deadline at period end",
        "kpi_security_past_deadline_target": "none",
        "kpi_security_past_deadline_measured": "{count} ({within} pending within the deadline)",
        "kpi_periodic": "Periodic updates, longest gap over all hosts",
        "kpi_periodic_host": "Periodic updates on {host}",
        "kpi_periodic_target": "at most {days} days between updates",
        "kpi_periodic_measured": "longest gap {days} days",
        "kpi_backup": "Backups verified",
        "kpi_backup_target": "a verified backup within {days} days (retention)",
        "kpi_access": "Access review",
        "kpi_access_target": "every {days} days",
        "section_security": "Security updates",
        "security_intro": (
            "Each security update from the moment a maintenance run first saw it to the moment "
            "it was applied, against the deadline of {hours} hours. An update still pending is "
            "shown with its age at the end of the period."
        ),
        "security_none": "No security update was seen or applied in this period.",
        "chart_security_title": "Security updates: hours to apply",
        "chart_security_caption": (
            "Hours from first seen to applied per security update (updates seen and applied "
            "together share a bar); the dashed line is the deadline."
        ),
        "axis_hours": "hours",
        "legend_in_time": "applied in time",
        "legend_late": "applied late",
        "legend_pending": "pending, within the deadline",
        "legend_overdue": "pending, past the deadline",
        "legend_deadline": "deadline ({hours} h)",
        "more_packages": "+{count} more",
        "section_periodic": "Periodic updates",
        "periodic_intro": (
            "The longest time each host went without a periodic update, or without a "
            "maintenance run that found none due, against the agreed interval of {days} days."
        ),
        "periodic_none": "No host had a maintenance run recorded in this period.",
        "chart_periodic_title": "Periodic updates: longest gap",
        "chart_periodic_caption": (
            "Longest gap in days per host; the dashed line is the agreed interval."
        ),
        "axis_days": "days",
        "legend_met": "within the interval",
        "legend_not_met": "longer than the interval",
        "legend_interval": "interval ({days} days)",
        "section_activities": "Activities",
        "counts_intro": "Decisions recorded in the period:",
        "count_applied": "applied",
        "count_advised": "advised",
        "count_refused": "refused",
        "count_rollbacks": "rolled back",
        "count_failures": "failed",
        "sub_applied": "Updates applied",
        "sub_advised": "Updates advised",
        "sub_approvals": "Approvals",
        "sub_migration_advice": "Refused upgrades and migration advice",
        "sub_migration_projects": "Migration projects (outside the SLA figures)",
        "sub_rollbacks": "Rollbacks and failures",
        "sub_reboots": "Reboots pending for a newer kernel",
        "col_kernel": "Kernel a reboot starts",
        "sub_access": "Access changes",
        "sub_backups": "Backups verified",
        "col_time": "Time",
        "col_host": "Host",
        "col_activity": "Activity",
        "col_item": "Component",
        "col_package": "Package",
        "col_installed": "Installed",
        "col_version": "Version",
        "col_before": "Before",
        "col_after": "After",
        "col_candidate": "Proposed",
        "col_first_seen": "First seen",
        "col_applied": "Applied at",
        "col_latency": "Time to apply",
        "col_within": "In time",
        "col_status": "Status",
        "col_security": "Security",
        "col_addressed_to": "For",
        "col_approval": "Approval",
        "col_reason": "Reason",
        "col_times": "Times",
        "col_reference": "Reference",
        "col_hosts": "Hosts",
        "col_records": "Records",
        "col_decision": "Decision",
        "col_longest_gap": "Longest gap",
        "col_gap_between": "Between",
        "col_updates_applied": "Periodic updates applied",
        "col_last_periodic": "Last periodic update",
        "status_applied": "applied",
        "status_pending": "pending",
        "status_resolved_elsewhere": "no longer offered",
        "section_trail": "Audit trail",
        "trail_text": (
            "This report was made from the verified audit trail {file}. At the end of the "
            "period the trail held {seq} records; the hash of the last one is:"
        ),
        "trail_empty": "The audit trail held no record at the end of the period.",
        "trail_check": (
            "Keep this hash. To check later that no record up to it was changed or removed, "
            "verify the trail against it:"
        ),
        "yes": "yes",
        "no": "no",
        "unit_hours": "h",
        "unit_days": "d",
        "unit_minutes": "min",
        "unit_seconds": "s",
        "activity": {
            "updates": "OS and LAMP updates",
            "cms": "CMS",
            "access": "accesses",
            "backup": "backups",
            "deploy": "deployment",
            "staging": "staging",
            "docs": "documentation",
        },
        "decision": {
            "applied": "applied",
            "advised": "advised",
            "refused": "refused",
            "approved": "approved",
            "failed": "failed",
            "rolled_back": "rolled back",
            "skipped": "skipped",
            "deferred": "deferred",
            "planned": "planned",
        },
        "addressed_to": {"agency": "agency", "hoster": "hoster", "customer": "customer"},
        "period_point": {
            "period start": "period start",
            "period end": "period end",
            "periodic update applied": "periodic update",
            "plan found nothing due": "nothing due",
        },
    },
    "nl": {
        "title": "SLA-rapportage",
        "customer": "Klant",
        "tier": "SLA-niveau",
        "period": "Periode",
        "period_range": "{first} tot en met {last}",
        "times_in": "Tijden in {timezone}.",
        "intro": (
            "Wat het bureau in deze periode voor {customer} deed onder SLA {tier}, en hoe dat "
            "zich verhoudt tot de afgesproken doelen. Elk getal is berekend uit alleen het "
            "audit-logboek; de laatste paragraaf zegt hoe u dat logboek controleert."
        ),
        "check_mode_note": "{count} regels van proefdraaien (check mode) tellen niet mee.",
        "section_kpis": "Serviceniveaus",
        "col_kpi": "KPI",
        "col_target": "Doel",
        "col_measured": "Gemeten",
        "col_met": "Gehaald",
        "met_yes": "ja",
        "met_no": "nee",
        "met_unknown": "niet gemeten",
        "none_recorded": "niets vastgelegd",
        "kpi_security_in_time": "Beveiligingsupdates binnen de termijn geïnstalleerd",
        "kpi_security_in_time_target": "hoogstens {hours} u van eerst gezien tot geïnstalleerd",
        "kpi_security_in_time_measured": "traagste {duration}; {in_time} van {applied} op tijd",
        "kpi_security_none_applied": "geen geïnstalleerd in de periode",
        "kpi_security_past_deadline": "Beveiligingsupdates over de termijn aan het einde van de "
        "periode",
        "kpi_security_past_deadline_target": "geen",
        "kpi_security_past_deadline_measured": "{count} ({within} nog binnen de termijn)",
        "kpi_periodic": "Periodieke updates, langste tussenpoos over alle servers",
        "kpi_periodic_host": "Periodieke updates op {host}",
        "kpi_periodic_target": "hoogstens {days} dagen tussen updates",
        "kpi_periodic_measured": "langste tussenpoos {days} dagen",
        "kpi_backup": "Gecontroleerde back-ups",
        "kpi_backup_target": "een gecontroleerde back-up binnen {days} dagen (bewaartermijn)",
        "kpi_access": "Controle van toegangen",
        "kpi_access_target": "elke {days} dagen",
        "section_security": "Beveiligingsupdates",
        "security_intro": (
            "Elke beveiligingsupdate vanaf het moment dat een onderhoudsronde hem voor het eerst "
            "zag tot het moment dat hij geïnstalleerd was, tegen de termijn van {hours} uur. "
            "Een update die nog openstaat, staat er met zijn leeftijd aan het einde van de "
            "periode."
        ),
        "security_none": "In deze periode is geen beveiligingsupdate gezien of geïnstalleerd.",
        "chart_security_title": "Beveiligingsupdates: uren tot installatie",
        "chart_security_caption": (
            "Uren van eerst gezien tot geïnstalleerd per beveiligingsupdate (updates die samen "
            "gezien en geïnstalleerd zijn delen een balk); de stippellijn is de termijn."
        ),
        "axis_hours": "uren",
        "legend_in_time": "op tijd geïnstalleerd",
        "legend_late": "te laat geïnstalleerd",
        "legend_pending": "open, binnen de termijn",
        "legend_overdue": "open, over de termijn",
        "legend_deadline": "termijn ({hours} u)",
        "more_packages": "+{count} meer",
        "section_periodic": "Periodieke updates",
        "periodic_intro": (
            "De langste tijd dat elke server zonder periodieke update bleef, of zonder "
            "onderhoudsronde die niets te doen vond, tegen de afgesproken tussenpoos van "
            "{days} dagen."
        ),
        "periodic_none": "Voor geen enkele server is in deze periode een onderhoudsronde "
        "vastgelegd.",
        "chart_periodic_title": "Periodieke updates: langste tussenpoos",
        "chart_periodic_caption": (
            "Langste tussenpoos in dagen per server; de stippellijn is de afgesproken tussenpoos."
        ),
        "axis_days": "dagen",
        "legend_met": "binnen de tussenpoos",
        "legend_not_met": "langer dan de tussenpoos",
        "legend_interval": "tussenpoos ({days} dagen)",
        "section_activities": "Werkzaamheden",
        "counts_intro": "Besluiten vastgelegd in de periode:",
        "count_applied": "doorgevoerd",
        "count_advised": "geadviseerd",
        "count_refused": "geweigerd",
        "count_rollbacks": "teruggedraaid",
        "count_failures": "mislukt",
        "sub_applied": "Geïnstalleerde updates",
        "sub_advised": "Geadviseerde updates",
        "sub_approvals": "Goedkeuringen",
        "sub_migration_advice": "Geweigerde upgrades en migratieadvies",
        "sub_migration_projects": "Migratieprojecten (buiten de SLA-cijfers)",
        "sub_rollbacks": "Teruggedraaid en mislukt",
        "sub_reboots": "Herstart nodig voor een nieuwere kernel",
        "col_kernel": "Kernel na herstart",
        "sub_access": "Wijzigingen in toegangen",
        "sub_backups": "Gecontroleerde back-ups",
        "col_time": "Tijd",
        "col_host": "Server",
        "col_activity": "Activiteit",
        "col_item": "Onderdeel",
        "col_package": "Pakket",
        "col_installed": "Geïnstalleerd",
        "col_version": "Versie",
        "col_before": "Voor",
        "col_after": "Na",
        "col_candidate": "Voorgesteld",
        "col_first_seen": "Eerst gezien",
        "col_applied": "Geïnstalleerd op",
        "col_latency": "Tijd tot installatie",
        "col_within": "Op tijd",
        "col_status": "Status",
        "col_security": "Beveiliging",
        "col_addressed_to": "Voor",
        "col_approval": "Goedkeuring",
        "col_reason": "Reden",
        "col_times": "Keren",
        "col_reference": "Referentie",
        "col_hosts": "Servers",
        "col_records": "Regels",
        "col_decision": "Besluit",
        "col_longest_gap": "Langste tussenpoos",
        "col_gap_between": "Tussen",
        "col_updates_applied": "Periodieke updates",
        "col_last_periodic": "Laatste periodieke update",
        "status_applied": "geïnstalleerd",
        "status_pending": "open",
        "status_resolved_elsewhere": "niet meer aangeboden",
        "section_trail": "Audit-logboek",
        "trail_text": (
            "Deze rapportage is gemaakt uit het gecontroleerde audit-logboek {file}. Aan het "
            "einde van de periode telde het logboek {seq} regels; de hash van de laatste is:"
        ),
        "trail_empty": "Het audit-logboek bevatte aan het einde van de periode geen regels.",
        "trail_check": (
            "Bewaar deze hash. Om later te controleren dat geen regel tot en met deze is "
            "gewijzigd of verwijderd, controleert u het logboek ertegen:"
        ),
        "yes": "ja",
        "no": "nee",
        "unit_hours": "u",
        "unit_days": "d",
        "unit_minutes": "min",
        "unit_seconds": "s",
        "activity": {
            "updates": "updates van OS en LAMP",
            "cms": "CMS",
            "access": "toegangen",
            "backup": "back-ups",
            "deploy": "uitrol",
            "staging": "staging",
            "docs": "documentatie",
        },
        "decision": {
            "applied": "doorgevoerd",
            "advised": "geadviseerd",
            "refused": "geweigerd",
            "approved": "goedgekeurd",
            "failed": "mislukt",
            "rolled_back": "teruggedraaid",
            "skipped": "overgeslagen",
            "deferred": "uitgesteld",
            "planned": "gepland",
        },
        "addressed_to": {"agency": "bureau", "hoster": "hoster", "customer": "klant"},
        "period_point": {
            "period start": "begin periode",
            "period end": "einde periode",
            "periodic update applied": "periodieke update",
            "plan found nothing due": "niets te doen",
        },
    },
}

_DECIMAL_SEPARATOR = {"en": ".", "nl": ","}


def _texts(language):
    if language not in STRINGS:
        raise ReportRenderError(
            f"report language is {language!r}; expected one of {', '.join(LANGUAGES)}"
        )
    return STRINGS[language]


# --------------------------------------------------------------------------- periods


def last_complete_quarter(today):
    """First and last day of the calendar quarter before the one ``today`` is in."""
    quarter_start = datetime.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    last_day = quarter_start - datetime.timedelta(days=1)
    first_day = datetime.date(last_day.year, 3 * ((last_day.month - 1) // 3) + 1, 1)
    return first_day, last_day


def period_bounds(first_day, last_day, timezone):
    """The period's instants: midnight before ``first_day`` to midnight after ``last_day``.

    Days are the customer's, read in the SLA's timezone, so a quarter in
    Amsterdam starts at 23:00 or 22:00 UTC the evening before.
    """
    first_day, last_day = _date(first_day, "period_start"), _date(last_day, "period_end")
    if last_day < first_day:
        raise ValueError(f"period_end {last_day} is before period_start {first_day}")
    zone = zoneinfo.ZoneInfo(timezone)
    start = datetime.datetime.combine(first_day, datetime.time(), zone)
    end = datetime.datetime.combine(last_day + datetime.timedelta(days=1), datetime.time(), zone)
    return start, end


def period_label(first_day, last_day):
    """``2026-Q1`` for a calendar quarter, ``2026-03`` for a month, else both days."""
    first_day, last_day = _date(first_day, "period_start"), _date(last_day, "period_end")
    if first_day.day == 1 and (last_day + datetime.timedelta(days=1)).day == 1:
        months = (last_day.year - first_day.year) * 12 + last_day.month - first_day.month + 1
        if months == 1:
            return f"{first_day:%Y-%m}"
        if months == 3 and first_day.month % 3 == 1:
            return f"{first_day.year}-Q{first_day.month // 3 + 1}"
    return f"{first_day.isoformat()}_{last_day.isoformat()}"


def _date(value, name):
    if isinstance(value, datetime.datetime):
        raise ValueError(f"{name} is a time; expected a date (YYYY-MM-DD)")
    if isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ValueError(f"{name} is {value!r}; expected a date as YYYY-MM-DD") from exc


def _instant(text):
    return datetime.datetime.fromisoformat(text).astimezone(_UTC)


# --------------------------------------------------------------------------- data


def build_report(period, targets, customer, tier):
    """The report's data from ``load_period``'s result, language-free and JSON-ready."""
    targets = validate_targets(targets)
    zone = zoneinfo.ZoneInfo(targets["timezone"])
    start, end = _instant(period["start"]), _instant(period["end"])
    first_day = start.astimezone(zone).date()
    last_day = (end - _MICROSECOND).astimezone(zone).date()
    records = period["records"]
    figures = kpis(records, targets, period["end"], opening=period["opening"])
    deadline = targets["security_update_deadline_hours"]
    offers = _latest_offers(records)
    return {
        "format": REPORT_FORMAT,
        "customer": customer,
        "tier": tier,
        "period": {
            "label": period_label(first_day, last_day),
            "first_day": first_day.isoformat(),
            "last_day": last_day.isoformat(),
            "start": period["start"],
            "end": period["end"],
            "timezone": targets["timezone"],
        },
        "targets": {
            key: targets[key]
            for key in (
                "decision_mode",
                "security_update_deadline_hours",
                "periodic_update_interval_days",
                "backup_retention_days",
                "access_review_interval_days",
            )
        },
        "trail": {
            "file": os.path.basename(period["trail"]),
            "head": period["period_head"],
            "seq": period["period_head_seq"],
        },
        "kpis": _kpi_rows(figures, targets, records),
        "security_updates": _security_updates(
            security_latencies(records, period["opening"]), offers, deadline, start, end
        ),
        "periodic_updates": figures["periodic_updates"]["hosts"],
        "activities": _activities(records, figures, offers),
        "ignored_check_mode": period["ignored_check_mode"],
    }


def _counted(records):
    return [record for record in records if not record.get("check_mode")]


def _latest_offers(records):
    """Per (host, activity, item, candidate): the last plan record's addressee and deadline."""
    offers = {}
    for record in _counted(records):
        result = record.get("result")
        if isinstance(result, dict) and "kind" in result and isinstance(record.get("after"), str):
            key = (record.get("host"), record.get("activity"), record.get("item"), record["after"])
            offers[key] = {
                "addressed_to": result.get("addressed_to"),
                "deadline": result.get("deadline"),
            }
    return offers


def _seconds(later, earlier):
    # Whole microseconds: a latency is shown exactly as the two records' times differ.
    return ((_instant(later) - _instant(earlier)) // _MICROSECOND) / 1_000_000


def _security_updates(latencies, offers, deadline, start, end):
    shown = []
    for entry in latencies:
        status = entry["status"]
        if status == "applied":
            if not start <= _instant(entry["applied"]) < end:
                continue
            seconds = _seconds(entry["applied"], entry["first_seen"])
        elif status == "pending":
            seconds = _seconds(end.isoformat(), entry["first_seen"])
        else:
            if not start <= _instant(entry["resolved"]) < end:
                continue
            seconds = None
        offer = offers.get((entry["host"], entry["activity"], entry["package"], entry["version"]))
        shown.append(
            {
                "host": entry["host"],
                "activity": entry["activity"],
                "package": entry["package"],
                "installed": entry["installed"],
                "version": entry["version"],
                "first_seen": entry["first_seen"],
                "applied": entry["applied"],
                "applied_version": entry["applied_version"],
                "resolved": entry["resolved"],
                "status": status,
                # Applied: the latency; pending: the age at the period's end.
                "seconds": seconds,
                "within_deadline": None if seconds is None else seconds <= deadline * 3600,
                "addressed_to": (offer or {}).get("addressed_to"),
                "deadline": (offer or {}).get("deadline"),
            }
        )
    return shown


def _kpi_rows(figures, targets, records):
    in_time = figures["security_updates_in_time"]
    worst = in_time["worst"]
    past = figures["security_updates_past_deadline"]
    periodic = figures["periodic_updates"]
    rows = [
        {
            "id": "security_in_time",
            "target": in_time["target"],
            "measured": in_time["measured"],
            "measured_seconds": _seconds(worst["applied"], worst["first_seen"]) if worst else None,
            "applied": in_time["applied"],
            "in_time": in_time["in_time"],
            "met": in_time["met"],
        },
        {
            "id": "security_past_deadline",
            "target": past["target"],
            "measured": past["measured"],
            "pending_within_deadline": past["pending_within_deadline"],
            "met": past["met"],
        },
        {
            "id": "periodic_updates",
            "target": periodic["target"],
            "measured": periodic["measured"],
            "met": periodic["met"],
        },
    ]
    rows += [
        {
            "id": "periodic_updates_host",
            "host": host,
            "target": figures_host["target"],
            "measured": figures_host["measured"],
            "met": figures_host["met"],
        }
        for host, figures_host in periodic["hosts"].items()
    ]
    reviews = figures["access_reviews"]
    rows.append(
        {
            "id": "access_review",
            "target": reviews["target"],
            "measured": reviews["measured"],
            "met": reviews["met"],
        }
    )
    backups = figures["verified_backups"]
    rows.append(
        {
            "id": "backups_verified",
            "target": backups["target"],
            "measured": backups["measured"],
            "met": backups["met"],
        }
    )
    return rows


def _activities(records, figures, offers):
    counted = _counted(records)
    activity = figures["activity"]
    return {
        "counts": {
            "applied": activity["applied"],
            "advised": activity["advised"],
            "refused": activity["refused"],
            "rolled_back": activity["rollbacks"]["count"],
            "failed": activity["failures"]["count"],
        },
        "by_activity": activity["by_activity"],
        "applied": _applied_changes(counted),
        "advised": _advised_updates(counted, offers),
        "approvals": _references(counted, activity["approvals_used"]["references"]),
        "migration_projects": _references(counted, activity["migration_projects"]["references"]),
        "migration_advice": [
            {
                key: entry[key]
                for key in (
                    "host",
                    "activity",
                    "item",
                    "installed",
                    "candidate",
                    "decision",
                    "reason",
                    "first_recorded",
                    "last_recorded",
                    "times_recorded",
                )
            }
            for entry in figures["migration_advice"]
        ],
        "rollbacks": _rollbacks(counted),
        "reboots_pending": _reboots_pending(counted),
        "access_changes": _plain_decisions(counted, "access"),
        "backups_verified": _plain_decisions(counted, "backup"),
    }


def _picked(record, fields, **extra):
    return {**{field: record.get(field) for field in fields}, **extra}


def _text_or_none(value):
    return value if isinstance(value, str) else None


def _change_items(record):
    """What a record is about: the packages of a change set, else its item."""
    after = record.get("after")
    if record.get("item") == _CHANGE_SET and isinstance(after, dict):
        return ", ".join(sorted(str(package) for package in after))
    return _text_or_none(record.get("item"))


def _rollbacks(records):
    return [
        dict(
            _picked(record, ("time", "host", "activity", "decision", "reason")),
            item=_change_items(record),
        )
        for record in records
        if record.get("decision") in ("rolled_back", "failed")
    ]


def _reboots_pending(records):
    """Per host, the kernel its last applied update left waiting for a reboot."""
    latest = {}
    for record in records:
        result = record.get("result")
        if (
            record.get("activity") == "updates"
            and record.get("decision") == "applied"
            and isinstance(result, dict)
        ):
            latest[record.get("host")] = dict(
                _picked(record, ("time", "host")),
                kernel=_text_or_none(result.get("reboot_pending_for")),
            )
    return [entry for _host, entry in sorted(latest.items()) if entry["kernel"]]


def _applied_changes(records):
    changes = []
    for record in records:
        if record.get("decision") != "applied":
            continue
        common = _picked(record, ("time", "host", "activity"), approval=record.get("approval"))
        after, before = record.get("after"), record.get("before")
        if record.get("item") == _CHANGE_SET and isinstance(after, dict):
            before = before if isinstance(before, dict) else {}
            changes += [
                dict(
                    common,
                    item=package,
                    before=_text_or_none(before.get(package)),
                    after=_text_or_none(version),
                )
                for package, version in sorted(after.items())
            ]
        else:
            changes.append(
                dict(
                    common,
                    item=_text_or_none(record.get("item")),
                    before=_text_or_none(before),
                    after=_text_or_none(after),
                )
            )
    return changes


def _advised_updates(records, offers):
    advised = {}
    for record in records:
        result = record.get("result")
        if record.get("decision") != "advised" or (
            isinstance(result, dict) and result.get("kind") == "upgrade"
        ):
            continue
        candidate = _text_or_none(record.get("after"))
        key = (record.get("host"), record.get("activity"), record.get("item"), candidate)
        entry = advised.setdefault(
            key,
            {
                "host": key[0],
                "activity": key[1],
                "item": _text_or_none(key[2]),
                "candidate": candidate,
                "security": result.get("security") if isinstance(result, dict) else None,
                "first_recorded": record.get("time"),
                "times": 0,
            },
        )
        entry.update(
            installed=_text_or_none(record.get("before")),
            reason=_text_or_none(record.get("reason")),
            last_recorded=record.get("time"),
            times=entry["times"] + 1,
            addressed_to=(offers.get(key) or {}).get("addressed_to"),
        )
    return list(advised.values())


def _references(records, references):
    found = {}
    for record in records:
        reference = record.get("approval")
        if reference is None or str(reference) not in references:
            continue
        entry = found.setdefault(
            str(reference),
            {"reference": str(reference), "hosts": set(), "records": 0, "first": record["time"]},
        )
        entry["hosts"].add(record.get("host"))
        entry["records"] += 1
    return [
        dict(entry, hosts=sorted(host for host in entry["hosts"] if host))
        for _reference, entry in sorted(found.items())
    ]


def _plain_decisions(records, activity):
    return [
        _picked(record, ("time", "host", "item", "decision"))
        for record in records
        if record.get("activity") == activity and record.get("decision") != "planned"
    ]


# --------------------------------------------------------------------------- formatting


def _number(value, language, digits=1):
    text = f"{value:.{digits}f}"
    return text.replace(".", _DECIMAL_SEPARATOR[language])


def _duration(seconds, texts, language):
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
            second += _DECIMAL_SEPARATOR[language] + f"{fraction:06d}".rstrip("0")
        parts.append(f"{second} {texts['unit_seconds']}")
    return " ".join(parts)


def _local(text, zone):
    if not text:
        return ""
    return _instant(text).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _word(texts, table, value):
    if value is None:
        return ""
    return texts[table].get(value, str(value))


# --------------------------------------------------------------------------- outline


def _met_cell(met, texts):
    if met is None:
        return Cell(texts["met_unknown"], "unknown")
    return Cell(texts["met_yes"], "met") if met else Cell(texts["met_no"], "not_met")


def _outline(data, texts, language, with_charts):
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
    blocks += _kpi_section(data, texts, language)
    blocks += _security_section(data, texts, language, zone, with_charts)
    blocks += _periodic_section(data, texts, language, zone, with_charts)
    blocks += _activities_section(data, texts, zone)
    blocks += _trail_section(data, texts)
    return blocks


def _kpi_section(data, texts, language):
    rows = []
    for row in data["kpis"]:
        kpi_id = row["id"]
        if kpi_id == "security_in_time":
            name = texts["kpi_security_in_time"]
            target = texts["kpi_security_in_time_target"].format(hours=row["target"])
            measured = (
                texts["kpi_security_in_time_measured"].format(
                    duration=_duration(row["measured_seconds"], texts, language),
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
            measured = (
                texts["kpi_periodic_measured"].format(days=_number(row["measured"], language))
                if row["measured"] is not None
                else texts["none_recorded"]
            )
        elif kpi_id == "access_review":
            name = texts["kpi_access"]
            target = texts["kpi_access_target"].format(days=row["target"])
            measured = (
                texts["kpi_periodic_measured"].format(days=_number(row["measured"], language))
                if row["measured"] is not None
                else texts["none_recorded"]
            )
        else:
            name = texts["kpi_backup"]
            target = texts["kpi_backup_target"].format(days=row["target"])
            measured = (
                texts["kpi_periodic_measured"].format(days=_number(row["measured"], language))
                if row["measured"] is not None
                else texts["none_recorded"]
            )
        rows.append((name, target, measured, _met_cell(row["met"], texts)))
    return [
        Heading(2, texts["section_kpis"], "kpis"),
        Table(
            (texts["col_kpi"], texts["col_target"], texts["col_measured"], texts["col_met"]),
            tuple(rows),
            "kpis",
        ),
    ]


def _security_section(data, texts, language, zone, with_charts):
    hours = data["targets"]["security_update_deadline_hours"]
    updates = data["security_updates"]
    blocks = [
        Heading(2, texts["section_security"], "security"),
        Paragraph(texts["security_intro"].format(hours=hours)),
    ]
    if not updates:
        return [*blocks, Paragraph(texts["security_none"])]
    if with_charts and any(entry["seconds"] is not None for entry in updates):
        blocks.append(
            Chart(_security_chart(updates, hours, texts, language), texts["chart_security_caption"])
        )
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
                _time_to_apply(entry, texts, language),
                texts["status_" + entry["status"]],
                _met_cell(entry["within_deadline"], texts)
                if entry["within_deadline"] is not None
                else Cell(""),
                _word(texts, "addressed_to", entry["addressed_to"])
                if entry["status"] == "pending"
                else "",
            )
        )
    headers = (
        texts["col_host"],
        texts["col_package"],
        texts["col_installed"],
        texts["col_version"],
        texts["col_first_seen"],
        texts["col_applied"],
        texts["col_latency"],
        texts["col_status"],
        texts["col_within"],
        texts["col_addressed_to"],
    )
    return [*blocks, Table(headers, tuple(rows), "security")]


def _time_to_apply(entry, texts, language):
    seconds = entry["seconds"]
    if seconds is None:
        return ""
    if entry["status"] == "pending":
        # An age at the period's end is not a measurement; whole minutes read better.
        seconds = seconds // 60 * 60
    return _duration(seconds, texts, language)


def _periodic_section(data, texts, language, zone, with_charts):
    days = data["targets"]["periodic_update_interval_days"]
    hosts = data["periodic_updates"]
    blocks = [
        Heading(2, texts["section_periodic"], "periodic"),
        Paragraph(texts["periodic_intro"].format(days=days)),
    ]
    if not hosts:
        return [*blocks, Paragraph(texts["periodic_none"])]
    if with_charts:
        blocks.append(
            Chart(_periodic_chart(hosts, days, texts, language), texts["chart_periodic_caption"])
        )
    rows = []
    for host, figures in hosts.items():
        between = " – ".join(
            f"{_local(point['time'], zone)} ({_word(texts, 'period_point', point['what'])})"
            for point in (figures["gap_from"], figures["gap_to"])
        )
        rows.append(
            (
                host,
                texts["kpi_periodic_measured"].format(days=_number(figures["measured"], language)),
                between,
                str(figures["periodic_updates_applied"]),
                _local(figures["last_periodic_update"], zone) or texts["none_recorded"],
                _met_cell(figures["met"], texts),
            )
        )
    headers = (
        texts["col_host"],
        texts["col_longest_gap"],
        texts["col_gap_between"],
        texts["col_updates_applied"],
        texts["col_last_periodic"],
        texts["col_met"],
    )
    return [*blocks, Table(headers, tuple(rows), "periodic")]


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
            blocks.append(Table(tuple(texts[h] for h in headers), tuple(rows), name))
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
    section(
        "sub_approvals",
        ("col_reference", "col_hosts", "col_records", "col_time"),
        [
            (a["reference"], ", ".join(a["hosts"]), str(a["records"]), _local(a["first"], zone))
            for a in activities["approvals"]
        ],
        "approvals",
    )
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
        section(
            "sub_migration_projects",
            ("col_reference", "col_hosts", "col_records", "col_time"),
            [
                (p["reference"], ", ".join(p["hosts"]), str(p["records"]), _local(p["first"], zone))
                for p in activities["migration_projects"]
            ],
            "projects",
        )
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
        Code(f"python3 sla_audit.py verify {trail['file']} --head {trail['head']}", wrap=False),
    ]


# --------------------------------------------------------------------------- charts

# Fixed so that the same data always gives the same SVG bytes: the salt for
# matplotlib's generated ids, and its bundled font drawn as paths, so neither
# the viewer's fonts nor the machine's font list change the picture.
_CHART_STYLE = {
    "svg.hashsalt": "twovalue.sla sla report",
    "svg.fonttype": "path",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.fontsize": 8,
    "legend.frameon": False,
}
_COLOURS = {
    "met": "#2e7d32",
    "not_met": "#c62828",
    "pending": "#ef8c00",
    "target": "#212121",
}
# About 430 CSS pixels: on a phone the chart's text keeps its size.
_CHART_WIDTH_INCHES = 4.6
_BAR_INCHES = 0.3
_LABEL_CHARACTERS = 30


def _matplotlib():
    try:
        import matplotlib  # noqa: PLC0415  (only the HTML needs it)
        from matplotlib.figure import Figure  # noqa: PLC0415
        from matplotlib.lines import Line2D  # noqa: PLC0415
        from matplotlib.patches import Patch  # noqa: PLC0415
    except ImportError as exc:
        raise ReportRenderError(
            "the SLA report's charts need matplotlib on the controller: "
            "pip install -r requirements.txt"
        ) from exc
    return matplotlib, Figure, Patch, Line2D


def _shortened(label):
    if len(label) <= _LABEL_CHARACTERS:
        return label
    return label[: _LABEL_CHARACTERS - 1] + "…"


def _security_bars(updates, hours, texts):
    """One bar per group of updates seen and applied together: (label, hours, colour, hatched).

    A plan records its items microseconds apart, so updates of one host whose
    bars would read the same (same applied record, same rounded hours) share
    one bar; the table below the chart still lists each.
    """
    groups = {}
    for entry in updates:
        if entry["seconds"] is None:
            continue
        key = (entry["host"], entry["activity"], entry["applied"], round(entry["seconds"] / 360))
        groups.setdefault(key, []).append(entry)
    bars = []
    for (host, _activity, applied, _tenths), entries in sorted(
        groups.items(), key=lambda pair: (pair[1][0]["first_seen"], pair[0][0])
    ):
        label = f"{host}: {entries[0]['package']}"
        if len(entries) > 1:
            label += " " + texts["more_packages"].format(count=len(entries) - 1)
        value = entries[0]["seconds"] / 3600
        if value > hours:
            colour = _COLOURS["not_met"]
        else:
            colour = _COLOURS["met"] if applied else _COLOURS["pending"]
        bars.append((_shortened(label), value, colour, not applied))
    return bars


def _bar_chart(bars, target, chart, texts, language):
    """Horizontal bars against a dashed target line, each bar labelled with its value.

    ``chart`` names the strings (title, axis, unit, legend) of one of the two
    charts. A bar far past the target would squeeze the others to nothing,
    so the axis ends at three times the target and such a bar is cut there,
    its value still written on it.
    """
    matplotlib, Figure, Patch, Line2D = _matplotlib()
    values = [value for _label, value, _colour, _hatched in bars]
    limit = max([value for value in values if value <= 3 * target] + [target]) * 1.2
    with matplotlib.rc_context(_CHART_STYLE):
        figure = Figure(
            figsize=(_CHART_WIDTH_INCHES, 1.5 + _BAR_INCHES * len(bars)), layout="constrained"
        )
        axes = figure.add_subplot()
        drawn = axes.barh(
            range(len(bars)),
            [min(value, limit) for value in values],
            color=[colour for _label, _value, colour, _hatched in bars],
        )
        for bar, (_label, value, _colour, hatched) in zip(drawn, bars, strict=True):
            if hatched:
                bar.set_hatch("///")
                bar.set_edgecolor("white")
            text = f"{_number(value, language)} {chart['unit']}"
            if value > limit:
                axes.text(
                    limit * 0.98, bar.get_y() + bar.get_height() / 2, text,
                    ha="right", va="center", color="white", fontweight="bold",
                )  # fmt: skip
            else:
                axes.text(
                    value + limit * 0.01, bar.get_y() + bar.get_height() / 2, text,
                    ha="left", va="center",
                )  # fmt: skip
        axes.set_yticks(list(range(len(bars))), [label for label, *_rest in bars])
        axes.invert_yaxis()
        axes.set_xlim(0, limit)
        axes.axvline(target, color=_COLOURS["target"], linestyle="--", linewidth=1)
        axes.set_xlabel(chart["axis"])
        figure.suptitle(chart["title"], x=0.01, ha="left", fontsize=10)
        handles = [
            Patch(
                facecolor=colour, hatch=hatch, edgecolor="white" if hatch else colour, label=label
            )
            for label, colour, hatch in chart["legend"]
        ]
        handles.append(
            Line2D([], [], color=_COLOURS["target"], linestyle="--", label=chart["target"])
        )
        figure.legend(handles=handles, loc="outside lower center", ncols=2)
        return _svg(figure, chart["id"], chart["title"])


def _security_chart(updates, hours, texts, language):
    chart = {
        "id": "chart-security",
        "title": texts["chart_security_title"],
        "axis": texts["axis_hours"],
        "unit": texts["unit_hours"],
        "target": texts["legend_deadline"].format(hours=hours),
        "legend": [
            (texts["legend_in_time"], _COLOURS["met"], None),
            (texts["legend_late"], _COLOURS["not_met"], None),
            (texts["legend_pending"], _COLOURS["pending"], "///"),
            (texts["legend_overdue"], _COLOURS["not_met"], "///"),
        ],
    }
    return _bar_chart(_security_bars(updates, hours, texts), hours, chart, texts, language)


def _periodic_chart(hosts, days, texts, language):
    chart = {
        "id": "chart-periodic",
        "title": texts["chart_periodic_title"],
        "axis": texts["axis_days"],
        "unit": texts["unit_days"],
        "target": texts["legend_interval"].format(days=days),
        "legend": [
            (texts["legend_met"], _COLOURS["met"], None),
            (texts["legend_not_met"], _COLOURS["not_met"], None),
        ],
    }
    bars = [
        (
            _shortened(host),
            figures["measured"],
            _COLOURS["met"] if figures["met"] else _COLOURS["not_met"],
            False,
        )
        for host, figures in hosts.items()
    ]
    return _bar_chart(bars, days, chart, texts, language)


_SVG_ID = re.compile(r'\bid="([^"]+)"')
_SVG_REFERENCE = re.compile(r'(href="#|url\(#)([^")]+)')


def _svg(figure, chart_id, title):
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    # Inline in HTML: no XML prolog or doctype, and ids unique across the
    # page's charts (matplotlib numbers each figure's elements from 1).
    svg = svg[svg.index("<svg") :]
    svg = _SVG_ID.sub(lambda m: f'id="{chart_id}-{m.group(1)}"', svg)
    svg = _SVG_REFERENCE.sub(lambda m: f"{m.group(1)}{chart_id}-{m.group(2)}", svg)
    label = html.escape(title, quote=True)
    return svg.replace("<svg", f'<svg role="img" aria-label="{label}" class="chart"', 1).strip()


def render_html(data, language=DEFAULT_LANGUAGE):
    """One self-contained page: readable on a phone, and printable through its print styles."""
    texts = _texts(language)
    blocks = _outline(data, texts, language, with_charts=True)
    title = f"{texts['title']}: {data['customer']} {data['period']['label']}"
    return html_page(title, language, blocks)


def render_markdown(data, language=DEFAULT_LANGUAGE):
    """The same report for a docs repository or an e-mail; tables carry the charts' numbers."""
    texts = _texts(language)
    blocks = _outline(data, texts, language, with_charts=False)
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
