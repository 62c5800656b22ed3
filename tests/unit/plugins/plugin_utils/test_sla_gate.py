# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import hashlib
import json
import zoneinfo

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    GateError,
    approval_status,
    change_set_hash,
    decide,
    window_status,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets
from hypothesis import given, settings
from hypothesis import strategies as st

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
# 2025-03-04 is a Tuesday.
TUESDAY_IN_PRO_WINDOW = datetime.datetime(2025, 3, 4, 6, 30, tzinfo=AMSTERDAM)
TUESDAY_NOON = datetime.datetime(2025, 3, 4, 12, 0, tzinfo=AMSTERDAM)


def _item(**changes):
    item = {
        "component": "mediawiki",
        "installed": "1.39.10",
        "candidate": "1.39.17",
        "scheme": "mediawiki",
        "security": False,
        "source": "https://releases.wikimedia.org",
        "layer": "cms",
    }
    item.update(changes)
    return item


def _security_item(**changes):
    return _item(
        component="php8.2-fpm",
        installed="8.2.28-1~deb12u1",
        candidate="8.2.29-1~deb12u1",
        scheme="debian",
        security=True,
        source="bookworm-security",
        layer="os",
        **changes,
    )


def _only(result):
    (item,) = result["items"]
    return item


# Change-set hash


def test_hash_matches_canonical_json_of_the_hashed_fields():
    item = _item(extra="ignored")
    canonical = json.dumps(
        [
            {
                "candidate": "1.39.17",
                "component": "mediawiki",
                "installed": "1.39.10",
                "scheme": "mediawiki",
                "security": False,
                "source": "https://releases.wikimedia.org",
            }
        ],
        sort_keys=True,
        separators=(",", ":"),
    )
    assert change_set_hash([item]) == hashlib.sha256(canonical.encode()).hexdigest()


def test_hash_ignores_order_and_extra_keys():
    first, second = _item(), _security_item()
    noisy = dict(second, layer="cms", published="2025-03-01T00:00:00+00:00", note="x")
    assert change_set_hash([first, second]) == change_set_hash([noisy, first])


@pytest.mark.parametrize(
    "field, value",
    [
        ("candidate", "1.39.18"),
        ("installed", "1.39.11"),
        ("security", True),
        ("source", "git"),
        ("component", "mw"),
    ],
)
def test_hash_changes_when_a_hashed_field_changes(field, value):
    assert change_set_hash([_item()]) != change_set_hash([_item(**{field: value})])


_text = st.text(min_size=1, max_size=8).filter(str.strip)
_items = st.lists(
    st.fixed_dictionaries(
        {
            "component": _text,
            "installed": _text,
            "candidate": _text,
            "scheme": _text,
            "security": st.booleans(),
            "source": st.text(max_size=8),
        }
    ),
    max_size=5,
)


@settings(deadline=None)  # a shared CI machine is slow, not wrong
@given(_items, st.randoms())
def test_hash_is_order_insensitive_for_any_items(items, random):
    shuffled = list(items)
    random.shuffle(shuffled)
    assert change_set_hash(items) == change_set_hash(shuffled)


# Windows and blackout dates


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        (TUESDAY_IN_PRO_WINDOW, True),
        (datetime.datetime(2025, 3, 4, 5, 30, tzinfo=datetime.UTC), True),
        (datetime.datetime(2025, 3, 4, 8, 0, tzinfo=AMSTERDAM), False),
        (TUESDAY_NOON, False),
        # Saturday 22:00-02:00 runs past midnight into Sunday.
        (datetime.datetime(2025, 3, 9, 1, 30, tzinfo=AMSTERDAM), True),
        (datetime.datetime(2025, 3, 9, 2, 30, tzinfo=AMSTERDAM), False),
        # After the switch to summer time the window stays at 06:00 local time.
        (datetime.datetime(2025, 3, 31, 4, 30, tzinfo=datetime.UTC), True),
        (datetime.datetime(2025, 3, 31, 5, 30, tzinfo=datetime.UTC), True),
        (datetime.datetime(2025, 3, 31, 6, 30, tzinfo=datetime.UTC), False),
    ],
)
def test_window_membership_in_the_customer_timezone(now, inside):
    assert window_status(resolve_targets("pro"), now)["in_window"] is inside


