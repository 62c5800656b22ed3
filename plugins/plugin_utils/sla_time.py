# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way the controller reads a time, a date and the decision clock.

A time without a timezone is refused everywhere: the gate compares it with
windows in the customer's timezone, and a guess would move a change by hours.
``error`` lets a caller raise its own subclass of SlaInputError, so the
message names the setting and the type names the area.
"""

from __future__ import annotations

import datetime

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError

_EXAMPLE = "2025-03-04T10:00:00+01:00"


def aware_time(value, name, error=SlaInputError):
    """Return ``value`` as a timezone-aware datetime; accept ISO 8601 strings."""
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError as e:
            raise error(f"{name} is {value!r}; expected an ISO 8601 time such as {_EXAMPLE}") from e
    if not isinstance(value, datetime.datetime):
        raise error(f"{name} is {value!r}; expected a timezone-aware datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(
            f"{name} is {value.isoformat()} without a timezone; expected a timezone-aware time "
            f"such as {_EXAMPLE}"
        )
    return value


def utc_time(value, name, error=SlaInputError):
    """``value`` read as ``aware_time`` does, in UTC: how records and period bounds compare."""
    return aware_time(value, name, error).astimezone(datetime.UTC)


def parse_now(value, error=SlaInputError):
    """The moment a decision is made for: ``value`` (with a timezone) or the current time."""
    if value in (None, ""):
        return datetime.datetime.now(datetime.UTC)
    return aware_time(value, "now", error)


def parse_date(value, name, error=SlaInputError):
    """A calendar date from YYYY-MM-DD text, a date, or a datetime (its date); None stays None.

    YAML turns an unquoted 2025-12-24 into a date: both spellings are accepted.
    """
    if value in (None, ""):
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            pass
    raise error(f"{name} is {value!r}; expected a date YYYY-MM-DD")
