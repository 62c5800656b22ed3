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

from ansible_collections.twovalue.sla.plugins.plugin_utils import sla_time
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    LAYERS,
    WEEKDAYS,
    resolve_control,
    validate_targets,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import (
    VersionError,
    classify_change,
)

DECISIONS = ("apply", "advise", "refuse", "apply_with_approval")
APPLY_DECISIONS = ("apply", "apply_with_approval")
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


# The tier rule for every kind of change the agency makes. A row says which
# layer the change happens on (an update: its item's), which activity of the
# SLA covers it, whether the layer's controller decides first, and what the
# agency may do: "agency" by itself, "approval" with the customer's approval
# of the change set, "window" by itself inside a maintenance window, "timed"
# inside a window or before a security deadline, "advise" never by itself.
TIER_RULES = {
    #                layer,    activity,  control, without activity, advisory,   active
    "update":       (None,     None,      True,    "advise",         "approval", "timed"),
    "access_grant": ("access", "access",  False,   "approval",       "approval", "agency"),
    "rotation":     ("access", "access",  False,   "approval",       "approval", "window"),
    "deploy":       ("cms",    "deploy",  False,   "approval",       "agency",   "agency"),
    "schema_step":  ("cms",    "cms",     True,    "advise",         "advise",   "window"),
}  # fmt: skip

# What each kind of change says to whoever the rule addresses.
_SAYS = {
    "access_grant": {
        "agency": "the agency manages the accesses it controls (active tier)",
        "no_approval": "new accesses are advised: the tier is advisory, so they wait for the "
        "customer's approval of change set {change_set}",
        "invalid_approval": "new accesses wait for approval: {approval_reason}",
    },
    "rotation": {
        "window": "inside a maintenance window (the site's configuration changes)",
        "no_window": "outside the maintenance windows; next window {next_window}",
        "no_approval": "the tier is advisory: waits for approval of change set {change_set}",
    },
    "deploy": {
        # The promotion rules give the reason of a deploy the tier allows.
        "agency": "",
        "no_approval": "deploys are not part of this tier's activities: each needs the "
        "customer's approval of change set {change_set}",
    },
    "schema_step": {
        "control": "the CMS layer is not maintained by the agency",
        "activity": "the CMS layer is not maintained by the agency",
        "advise": "the schema state of this wiki was never recorded; run update.php once "
        "with the customer's approval",
        "window": "schema state never recorded: update.php establishes it",
        "no_window": "schema state never recorded; waits for a window",
    },
    "update": {
        "control": "the {layer} layer is controlled by the {controller}: advise the "
        "{controller} to {controller_action} {component} ({change})",
        "activity": "{activity} is not an activity of this SLA: advise the customer about {arrow}",
        "no_approval": "{change}; this SLA is advisory: the customer decides, and a support "
        "request approving change set {short_change_set}.. lets it be applied",
        "approved": "{change}; {approval_reason}",
        "agency": "{change}",
        "periodic": "{change}; the next periodic update is due {periodic_due} "
        "(every {interval} days)",
        "blackout": "today is a blackout date agreed with the customer; nothing is applied",
    },
}


def _answer(decision, reason, addressed_to, approval=None, outside_sla=False, project=None):
    return {
        "allowed": decision in APPLY_DECISIONS,
        "decision": decision,
        "reason": reason,
        "addressed_to": addressed_to,
        "outside_sla": outside_sla,
        "migration_project": project,
        "approval": approval,
    }


def may_change(
    kind,
    targets,
    now,
    *,
    layer=None,
    control=None,
    approval=None,
    change_set=None,
    scope=None,
    timing=None,
    facts=None,
):
    """May the agency make a change of ``kind`` on ``layer`` now; if not, what advice, to whom.

    ``kind`` is a row of TIER_RULES; ``targets`` come from ``resolve_targets``
    and ``control`` from ``resolve_control`` (or as configured). ``approval``
    is the customer's approval as given (or a callable returning it, called only when the
    rule asks for an approval): it is checked against
    ``change_set`` and ``scope`` only where the rule asks for one.
    ``timing`` is ``window_status`` at ``now``, computed when left out.
    ``facts`` fill an update's reasons: change (its classification),
    component, arrow, upgrade, security, deadline, last_periodic_update and
    migration_project.

    Returns ``{allowed, decision, reason, addressed_to, approval,
    outside_sla, migration_project}``: decision is one of DECISIONS, approval
    the reference of the approval that was weighed.
    """
    kind_layer, activity, by_control, without_activity, advisory, active = TIER_RULES[kind]
    layer = layer or kind_layer
    activity = activity or _LAYER_ACTIVITY[layer]
    facts = dict(facts or {}, layer=layer, activity=activity, change_set=change_set)
    says = _SAYS[kind]
    controller = resolve_control(control)[layer]
    if by_control and controller != "agency":
        action = "plan a migration project for" if facts.get("upgrade") else "apply"
        reason = says["control"].format(**facts, controller=controller, controller_action=action)
        return _answer("advise", reason, controller)
    if activity not in targets["activities"] and without_activity == "advise":
        return _answer("advise", says["activity"].format(**facts), "customer")
    timing = timing or window_status(targets, now)
    if facts.get("upgrade"):
        return _migration(facts, timing)
    if activity not in targets["activities"]:
        rule = without_activity
    else:
        rule = advisory if targets["decision_mode"] == "advisory" else active
    if rule == "advise":
        return _answer("advise", says["advise"], "agency")
    if rule == "agency":
        return _answer("apply", says["agency"], "agency")
    if rule == "window":
        if timing["in_window"]:
            return _answer("apply", says["window"], "agency")
        return _answer(
            "advise", says["no_window"].format(next_window=timing["next_window"]), "agency"
        )
    if rule == "approval":
        # A callable is read only here, so a tier that needs no approval never opens the file.
        if callable(approval):
            approval = approval()
        return _approved(kind, facts, targets, now, timing, approval, scope)
    return _by_the_clock(facts, targets, now, timing)


