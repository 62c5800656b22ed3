# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLA gate: what may be applied to a host now, and why.

``decide`` takes the proposed changes of one host and the customer's targets
and returns one decision per item (apply, advise, refuse, apply_with_approval)
with a reason a customer can read, plus the hash of the change set that an
approval refers to. It is pure: the caller passes the clock.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import zoneinfo
from collections.abc import Mapping

from ansible_collections.twovalue.sla.plugins.module_utils.sla_tiers import (
    LAYERS,
    WEEKDAYS,
    resolve_control,
    validate_targets,
)
from ansible_collections.twovalue.sla.plugins.module_utils.sla_versions import (
    VersionError,
    classify_change,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils import sla_time
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError

DECISIONS = ("apply", "advise", "refuse", "apply_with_approval")
HASHED_FIELDS = ("component", "installed", "candidate", "scheme", "security", "source")
# Hashed only for a package an update newly installs, so the hash of a set
# without one stays what it was before such packages were planned.
NEW_INSTALL_FIELDS = ("new_install", "needed_by")

# The SLA activity that covers changes on each layer.
_LAYER_ACTIVITY = {"os": "updates", "cms": "cms", "access": "access"}
_CMS_SCHEMES = ("mediawiki", "wordpress")
# How far ahead to look for the next window; beyond a year the answer is
# "no window", which the reason says.
_WINDOW_SEARCH_DAYS = 370


class GateError(SlaInputError):
    """Input the gate cannot decide on: a malformed item, approval or time."""


def aware_time(value, name):
    """Return ``value`` as a timezone-aware datetime; accept ISO 8601 strings."""
    return sla_time.aware_time(value, name, GateError)


def _iso(moment):
    return None if moment is None else moment.isoformat()


def _text_field(item, field, where, required=True):
    value = item.get(field, None if required else "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise GateError(f"{where}.{field} is {value!r}; expected a non-empty string")
    return value


def _item(raw, index):
    where = f"items[{index}]"
    if not isinstance(raw, Mapping):
        raise GateError(f"{where} is {raw!r}; expected a mapping")
    new_install = raw.get("new_install", False)
    if not isinstance(new_install, bool):
        raise GateError(f"{where}.new_install is {new_install!r}; expected true or false")
    item = {
        "component": _text_field(raw, "component", where),
        "installed": _text_field(raw, "installed", where, required=not new_install),
        "candidate": _text_field(raw, "candidate", where),
        "scheme": _text_field(raw, "scheme", where),
        "source": _text_field(raw, "source", where, required=False),
    }
    security = raw.get("security", False)
    if not isinstance(security, bool):
        raise GateError(f"{where}.security is {security!r}; expected true or false")
    item["security"] = security
    # CMS versions live in the CMS layer; everything else is the OS/stack.
    layer = raw.get("layer") or ("cms" if item["scheme"] in _CMS_SCHEMES else "os")
    if layer not in LAYERS:
        raise GateError(f"{where}.layer is {layer!r}; expected one of {', '.join(LAYERS)}")
    item["layer"] = layer
    for optional in ("candidate_suite", "release"):
        value = raw.get(optional)
        if value is not None and not isinstance(value, str):
            raise GateError(f"{where}.{optional} is {value!r}; expected a string")
        item[optional] = value
    published = raw.get("published")
    item["published"] = None if published is None else aware_time(published, f"{where}.published")
    if new_install:
        item.update(new_install=True, needed_by=_text_field(raw, "needed_by", where))
    return item


def _items(items):
    if isinstance(items, (str, Mapping)) or not isinstance(items, (list, tuple)):
        raise GateError(f"items is {items!r}; expected a list of proposed changes")
    return [_item(raw, index) for index, raw in enumerate(items)]


def _hashed(item):
    fields = HASHED_FIELDS + (NEW_INSTALL_FIELDS if item.get("new_install") else ())
    return {field: item[field] for field in fields}


def change_set_hash(items):
    """Return the SHA-256 hex digest identifying a set of proposed changes.

    Only the fields in HASHED_FIELDS count, and the order of items does not,
    so an approval stays valid for the same changes however they were found.
    """
    canonical_items = sorted(
        json.dumps(_hashed(item), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        for item in _items(items)
    )
    canonical = "[" + ",".join(canonical_items) + "]"
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _short(digest):
    return str(digest)[:12]


def _parse_hhmm(text):
    return datetime.time.fromisoformat(text)


def _windows_starting_on(targets, zone, day):
    weekday = WEEKDAYS[day.weekday()]
    for window in targets["maintenance_windows"]:
        if weekday not in window["days"]:
            continue
        start = datetime.datetime.combine(day, _parse_hhmm(window["start"]), zone)
        # An end at or before the start closes the window the next day.
        end_day = day if window["end"] > window["start"] else day + datetime.timedelta(days=1)
        end = datetime.datetime.combine(end_day, _parse_hhmm(window["end"]), zone)
        yield start.astimezone(datetime.UTC), end.astimezone(datetime.UTC)


def _blackout_on(targets, day):
    text = day.isoformat()
    return any(period["from"] <= text <= period["to"] for period in targets["blackout_dates"])


def window_status(targets, now):
    """Return whether ``now`` is inside a window, on a blackout date, and the next window start.

    Windows and blackout dates are read in the targets' timezone; a window
    belongs to the day it starts on, and a blackout date blocks every moment
    whose local date it is.
    """
    targets = validate_targets(targets)
    now = aware_time(now, "now").astimezone(datetime.UTC)
    zone = zoneinfo.ZoneInfo(targets["timezone"])
    today = now.astimezone(zone).date()
    blackout = _blackout_on(targets, today)
    inside = any(
        start <= now < end
        for day in (today - datetime.timedelta(days=1), today)
        for start, end in _windows_starting_on(targets, zone, day)
    )
    return {
        "in_window": inside and not blackout,
        "blackout": blackout,
        "next_window": _next_window_start(targets, zone, today, now),
    }


def _next_window_start(targets, zone, today, now):
    for offset in range(_WINDOW_SEARCH_DAYS):
        day = today + datetime.timedelta(days=offset)
        if _blackout_on(targets, day):
            continue
        starts = [start for start, _ in _windows_starting_on(targets, zone, day) if start > now]
        if starts:
            return min(starts).astimezone(zone)
    return None


def approval_status(approval, change_set, now, scope=None):
    """Check a recorded approval against the proposed change set.

    ``approval`` is ``{reference, change_set, approved_by, expires?,
    customer?, hosts?}``. With a ``scope`` ``{customer, host}`` the approval
    must name that customer, and, when it lists hosts, that host: the same
    change set on another customer's server is not approved by it.
    Returns ``{reference, approved_by, expires, valid, reason}``; raises
    GateError when the approval itself is malformed.
    """
    if not isinstance(approval, Mapping):
        raise GateError(
            f"approval is {approval!r}; expected a mapping with reference, change_set, approved_by"
        )
    for field in ("reference", "change_set", "approved_by"):
        _text_field(approval, field, "approval")
    reference = approval["reference"]
    expires = approval.get("expires")
    expires = None if expires is None else aware_time(expires, "approval.expires")
    now = aware_time(now, "now")
    status = {
        "reference": reference,
        "approved_by": approval["approved_by"],
        "expires": _iso(expires),
        "valid": False,
    }
    hosts = approval.get("hosts")
    if hosts is not None and (
        not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) for h in hosts)
    ):
        raise GateError(f"approval.hosts is {hosts!r}; expected a list of host names")
    if scope and approval.get("customer") != scope.get("customer"):
        status["reason"] = (
            f"approval {reference} is for customer {approval.get('customer')!r}, "
            f"not {scope.get('customer')!r}: an approval names the customer it comes from"
        )
    elif scope and hosts is not None and scope.get("host") not in hosts:
        status["reason"] = (
            f"approval {reference} covers hosts {', '.join(hosts)}, not {scope.get('host')}"
        )
    elif approval["change_set"] != change_set:
        status["reason"] = (
            f"approval {reference} is for change set {_short(approval['change_set'])}.., "
            f"the proposed set is {_short(change_set)}..: the candidates changed since approval"
        )
    elif expires is not None and now >= expires:
        status["reason"] = f"approval {reference} expired at {expires.isoformat()}"
    else:
        status["valid"] = True
        status["reason"] = f"approved by {approval['approved_by']} in {reference}"
    return status


def _decision(decision, reason, addressed_to, **extra):
    result = {
        "decision": decision,
        "reason": reason,
        "addressed_to": addressed_to,
        "outside_sla": False,
        "migration_project": None,
        "approval": None,
    }
    result.update(extra)
    return result


def _outside_window_reason(timing):
    if timing["next_window"] is None:
        return "outside a maintenance window, and no window is open in the coming year"
    return f"outside a maintenance window, next window at {timing['next_window'].isoformat()}"


def _security_deadline(item, targets, now):
    if not item["security"]:
        return None
    counted_from = item["published"] or now
    return counted_from + datetime.timedelta(hours=targets["security_update_deadline_hours"])


def _timed(item, targets, timing, applied, **extra):
    """Decide by the clock: blackout, window, or a security override of the window."""
    deadline = item["deadline"]
    if timing["blackout"]:
        return _decision(
            "advise",
            "today is a blackout date agreed with the customer; nothing is applied",
            "agency",
            **extra,
        )
    if timing["in_window"]:
        return _decision(applied[0], applied[1], "agency", **extra)
    reason = _outside_window_reason(timing)
    if deadline is None:
        return _decision("advise", reason, "agency", **extra)
    next_window = timing["next_window"]
    deadline_first = next_window is None or deadline <= next_window
    if deadline_first and targets["security_overrides_window"]:
        return _decision(
            applied[0],
            f"security update due by {deadline.isoformat()}, before the next window: "
            f"applied outside the window as this SLA allows; {applied[1]}",
            "agency",
            **extra,
        )
    if deadline_first:
        reason += (
            f"; the security deadline {deadline.isoformat()} comes first and this SLA "
            "does not allow applying outside a window: agree an emergency window with the customer"
        )
    return _decision("advise", reason, "agency", **extra)


def _periodic_due(targets, now, last_periodic_update):
    if last_periodic_update is None:
        return None
    due = last_periodic_update + datetime.timedelta(days=targets["periodic_update_interval_days"])
    return None if now >= due else due


def _decide_item(item, change, context):
    targets, control = context["targets"], context["control"]
    arrow = f"{item['component']} {item['installed']} -> {item['candidate']}"
    if change.kind in ("same", "downgrade"):
        return _decision("refuse", f"{change.reason}: nothing to apply", "agency")
    controller = control[item["layer"]]
    if controller != "agency":
        action = "plan a migration project for" if change.kind == "upgrade" else "apply"
        return _decision(
            "advise",
            f"the {item['layer']} layer is controlled by the {controller}: "
            f"advise the {controller} to {action} {item['component']} ({change.reason})",
            controller,
        )
    activity = _LAYER_ACTIVITY[item["layer"]]
    if activity not in targets["activities"]:
        return _decision(
            "advise",
            f"{activity} is not an activity of this SLA: advise the customer about {arrow}",
            "customer",
        )
    if change.kind == "upgrade":
        project = context["migration_project"]
        if project and context["timing"]["blackout"]:
            # A blackout date is a freeze: migration projects wait too.
            return _decision(
                "advise",
                f"{change.reason}; migration project {project} waits: today is a blackout date",
                "agency",
                outside_sla=True,
                migration_project=project,
            )
        if project:
            return _decision(
                "apply",
                f"{change.reason}; applied as migration project {project}",
                "agency",
                outside_sla=True,
                migration_project=project,
            )
        return _decision(
            "refuse",
            f"{change.reason}; advise the customer, and run it only as a named "
            "migration project (migration_project)",
            "customer",
        )
    if targets["decision_mode"] == "advisory":
        return _decide_advisory(item, change, context)
    return _decide_active(item, change, context)


def _decide_advisory(item, change, context):
    approval = context["approval"]
    if approval is None:
        return _decision(
            "advise",
            f"{change.reason}; this SLA is advisory: the customer decides, and a support request "
            f"approving change set {_short(context['change_set'])}.. lets it be applied",
            "customer",
        )
    if not approval["valid"]:
        return _decision("advise", approval["reason"], "customer", approval=approval["reference"])
    return _timed(
        item,
        context["targets"],
        context["timing"],
        ("apply_with_approval", f"{change.reason}; {approval['reason']}"),
        approval=approval["reference"],
    )


def _decide_active(item, change, context):
    targets, now = context["targets"], context["now"]
    if not item["security"]:
        due = _periodic_due(targets, now, context["last_periodic_update"])
        if due is not None:
            return _decision(
                "advise",
                f"{change.reason}; the next periodic update is due {due.isoformat()} "
                f"(every {targets['periodic_update_interval_days']} days)",
                "agency",
            )
    return _timed(item, targets, context["timing"], ("apply", change.reason))


_DECISION_FIELDS = ("decision", "outside_sla", "migration_project", "approval", "addressed_to")


def _decide_new_install(index, item, decided):
    """A package an update newly installs goes with the update that needs it."""
    needing = next(
        (e for e in decided if e["component"] == item["needed_by"] and not e.get("new_install")),
        None,
    )
    if needing is None:
        raise GateError(
            f"items[{index}] ({item['component']}) is needed by {item['needed_by']}, "
            "which is not among the proposed changes"
        )
    entry = {field: item[field] for field in (*HASHED_FIELDS, "layer", *NEW_INSTALL_FIELDS)}
    entry.update({field: needing[field] for field in _DECISION_FIELDS})
    entry.update(
        kind="new",
        deadline=needing["deadline"],
        installed_branch=None,
        candidate_branch=needing["candidate_branch"],
        reason=(
            f"new package needed by {needing['component']} {needing['installed']} -> "
            f"{needing['candidate']}, decided with it: {needing['reason']}"
        ),
    )
    return entry


def decide(
    items,
    targets,
    now,
    approval=None,
    layer_control=None,
    last_periodic_update=None,
    migration_project=None,
    scope=None,
):
    """Decide, per proposed change, what the SLA allows at ``now``.

    ``items`` are dicts with component, installed, candidate, scheme,
    security, source and layer (os, cms or access; cms for mediawiki and
    wordpress, else os, when left out); optional ``published`` (when a
    security fix appeared; its deadline counts from there, else from now),
    ``candidate_suite`` and ``release`` (for debian versions). ``targets``
    come from ``resolve_targets``; ``layer_control`` from ``resolve_control``.

    ``scope`` ``{customer, host}`` binds an approval to the customer (and
    the hosts it lists) it was given for.

    Returns ``{change_set, decision_mode, now, in_window, blackout,
    next_window, approval, items, summary}``; each item carries its decision,
    reason and who the reason is addressed to.
    """
    now = aware_time(now, "now")
    targets = validate_targets(targets)
    control = resolve_control(layer_control)
    proposed = _items(items)
    change_set = change_set_hash(proposed)
    if last_periodic_update is not None:
        last_periodic_update = aware_time(last_periodic_update, "last_periodic_update")
    if migration_project is not None and (
        not isinstance(migration_project, str) or not migration_project.strip()
    ):
        raise GateError(f"migration_project is {migration_project!r}; expected a project reference")
    timing = window_status(targets, now)
    context = {
        "targets": targets,
        "control": control,
        "now": now,
        "timing": timing,
        "change_set": change_set,
        # `sla_approval | default({})` in a playbook means "no approval".
        "approval": approval_status(approval, change_set, now, scope) if approval else None,
        "last_periodic_update": last_periodic_update,
        "migration_project": migration_project,
    }
    decided = []
    new_installs = []
    for index, item in enumerate(proposed):
        if item.get("new_install"):
            new_installs.append((index, item))
            continue
        try:
            change = classify_change(
                item["scheme"],
                item["installed"],
                item["candidate"],
                candidate_suite=item["candidate_suite"],
                release=item["release"],
            )
        except VersionError as e:
            raise GateError(f"items[{index}] ({item['component']}): {e}") from e
        item["deadline"] = _security_deadline(item, targets, now)
        entry = {field: item[field] for field in (*HASHED_FIELDS, "layer")}
        entry["kind"] = change.kind
        entry["deadline"] = _iso(item["deadline"])
        entry["installed_branch"] = change.installed_branch
        entry["candidate_branch"] = change.candidate_branch
        entry.update(_decide_item(item, change, context))
        decided.append(entry)
    decided += [_decide_new_install(index, item, decided) for index, item in new_installs]
    summary = dict.fromkeys(DECISIONS, 0)
    for entry in decided:
        summary[entry["decision"]] += 1
    return {
        "change_set": change_set,
        "decision_mode": targets["decision_mode"],
        "now": now.isoformat(),
        "in_window": timing["in_window"],
        "blackout": timing["blackout"],
        "next_window": _iso(timing["next_window"]),
        "approval": context["approval"],
        "items": decided,
        "summary": summary,
        # What the customer approved is the whole set: an advisory SLA applies
        # all of it or nothing, an active one applies what can be applied.
        "partial_apply": targets["decision_mode"] != "advisory",
    }