def test_next_window_is_the_next_start():
    status = window_status(resolve_targets("medium"), TUESDAY_NOON)
    assert status["next_window"] == datetime.datetime(2025, 3, 5, 7, 0, tzinfo=AMSTERDAM)


def test_medium_windows_never_wait_past_the_security_deadline():
    # Medium may not apply outside a window, so its windows must come often
    # enough that a security update found at any time of the week can wait.
    targets = resolve_targets("medium")
    assert targets["security_overrides_window"] is False
    deadline = datetime.timedelta(hours=targets["security_update_deadline_hours"])
    start = datetime.datetime(2025, 3, 3, 0, 0, tzinfo=AMSTERDAM)
    for quarter_hour in range(7 * 24 * 4):
        now = start + datetime.timedelta(minutes=15 * quarter_hour)
        status = window_status(targets, now)
        assert status["in_window"] or status["next_window"] - now <= deadline, now


def test_blackout_date_closes_the_window_and_is_skipped_for_the_next():
    targets = resolve_targets(
        "pro", {"blackout_dates": ["2025-03-04", {"from": "2025-03-05", "to": "2025-03-06"}]}
    )
    status = window_status(targets, TUESDAY_IN_PRO_WINDOW)
    assert status["in_window"] is False
    assert status["blackout"] is True
    assert status["next_window"] == datetime.datetime(2025, 3, 7, 6, 0, tzinfo=AMSTERDAM)


def test_no_windows_means_no_next_window():
    status = window_status(resolve_targets("pro", {"maintenance_windows": []}), TUESDAY_NOON)
    assert status == {"in_window": False, "blackout": False, "next_window": None}


@pytest.mark.parametrize(
    "now", [datetime.datetime(2025, 3, 4, 12, 0), "2025-03-04T12:00:00", "yesterday"]
)
def test_naive_or_unreadable_times_are_errors(now):
    with pytest.raises(GateError, match="now is"):
        window_status(resolve_targets("pro"), now)


def test_iso_strings_with_offset_are_accepted():
    assert window_status(resolve_targets("pro"), "2025-03-04T05:30:00Z")["in_window"] is True


# Active tiers


def test_active_tier_applies_updates_inside_a_window():
    result = decide([_item(), _security_item()], resolve_targets("pro"), TUESDAY_IN_PRO_WINDOW)
    assert [item["decision"] for item in result["items"]] == ["apply", "apply"]
    assert result["items"][0]["reason"] == "1.39.10 -> 1.39.17 stays on branch 1.39"
    assert result["summary"] == {"apply": 2, "advise": 0, "refuse": 0, "apply_with_approval": 0}
    assert result["in_window"] is True


def test_active_tier_advises_outside_a_window_with_the_next_window():
    item = _only(decide([_item()], resolve_targets("medium"), TUESDAY_NOON))
    assert item["decision"] == "advise"
    assert item["reason"] == (
        "outside a maintenance window, next window at 2025-03-05T07:00:00+01:00"
    )
    assert item["addressed_to"] == "agency"


def test_security_past_deadline_overrides_the_window_where_the_tier_allows():
    published = TUESDAY_NOON - datetime.timedelta(hours=23)
    item = _only(
        decide(
            [_security_item(published=published.isoformat())], resolve_targets("pro"), TUESDAY_NOON
        )
    )
    assert item["decision"] == "apply"
    assert "applied outside the window as this SLA allows" in item["reason"]
    assert item["deadline"] == "2025-03-04T13:00:00+01:00"


def test_security_with_time_left_before_the_next_window_waits():
    item = _only(decide([_security_item()], resolve_targets("pro"), TUESDAY_NOON))
    assert item["decision"] == "advise"
    assert item["reason"].startswith("outside a maintenance window, next window at 2025-03-05")


def test_security_deadline_does_not_override_where_the_tier_forbids():
    published = TUESDAY_NOON - datetime.timedelta(hours=71)
    item = _only(
        decide([_security_item(published=published)], resolve_targets("medium"), TUESDAY_NOON)
    )
    assert item["decision"] == "advise"
    assert "does not allow applying outside a window" in item["reason"]