def _migration(facts, timing):
    """A new branch is outside the SLA: only as a named migration project, and not on a blackout."""
    project = facts.get("migration_project")
    if project and timing["blackout"]:
        return _answer(
            "advise",
            f"{facts['change']}; migration project {project} waits: today is a blackout date",
            "agency",
            outside_sla=True,
            project=project,
        )
    if project:
        return _answer(
            "apply",
            f"{facts['change']}; applied as migration project {project}",
            "agency",
            outside_sla=True,
            project=project,
        )
    return _answer(
        "refuse",
        f"{facts['change']}; advise the customer, and run it only as a named "
        "migration project (migration_project)",
        "customer",
    )


def _approved(kind, facts, targets, now, timing, approval, scope):
    """The customer's approval of the change set decides: none, one for other changes, or valid."""
    says = _SAYS[kind]
    if not approval:
        reason = says["no_approval"].format(**facts, short_change_set=_short(facts["change_set"]))
        return _answer("advise", reason, "customer")
    status = approval_status(approval, facts["change_set"], now, scope)
    if not status["valid"]:
        reason = says.get("invalid_approval", "{approval_reason}")
        # An update's record names the approval it did not accept.
        reference = status["reference"] if kind == "update" else None
        return _answer(
            "advise", reason.format(approval_reason=status["reason"]), "customer", reference
        )
    if kind != "update":
        return _answer("apply_with_approval", status["reason"], "agency", status["reference"])
    reason = says["approved"].format(**facts, approval_reason=status["reason"])
    return _timed(facts, targets, timing, "apply_with_approval", reason, status["reference"])


def _by_the_clock(facts, targets, now, timing):
    """An active SLA's update: the periodic rhythm, then the window or the security deadline."""
    says = _SAYS["update"]
    if not facts["security"]:
        due = _periodic_due(targets, now, facts.get("last_periodic_update"))
        if due is not None:
            reason = says["periodic"].format(
                **facts,
                periodic_due=due.isoformat(),
                interval=targets["periodic_update_interval_days"],
            )
            return _answer("advise", reason, "agency")
    return _timed(facts, targets, timing, "apply", says["agency"].format(**facts))


def _outside_window_reason(timing):
    if timing["next_window"] is None:
        return "outside a maintenance window, and no window is open in the coming year"
    return f"outside a maintenance window, next window at {timing['next_window'].isoformat()}"


def _security_deadline(item, targets, now):
    if not item["security"]:
        return None
    counted_from = item["published"] or now
    return counted_from + datetime.timedelta(hours=targets["security_update_deadline_hours"])


def _timed(facts, targets, timing, decision, reason, approval=None):
    """Decide by the clock: blackout, window, or a security override of the window."""
    deadline = facts["deadline"]
    if timing["blackout"]:
        return _answer("advise", _SAYS["update"]["blackout"], "agency", approval)
    if timing["in_window"]:
        return _answer(decision, reason, "agency", approval)
    held = _outside_window_reason(timing)
    if deadline is None:
        return _answer("advise", held, "agency", approval)
    next_window = timing["next_window"]
    deadline_first = next_window is None or deadline <= next_window
    if deadline_first and targets["security_overrides_window"]:
        return _answer(
            decision,
            f"security update due by {deadline.isoformat()}, before the next window: "
            f"applied outside the window as this SLA allows; {reason}",
            "agency",
            approval,
        )
    if deadline_first:
        held += (
            f"; the security deadline {deadline.isoformat()} comes first and this SLA "
            "does not allow applying outside a window: agree an emergency window with the customer"
        )
    return _answer("advise", held, "agency", approval)


def _periodic_due(targets, now, last_periodic_update):
    if last_periodic_update is None:
        return None
    due = last_periodic_update + datetime.timedelta(days=targets["periodic_update_interval_days"])
    return None if now >= due else due


def _decide_item(item, change, context):
    if change.kind in ("same", "downgrade"):
        return _answer("refuse", f"{change.reason}: nothing to apply", "agency")
    return may_change(
        "update",
        context["targets"],
        context["now"],
        layer=item["layer"],
        control=context["control"],
        approval=context["approval_given"],
        change_set=context["change_set"],
        scope=context["scope"],
        timing=context["timing"],
        facts={
            "change": change.reason,
            "component": item["component"],
            "arrow": f"{item['component']} {item['installed']} -> {item['candidate']}",
            "upgrade": change.kind == "upgrade",
            "security": item["security"],
            "deadline": item["deadline"],
            "last_periodic_update": context["last_periodic_update"],
            "migration_project": context["migration_project"],
        },
    )


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


def summarise(decided):
    """How many decisions of each kind."""
    summary = dict.fromkeys(DECISIONS, 0)
    for entry in decided:
        summary[entry["decision"]] += 1
    return summary


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
        "approval_given": approval,
        "scope": scope,
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
        answer = _decide_item(item, change, context)
        entry.update({field: answer[field] for field in ("reason", *_DECISION_FIELDS)})
        decided.append(entry)
    decided += [_decide_new_install(index, item, decided) for index, item in new_installs]
    summary = summarise(decided)
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
