# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    TARGET_KEYS,
    TIER_DEFAULTS,
    TIERS,
    SlaConfigError,
    resolve_control,
    resolve_targets,
    tier_defaults,
    validate_targets,
)


@pytest.mark.parametrize("tier", TIERS)
def test_every_tier_resolves_to_all_target_keys(tier):
    targets = resolve_targets(tier)
    assert tuple(targets) == TARGET_KEYS


def test_tier_decision_modes_follow_the_contract():
    assert resolve_targets("basic")["decision_mode"] == "advisory"
    assert resolve_targets("medium")["decision_mode"] == "active"
    assert resolve_targets("pro")["decision_mode"] == "active"


def test_pro_is_stricter_than_medium():
    medium, pro = resolve_targets("medium"), resolve_targets("pro")
    assert pro["security_update_deadline_hours"] < medium["security_update_deadline_hours"]
    assert pro["periodic_update_interval_days"] < medium["periodic_update_interval_days"]
    assert pro["security_overrides_window"] is True
    assert medium["security_overrides_window"] is False


def test_override_replaces_only_the_given_key():
    targets = resolve_targets("medium", {"periodic_update_interval_days": 30})
    assert targets["periodic_update_interval_days"] == 30
    assert targets["security_update_deadline_hours"] == 72


def test_resolving_does_not_change_the_catalogue():
    targets = resolve_targets("pro", {"activities": ["updates"]})
    targets["maintenance_windows"].append({"days": ["sun"], "start": "01:00", "end": "02:00"})
    assert len(TIER_DEFAULTS["pro"]["maintenance_windows"]) == 2
    assert "backup" in TIER_DEFAULTS["pro"]["activities"]
    tier_defaults("pro")["activities"].clear()
    assert TIER_DEFAULTS["pro"]["activities"]


def test_windows_are_normalised_to_calendar_order():
    window = {"days": ["fri", "mon"], "start": "22:00", "end": "02:00"}
    targets = resolve_targets("pro", {"maintenance_windows": [window]})
    assert targets["maintenance_windows"] == [
        {"days": ["mon", "fri"], "start": "22:00", "end": "02:00"}
    ]


def test_blackout_dates_accept_strings_dates_and_ranges():
    targets = resolve_targets(
        "medium",
        {
            "blackout_dates": [
                "2025-12-24",
                datetime.date(2025, 4, 18),
                {"from": "2025-12-31", "to": "2026-01-01"},
            ]
        },
    )
    assert targets["blackout_dates"] == [
        {"from": "2025-12-24", "to": "2025-12-24"},
        {"from": "2025-04-18", "to": "2025-04-18"},
        {"from": "2025-12-31", "to": "2026-01-01"},
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"colour": "red"}, "colour is not an SLA target; expected one of decision_mode"),
        ({"decision_mode": "active"}, "decision_mode is set by the tier and cannot be overridden"),
        (
            {"periodic_update_interval_days": 0},
            "periodic_update_interval_days is 0; expected a whole number of days greater than 0",
        ),
        (
            {"security_update_deadline_hours": -4},
            "security_update_deadline_hours is -4; expected a whole number of hours",
        ),
        (
            {"backup_retention_days": "30"},
            "backup_retention_days is '30'; expected a whole number of days",
        ),
        ({"access_review_interval_days": True}, "access_review_interval_days is True"),
        ({"security_overrides_window": "yes"}, "security_overrides_window is 'yes'; expected true"),
        ({"timezone": "Mars/Olympus"}, "timezone is 'Mars/Olympus'; expected an IANA timezone"),
        ({"activities": ["updates", "coffee"]}, "activities[1] is 'coffee'; expected one of"),
        ({"activities": "updates"}, "activities is 'updates'; expected a list"),
        ({"maintenance_windows": {"days": ["mon"]}}, "maintenance_windows is {"),
        (
            {"maintenance_windows": [{"days": ["mon"], "start": "24:00", "end": "01:00"}]},
            "maintenance_windows[0].start is '24:00'; expected a time as HH:MM",
        ),
        (
            {"maintenance_windows": [{"days": ["mon"], "start": "7:00", "end": "09:00"}]},
            "maintenance_windows[0].start is '7:00'",
        ),
        (
            {"maintenance_windows": [{"days": ["monday"], "start": "07:00", "end": "09:00"}]},
            "maintenance_windows[0].days[0] is 'monday'; expected one of mon, tue",
        ),
        (
            {"maintenance_windows": [{"days": [], "start": "07:00", "end": "09:00"}]},
            "maintenance_windows[0].days is []; expected a non-empty list",
        ),
        (
            {"maintenance_windows": [{"days": ["mon"], "start": "07:00"}]},
            "maintenance_windows[0].end is missing",
        ),
        (
            {"maintenance_windows": [{"days": ["mon"], "start": "07:00", "end": "07:00"}]},
            "maintenance_windows[0].end is '07:00', the same as start",
        ),
        (
            {"maintenance_windows": [{"days": ["mon"], "start": "07:00", "end": "08:00", "x": 1}]},
            "maintenance_windows[0].x is not a window setting",
        ),
        ({"blackout_dates": ["24-12-2025"]}, "blackout_dates[0] is '24-12-2025'; expected a date"),
        (
            {"blackout_dates": [{"from": "2025-02-01", "to": "2025-01-01"}]},
            "blackout_dates[0].to is 2025-01-01, before from",
        ),
        ({"blackout_dates": [{"from": "2025-02-01"}]}, "blackout_dates[0].to is missing"),
    ],
)
def test_invalid_overrides_name_the_key_and_the_expectation(overrides, message):
    with pytest.raises(SlaConfigError) as raised:
        resolve_targets("medium", overrides)
    assert message in str(raised.value)


def test_config_error_is_a_value_error_with_key_and_detail():
    with pytest.raises(ValueError) as raised:
        resolve_targets("pro", {"backup_retention_days": 0})
    assert raised.value.key == "backup_retention_days"
    assert raised.value.detail.startswith("is 0; expected")


@pytest.mark.parametrize("tier", ["gold", "Basic", "", None, 3])
def test_unknown_tier_is_refused(tier):
    with pytest.raises(SlaConfigError, match="expected one of basic, medium, pro"):
        resolve_targets(tier)


def test_overrides_must_be_a_mapping():
    with pytest.raises(SlaConfigError, match="overrides is"):
        resolve_targets("pro", ["periodic_update_interval_days"])


def test_validate_targets_reports_a_missing_key():
    targets = resolve_targets("pro")
    del targets["timezone"]
    with pytest.raises(SlaConfigError, match="timezone is missing"):
        validate_targets(targets)


def test_control_defaults_to_the_agency():
    assert resolve_control() == {"os": "agency", "cms": "agency", "access": "agency"}


def test_control_overrides_one_layer():
    assert resolve_control({"os": "hoster"}) == {
        "os": "hoster",
        "cms": "agency",
        "access": "agency",
    }


@pytest.mark.parametrize(
    ("control", "message"),
    [
        ({"network": "hoster"}, "network is not a layer; expected one of os, cms, access"),
        ({"os": "friend"}, "os is 'friend'; expected one of agency, hoster, customer"),
        ("hoster", "control is 'hoster'"),
    ],
)
def test_invalid_control_is_refused(control, message):
    with pytest.raises(SlaConfigError) as raised:
        resolve_control(control)
    assert message in str(raised.value)
