# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the SLA gate over realistic, randomly generated maintenance runs.

Every scenario is a host's proposed changes across the version schemes the
collection knows (Debian packages from several suites, PHP, MariaDB, Apache,
MediaWiki, WordPress, semver), one of the three tiers with optional customer
overrides, a clock anywhere in several years and timezones, and optional
approvals, migration projects and layer control. The properties are the
rules of docs/tiers.md, "How the gate decides" and "The approval workflow".
Where a rule reads stricter than the documented order of the steps (a named
migration project is decided at step 4, before the tier and the clock), the
property follows the order and says so.
"""

from __future__ import annotations

import collections
import copy
import datetime
import json
import zoneinfo

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    DECISIONS,
    HASHED_FIELDS,
    change_set_hash,
    decide,
    window_status,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    ACTIVITIES,
    CONTROLLERS,
    LAYERS,
    TIERS,
    resolve_control,
    resolve_targets,
)
from hypothesis import given, settings
from hypothesis import strategies as st

APPLIED = ("apply", "apply_with_approval")
MIGRATION_PROJECT = "MP-2025-07"

# Clocks: several years, several zones (with and without daylight-saving time).
_CLOCK_ZONES = [
    datetime.UTC,
    zoneinfo.ZoneInfo("Europe/Amsterdam"),
    zoneinfo.ZoneInfo("America/New_York"),
    zoneinfo.ZoneInfo("Asia/Tokyo"),
    zoneinfo.ZoneInfo("Australia/Sydney"),
    datetime.timezone(datetime.timedelta(hours=5, minutes=30)),
]
_TARGET_ZONES = ["Europe/Amsterdam", "Europe/London", "America/New_York", "Asia/Kolkata", "UTC"]
_EPOCH = datetime.datetime(2023, 1, 1, tzinfo=datetime.UTC)
# A moment in 2023-2028 shown in one of the zones: always a real local time
# (and far cheaper to draw than st.datetimes probing every DST transition).
_now = st.builds(
    lambda seconds, zone: (_EPOCH + datetime.timedelta(seconds=seconds)).astimezone(zone),
    st.integers(0, 6 * 365 * 86400),
    st.sampled_from(_CLOCK_ZONES),
)


# Version pairs per scheme. Candidates are drawn near the installed version so
# that updates, upgrades, downgrades and same versions all occur often.


@st.composite
def _dotted_pair(draw, majors, minors, full_only=True):
    major = draw(st.sampled_from(majors))
    minor = draw(st.sampled_from(minors))
    patch = draw(st.integers(0, 30))
    move = draw(st.sampled_from(["stay", "stay", "stay", "minor+", "minor-", "major+"]))
    new_major, new_minor = major, minor
    if move == "minor+":
        new_minor = minor + 1
    elif move == "minor-" and minor > 0:
        new_minor = minor - 1
    elif move == "major+":
        new_major = major + 1
    new_patch = max(0, patch + draw(st.integers(-3, 6)))

    def text(x, y, z):
        if not full_only and z == 0 and draw(st.booleans()):
            return f"{x}.{y}"  # WordPress ships 6.5 as 6.5.0
        return f"{x}.{y}.{z}"

    return text(major, minor, patch), text(new_major, new_minor, new_patch)


@st.composite
def _mediawiki_pair(draw):
    if draw(st.integers(0, 5)) == 0:
        # Branch names compare with branch names only.
        old, new = draw(st.sampled_from([35, 39, 41, 42, 43])), draw(st.sampled_from([39, 43]))
        return f"REL1_{old}", f"REL1_{new}"
    return draw(_dotted_pair([1], [35, 39, 41, 42, 43]))


@st.composite
def _semver_pair(draw):
    def one():
        text = f"{draw(st.integers(0, 3))}.{draw(st.integers(0, 4))}.{draw(st.integers(0, 6))}"
        text += draw(st.sampled_from(["", "", "", "-rc.1", "-alpha", "-beta.2", "-0.3.7"]))
        return text + draw(st.sampled_from(["", "", "+build.5"]))

    old = one()
    if draw(st.booleans()):
        return old, one()
    # Same release line, another patch or pre-release.
    core = old.split("-")[0].split("+")[0]
    major, minor, patch = (int(part) for part in core.split("."))
    patch = max(0, patch + draw(st.integers(-2, 3)))
    return old, f"{major}.{minor}.{patch}" + draw(st.sampled_from(["", "-rc.2"]))


@st.composite
def _debian_release_pair(draw):
    if draw(st.booleans()):
        old = f"{draw(st.integers(11, 13))}.{draw(st.integers(0, 12))}"
        new = f"{draw(st.integers(11, 13))}.{draw(st.integers(0, 12))}"
        return old, new
    names = ["12", "13", "bookworm", "bookworm-security", "bookworm-backports", "trixie"]
    return draw(st.sampled_from(names)), draw(st.sampled_from(names))


_DEBIAN_MARKS = ["", "", "+deb12u1", "+deb12u3", "~deb12u2", "+deb13u1", "~bpo12+1"]
_DEBIAN_SUITES = [
    "12",
    "12-security",
    "12-updates",
    "12-backports",
    "13",
    "13-security",
    "bookworm",
    "bookworm-security",
    "bookworm-backports",
    "trixie",
    "trixie-security",
]


@st.composite
def _debian_fields(draw):
    """A Debian package change with the suite/release context the gate needs."""

    def version(upstream):
        epoch = draw(st.sampled_from(["", "", "", "1:"]))
        revision = f"{draw(st.integers(0, 3))}{draw(st.sampled_from(_DEBIAN_MARKS))}"
        return f"{epoch}{upstream}-{revision}"

    major, minor = draw(st.sampled_from([(8, 2), (10, 11), (2, 4), (3, 0)]))
    patch = draw(st.integers(0, 40))
    installed = version(f"{major}.{minor}.{patch}")
    candidate = version(f"{major}.{minor}.{max(0, patch + draw(st.integers(-2, 5)))}")
    release = draw(st.sampled_from(["12", "13", "bookworm", "trixie", None]))
    suite = draw(st.sampled_from([*_DEBIAN_SUITES, None, None]))
    if release is None:
        # Without the host's release, both sides need a release of their own.
        installed = installed.rsplit("-", 1)[0] + "-1+deb12u1"
        if suite is None:
            suite = "bookworm-security"
    fields = {"installed": installed, "candidate": candidate}
    if release is not None:
        fields["release"] = release
    if suite is not None:
        fields["candidate_suite"] = suite
    return fields


_COMPONENTS = {
    "debian": ["php8.2-fpm", "mariadb-server", "apache2", "openssl", "libc6"],
    "debian_release": ["debian"],
    "php": ["php"],
    "mariadb": ["mariadb"],
    "apache": ["apache2"],
    "mediawiki": ["mediawiki"],
    "wordpress": ["wordpress", "wordpress-core"],
    "semver": ["composer", "node-lib", "extension"],
}
_SOURCES = ["", "bookworm-security", "deb.sury.org", "https://releases.wikimedia.org", "git"]


_PAIRS = {
    "debian_release": _debian_release_pair(),
    "php": _dotted_pair([7, 8], [0, 1, 2, 3, 4]),
    "mariadb": _dotted_pair([10, 11], [6, 11, 4]),
    "apache": _dotted_pair([2], [4]),
    "mediawiki": _mediawiki_pair(),
    "wordpress": _dotted_pair([5, 6], [4, 5, 6, 7], full_only=False),
    "semver": _semver_pair(),
}
_SCHEMES = st.sampled_from(sorted(_COMPONENTS))
_COMPONENT_NAMES = {scheme: st.sampled_from(names) for scheme, names in _COMPONENTS.items()}
_LAYER_OR_DEFAULT = st.sampled_from([None, None, *LAYERS])
_DEBIAN = _debian_fields()


@st.composite
def _item(draw):
    scheme = draw(_SCHEMES)
    if scheme == "debian":
        fields = draw(_DEBIAN)
    else:
        installed, candidate = draw(_PAIRS[scheme])
        fields = {"installed": installed, "candidate": candidate}
    item = {
        "component": draw(_COMPONENT_NAMES[scheme]),
        "scheme": scheme,
        "security": draw(st.booleans()),
        "source": draw(st.sampled_from(_SOURCES)),
        **fields,
    }
    layer = draw(_LAYER_OR_DEFAULT)
    if layer is not None:
        item["layer"] = layer
    return item


_ITEM_LISTS = st.lists(_item(), max_size=6)


@st.composite
def _items_with_published(draw, now):
    items = draw(_ITEM_LISTS)
    for item in items:
        if item["security"] and draw(st.booleans()):
            ago = datetime.timedelta(minutes=draw(st.integers(0, 60 * 24 * 30)))
            item["published"] = (now - ago).isoformat()
    return items


_WINDOW_CHOICES = [
    [{"days": ["mon", "wed", "fri"], "start": "07:00", "end": "09:00"}],
    [{"days": ["sat", "sun"], "start": "22:00", "end": "01:00"}],
    [{"days": ["tue"], "start": "23:30", "end": "00:30"}],
    [],
]


@st.composite
def _overrides(draw, tier, now, blackout_today):
    overrides = {}
    if draw(st.booleans()):
        overrides["timezone"] = draw(st.sampled_from(_TARGET_ZONES))
    if draw(st.integers(0, 3)) == 0:
        overrides["maintenance_windows"] = draw(st.sampled_from(_WINDOW_CHOICES))
    if draw(st.integers(0, 3)) == 0:
        overrides["activities"] = draw(
            st.lists(st.sampled_from(ACTIVITIES), unique=True, min_size=1)
        )
    if tier != "basic" and draw(st.integers(0, 3)) == 0:
        overrides["security_overrides_window"] = draw(st.booleans())
    zone = zoneinfo.ZoneInfo(
        overrides.get("timezone", resolve_targets(tier)["timezone"]),
    )
    today = now.astimezone(zone).date()
    blackout = []
    if blackout_today:
        before = datetime.timedelta(days=draw(st.integers(0, 3)))
        after = datetime.timedelta(days=draw(st.integers(0, 3)))
        if before or after:
            blackout.append(
                {"from": (today - before).isoformat(), "to": (today + after).isoformat()}
            )
        else:
            blackout.append(today.isoformat())
    elif draw(st.booleans()):
        # Nearby blackout dates that may or may not cover today.
        offset = datetime.timedelta(days=draw(st.integers(-3, 10)))
        blackout.append((today + offset).isoformat())
    if blackout or draw(st.booleans()):
        overrides["blackout_dates"] = blackout
    return overrides


_layer_control = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(LAYERS), st.sampled_from(CONTROLLERS), max_size=3),
)


@st.composite
def _approval(draw, change_set, now):
    kind = draw(st.sampled_from(["none", "empty", "exact", "exact_future", "expired", "other_set"]))
    if kind == "none":
        return kind, None
    if kind == "empty":
        return kind, {}
    approval = {
        "reference": f"SR-{draw(st.integers(1, 9999))}",
        "change_set": change_set,
        "approved_by": "j.jansen@acme.example",
    }
    zone = draw(st.sampled_from(_CLOCK_ZONES))
    if kind == "exact_future":
        later = datetime.timedelta(seconds=draw(st.integers(1, 90 * 86400)))
        approval["expires"] = (now + later).astimezone(zone).isoformat()
    elif kind == "expired":
        # Expiry exactly at now counts as expired.
        earlier = datetime.timedelta(seconds=draw(st.integers(0, 90 * 86400)))
        approval["expires"] = (now - earlier).astimezone(zone).isoformat()
    elif kind == "other_set":
        other = draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
        approval["change_set"] = other if other != change_set else "0" * 63 + "x"
    return kind, approval


_DAYS_SINCE_UPDATE = st.one_of(st.none(), st.integers(0, 200))
_MIGRATION_PROJECTS = st.sampled_from([None, None, MIGRATION_PROJECT])
_TIERS = st.sampled_from(TIERS)


@st.composite
def scenarios(draw, tier=None, blackout_today=False, approvals=True):
    now = draw(_now)
    tier = tier or draw(_TIERS)
    targets = resolve_targets(tier, draw(_overrides(tier, now, blackout_today)))
    if not blackout_today and draw(st.booleans()):
        # Windows are a few hours a week: move half the clocks into one (every
        # window lasts at least an hour) so that applying is common, too.
        next_window = window_status(targets, now)["next_window"]
        if next_window is not None:
            inside = next_window + datetime.timedelta(minutes=draw(st.integers(0, 59)))
            now = inside.astimezone(now.tzinfo)
    items = draw(_items_with_published(now))
    change_set = change_set_hash(items)
    approval_kind, approval = draw(_approval(change_set, now)) if approvals else ("none", None)
    days_since_update = draw(_DAYS_SINCE_UPDATE)
    last_periodic_update = (
        None if days_since_update is None else now - datetime.timedelta(days=days_since_update)
    )
    return {
        "tier": tier,
        "approval_kind": approval_kind,
        "kwargs": {
            "items": items,
            "targets": targets,
            "now": now,
            "approval": approval,
            "layer_control": draw(_layer_control),
            "last_periodic_update": last_periodic_update,
            "migration_project": draw(_MIGRATION_PROJECTS),
        },
    }


def _identity(entry_or_item):
    """A stable identity for an item: its hashed fields, as canonical JSON."""
    return json.dumps(
        {field: entry_or_item.get(field) for field in HASHED_FIELDS},
        sort_keys=True,
    )


def _decided(scenario):
    kwargs = scenario["kwargs"]
    result = decide(**kwargs)
    assert len(result["items"]) == len(kwargs["items"])
    return result, list(zip(kwargs["items"], result["items"], strict=True))


def _is_migration(entry):
    return entry["kind"] == "upgrade" and entry["outside_sla"] is True


# 1. One decision per item, a readable reason, a summary that adds up.


@settings(deadline=None, max_examples=80)
@given(scenarios())
def test_every_item_gets_exactly_one_decision_with_a_reason(scenario):
    result, pairs = _decided(scenario)
    for item, entry in pairs:
        assert _identity(entry) == _identity(item)
        assert entry["decision"] in DECISIONS
        assert isinstance(entry["reason"], str) and entry["reason"].strip()
        assert entry["addressed_to"] in CONTROLLERS
    counted = collections.Counter(entry["decision"] for entry in result["items"])
    assert result["summary"] == {decision: counted[decision] for decision in DECISIONS}
    assert sum(result["summary"].values()) == len(scenario["kwargs"]["items"])


# 2. Upgrades only as a migration project; downgrades and same never.


@settings(deadline=None, max_examples=80)
@given(scenarios())
def test_upgrades_only_as_migration_project_downgrades_never(scenario):
    project = scenario["kwargs"]["migration_project"]
    _, pairs = _decided(scenario)
    for _, entry in pairs:
        if entry["kind"] in ("downgrade", "same"):
            assert entry["decision"] == "refuse"
        if entry["kind"] == "upgrade":
            # An approval is not enough: never apply_with_approval.
            assert entry["decision"] != "apply_with_approval"
            if entry["decision"] == "apply":
                assert project is not None
                assert entry["outside_sla"] is True
                assert entry["migration_project"] == project
        else:
            assert entry["outside_sla"] is False
            assert entry["migration_project"] is None


# 3. The advisory tier applies only with a valid approval for this exact set.


@settings(deadline=None, max_examples=120)
@given(scenarios(tier="basic"))
def test_advisory_tier_applies_only_with_a_valid_approval(scenario):
    kwargs = scenario["kwargs"]
    result, pairs = _decided(scenario)
    approval, now = kwargs["approval"], kwargs["now"]
    valid = bool(approval) and approval["change_set"] == change_set_hash(kwargs["items"])
    if valid and approval.get("expires") is not None:
        valid = now < datetime.datetime.fromisoformat(approval["expires"])
    assert valid == (scenario["approval_kind"] in ("exact", "exact_future"))
    for _, entry in pairs:
        if entry["decision"] == "apply":
            # The documented order decides upgrades (step 4) before the tier
            # (step 5): a named migration project is applied outside the SLA
            # in every tier. Nothing else is applied without approval.
            assert _is_migration(entry)
            assert kwargs["migration_project"] is not None
        if entry["decision"] == "apply_with_approval":
            assert valid
            assert entry["approval"] == approval["reference"]
            # Still inside a window and never on a blackout date.
            assert result["in_window"] and not result["blackout"]


# 4. Approvals are bound to the exact change set.


@settings(deadline=None, max_examples=60)
@given(scenarios(approvals=False), st.data())
def test_approval_for_another_change_set_never_applies(scenario, data):
    kwargs = scenario["kwargs"]
    other = data.draw(st.lists(_item(), min_size=1, max_size=4))
    approval = {
        "reference": "SR-1",
        "change_set": change_set_hash(other),
        "approved_by": "customer",
    }
    if approval["change_set"] == change_set_hash(kwargs["items"]):
        return  # the same set drawn twice: not "another" set
    result = decide(**dict(kwargs, approval=approval))
    assert result["approval"]["valid"] is False
    assert "changed since approval" in result["approval"]["reason"]
    assert all(entry["decision"] != "apply_with_approval" for entry in result["items"])


def _changed(field, value, data):
    if field == "security":
        return not value
    choices = ["1.39.18", "8.2.30", "git", "x", "mw"] + ([""] if field == "source" else [])
    replacement = data.draw(st.sampled_from(choices))
    if replacement == value:
        replacement = value + "+1"
    return replacement


@settings(deadline=None, max_examples=60)
@given(scenarios(tier="basic", approvals=False), st.data())
def test_changing_any_hashed_field_invalidates_the_approval(scenario, data):
    kwargs = scenario["kwargs"]
    items = kwargs["items"]
    if not items:
        return
    index = data.draw(st.integers(0, len(items) - 1))
    field = data.draw(st.sampled_from(HASHED_FIELDS))
    old_hash = change_set_hash(items)
    changed = copy.deepcopy(items)
    changed[index][field] = _changed(field, changed[index].get(field, ""), data)
    assert change_set_hash(changed) != old_hash
    if field in ("installed", "candidate", "scheme"):
        return  # the changed version may no longer parse; the hash is what matters
    approval = {"reference": "SR-9", "change_set": old_hash, "approved_by": "customer"}
    result = decide(**dict(kwargs, items=changed, approval=approval))
    assert result["approval"]["valid"] is False
    assert all(entry["decision"] != "apply_with_approval" for entry in result["items"])


# 5. The decision for an item does not depend on the order of the items.


@settings(deadline=None, max_examples=60)
@given(scenarios(), st.randoms(use_true_random=False))
def test_decisions_do_not_depend_on_the_order_of_items(scenario, random):
    kwargs = scenario["kwargs"]
    shuffled = list(kwargs["items"])
    random.shuffle(shuffled)
    first = decide(**kwargs)
    second = decide(**dict(kwargs, items=shuffled))
    assert first["change_set"] == second["change_set"]
    assert first["summary"] == second["summary"]

    def keyed(result):
        # Equal items may occur twice; compare as a multiset of (identity, entry).
        return sorted(
            json.dumps([_identity(entry), entry], sort_keys=True) for entry in result["items"]
        )

    assert keyed(first) == keyed(second)


# 6. Layers the agency does not control become advice for their controller.


@settings(deadline=None, max_examples=80)
@given(scenarios())
def test_layers_of_others_are_advised_to_their_controller(scenario):
    control = resolve_control(scenario["kwargs"]["layer_control"])
    _, pairs = _decided(scenario)
    for _, entry in pairs:
        controller = control[entry["layer"]]
        if controller == "agency":
            continue
        assert entry["decision"] not in APPLIED
        if entry["kind"] in ("update", "upgrade"):
            assert entry["decision"] == "advise"
            assert entry["addressed_to"] == controller
            assert f"controlled by the {controller}" in entry["reason"]
        else:
            # Step 1 comes first: a downgrade or same version is refused.
            assert entry["decision"] == "refuse"


# 7. A blackout date is a freeze.


@settings(deadline=None, max_examples=100)
@given(scenarios(blackout_today=True))
def test_nothing_is_applied_on_a_blackout_date(scenario):
    result, pairs = _decided(scenario)
    assert result["blackout"] is True
    assert result["in_window"] is False
    for _, entry in pairs:
        # A freeze holds migration projects too.
        assert entry["decision"] not in APPLIED
        if _is_migration(entry):
            assert "blackout date" in entry["reason"]
        held_back_by_the_clock = (
            entry["decision"] == "advise"
            and entry["addressed_to"] == "agency"
            and entry["kind"] == "update"
            and "periodic update is due" not in entry["reason"]
        )
        if held_back_by_the_clock:
            assert "blackout date" in entry["reason"]


# 8. decide is a pure function of its inputs.


@settings(deadline=None, max_examples=50)
@given(scenarios())
def test_decide_is_deterministic_and_leaves_its_inputs_alone(scenario):
    kwargs = scenario["kwargs"]
    before = copy.deepcopy(kwargs)
    first = decide(**kwargs)
    assert kwargs == before
    assert decide(**copy.deepcopy(kwargs)) == first
    assert json.dumps(first, sort_keys=True) == json.dumps(decide(**kwargs), sort_keys=True)
