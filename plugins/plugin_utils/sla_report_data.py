# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLA report's data: the period, the KPIs against their targets, what was done.

``build_report`` turns a verified period (``sla_report.load_period``) and the
customer's targets into the report's data: plain, language-free, and what the
JSON document holds. The KPIs are measured by ``sla_report.kpis``; this
module picks what the report shows of them and of the period's records.
Record fields reach the data only where a section names them; nothing is
copied wholesale.
"""

from __future__ import annotations

import datetime
import os
import zoneinfo

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report import (
    CHANGE_SET,
    kpis,
    security_latencies,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import validate_targets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_date, utc_time

REPORT_FORMAT = 1

_MICROSECOND = datetime.timedelta(microseconds=1)


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
    first_day = parse_date(first_day, "period_start")
    last_day = parse_date(last_day, "period_end")
    if last_day < first_day:
        raise ValueError(f"period_end {last_day} is before period_start {first_day}")
    zone = zoneinfo.ZoneInfo(timezone)
    start = datetime.datetime.combine(first_day, datetime.time(), zone)
    end = datetime.datetime.combine(last_day + datetime.timedelta(days=1), datetime.time(), zone)
    return start, end


def period_label(first_day, last_day):
    """``2026-Q1`` for a calendar quarter, ``2026-03`` for a month, else both days."""
    first_day = parse_date(first_day, "period_start")
    last_day = parse_date(last_day, "period_end")
    if first_day.day == 1 and (last_day + datetime.timedelta(days=1)).day == 1:
        months = (last_day.year - first_day.year) * 12 + last_day.month - first_day.month + 1
        if months == 1:
            return f"{first_day:%Y-%m}"
        if months == 3 and first_day.month % 3 == 1:
            return f"{first_day.year}-Q{first_day.month // 3 + 1}"
    return f"{first_day.isoformat()}_{last_day.isoformat()}"


# --------------------------------------------------------------------------- data


def build_report(period, targets, customer, tier):
    """The report's data from ``load_period``'s result, language-free and JSON-ready."""
    targets = validate_targets(targets)
    zone = zoneinfo.ZoneInfo(targets["timezone"])
    start, end = utc_time(period["start"], "start"), utc_time(period["end"], "end")
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
    return ((utc_time(later, "later") - utc_time(earlier, "earlier")) // _MICROSECOND) / 1_000_000


def _security_updates(latencies, offers, deadline, start, end):
    shown = []
    for entry in latencies:
        status = entry["status"]
        if status == "applied":
            if not start <= utc_time(entry["applied"], "applied") < end:
                continue
            seconds = _seconds(entry["applied"], entry["first_seen"])
        elif status == "pending":
            seconds = _seconds(end.isoformat(), entry["first_seen"])
        else:
            if not start <= utc_time(entry["resolved"], "resolved") < end:
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
    if record.get("item") == CHANGE_SET and isinstance(after, dict):
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
        if record.get("item") == CHANGE_SET and isinstance(after, dict):
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