def test_blackout_date_holds_back_even_overdue_security_updates():
    targets = resolve_targets("pro", {"blackout_dates": ["2025-03-04"]})
    published = TUESDAY_NOON - datetime.timedelta(days=3)
    item = _only(decide([_security_item(published=published)], targets, TUESDAY_NOON))
    assert item["decision"] == "advise"
    assert "blackout date" in item["reason"]


def test_regular_update_waits_for_the_periodic_interval():
    last = TUESDAY_IN_PRO_WINDOW - datetime.timedelta(days=10)
    result = decide(
        [_item(), _security_item()],
        resolve_targets("pro"),
        TUESDAY_IN_PRO_WINDOW,
        last_periodic_update=last,
    )
    regular, security = result["items"]
    assert regular["decision"] == "advise"
    assert (
        "next periodic update is due 2025-03-24T06:30:00+01:00 (every 30 days)"
        in (regular["reason"])
    )
    assert security["decision"] == "apply"


def test_regular_update_is_due_after_the_interval():
    last = TUESDAY_IN_PRO_WINDOW - datetime.timedelta(days=30)
    item = _only(
        decide([_item()], resolve_targets("pro"), TUESDAY_IN_PRO_WINDOW, last_periodic_update=last)
    )
    assert item["decision"] == "apply"


# Upgrades, downgrades and migration projects


def test_upgrade_is_refused_with_advice():
    upgrade = _item(candidate="1.43.1")
    item = _only(decide([upgrade], resolve_targets("pro"), TUESDAY_IN_PRO_WINDOW))
    assert item["decision"] == "refuse"
    assert item["kind"] == "upgrade"
    assert "migration project" in item["reason"]
    assert item["addressed_to"] == "customer"


def test_upgrade_stays_refused_with_a_valid_approval():
    upgrade = _item(candidate="1.43.1")
    approval = {
        "reference": "SR-1234",
        "change_set": change_set_hash([upgrade]),
        "approved_by": "customer@example.org",
    }
    result = decide([upgrade], resolve_targets("basic"), TUESDAY_NOON, approval=approval)
    assert result["approval"]["valid"] is True
    assert _only(result)["decision"] == "refuse"


def test_migration_project_applies_the_upgrade_outside_the_sla():
    upgrade = _item(candidate="1.43.1")
    item = _only(
        decide([upgrade], resolve_targets("medium"), TUESDAY_NOON, migration_project="MP-2025-07")
    )
    assert item["decision"] == "apply"
    assert item["outside_sla"] is True
    assert item["migration_project"] == "MP-2025-07"
    assert item["reason"].endswith("applied as migration project MP-2025-07")


def test_migration_project_does_not_change_regular_updates():
    result = decide(
        [_item()], resolve_targets("medium"), TUESDAY_NOON, migration_project="MP-2025-07"
    )
    assert _only(result)["decision"] == "advise"
    assert _only(result)["outside_sla"] is False


@pytest.mark.parametrize(("candidate", "kind"), [("1.39.9", "downgrade"), ("1.39.10", "same")])
def test_downgrade_and_same_are_refused(candidate, kind):
    item = _only(
        decide([_item(candidate=candidate)], resolve_targets("pro"), TUESDAY_IN_PRO_WINDOW)
    )
    assert (item["decision"], item["kind"]) == ("refuse", kind)


# Advisory tier and approvals


def test_advisory_tier_advises_and_names_the_change_set():
    result = decide([_item()], resolve_targets("basic"), TUESDAY_NOON)
    item = _only(result)
    assert item["decision"] == "advise"
    assert item["addressed_to"] == "customer"
    assert f"approving change set {result['change_set'][:12]}.." in item["reason"]


