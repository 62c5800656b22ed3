# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLA tier catalogue and per-customer targets.

The catalogue is plain data so that what the contract promises can be read,
overridden per customer and measured from the audit trail. ``resolve_targets``
merges a customer's overrides over the tier defaults and validates the result;
``resolve_control`` does the same for who controls each layer of a host.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import re
import zoneinfo
from collections.abc import Mapping

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_date

TIERS = ("basic", "medium", "pro")
DECISION_MODES = ("advisory", "active")
ACTIVITIES = ("updates", "cms", "deploy", "staging", "access", "docs", "backup")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
LAYERS = ("os", "cms", "access")
CONTROLLERS = ("agency", "hoster", "customer")

_OFFICE_HOURS = {
    "days": ["mon", "tue", "wed", "thu", "fri"],
    "start": "09:00",
    "end": "17:00",
}

TIER_DEFAULTS = {
    "basic": {
        "decision_mode": "advisory",
        "periodic_update_interval_days": 90,
        "security_update_deadline_hours": 168,
        "backup_retention_days": 14,
        "access_review_interval_days": 365,
        "credential_rotation_interval_days": 365,
        "timezone": "Europe/Amsterdam",
        # Basic work happens as a support request, so during office hours.
        "maintenance_windows": [_OFFICE_HOURS],
        "blackout_dates": [],
        "security_overrides_window": False,
        "activities": ["updates", "cms", "docs", "backup"],
    },
    "medium": {
        "decision_mode": "active",
        "periodic_update_interval_days": 90,
        "security_update_deadline_hours": 72,
        "backup_retention_days": 30,
        "access_review_interval_days": 180,
        "credential_rotation_interval_days": 180,
        "timezone": "Europe/Amsterdam",
        # The longest wait for a window, Friday 09:00 to Monday 07:00, is 70
        # hours: inside the 72-hour security deadline without overriding.
        "maintenance_windows": [
            {"days": ["mon", "wed", "fri"], "start": "07:00", "end": "09:00"},
        ],
        "blackout_dates": [],
        "security_overrides_window": False,
        "activities": list(ACTIVITIES),
    },
    "pro": {
        "decision_mode": "active",
        "periodic_update_interval_days": 30,
        "security_update_deadline_hours": 24,
        "backup_retention_days": 90,
        "access_review_interval_days": 90,
        "credential_rotation_interval_days": 90,
        "timezone": "Europe/Amsterdam",
        "maintenance_windows": [
            {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start": "06:00",
                "end": "08:00",
            },
            {"days": ["sat"], "start": "22:00", "end": "02:00"},
        ],
        "blackout_dates": [],
        "security_overrides_window": True,
        "activities": list(ACTIVITIES),
    },
}

_POSITIVE_INT_KEYS = {
    "periodic_update_interval_days": "a whole number of days greater than 0",
    "security_update_deadline_hours": "a whole number of hours greater than 0",
    "backup_retention_days": "a whole number of days greater than 0",
    "access_review_interval_days": "a whole number of days greater than 0",
    "credential_rotation_interval_days": "a whole number of days greater than 0",
}

_TIME_PATTERN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class SlaConfigError(SlaInputError):
    """A tier, override or control setting that cannot be used.

    ``key`` locates the setting (``maintenance_windows[0].start``) and
    ``detail`` says what was found and what is expected, so callers can put
    the variable name in front.
    """

    def __init__(self, key, detail):
        self.key = key
        self.detail = detail
        super().__init__(f"{key} {detail}")


def _shown(value):
    return repr(value) if isinstance(value, str) else str(value)


def _positive_int(key, value, expected):
    # bool is an int subclass; `true` as an interval is a typo, not 1 day.
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise SlaConfigError(key, f"is {_shown(value)}; expected {expected}")
    return value


def _choice(key, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise SlaConfigError(key, f"is {_shown(value)}; expected one of {', '.join(choices)}")
    return value


def _boolean(key, value):
    if not isinstance(value, bool):
        raise SlaConfigError(key, f"is {_shown(value)}; expected true or false")
    return value


def _timezone(key, value):
    expected = "an IANA timezone name such as Europe/Amsterdam"
    if not isinstance(value, str) or not value:
        raise SlaConfigError(key, f"is {_shown(value)}; expected {expected}")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise SlaConfigError(key, f"is {_shown(value)}; expected {expected}") from e
    return value


def _time_of_day(key, value):
    if not isinstance(value, str) or not _TIME_PATTERN.match(value):
        raise SlaConfigError(key, f"is {_shown(value)}; expected a time as HH:MM (00:00-23:59)")
    return value


def _window(key, value):
    if not isinstance(value, Mapping):
        raise SlaConfigError(key, f"is {_shown(value)}; expected a mapping with days, start, end")
    unknown = sorted(set(value) - {"days", "start", "end"})
    if unknown:
        raise SlaConfigError(
            f"{key}.{unknown[0]}", "is not a window setting; expected days, start, end"
        )
    for required in ("days", "start", "end"):
        if required not in value:
            raise SlaConfigError(f"{key}.{required}", "is missing")
    days = value["days"]
    if isinstance(days, str) or not isinstance(days, list) or not days:
        raise SlaConfigError(
            f"{key}.days",
            f"is {_shown(days)}; expected a non-empty list of {', '.join(WEEKDAYS)}",
        )
    for index, day in enumerate(days):
        _choice(f"{key}.days[{index}]", day, WEEKDAYS)
    start = _time_of_day(f"{key}.start", value["start"])
    end = _time_of_day(f"{key}.end", value["end"])
    if start == end:
        raise SlaConfigError(
            f"{key}.end",
            f"is {_shown(end)}, the same as start; expected a different time "
            "(an end before the start means the window runs past midnight)",
        )
    ordered_days = [day for day in WEEKDAYS if day in days]
    return {"days": ordered_days, "start": start, "end": end}


def _iso_date(key, value):
    # YAML turns an unquoted 2025-12-24 into a date; accept both spellings.
    # A date and time is not a date: a blackout is a whole day.
    if value not in (None, "") and not isinstance(value, datetime.datetime):
        with contextlib.suppress(SlaInputError):
            return parse_date(value, key)
    raise SlaConfigError(key, f"is {_shown(value)}; expected a date as YYYY-MM-DD")


def _blackout(key, value):
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"from", "to"})
        if unknown:
            raise SlaConfigError(
                f"{key}.{unknown[0]}", "is not a blackout setting; expected from, to"
            )
        for required in ("from", "to"):
            if required not in value:
                raise SlaConfigError(f"{key}.{required}", "is missing")
        first = _iso_date(f"{key}.from", value["from"])
        last = _iso_date(f"{key}.to", value["to"])
        if last < first:
            raise SlaConfigError(
                f"{key}.to",
                f"is {last.isoformat()}, before from; expected a date on or after {first}",
            )
    else:
        first = last = _iso_date(key, value)
    return {"from": first.isoformat(), "to": last.isoformat()}


