# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX / Automation Platform objects for each customer, from its SLA tier.

``customer_objects`` turns one customer (its tier, overrides and hosts) into
the objects the awx.awx modules create: an inventory with the customer's
hosts and groups, one job template per SLA activity playbook the tier
covers, schedules derived from the tier's targets, and, for each change set
a Basic customer was advised (the advice documents' JSON), a workflow whose
approval node names that change set before the job that applies it. Every
returned dict holds exactly the module's parameters, so the playbook passes
them through unchanged.

Schedules:

- maintenance runs at the start of every maintenance window: the gate
  applies a periodic update in the first window after the periodic interval
  has passed, and a security update within its deadline. Where the longest
  wait between two window starts is longer than the security deadline, an
  extra run every min(24, deadline) hours is added, so no security update
  waits past its deadline for a run (Pro's Saturday-night to Monday gap);
- accesses are converged, and credentials rotated, every whole number of
  weeks that fits in the tier's review and rotation intervals, on the first
  window's first day at its start, so the longest gap stays inside the interval;
- documentation and the SLA report on the first day of every quarter.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
from collections.abc import Mapping

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    WEEKDAYS,
    resolve_targets,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_date

_RRULE_DAYS = {day: day[:2].upper() for day in WEEKDAYS}
_WEEK_MINUTES = 7 * 24 * 60

# The activity playbooks: (key, playbook, title, activities the tier must
# cover (any of them; none means every tier), what the run needs at launch).
PLAYBOOKS = (
    ("maintenance", "playbooks/maintenance.yml", "Security and periodic updates, CMS", ("updates", "cms"), False),
    ("access", "playbooks/access.yml", "Accesses from the register", ("access",), False),
    ("offboard", "playbooks/offboard.yml", "Offboard a person (-e person=<id>)", ("access",), True),
    ("rotate_credentials", "playbooks/rotate_credentials.yml", "Rotate the credentials that are due", ("access",), False),
    ("deploy", "playbooks/deploy.yml", "Deploy a release to staging, promote to production", ("deploy",), True),
    ("refresh_staging", "playbooks/refresh_staging.yml", "Refresh staging from production, sanitised", ("staging",), True),
    ("drift", "playbooks/drift.yml", "Staging compared with production", ("staging",), False),
    ("docs", "playbooks/docs.yml", "System documentation and migration advice", ("docs",), False),
    ("backup", "playbooks/backup.yml", "Verified backups of every site", ("backup",), False),
    ("sla_report", "playbooks/sla_report.yml", "SLA report of the last complete quarter", (), False),
    ("verify_audit", "playbooks/verify_audit.yml", "Verify the audit trail", (), False),
)  # fmt: skip

# Host variables copied into AWX; secrets stay in vault files and credentials.
HOST_VARS = ("ansible_host", "ansible_port", "ansible_user", "sla_environment")
CUSTOMER_VARS = ("sla_customer", "sla_tier", "sla_overrides", "sla_control")
# Each activity's approval variable in its role (updates_approval, ...).
APPROVAL_PLAYBOOK = {"updates": "maintenance", "cms": "maintenance", "access": "access"}


class AwxObjectsError(SlaInputError):
    """Input that cannot become AWX objects; the message names it."""


def template_name(customer, key):
    return f"{customer} - {key}"


def playbook_for(key):
    return next(entry for entry in PLAYBOOKS if entry[0] == key)[1]


def _minutes(hhmm):
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _window_starts(windows):
    """Minutes since Monday 00:00 of every window start in a week, sorted."""
    return sorted(
        {WEEKDAYS.index(day) * 24 * 60 + _minutes(w["start"]) for w in windows for day in w["days"]}
    )


def longest_gap_hours(starts, every_hours=None):
    """Longest wait, in hours, between runs at ``starts`` (weekly) and every ``every_hours``."""
    runs = set(starts)
    if every_hours:
        first = starts[0] if starts else 0
        runs.update(range(first % (every_hours * 60), _WEEK_MINUTES, every_hours * 60))
    ordered = sorted(runs)
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    gaps.append(ordered[0] + _WEEK_MINUTES - ordered[-1])
    return max(gaps) / 60


def _dtstart(start_date, timezone, day, hhmm):
    """DTSTART on the first ``day`` on or after ``start_date``, at ``hhmm`` local time."""
    offset = (WEEKDAYS.index(day) - start_date.weekday()) % 7
    first = start_date + datetime.timedelta(days=offset)
    hours, minutes = hhmm.split(":")
    return f"DTSTART;TZID={timezone}:{first:%Y%m%d}T{hours}{minutes}00"


def _rrule(start_date, timezone, day, hhmm, rule):
    return f"{_dtstart(start_date, timezone, day, hhmm)} RRULE:{rule}"


def _schedule(customer, key, suffix, rrule, description):
    return {
        "name": f"{template_name(customer, key)} - {suffix}",
        "unified_job_template": template_name(customer, key),
        "rrule": rrule,
        "description": description,
        "enabled": True,
    }


def schedules(customer, targets, start_date, templates):
    """Schedules for ``customer``'s job templates (keys in ``templates``) under ``targets``."""
    tz = targets["timezone"]
    windows = targets["maintenance_windows"]
    first = windows[0]
    first_day, first_start = first["days"][0], first["start"]
    result = []

    advisory = targets["decision_mode"] == "advisory"
    periodic = targets["periodic_update_interval_days"]
    deadline = targets["security_update_deadline_hours"]
    what = "advice on" if advisory else "applies"
    for index, window in enumerate(windows):
        days = ",".join(_RRULE_DAYS[day] for day in window["days"])
        result.append(
            _schedule(
                customer,
                "maintenance",
                f"window {index + 1}",
                _rrule(
                    start_date, tz, window["days"][0], window["start"], f"FREQ=WEEKLY;BYDAY={days}"
                ),
                f"At the start of the maintenance window {'/'.join(window['days'])} "
                f"{window['start']}-{window['end']} ({tz}): {what} security updates within "
                f"{deadline} h and periodic updates every {periodic} days, in the first "
                "window after the interval",
            )
        )
    starts = _window_starts(windows)
    if longest_gap_hours(starts) > deadline:
        every = min(24, deadline)
        result.append(
            _schedule(
                customer,
                "maintenance",
                "security deadline",
                _rrule(start_date, tz, first_day, first_start, f"FREQ=HOURLY;INTERVAL={every}"),
                f"Every {every} h: the longest wait between window starts, "
                f"{longest_gap_hours(starts):g} h, exceeds the {deadline} h security deadline",
            )
        )

    for key, interval_key, what in (
        ("access", "access_review_interval_days", "accesses reviewed and converged"),
        ("rotate_credentials", "credential_rotation_interval_days", "credentials rotated when due"),
    ):
        if key not in templates:
            continue
        days = targets[interval_key]
        weeks = max(1, days // 7)
        result.append(
            _schedule(
                customer,
                key,
                f"every {weeks} weeks",
                _rrule(
                    start_date,
                    tz,
                    first_day,
                    first_start,
                    f"FREQ=WEEKLY;INTERVAL={weeks};BYDAY={_RRULE_DAYS[first_day]}",
                ),
                f"Every {weeks} weeks ({weeks * 7} days, within the {days}-day interval): {what}",
            )
        )

    if "backup" in templates:
        # 02:00 is outside every default window's start and the office's hours;
        # a backup a day keeps the longest gap far inside any retention.
        result.append(
            _schedule(
                customer,
                "backup",
                "nightly",
                _rrule(start_date, tz, first_day, "02:00", "FREQ=DAILY"),
                f"Every night at 02:00 ({tz}): sites backed up, verified, and kept "
                f"{targets['backup_retention_days']} days",
            )
        )

    for key in ("docs", "sla_report"):
        if key in templates:
            quarter = datetime.date(start_date.year, 1, 1)
            result.append(
                _schedule(
                    customer,
                    key,
                    "quarterly",
                    f"DTSTART;TZID={tz}:{quarter:%Y%m%d}T080000 "
                    "RRULE:FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1",
                    "On the first day of every quarter",
                )
            )
    return result


def _customer_hosts(customer, hosts):
    """The customer's hosts (host variable dicts), validated to share tier and overrides."""
    own = [h for h in hosts if h.get("sla_customer") == customer]
    if not own:
        raise AwxObjectsError(f"customer {customer}: no host has sla_customer {customer}")
    for key in ("sla_tier", "sla_overrides"):
        values = {repr(h.get(key)) for h in own}
        if len(values) > 1:
            raise AwxObjectsError(
                f"customer {customer}: hosts disagree on {key} ({', '.join(sorted(values))}); "
                "set it once in the customer's group_vars"
            )
    return own


def _approval_workflows(customer, settings, advice, templates):
    """One workflow per advised change set: approve it, then apply exactly it."""
    result = []
    for doc in sorted(advice, key=lambda d: (d.get("host", ""), d.get("activity", ""))):
        if doc.get("customer") != customer or not doc.get("change_set"):
            continue
        activity = doc.get("activity")
        key = APPROVAL_PLAYBOOK.get(activity)
        if key is None or key not in templates:
            continue
        change_set, host = doc["change_set"], doc["host"]
        short = change_set[:12]
        approval = {
            "reference": "",
            "customer": customer,
            "hosts": [host],
            "change_set": change_set,
            "approved_by": "",
        }
        result.append(
            {
                "name": f"{customer} - approve {activity} change set {short} on {host}",
                "organization": settings["organization"],
                "inventory": settings["inventory"],
                "description": (
                    f"Applies exactly the {activity} change set {change_set} advised on "
                    f"{doc.get('decided_at', 'an earlier run')} for {host}, once approved"
                ),
                # The support request's reference and the approver are filled in at
                # launch; an approval without them stops the run before any host.
                "ask_variables_on_launch": True,
                "extra_vars": {"sla_hosts": host, f"{activity}_approval": approval},
                "workflow_nodes": [
                    {
                        "identifier": "approve",
                        "unified_job_template": {
                            "name": f"Approve {activity} change set {short} on {host}",
                            "type": "workflow_approval",
                            "description": (
                                f"change set {change_set}: the customer approved exactly this "
                                f"set of {activity} changes for {host} (advice of "
                                f"{doc.get('decided_at', 'an earlier run')}); compare it with "
                                "the support request before approving"
                            ),
                            "timeout": 0,
                        },
                        "related": {"success_nodes": [{"identifier": "apply"}]},
                    },
                    {
                        "identifier": "apply",
                        "unified_job_template": {
                            "name": template_name(customer, key),
                            "type": "job_template",
                            "organization": {"name": settings["organization"]},
                        },
                    },
                ],
            }
        )
    return result


def customer_objects(customer, hosts, settings, advice=(), start_date=None):
    """Every AWX object of ``customer``.

    ``hosts`` are host variable dicts (``inventory_hostname`` and the SLA
    variables), ``settings`` names the organization, project, execution
    environment and credentials the objects refer to, ``advice`` holds the
    advice documents (JSON) whose change sets get an approval workflow, and
    ``start_date`` anchors the schedules.
    """
    for required in ("organization", "project"):
        if not settings.get(required):
            raise AwxObjectsError(f"settings.{required} is missing")
    own = _customer_hosts(customer, hosts)
    tier = own[0].get("sla_tier")
    try:
        targets = resolve_targets(tier, own[0].get("sla_overrides"))
    except ValueError as exc:
        raise AwxObjectsError(f"customer {customer}: {exc}") from exc
    # Empty (an unset inventory variable) means the default, as a missing one does.
    start_date = parse_date(start_date, "start_date", AwxObjectsError) or datetime.date(2026, 1, 1)

    inventory = settings.get("inventory_name", "{customer}").format(customer=customer)
    organization = settings["organization"]
    customer_vars = {key: own[0][key] for key in CUSTOMER_VARS if own[0].get(key) is not None}
    host_objects = [
        {
            "name": h["inventory_hostname"],
            "inventory": inventory,
            "variables": {key: h[key] for key in HOST_VARS if h.get(key) is not None},
        }
        for h in sorted(own, key=lambda h: h["inventory_hostname"])
    ]
    environments = {}
    for h in own:
        environments.setdefault(h.get("sla_environment", "production"), []).append(
            h["inventory_hostname"]
        )
    groups = [
        {
            "name": customer,
            "inventory": inventory,
            "variables": customer_vars,
            "hosts": sorted(h["inventory_hostname"] for h in own),
        }
    ] + [
        {"name": env, "inventory": inventory, "variables": {}, "hosts": sorted(names)}
        for env, names in sorted(environments.items())
    ]

    covered = set(targets["activities"])
    templates = {}
    for key, playbook, title, needs, ask in PLAYBOOKS:
        if needs and not covered.intersection(needs):
            continue
        template = {
            "name": template_name(customer, key),
            "description": f"{title} (SLA {tier})",
            "organization": organization,
            "project": settings["project"],
            "inventory": inventory,
            "playbook": playbook,
            "job_type": "run",
            "ask_variables_on_launch": ask or key in APPROVAL_PLAYBOOK.values(),
            "extra_vars": {"verify_audit_customer": customer} if key == "verify_audit" else {},
        }
        if settings.get("execution_environment"):
            template["execution_environment"] = settings["execution_environment"]
        if settings.get("credentials"):
            template["credentials"] = list(settings["credentials"])
        templates[key] = template

    workflow_settings = {"organization": organization, "inventory": inventory}
    return {
        "customer": customer,
        "tier": tier,
        "inventory": {
            "name": inventory,
            "organization": organization,
            "description": f"{customer}: SLA {tier}",
        },
        "hosts": host_objects,
        "groups": groups,
        "job_templates": list(templates.values()),
        "schedules": schedules(customer, targets, start_date, templates),
        "workflows": _approval_workflows(customer, workflow_settings, advice, templates)
        if targets["decision_mode"] == "advisory"
        else [],
    }


def read_advice(directory, customers):
    """The advice documents (JSON) of ``customers`` in ``directory``/<customer>/."""
    documents = []
    for customer in customers:
        for path in sorted(glob.glob(os.path.join(directory, customer, "*.json"))):
            try:
                with open(path, encoding="utf-8") as handle:
                    document = json.load(handle)
            except (OSError, ValueError) as exc:
                raise AwxObjectsError(f"advice document {path} cannot be read: {exc}") from exc
            if isinstance(document, Mapping):
                documents.append(document)
    return documents


def fleet_objects(hosts, settings, advice=(), start_date=None):
    """``customer_objects`` of every customer among ``hosts``, by customer name.

    ``advice`` is a list of advice documents, or the advice directory to read
    them from (``<dir>/<customer>/*.json``, as the activities write them).
    """
    if not isinstance(settings, Mapping):
        raise AwxObjectsError("settings must be a mapping")
    customers = sorted({h["sla_customer"] for h in hosts if h.get("sla_customer")})
    if isinstance(advice, str):
        advice = read_advice(advice, customers) if advice else []
    return [customer_objects(c, hosts, settings, advice, start_date) for c in customers]