def test_advisory_tier_applies_with_a_matching_approval():
    items = [_item(), _security_item()]
    approval = {
        "reference": "SR-1234",
        "change_set": change_set_hash(list(reversed(items))),
        "approved_by": "j.jansen@customer.example",
        "expires": "2025-03-31T00:00:00+02:00",
    }
    result = decide(items, resolve_targets("basic"), TUESDAY_NOON, approval=approval)
    assert [item["decision"] for item in result["items"]] == ["apply_with_approval"] * 2
    assert result["items"][0]["approval"] == "SR-1234"
    assert result["items"][0]["reason"].endswith("approved by j.jansen@customer.example in SR-1234")


def test_approval_for_another_change_set_says_why():
    approved = [_item()]
    proposed = [_item(candidate="1.39.18")]
    approval = {
        "reference": "SR-1234",
        "change_set": change_set_hash(approved),
        "approved_by": "customer",
    }
    result = decide(proposed, resolve_targets("basic"), TUESDAY_NOON, approval=approval)
    item = _only(result)
    assert item["decision"] == "advise"
    assert item["reason"] == (
        f"approval SR-1234 is for change set {change_set_hash(approved)[:12]}.., "
        f"the proposed set is {result['change_set'][:12]}..: the candidates changed since approval"
    )


def test_expired_approval_is_not_used():
    approval = {
        "reference": "SR-1234",
        "change_set": change_set_hash([_item()]),
        "approved_by": "customer",
        "expires": "2025-03-01T00:00:00+01:00",
    }
    item = _only(decide([_item()], resolve_targets("basic"), TUESDAY_NOON, approval=approval))
    assert item["decision"] == "advise"
    assert item["reason"] == "approval SR-1234 expired at 2025-03-01T00:00:00+01:00"


def test_approved_change_still_waits_for_the_window():
    evening = datetime.datetime(2025, 3, 4, 20, 0, tzinfo=AMSTERDAM)
    approval = {
        "reference": "SR-1234",
        "change_set": change_set_hash([_item()]),
        "approved_by": "customer",
    }
    item = _only(decide([_item()], resolve_targets("basic"), evening, approval=approval))
    assert item["decision"] == "advise"
    assert "next window at 2025-03-05T09:00:00+01:00" in item["reason"]


@pytest.mark.parametrize(
    ("approval", "message"),
    [
        ("SR-1234", "approval is 'SR-1234'; expected a mapping"),
        ({"change_set": "ab", "approved_by": "x"}, "approval.reference is None"),
        ({"reference": "SR-1", "change_set": "ab", "approved_by": ""}, "approval.approved_by"),
        (
            {"reference": "SR-1", "change_set": "ab", "approved_by": "x", "expires": "2025-03-31"},
            "approval.expires is 2025-03-31T00:00:00 without a timezone",
        ),
    ],
)
def test_malformed_approval_is_an_error(approval, message):
    with pytest.raises(GateError) as raised:
        approval_status(approval, "ab", TUESDAY_NOON)
    assert message in str(raised.value)


# Layers and activities


def test_layer_controlled_by_the_hoster_becomes_advice_for_the_hoster():
    result = decide(
        [_security_item()],
        resolve_targets("pro"),
        TUESDAY_IN_PRO_WINDOW,
        layer_control={"os": "hoster"},
    )
    item = _only(result)
    assert item["decision"] == "advise"
    assert item["addressed_to"] == "hoster"
    assert item["reason"].startswith(
        "the os layer is controlled by the hoster: advise the hoster to apply php8.2-fpm"
    )


def test_activity_outside_the_sla_becomes_advice():
    targets = resolve_targets("pro", {"activities": ["updates", "backup"]})
    item = _only(decide([_item()], targets, TUESDAY_IN_PRO_WINDOW))
    assert item["decision"] == "advise"
    assert item["reason"].startswith("cms is not an activity of this SLA")


def test_layer_defaults_from_the_scheme():
    item = _item()
    del item["layer"]
    result = decide(
        [item], resolve_targets("pro"), TUESDAY_IN_PRO_WINDOW, layer_control={"cms": "customer"}
    )
    assert _only(result)["layer"] == "cms"
    assert _only(result)["addressed_to"] == "customer"


