# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The figures of a customer's SLA report, computed from the audit trail alone.

``load_period`` verifies the trail and returns the decision records of one
period; ``security_latencies`` and ``kpis`` turn them into measured values,
each next to its target. Nothing here reads inventory or host state: what is
not in the trail is not in the report, so a customer holding the trail and
its published head can recompute every number.

Records are processed in trail order (the hash chain's order), not sorted by
time: the chain is what proves the order, while clocks of different
controllers may disagree.

Standard library only, like sla_audit, so the report can be recomputed
wherever Python runs.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import itertools
import json

from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import as_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    ALG_HMAC_SHA256,
    CHAIN_FIELDS,
    GENESIS_HASH,
    encode_record,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaOperationError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import validate_targets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import utc_time

CHANGE_SET = "change_set"
# The item of the record each access run plans under (twovalue.sla.access_converge).
ACCESS_REVIEW = "access register"
# Activities whose plans record one decision per item with result.security.
PLANNED_ACTIVITIES = ("updates", "cms")

_HOUR = datetime.timedelta(hours=1)
_DAY = datetime.timedelta(days=1)

# Fields of a security update entry that the report shows; the rest is bookkeeping.
LATENCY_FIELDS = (
    "host",
    "activity",
    "package",
    "version",
    "installed",
    "first_seen",
    "first_seen_seq",
    "applied",
    "applied_seq",
    "applied_version",
    "hours",
    "status",
    "last_decision",
    "last_reason",
    "resolved",
    "resolved_seq",
)


class ReportError(SlaOperationError):
    """The trail cannot back a report: it does not verify, or a record cannot be read."""


# --------------------------------------------------------------------------- time


def _iso(moment):
    return moment.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")


def _record_time(record, where):
    try:
        return utc_time(record.get("time"), "time")
    except ValueError as exc:
        raise ReportError(f"{where}: {exc}") from exc


def _where(record):
    seq = record.get("seq")
    return f"record seq {seq}" if seq is not None else "record"


def _counts_as_decision(record):
    # Check mode shows what would happen; a report states what did.
    return record.get("kind") == "decision" and not record.get("check_mode")


# --------------------------------------------------------------------------- loading


def _reread(line, number, expected_prev, key, path):
    """Parse one verified line, and prove it is still the line that was verified.

    The verifier read the file once; re-encoding each record and following
    the links again catches a file edited between that read and this one.
    """
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ReportError(f"{path} line {number} is not a JSON record: {exc}") from exc
    body = {name: value for name, value in record.items() if name not in CHAIN_FIELDS}
    try:
        encoded, _digest = encode_record(
            body,
            record.get("prev"),
            record.get("seq"),
            key if record.get("alg") == ALG_HMAC_SHA256 else None,
        )
    except (TypeError, ValueError):
        encoded = None
    if encoded != line or record.get("seq") != number or record.get("prev") != expected_prev:
        raise ReportError(
            f"{path} line {number} changed after the trail was verified; verify it again"
        )
    return record


def load_period(path, start, end, key=None):
    """Verify the trail at ``path``, then return the decisions made in ``[start, end)``.

    ``path`` is a trail file, or a trail store of any backend (audit_store).

    Raises ReportError when the trail does not verify (naming the first bad
    line) or a record cannot be read. Returns a dict::

        trail, start, end       what was read, the period as ISO times (UTC)
        head, head_seq          hash and seq of the last verified record, to publish
        period_head, period_head_seq
                                hash and seq of the last record before the first one
                                from after the period (in chain order): the trail as
                                it stood at the period's end, the same however much
                                is appended later
        trail_records           how many records the verified trail holds
        records                 decision records in the period, check mode left out
        opening                 the state at ``start`` carried over from earlier records
                                (pass it to ``security_latencies`` and ``kpis``)
        ignored_check_mode      decision records in the period left out as check mode

    Records appended after the verification are not read, so the records
    match the head that is returned; each record read is checked against its
    hash again, so an edit after the verification is refused too.
    """
    start_at, end_at = utc_time(start, "start"), utc_time(end, "end")
    if end_at <= start_at:
        raise ValueError(f"end {_iso(end_at)} is not after start {_iso(start_at)}")
    trail = as_trail(path)
    if isinstance(path, str):
        report = verify_trail(path, key=key)
    else:
        path = trail.path
        report = trail.verify(key=key)
    if not report.valid:
        raise ReportError(
            f"the audit trail does not verify, so no report is made from it: {report.summary()}"
        )

    ledger = _Ledger()
    records = []
    ignored_check_mode = 0
    expected_prev = GENESIS_HASH
    period_head, period_head_seq, period_closed = GENESIS_HASH, 0, False
    with contextlib.closing(trail.read_lines()) as lines:
        for number in range(1, report.records + 1):
            record = _reread(next(lines, b""), number, expected_prev, key, path)
            expected_prev = record["hash"]
            when = _record_time(record, f"{path} line {number}")
            # The chain's order, not the clock, says what the period's trail
            # held: everything up to the first record from after the period.
            period_closed = period_closed or when >= end_at
            if not period_closed:
                period_head, period_head_seq = record["hash"], record["seq"]
            if record.get("kind") != "decision":
                continue
            if when >= end_at:
                continue
            if record.get("check_mode"):
                if when >= start_at:
                    ignored_check_mode += 1
                continue
            if when < start_at:
                ledger.feed(record)
            else:
                records.append(record)
    head = report.head or GENESIS_HASH
    if expected_prev != head:
        raise ReportError(f"{path} changed after the trail was verified; verify it again")
    return {
        "trail": path,
        "start": _iso(start_at),
        "end": _iso(end_at),
        "head": head,
        "head_seq": report.head_seq or 0,
        "period_head": period_head,
        "period_head_seq": period_head_seq,
        "trail_records": report.records,
        "records": records,
        "opening": ledger.state(start_at),
        "ignored_check_mode": ignored_check_mode,
    }


# --------------------------------------------------------------------------- ledger


def _offer(record):
    """One planned item's decision (package or CMS site), or None for anything else."""
    result = record.get("result")
    item = record.get("item")
    if (
        record.get("activity") in PLANNED_ACTIVITIES
        and record.get("decision") in ("approved", "advised", "refused")
        and isinstance(result, dict)
        # New packages carry no security flag: they are advice, not updates of anything.
        and "security" in result
        and isinstance(item, str)
        and item != CHANGE_SET
        and isinstance(record.get("after"), str)
    ):
        return result
    return None


def _is_sla_update(result):
    # An upgrade is a migration project outside the SLA, whatever fixes it carries.
    return result.get("kind") == "update" and not result.get("outside_sla")


class _Ledger:
    """What the records so far say: open security updates, plan calls, periodic anchors.

    ``state``/``from_state`` carry it across a period boundary as plain data,
    so a period computed with its opening state gives the same figures as one
    computed over the whole trail.
    """

    def __init__(self):
        self.hosts = set()
        self.security = []
        self._open = {}
        self._calls = {}
        self.anchors = {}
        self.reviews = {}
        self.backups = {}

    # ----------------------------------------------------------------- state

    def state(self, at):
        pending = [copy.deepcopy(entry) for entry in self.security if entry["status"] == "pending"]
        periodic = {}
        for host, anchors in sorted(self.anchors.items()):
            # The gap at the boundary needs the last anchor; the report also
            # names the last applied update, which may be older.
            kept = [anchors[-1]]
            applied = [anchor for anchor in anchors if anchor["how"] == "applied"]
            if applied and applied[-1] is not anchors[-1]:
                kept.insert(0, applied[-1])
            periodic[host] = copy.deepcopy(kept)
        calls = [
            {"host": host, "activity": activity, **copy.deepcopy(call)}
            for (host, activity), call in sorted(self._calls.items())
        ]
        return {
            "at": _iso(at),
            "hosts": sorted(self.hosts),
            "security_pending": pending,
            "periodic_anchors": periodic,
            "plan_calls": calls,
            # The review gap at the boundary needs only each host's last review.
            "access_reviews": {host: times[-1:] for host, times in sorted(self.reviews.items())},
            "verified_backups": {
                host: {site: times[-1:] for site, times in sorted(sites.items())}
                for host, sites in sorted(self.backups.items())
            },
        }

    @classmethod
    def from_state(cls, state):
        ledger = cls()
        if not state:
            return ledger
        ledger.hosts.update(state.get("hosts", ()))
        for entry in state.get("security_pending", ()):
            entry = copy.deepcopy(entry)
            ledger.security.append(entry)
            key = (entry["host"], entry["activity"], entry["package"])
            ledger._open.setdefault(key, []).append(entry)
        for host, anchors in state.get("periodic_anchors", {}).items():
            ledger.anchors[host] = copy.deepcopy(anchors)
        for host, times in state.get("access_reviews", {}).items():
            ledger.reviews[host] = list(times)
        for host, sites in state.get("verified_backups", {}).items():
            ledger.backups[host] = {site: list(times) for site, times in sites.items()}
        for call in state.get("plan_calls", ()):
            call = copy.deepcopy(call)
            key = (call.pop("host"), call.pop("activity"))
            ledger._calls[key] = call
        return ledger

    # ----------------------------------------------------------------- feeding

    def feed(self, record):
        host = record.get("host")
        if host:
            self.hosts.add(host)
        if record.get("activity") == "access" and record.get("item") == ACCESS_REVIEW:
            # Each access run checks every account against the register: a review.
            if record.get("decision") == "planned":
                self.reviews.setdefault(host, []).append(record["time"])
            return
        if record.get("activity") == "backup":
            self._backup(host, record)
            return
        result = _offer(record)
        if result is not None:
            self._offered(record, result)
        elif record.get("decision") == "planned" and record.get("item") == CHANGE_SET:
            self._planned(record)
        elif record.get("decision") == "applied":
            self._applied(record)

    def _backup(self, host, record):
        decision, site = record.get("decision"), record.get("item") or ""
        if decision == "skipped" and site == host:
            # Backups left the SLA on this host: its sites are measured no longer.
            self.backups.pop(host, None)
        elif decision in ("applied", "failed") and site.startswith("/"):
            # A failed backup is no restore point, but it makes the site one whose
            # backups are measured.
            times = self.backups.setdefault(host, {}).setdefault(site, [])
            if decision == "applied" and (record.get("result") or {}).get("verified") is True:
                times.append(record["time"])

    def _call(self, host, activity, run_id):
        """The plan call this record belongs to: a new one after a planned record or a new run."""
        call = self._calls.get((host, activity))
        if call is None or call["run_id"] != run_id or call["closed"]:
            call = {"run_id": run_id, "offers": [], "closed": False}
            self._calls[(host, activity)] = call
        return call

    def _offered(self, record, result):
        host, activity, item = record.get("host"), record["activity"], record["item"]
        version = record["after"]
        call = self._call(host, activity, record.get("run_id"))
        call["offers"].append(
            {
                "item": item,
                "version": version,
                "periodic": _is_sla_update(result) and not result.get("security"),
            }
        )
        if result.get("security") is not True or not _is_sla_update(result):
            return
        key = (host, activity, item)
        entries = self._open.setdefault(key, [])
        entry = next((e for e in entries if e["version"] == version), None)
        if entry is None:
            entry = {
                "host": host,
                "activity": activity,
                "package": item,
                "version": version,
                "installed": record.get("before"),
                "first_seen": record.get("time"),
                "first_seen_seq": record.get("seq"),
                "applied": None,
                "applied_seq": None,
                "applied_version": None,
                "hours": None,
                "status": "pending",
                "last_decision": None,
                "last_reason": None,
                "resolved": None,
                "resolved_seq": None,
            }
            entries.append(entry)
            self.security.append(entry)
        entry["last_decision"] = record.get("decision")
        entry["last_reason"] = record.get("reason")

    def _planned(self, record):
        host, activity = record.get("host"), record.get("activity")
        if activity not in PLANNED_ACTIVITIES:
            return
        call = self._call(host, activity, record.get("run_id"))
        call["closed"] = True
        summary = (record.get("result") or {}).get("summary")
        # Only a plan call seen whole says what was not offered; one cut by
        # the period boundary or a lost record proves nothing.
        if not isinstance(summary, dict) or len(call["offers"]) != sum(
            value for value in summary.values() if isinstance(value, int)
        ):
            return
        offered = {offer["item"] for offer in call["offers"]}
        for key in [k for k in self._open if k[:2] == (host, activity) and k[2] not in offered]:
            for entry in self._open.pop(key):
                entry.update(
                    status="resolved_elsewhere",
                    resolved=record.get("time"),
                    resolved_seq=record.get("seq"),
                )
        if activity == "updates" and not any(offer["periodic"] for offer in call["offers"]):
            self._anchor(host, record, "nothing due")

    def _applied(self, record):
        host, activity, item, after = (
            record.get("host"),
            record.get("activity"),
            record.get("item"),
            record.get("after"),
        )
        if activity == "updates" and item == CHANGE_SET and isinstance(after, dict):
            for package, version in after.items():
                self._resolve((host, activity, package), version, record)
            call = self._calls.get((host, activity))
            offers = call["offers"] if call and call["run_id"] == record.get("run_id") else []
            if any(offer["periodic"] and offer["item"] in after for offer in offers):
                self._anchor(host, record, "applied")
        elif activity == "cms" and isinstance(item, str) and isinstance(after, str):
            self._resolve((host, activity, item), after, record)

    def _resolve(self, key, version, record):
        # A newer candidate may have replaced the one first seen; installing
        # it ends the exposure that began at the first sighting.
        for entry in self._open.pop(key, ()):
            entry.update(
                status="applied",
                applied=record.get("time"),
                applied_seq=record.get("seq"),
                applied_version=version,
                hours=(
                    _record_time(record, _where(record))
                    - utc_time(entry["first_seen"], "first_seen")
                )
                / _HOUR,
            )

    def _anchor(self, host, record, how):
        self.anchors.setdefault(host, []).append(
            {"time": record.get("time"), "seq": record.get("seq"), "how": how}
        )


def _replay(records, opening, period_end=None):
    """The ledger after ``opening`` and the decision records in ``[opening.at, period_end)``."""
    ledger = _Ledger.from_state(opening)
    start = utc_time(opening["at"], "opening.at") if opening else None
    used = []
    for record in records:
        if not _counts_as_decision(record):
            continue
        when = _record_time(record, _where(record))
        if (start is not None and when < start) or (period_end is not None and when >= period_end):
            continue
        ledger.feed(record)
        used.append((when, record))
    return ledger, used


# --------------------------------------------------------------------------- figures


def security_latencies(records, opening=None):
    """Each security update seen in ``records``: when first seen, when applied, hours between.

    A security update is one host's package (or CMS site) at one candidate
    version, recorded by a plan with ``result.security`` true. It is first
    seen at its earliest record (any decision) and applied by the first later
    ``applied`` record of that host that installs the package (for a CMS
    site, switches it). ``hours`` is the exact difference; ``applied`` is
    None while it is pending. ``status`` is applied, pending, or
    resolved_elsewhere: a later complete plan of the host no longer offered
    it without an applied record (installed by someone else, or removed).
    ``opening`` is ``load_period``'s opening state, for updates first seen
    before the period.
    """
    ledger, _used = _replay(records, opening)
    return [{field: entry[field] for field in LATENCY_FIELDS} for entry in ledger.security]


def _brief(entry, **extra):
    return {
        "host": entry["host"],
        "package": entry["package"],
        "version": entry["version"],
        "first_seen": entry["first_seen"],
        **extra,
    }


def _security_kpis(ledger, deadline, start, end):
    applied = [
        entry
        for entry in ledger.security
        if entry["status"] == "applied" and start <= utc_time(entry["applied"], "applied") < end
    ]
    late = [entry for entry in applied if entry["hours"] > deadline]
    worst = max(applied, key=lambda entry: entry["hours"], default=None)
    in_time = {
        "target": deadline,
        "unit": "hours from first seen to applied",
        "measured": worst["hours"] if worst else None,
        "met": not late,
        "applied": len(applied),
        "in_time": len(applied) - len(late),
        "share": (len(applied) - len(late)) / len(applied) if applied else None,
        "worst": _brief(worst, applied=worst["applied"]) if worst else None,
        "late": [_brief(e, applied=e["applied"], hours=e["hours"]) for e in late],
    }
    pending = []
    for entry in ledger.security:
        if entry["status"] != "pending":
            continue
        age = (end - utc_time(entry["first_seen"], "first_seen")) / _HOUR
        pending.append((age, entry))
    overdue = [(age, entry) for age, entry in pending if age > deadline]
    past_deadline = {
        "target": 0,
        "unit": "security updates pending past the deadline at period end",
        "deadline_hours": deadline,
        "measured": len(overdue),
        "met": not overdue,
        "pending_within_deadline": len(pending) - len(overdue),
        "items": [
            _brief(
                entry,
                age_hours=age,
                last_decision=entry["last_decision"],
                last_reason=entry["last_reason"],
            )
            for age, entry in overdue
        ],
    }
    elsewhere = [
        _brief(entry, resolved=entry["resolved"])
        for entry in ledger.security
        if entry["status"] == "resolved_elsewhere"
        and start <= utc_time(entry["resolved"], "resolved") < end
    ]
    return in_time, past_deadline, elsewhere


_POINT_LABELS = {"applied": "periodic update applied", "nothing due": "plan found nothing due"}


def _periodic_host(anchors, interval, start, end):
    timed = [(utc_time(anchor["time"], "anchor time"), anchor) for anchor in anchors]
    before = [(when, anchor) for when, anchor in timed if when < start]
    inside = [(when, anchor) for when, anchor in timed if start <= when < end]
    if before:
        when, anchor = max(before, key=lambda pair: pair[0])
        points = [(when, _POINT_LABELS[anchor["how"]])]
    else:
        # Nothing earlier in the trail: the period gets the benefit of the doubt.
        points = [(start, "period start")]
    points += [(when, _POINT_LABELS[anchor["how"]]) for when, anchor in inside]
    points.append((end, "period end"))
    gap_days, gap_from, gap_to = max(
        ((b[0] - a[0]) / _DAY, a, b) for a, b in itertools.pairwise(points)
    )
    applied_inside = [anchor for _when, anchor in inside if anchor["how"] == "applied"]
    applied_all = [(when, anchor) for when, anchor in timed if anchor["how"] == "applied"]
    last_applied = max(applied_all, key=lambda pair: pair[0], default=(None, None))[1]
    return {
        "target": interval,
        "unit": "days between periodic updates",
        "measured": gap_days,
        "met": gap_days <= interval,
        "status": "periodic updates applied" if applied_inside else "no periodic update in period",
        "gap_from": {"time": _iso(gap_from[0]), "what": gap_from[1]},
        "gap_to": {"time": _iso(gap_to[0]), "what": gap_to[1]},
        "periodic_updates_applied": len(applied_inside),
        "plans_with_nothing_due": len(inside) - len(applied_inside),
        "last_periodic_update": last_applied["time"] if last_applied else None,
    }


def _longest_gap(times, start, end):
    """Longest stretch in days without an event, counting the period's start and end."""
    before = [t for t in times if t < start]
    # Nothing earlier in the trail: the period gets the benefit of the doubt.
    points = [max(before) if before else start]
    points += sorted(t for t in times if start <= t < end)
    points.append(end)
    return max((b - a) / _DAY for a, b in itertools.pairwise(points))


def _gap_figures(places, target, unit, start, end, what, event):
    """Per place, the longest gap in days between its events; the longest over all places.

    ``what`` names the event in errors, ``event`` in the entries' counts. A
    place without any event (backups that only ever failed) has the whole
    period as its gap.
    """
    entries = {}
    for place, times in places:
        timed = sorted(utc_time(t, f"{what} time") for t in times)
        gap = _longest_gap(timed, start, end)
        entries[place] = {
            "target": target,
            "measured": gap,
            "met": gap <= target,
            f"{event}s": sum(1 for t in timed if start <= t < end),
            f"last_{event}": _iso(timed[-1]) if timed else None,
        }
    return {
        "target": target,
        "unit": unit,
        "measured": max((entry["measured"] for entry in entries.values()), default=None),
        "met": all(entry["met"] for entry in entries.values()) if entries else None,
    }, entries


def _access_reviews(ledger, interval, start, end):
    unit = "days between access reviews, longest over the hosts"
    figures, hosts = _gap_figures(
        sorted(ledger.reviews.items()), interval, unit, start, end, "access review", "review"
    )
    return {**figures, "hosts": hosts}


def _verified_backups(ledger, retention, start, end):
    unit = "days without a verified backup, longest over the sites"
    sites = (
        (f"{host} {site}", times)
        for host, by_site in sorted(ledger.backups.items())
        for site, times in sorted(by_site.items())
    )
    figures, sites = _gap_figures(sites, retention, unit, start, end, "backup", "backup")
    return {**figures, "sites": sites}


def _activity_counts(used):
    by_activity = {}
    project_refs = set()
    approvals = {}
    rollbacks, failures = [], []
    for _when, record in used:
        activity = record.get("activity") or "unknown"
        decision = record.get("decision") or "unknown"
        counts = by_activity.setdefault(activity, {})
        counts[decision] = counts.get(decision, 0) + 1
        reference = record.get("approval")
        if reference:
            approvals.setdefault(str(reference), []).append(record)
            if (record.get("result") or {}).get("outside_sla") is True:
                project_refs.add(str(reference))
        if decision in ("rolled_back", "failed"):
            (rollbacks if decision == "rolled_back" else failures).append(
                {
                    "time": record.get("time"),
                    "seq": record.get("seq"),
                    "host": record.get("host"),
                    "activity": record.get("activity"),
                    "item": record.get("item"),
                    "reason": record.get("reason"),
                }
            )

    def _refs(projects):
        chosen = {ref: recs for ref, recs in approvals.items() if (ref in project_refs) == projects}
        return {
            "records": sum(len(recs) for recs in chosen.values()),
            "references": sorted(chosen),
        }

    totals = {
        decision: sum(counts.get(decision, 0) for counts in by_activity.values())
        for decision in ("applied", "advised", "refused")
    }
    return {
        "by_activity": {
            activity: dict(sorted(c.items())) for activity, c in sorted(by_activity.items())
        },
        "applied": totals["applied"],
        "advised": totals["advised"],
        "refused": totals["refused"],
        # A migration project's name is written to the approval field too; the
        # plan marks its records outside_sla, which tells the two apart.
        "approvals_used": _refs(projects=False),
        "migration_projects": _refs(projects=True),
        "rollbacks": {"count": len(rollbacks), "items": rollbacks},
        "failures": {"count": len(failures), "items": failures},
    }


def _migration_advice(used, activities):
    advice = {}
    for _when, record in used:
        result = record.get("result")
        if (
            record.get("activity") not in activities
            or record.get("decision") not in ("refused", "advised")
            or not isinstance(result, dict)
            or result.get("kind") != "upgrade"
        ):
            continue
        # Minor updates change the installed version; the advice stays the same move.
        key = (record.get("host"), record.get("activity"), record.get("item"), record.get("after"))
        entry = advice.get(key)
        if entry is None:
            entry = advice[key] = {
                "host": key[0],
                "activity": key[1],
                "item": key[2],
                "installed": None,
                "candidate": key[3],
                "first_recorded": record.get("time"),
                "times_recorded": 0,
            }
        # Every run repeats the advice; the latest is what the customer was last told.
        entry.update(
            installed=record.get("before"),
            decision=record.get("decision"),
            reason=record.get("reason"),
            last_recorded=record.get("time"),
            times_recorded=entry["times_recorded"] + 1,
        )
    return list(advice.values())


def kpis(records, targets, period_end, opening=None):
    """The period's KPIs, each a dict with its target, the measured value and ``met``.

    ``records`` are decision records in trail order (``load_period``'s
    ``records``), ``targets`` the customer's resolved targets
    (``sla_tiers.resolve_targets``), ``opening`` ``load_period``'s opening
    state, whose time is the period start; without it the period starts at
    the first record. Check-mode records and records outside the period are
    left out.
    """
    targets = validate_targets(targets)
    end = utc_time(period_end, "period_end")
    ledger, used = _replay(records, opening, end)
    if opening:
        start = utc_time(opening["at"], "opening.at")
    else:
        start = min((when for when, _record in used), default=end)
    deadline = targets["security_update_deadline_hours"]
    interval = targets["periodic_update_interval_days"]

    in_time, past_deadline, elsewhere = _security_kpis(ledger, deadline, start, end)
    hosts = {
        host: _periodic_host(ledger.anchors.get(host, []), interval, start, end)
        for host in sorted(ledger.hosts)
    }
    periodic = {
        "target": interval,
        "unit": "days between periodic updates, longest over the hosts",
        "measured": max((host["measured"] for host in hosts.values()), default=None),
        "met": all(host["met"] for host in hosts.values()),
        "hosts": hosts,
    }
    return {
        "period": {"start": _iso(start), "end": _iso(end)},
        "security_updates_in_time": in_time,
        "security_updates_past_deadline": past_deadline,
        "security_updates_resolved_elsewhere": elsewhere,
        "periodic_updates": periodic,
        "access_reviews": _access_reviews(
            ledger, targets["access_review_interval_days"], start, end
        ),
        "verified_backups": _verified_backups(ledger, targets["backup_retention_days"], start, end),
        "activity": _activity_counts(used),
        "cms_migration_advice": _migration_advice(used, ("cms",)),
        # Package upgrades (a new release, backports, an epoch) are refused the same way.
        "migration_advice": _migration_advice(used, PLANNED_ACTIVITIES),
    }
