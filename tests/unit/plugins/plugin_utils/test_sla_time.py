# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one reader of times and dates on the controller."""

from __future__ import annotations

import datetime

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import (
    SlaInputError,
    SlaOperationError,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import (
    aware_time,
    parse_date,
    parse_now,
)


class _AreaError(SlaInputError):
    pass


def test_now_keeps_its_timezone():
    assert parse_now("2025-03-04T10:00:00+01:00").utcoffset() == datetime.timedelta(hours=1)


def test_now_defaults_to_the_current_time_in_utc():
    before = datetime.datetime.now(datetime.UTC)
    now = parse_now(None)
    assert now.tzinfo is not None and before <= now <= datetime.datetime.now(datetime.UTC)
    assert parse_now("").tzinfo is not None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2025-03-04T10:00:00", "now is 2025-03-04T10:00:00 without a timezone"),
        (datetime.datetime(2025, 3, 4, 10), "now is 2025-03-04T10:00:00 without a timezone"),
        ("tomorrow", "now is 'tomorrow'; expected an ISO 8601 time"),
        (20250304, "now is 20250304; expected a timezone-aware datetime"),
    ],
)
def test_now_without_a_timezone_or_not_a_time_is_refused(value, message):
    with pytest.raises(SlaInputError, match=message):
        parse_now(value)


def test_a_caller_raises_its_own_input_error():
    with pytest.raises(_AreaError, match="expires is 'soon'"):
        aware_time("soon", "expires", _AreaError)
    with pytest.raises(_AreaError, match="ends is '31.10.2026'; expected a date YYYY-MM-DD"):
        parse_date("31.10.2026", "ends", _AreaError)


@pytest.mark.parametrize(
    "value",
    ["2026-10-31", datetime.date(2026, 10, 31), datetime.datetime(2026, 10, 31, 23, 59)],
)
def test_a_date_in_each_spelling_yaml_gives(value):
    assert parse_date(value, "ends") == datetime.date(2026, 10, 31)


@pytest.mark.parametrize("value", [None, ""])
def test_no_date_is_none(value):
    assert parse_date(value, "ends") is None


def test_the_two_error_kinds_are_what_callers_catch():
    assert issubclass(SlaInputError, ValueError)
    assert issubclass(SlaOperationError, RuntimeError)
    assert not issubclass(KeyError, (SlaInputError, SlaOperationError))