def _list_of(key, value, item_validator):
    if isinstance(value, str) or not isinstance(value, list):
        raise SlaConfigError(key, f"is {_shown(value)}; expected a list")
    return [item_validator(f"{key}[{index}]", item) for index, item in enumerate(value)]


def _activities(key, value):
    validated = _list_of(key, value, lambda k, v: _choice(k, v, ACTIVITIES))
    return [activity for activity in ACTIVITIES if activity in validated]


_VALIDATORS = {
    "decision_mode": lambda k, v: _choice(k, v, DECISION_MODES),
    "timezone": _timezone,
    "maintenance_windows": lambda k, v: _list_of(k, v, _window),
    "blackout_dates": lambda k, v: _list_of(k, v, _blackout),
    "security_overrides_window": _boolean,
    "activities": _activities,
}
_VALIDATORS.update(
    {
        key: (lambda k, v, e=expected: _positive_int(k, v, e))
        for key, expected in _POSITIVE_INT_KEYS.items()
    }
)

TARGET_KEYS = tuple(TIER_DEFAULTS["basic"])
# Who decides (the customer after advice, or the agency) is the contract
# itself; an override would turn Basic into Medium without a new contract.
_FIXED_BY_TIER = frozenset({"decision_mode"})


def tier_defaults(tier):
    """Return a copy of the catalogue entry for ``tier``."""
    _choice("tier", tier, TIERS)
    return copy.deepcopy(TIER_DEFAULTS[tier])


def resolve_targets(tier, overrides=None):
    """Merge ``overrides`` over the defaults of ``tier`` and validate the result.

    Overrides replace whole keys (a customer's window list replaces the tier's
    list). The returned dict is normalised: weekdays in calendar order, blackout
    dates as ``{from, to}`` ISO strings, so it is stable and JSON-friendly.
    Raises SlaConfigError naming the key and what is expected.
    """
    targets = tier_defaults(tier)
    if overrides is None:
        overrides = {}
    if not isinstance(overrides, Mapping):
        raise SlaConfigError(
            "overrides",
            f"is {_shown(overrides)}; expected a mapping of target settings",
        )
    for key, value in overrides.items():
        if key in _FIXED_BY_TIER:
            raise SlaConfigError(
                str(key),
                "is set by the tier and cannot be overridden per customer: who decides is "
                "what the tier is (choose basic, medium or pro instead)",
            )
        if key not in _VALIDATORS:
            raise SlaConfigError(
                str(key),
                f"is not an SLA target; expected one of {', '.join(TARGET_KEYS)}",
            )
        targets[key] = value
    return {key: _VALIDATORS[key](key, targets[key]) for key in TARGET_KEYS}


def validate_targets(targets):
    """Validate a complete targets dict (as ``resolve_targets`` returns) and normalise it."""
    if not isinstance(targets, Mapping):
        raise SlaConfigError(
            "targets", f"is {_shown(targets)}; expected a mapping of target settings"
        )
    for key in TARGET_KEYS:
        if key not in targets:
            raise SlaConfigError(
                key, "is missing from the targets; build them with resolve_targets"
            )
    return {key: _VALIDATORS[key](key, targets[key]) for key in TARGET_KEYS}


def resolve_control(control=None):
    """Return who controls each layer (os, cms, access); the agency by default."""
    resolved = dict.fromkeys(LAYERS, "agency")
    if control is None:
        return resolved
    if not isinstance(control, Mapping):
        raise SlaConfigError(
            "control",
            f"is {_shown(control)}; expected a mapping of layer to controller",
        )
    for layer, controller in control.items():
        if layer not in LAYERS:
            raise SlaConfigError(str(layer), f"is not a layer; expected one of {', '.join(LAYERS)}")
        resolved[layer] = _choice(layer, controller, CONTROLLERS)
    return resolved