# Input errors


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ("mediawiki", "items is 'mediawiki'; expected a list"),
        ([_item(security="yes")], "items[0].security is 'yes'; expected true or false"),
        ([_item(candidate="")], "items[0].candidate is ''; expected a non-empty string"),
        ([_item(layer="network")], "items[0].layer is 'network'; expected one of os, cms, access"),
        ([_item(candidate="1.39.x")], "items[0] (mediawiki): '1.39.x' is not a mediawiki version"),
        ([_item(published="2025-03-01")], "items[0].published is 2025-03-01T00:00:00 without"),
    ],
)
def test_bad_items_are_errors_that_point_at_the_item(items, message):
    with pytest.raises(GateError) as raised:
        decide(items, resolve_targets("pro"), TUESDAY_NOON)
    assert message in str(raised.value)


def test_naive_last_periodic_update_is_an_error():
    with pytest.raises(GateError, match="last_periodic_update is 2025-01-01T00:00:00 without"):
        decide(
            [_item()],
            resolve_targets("pro"),
            TUESDAY_NOON,
            last_periodic_update=datetime.datetime(2025, 1, 1),
        )


def test_empty_approval_counts_as_no_approval():
    result = decide([_item()], resolve_targets("basic"), TUESDAY_NOON, approval={})
    assert result["approval"] is None
    assert _only(result)["decision"] == "advise"


def test_empty_change_set_decides_nothing():
    result = decide([], resolve_targets("pro"), TUESDAY_NOON)
    assert result["items"] == []
    assert result["change_set"] == hashlib.sha256(b"[]").hexdigest()


def test_an_approval_is_bound_to_its_customer_and_listed_hosts():
    change_set = "a" * 64
    now = datetime.datetime(2025, 3, 4, 10, 0, tzinfo=datetime.UTC)
    approval = {
        "reference": "SR-7",
        "customer": "acme",
        "hosts": ["web1"],
        "change_set": change_set,
        "approved_by": "Jo",
    }
    ok = approval_status(approval, change_set, now, {"customer": "acme", "host": "web1"})
    assert ok["valid"] is True
    other_host = approval_status(approval, change_set, now, {"customer": "acme", "host": "web2"})
    assert other_host["valid"] is False
    assert other_host["reason"] == "approval SR-7 covers hosts web1, not web2"
    other_customer = approval_status(
        approval, change_set, now, {"customer": "globex", "host": "web1"}
    )
    assert other_customer["valid"] is False
    assert "is for customer 'acme', not 'globex'" in other_customer["reason"]
    with pytest.raises(GateError, match="approval.hosts is 'web1'"):
        approval_status(dict(approval, hosts="web1"), change_set, now, {"customer": "acme"})


# Packages an update installs newly


def _new_install(**changes):
    fields = {
        "component": "libphp-new1",
        "installed": "",
        "new_install": True,
        "needed_by": "php8.2-fpm",
    }
    return dict(_security_item(), **dict(fields, **changes))


def test_a_new_install_is_decided_with_the_update_that_needs_it():
    result = decide(
        [_new_install(), _security_item()], resolve_targets("pro"), TUESDAY_IN_PRO_WINDOW
    )
    needing, new = result["items"]
    assert (new["component"], new["decision"], new["kind"]) == ("libphp-new1", "apply", "new")
    assert new["needed_by"] == "php8.2-fpm"
    assert new["deadline"] == needing["deadline"]
    assert result["summary"]["apply"] == 2


def test_a_new_install_is_hashed_with_what_needs_it():
    base = [_security_item(), _new_install()]
    assert change_set_hash(base) != change_set_hash(
        [_security_item(), _new_install(needed_by="php8.2-cli")]
    )
    # A set without new installs hashes as it always did.
    assert change_set_hash([_security_item()]) == change_set_hash(
        [_security_item(new_install=False)]
    )


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (_new_install(needed_by="php8.2-cli"), "needed by php8.2-cli, which is not among"),
        (_new_install(needed_by=""), "needed_by is ''"),
        (_new_install(new_install="yes"), "new_install is 'yes'"),
    ],
)
def test_a_new_install_without_its_update_is_an_error(item, message):
    with pytest.raises(GateError, match=message):
        decide([_security_item(), item], resolve_targets("pro"), TUESDAY_IN_PRO_WINDOW)
