# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side update planning, through the real SLA gate."""

from __future__ import annotations

import copy
import json

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import change_set_hash
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import (
    PlanError,
    advice_json,
    advice_markdown,
    plan_updates,
    update_items,
)

SECURITY = {"label": "Debian-Security", "release": "12", "suite": "oldstable-security"}
POINT = {"label": "Debian", "release": "12.12", "suite": "oldstable"}
TRIXIE = {"label": "Debian", "release": "13.2", "suite": "stable"}
BACKPORTS = {
    "label": "Debian Backports",
    "release": "bookworm-backports",
    "suite": "oldstable-backports",
}
OS = {
    "id": "debian",
    "version_id": "12",
    "codename": "bookworm",
    "pretty_name": "Debian GNU/Linux 12 (bookworm)",
}

# Times in Europe/Amsterdam (CET in November). 2025-11-04 is a Tuesday.
TUE_0730 = "2025-11-04T07:30:00+01:00"  # pro window (Mon-Fri 06-08)
TUE_1000 = "2025-11-04T10:00:00+01:00"  # basic window (office hours)
TUE_1200 = "2025-11-04T12:00:00+01:00"  # pro and medium closed, basic open
TUE_2000 = "2025-11-04T20:00:00+01:00"  # every window closed
WED_0730 = "2025-11-05T07:30:00+01:00"  # medium window (Mon/Wed/Fri 07-09)
SUN_0300 = "2025-11-09T03:00:00+01:00"  # next pro window Monday 06:00, 27 h away


def _pending(package, installed, candidate, origins, security=False, new_install=False):
    return {
        "package": package,
        "installed": installed,
        "candidate": candidate,
        "arch": "amd64",
        "origins": origins,
        "suite": origins[0]["suite"] if origins else "",
        "security": security,
        "new_install": new_install,
    }


APACHE = _pending("apache2", "2.4.68-1~deb12u1", "2.4.71-1~deb12u1", [SECURITY], security=True)
TZDATA = _pending("tzdata", "2025a-0+deb12u1", "2025b-0+deb12u1", [POINT])
CURL = _pending("curl", "7.88.1-10+deb12u12", "8.14.1-2", [TRIXIE])
NGINX = _pending("nginx", "1.22.1-9+deb12u1", "1.26.3-1~bpo12+1", [BACKPORTS])
NEW = _pending("libnew1", None, "1.0-1", [POINT], new_install=True)

UPDATES = ("apache2", "tzdata")
UPGRADES = ("curl", "nginx")


def _state(*pending):
    return {"os": dict(OS), "updates": {"pending": [copy.deepcopy(p) for p in pending]}}


FULL = (APACHE, TZDATA, CURL, NGINX, NEW)


def _plan(tier, now, *pending, **kwargs):
    return plan_updates(_state(*(pending or FULL)), resolve_targets(tier), now, **kwargs)


def _decisions(plan):
    return {d["component"]: d["decision"] for d in plan["decisions"]}


def _applied(plan):
    return [p["name"] for p in plan["apply"]]


# --------------------------------------------------------------------------- update_items


@pytest.mark.parametrize(
    ("origins", "suite"),
    [
        ([SECURITY], "12-security"),
        ([POINT], "12"),
        ([TRIXIE], "13"),
        ([BACKPORTS], "12-backports"),
        (
            [{"label": "Debian-Security", "release": "13", "suite": "stable-security"}],
            "13-security",
        ),
        ([{"label": "Debian", "release": "12", "suite": "bookworm-updates"}], "12-updates"),
        # No origin at all: the candidate is read as the host's own release.
        ([], "12"),
    ],
)
def test_candidate_suite_turns_apt_origins_into_numbered_suites(origins, suite):
    (item,), _new = update_items(_state(_pending("pkg", "1.0-1", "1.0-2", origins)))
    assert item["candidate_suite"] == suite


def test_items_carry_what_the_gate_needs():
    items, new_packages = update_items(_state(APACHE, TZDATA))
    assert new_packages == []
    assert items == [
        {
            "component": "apache2",
            "installed": "2.4.68-1~deb12u1",
            "candidate": "2.4.71-1~deb12u1",
            "scheme": "debian",
            "security": True,
            "source": "Debian-Security:12/oldstable-security",
            "candidate_suite": "12-security",
            "release": "12",
            "layer": "os",
        },
        {
            "component": "tzdata",
            "installed": "2025a-0+deb12u1",
            "candidate": "2025b-0+deb12u1",
            "scheme": "debian",
            "security": False,
            "source": "Debian:12.12/oldstable",
            "candidate_suite": "12",
            "release": "12",
            "layer": "os",
        },
    ]


def test_source_lists_every_origin():
    pending = _pending("openssl", "3.0.17-1~deb12u2", "3.0.17-1~deb12u3", [SECURITY, POINT], True)
    (item,), _ = update_items(_state(pending))
    assert item["source"] == "Debian-Security:12/oldstable-security, Debian:12.12/oldstable"
    assert item["candidate_suite"] == "12-security"


def test_point_release_in_os_version_is_cut_to_the_release():
    state = _state(TZDATA)
    state["os"]["version_id"] = "12.12"
    (item,), _ = update_items(state)
    assert item["release"] == "12"


@pytest.mark.parametrize(
    "pending",
    [NEW, _pending("libother2", None, "2.0-1", [POINT], new_install=False)],
    ids=["new_install", "nothing_installed"],
)
def test_new_installs_are_kept_apart(pending):
    items, new_packages = update_items(_state(TZDATA, pending))
    assert [i["component"] for i in items] == ["tzdata"]
    assert [(p["package"], p["candidate"]) for p in new_packages] == [
        (pending["package"], pending["candidate"])
    ]
    assert "never as a side effect of SLA updates" in new_packages[0]["reason"]


@pytest.mark.parametrize(
    ("state", "missing"),
    [
        ({"os": OS}, "'updates'"),
        ({"updates": {"pending": []}}, "'os'"),
        ({"os": OS, "updates": {}}, "'pending'"),
        ({"os": {"id": "debian"}, "updates": {"pending": []}}, "'version_id'"),
        ({"os": OS, "updates": None}, "not subscriptable"),
    ],
)
def test_state_without_updates_or_os_is_a_plan_error(state, missing):
    with pytest.raises(PlanError, match="run twovalue.sla.host_probe") as caught:
        update_items(state)
    assert missing in str(caught.value)
    with pytest.raises(PlanError):
        plan_updates(state, resolve_targets("pro"), TUE_0730)


# --------------------------------------------------------------------------- plan_updates


def test_pro_in_window_applies_updates_and_refuses_upgrades():
    plan = _plan("pro", TUE_0730)
    assert plan["in_window"] is True
    assert plan["decision_mode"] == "active"
    assert _decisions(plan) == {
        "apache2": "apply",
        "tzdata": "apply",
        "curl": "refuse",
        "nginx": "refuse",
    }
    assert plan["apply"] == [
        {
            "name": "apache2",
            "version": "2.4.71-1~deb12u1",
            "previous": "2.4.68-1~deb12u1",
            "group": "apache2",
        },
        {
            "name": "tzdata",
            "version": "2025b-0+deb12u1",
            "previous": "2025a-0+deb12u1",
            "group": "tzdata",
        },
    ]
    assert sorted(d["component"] for d in plan["advice"]) == ["curl", "nginx"]
    assert [p["package"] for p in plan["new_packages"]] == ["libnew1"]
    assert plan["summary"] == {"apply": 2, "advise": 0, "refuse": 2, "apply_with_approval": 0}
    assert plan["now"] == TUE_0730


def test_pro_outside_window_advises_until_the_next_window():
    plan = _plan("pro", TUE_1200)
    assert plan["in_window"] is False
    assert plan["next_window"] == "2025-11-05T06:00:00+01:00"
    assert plan["apply"] == []
    decisions = {d["component"]: d for d in plan["decisions"]}
    for name in UPDATES:
        assert decisions[name]["decision"] == "advise"
        assert "next window at 2025-11-05T06:00:00+01:00" in decisions[name]["reason"]


def test_pro_security_update_overrides_the_window_when_the_deadline_comes_first():
    plan = _plan("pro", SUN_0300)
    assert plan["in_window"] is False
    assert _decisions(plan)["apache2"] == "apply"
    assert _decisions(plan)["tzdata"] == "advise"
    assert _applied(plan) == ["apache2"]
    apache = next(d for d in plan["decisions"] if d["component"] == "apache2")
    assert "applied outside the window as this SLA allows" in apache["reason"]


def test_medium_in_window_applies_updates():
    plan = _plan("medium", WED_0730)
    assert plan["in_window"] is True
    assert _applied(plan) == list(UPDATES)
    assert {_decisions(plan)[n] for n in UPGRADES} == {"refuse"}


def test_medium_outside_window_does_not_override_for_security():
    plan = _plan("medium", TUE_1200)
    assert plan["in_window"] is False
    assert plan["next_window"] == "2025-11-05T07:00:00+01:00"
    assert plan["apply"] == []
    assert {_decisions(plan)[n] for n in UPDATES} == {"advise"}


def test_medium_periodic_update_not_yet_due_holds_back_only_non_security():
    plan = _plan("medium", WED_0730, last_periodic_update="2025-10-20T07:30:00+02:00")
    assert _applied(plan) == ["apache2"]
    tzdata = next(d for d in plan["decisions"] if d["component"] == "tzdata")
    assert tzdata["decision"] == "advise"
    assert "next periodic update is due" in tzdata["reason"]


@pytest.mark.parametrize("now", [TUE_1000, TUE_2000])
def test_basic_without_approval_only_advises(now):
    plan = _plan("basic", now)
    assert plan["decision_mode"] == "advisory"
    assert plan["in_window"] is (now == TUE_1000)
    assert plan["apply"] == []
    assert {_decisions(plan)[n] for n in UPDATES} == {"advise"}
    assert {_decisions(plan)[n] for n in UPGRADES} == {"refuse"}
    tzdata = next(d for d in plan["decisions"] if d["component"] == "tzdata")
    assert tzdata["addressed_to"] == "customer"
    assert plan["change_set"][:12] in tzdata["reason"]


@pytest.mark.parametrize("tier", ["basic", "medium", "pro"])
@pytest.mark.parametrize("now", [TUE_0730, TUE_1000, TUE_1200, TUE_2000, WED_0730, SUN_0300])
def test_debian_13_and_backports_candidates_are_refused_as_upgrades(tier, now):
    change_set = _plan(tier, now)["change_set"]
    approval = {"reference": "SR-1", "change_set": change_set, "approved_by": "Jo"}
    plan = _plan(tier, now, approval=approval)
    decisions = {d["component"]: d for d in plan["decisions"]}
    for name in UPGRADES:
        assert decisions[name]["kind"] == "upgrade"
        assert decisions[name]["decision"] == "refuse"
        assert "migration project" in decisions[name]["reason"]
    assert decisions["curl"]["candidate_branch"] == "debian 13"
    assert decisions["nginx"]["candidate_branch"] == "debian 12-backports"
    assert not set(UPGRADES) & set(_applied(plan))


def test_new_packages_nothing_needs_stay_out_of_the_change_set_and_apply():
    with_new = _plan("pro", TUE_0730)
    without = _plan("pro", TUE_0730, APACHE, TZDATA, CURL, NGINX)
    assert with_new["change_set"] == without["change_set"]
    assert with_new["change_set"] == change_set_hash(update_items(_state(*FULL))[0])
    assert "libnew1" not in _applied(with_new)
    assert "libnew1" not in _decisions(with_new)


def test_approval_for_this_change_set_applies_with_approval_in_window():
    change_set = _plan("basic", TUE_1000)["change_set"]
    approval = {"reference": "SR-4711", "change_set": change_set, "approved_by": "Jo Customer"}
    plan = _plan("basic", TUE_1000, approval=approval)
    assert plan["approval"]["valid"] is True
    assert plan["approval"]["reference"] == "SR-4711"
    assert {_decisions(plan)[n] for n in UPDATES} == {"apply_with_approval"}
    assert _applied(plan) == list(UPDATES)
    apache = next(d for d in plan["decisions"] if d["component"] == "apache2")
    assert apache["approval"] == "SR-4711"
    assert "approved by Jo Customer in SR-4711" in apache["reason"]


def test_approval_outside_window_still_waits_for_the_window():
    change_set = _plan("basic", TUE_2000)["change_set"]
    approval = {"reference": "SR-4711", "change_set": change_set, "approved_by": "Jo"}
    plan = _plan("basic", TUE_2000, approval=approval)
    assert plan["approval"]["valid"] is True
    assert plan["apply"] == []
    assert {_decisions(plan)[n] for n in UPDATES} == {"advise"}


def test_approval_for_another_change_set_advises_with_the_reason():
    other = "0" * 64
    approval = {"reference": "SR-4711", "change_set": other, "approved_by": "Jo"}
    plan = _plan("basic", TUE_1000, approval=approval)
    assert plan["approval"]["valid"] is False
    assert plan["apply"] == []
    for name in UPDATES:
        decision = next(d for d in plan["decisions"] if d["component"] == name)
        assert decision["decision"] == "advise"
        assert decision["reason"] == (
            f"approval SR-4711 is for change set 000000000000.., the proposed set is "
            f"{plan['change_set'][:12]}..: the candidates changed since approval"
        )


def test_approval_goes_stale_when_a_candidate_changes():
    change_set = _plan("basic", TUE_1000)["change_set"]
    approval = {"reference": "SR-4711", "change_set": change_set, "approved_by": "Jo"}
    newer = dict(TZDATA, candidate="2025c-0+deb12u1")
    plan = _plan("basic", TUE_1000, APACHE, newer, CURL, NGINX, approval=approval)
    assert plan["change_set"] != change_set
    assert plan["apply"] == []
    assert "the candidates changed since approval" in plan["decisions"][0]["reason"]


def test_expired_approval_is_advised():
    change_set = _plan("basic", TUE_1000)["change_set"]
    approval = {
        "reference": "SR-4711",
        "change_set": change_set,
        "approved_by": "Jo",
        "expires": "2025-11-01T00:00:00+01:00",
    }
    plan = _plan("basic", TUE_1000, approval=approval)
    assert plan["apply"] == []
    assert "expired at 2025-11-01T00:00:00+01:00" in plan["decisions"][0]["reason"]


def test_os_layer_controlled_by_the_hoster_is_advised_to_the_hoster():
    plan = _plan("pro", TUE_0730, control={"os": "hoster"})
    assert plan["apply"] == []
    apache = next(d for d in plan["decisions"] if d["component"] == "apache2")
    assert (apache["decision"], apache["addressed_to"]) == ("advise", "hoster")


def test_nothing_pending_is_an_empty_plan():
    plan = plan_updates({"os": OS, "updates": {"pending": []}}, resolve_targets("pro"), TUE_0730)
    assert (plan["apply"], plan["advice"], plan["new_packages"]) == ([], [], [])
    assert plan["summary"] == {"apply": 0, "advise": 0, "refuse": 0, "apply_with_approval": 0}


# --------------------------------------------------------------------------- advice documents


def test_markdown_for_advisory_tier_explains_how_to_approve():
    plan = _plan("basic", TUE_1000)
    text = advice_markdown(plan, "acme", "web1", "basic")
    assert text.startswith("# Update advice for web1 (acme, SLA basic)\n")
    assert f"Change set `{plan['change_set']}`." in text
    assert "## How to approve" in text
    assert f"change_set: {plan['change_set']}" in text
    assert "-e updates_approval_file=approval.yml" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [
        "package",
        "apache2",
        "curl",
        "nginx",
        "tzdata",
    ]
    assert "| apache2 | 2.4.68-1~deb12u1 | 2.4.71-1~deb12u1 | yes | advise |" in text
    assert "- new package `libnew1` 1.0-1:" in text


@pytest.mark.parametrize(("tier", "now"), [("pro", TUE_1200), ("medium", TUE_2000)])
def test_markdown_for_active_tiers_has_no_approval_instructions(tier, now):
    plan = _plan(tier, now)
    assert plan["advice"]
    text = advice_markdown(plan, "acme", "web1", tier)
    assert "How to approve" not in text
    assert "updates_approval_file" not in text
    assert "| tzdata |" in text


def test_markdown_without_anything_left_to_advise_has_no_approval_instructions():
    change_set = _plan("basic", TUE_1000)["change_set"]
    approval = {"reference": "SR-1", "change_set": change_set, "approved_by": "Jo"}
    plan = _plan("basic", TUE_1000, approval=approval)
    # Only refused upgrades remain: nothing for the customer to approve.
    assert {d["decision"] for d in plan["advice"]} == {"refuse"}
    assert "How to approve" not in advice_markdown(plan, "acme", "web1", "basic")


def test_json_lists_exactly_the_advised_packages():
    plan = _plan("pro", TUE_1200)
    document = json.loads(advice_json(plan, "acme", "web1", "pro"))
    assert (document["customer"], document["host"], document["tier"]) == ("acme", "web1", "pro")
    assert document["activity"] == "updates"
    assert document["change_set"] == plan["change_set"]
    assert document["decided_at"] == TUE_1200
    assert document["next_window"] == "2025-11-05T06:00:00+01:00"
    assert [i["component"] for i in document["items"]] == ["apache2", "curl", "nginx", "tzdata"]
    assert [p["package"] for p in document["new_packages"]] == ["libnew1"]


def test_json_leaves_out_what_is_applied():
    change_set = _plan("basic", TUE_1000)["change_set"]
    approval = {"reference": "SR-1", "change_set": change_set, "approved_by": "Jo"}
    plan = _plan("basic", TUE_1000, approval=approval)
    document = json.loads(advice_json(plan, "acme", "web1", "basic"))
    assert [i["component"] for i in document["items"]] == ["curl", "nginx"]
    assert {i["decision"] for i in document["items"]} == {"refuse"}
    assert document["approval"]["reference"] == "SR-1"
    assert advice_json(plan, "acme", "web1", "basic").endswith("}\n")


def test_debian_13_origin_is_an_update_on_a_debian_13_host():
    state = _state(_pending("curl", "8.14.1-2", "8.14.1-2+deb13u1", [TRIXIE]))
    state["os"].update(version_id="13", codename="trixie")
    plan = plan_updates(state, resolve_targets("pro"), TUE_0730)
    (decision,) = plan["decisions"]
    assert (decision["kind"], decision["decision"]) == ("update", "apply")
    assert _applied(plan) == ["curl"]


def test_a_new_php_branch_package_is_an_upgrade_not_a_new_dependency():
    state = {
        "os": {"version_id": "12"},
        "components": {"php": {"branches": ["8.2"]}},
        "updates": {
            "pending": [
                {
                    "package": "php8.4-cli",
                    "installed": None,
                    "candidate": "8.4.11-1",
                    "new_install": True,
                    "origins": [],
                },
                {
                    "package": "php8.2-xml",
                    "installed": None,
                    "candidate": "8.2.36-1~deb12u1",
                    "new_install": True,
                    "origins": [],
                },
            ]
        },
    }
    items, new_packages = update_items(state)
    assert items == []
    by_name = {p["package"]: p for p in new_packages}
    assert by_name["php8.4-cli"]["kind"] == "upgrade"
    assert "switches branch 8.2 to 8.4" in by_name["php8.4-cli"]["reason"]
    assert by_name["php8.2-xml"]["kind"] == "new"


# --------------------------------------------------------------------------- new packages an update needs

KERNEL_META = _pending("linux-image-amd64", "6.1.176-1", "6.1.192-3", [SECURITY], security=True)
KERNEL_ABI = dict(
    _pending(
        "linux-image-6.1.0-57-amd64", None, "6.1.192-3", [SECURITY], security=True, new_install=True
    ),
    needed_by=["linux-image-amd64"],
)


def test_a_new_package_an_upgrade_needs_is_applied_with_it():
    plan = _plan("pro", TUE_0730, APACHE, KERNEL_META, KERNEL_ABI)
    assert _decisions(plan)["linux-image-6.1.0-57-amd64"] == "apply"
    assert {
        "name": "linux-image-6.1.0-57-amd64",
        "version": "6.1.192-3",
        "previous": None,
        "group": "linux-image-amd64",
    } in plan["apply"]
    assert plan["new_packages"] == []
    new = next(d for d in plan["decisions"] if d["component"] == "linux-image-6.1.0-57-amd64")
    assert (new["new_install"], new["needed_by"], new["kind"]) == (
        True,
        "linux-image-amd64",
        "new",
    )
    assert new["reason"].startswith(
        "new package needed by linux-image-amd64 6.1.176-1 -> 6.1.192-3, decided with it"
    )


def test_a_new_package_an_upgrade_needs_is_part_of_the_change_set():
    with_new = _plan("pro", TUE_0730, KERNEL_META, KERNEL_ABI)
    without = _plan("pro", TUE_0730, KERNEL_META)
    assert with_new["change_set"] != without["change_set"]
    assert with_new["change_set"] == change_set_hash(
        update_items(_state(KERNEL_META, KERNEL_ABI))[0]
    )


def test_a_new_package_follows_the_decision_of_what_needs_it_outside_the_window():
    plan = _plan("pro", TUE_2000, KERNEL_META, KERNEL_ABI)
    decisions = {d["component"]: d for d in plan["decisions"]}
    meta, abi = decisions["linux-image-amd64"], decisions["linux-image-6.1.0-57-amd64"]
    assert (abi["decision"], abi["addressed_to"]) == (meta["decision"], meta["addressed_to"])


def test_basic_advises_the_new_package_with_the_set_and_an_approval_installs_it():
    advised = _plan("basic", TUE_1000, KERNEL_META, KERNEL_ABI)
    assert _decisions(advised) == {
        "linux-image-amd64": "advise",
        "linux-image-6.1.0-57-amd64": "advise",
    }
    markdown = advice_markdown(advised, "globex", "web1", "basic")
    assert "| linux-image-6.1.0-57-amd64 | new | 6.1.192-3 |" in markdown
    assert "new package needed by linux-image-amd64" in markdown
    approval = {
        "reference": "SR-4712",
        "change_set": advised["change_set"],
        "approved_by": "Jo Customer",
    }
    approved = _plan("basic", TUE_1000, KERNEL_META, KERNEL_ABI, approval=approval)
    assert _applied(approved) == ["linux-image-6.1.0-57-amd64", "linux-image-amd64"]
    assert approved["partial_apply"] is False


@pytest.mark.parametrize(
    "new",
    [
        # apt pulls it in for a package from another release.
        dict(KERNEL_ABI, origins=[TRIXIE]),
        # Nothing pending needs it.
        dict(KERNEL_ABI, needed_by=["linux-image-cloud-amd64"]),
        dict(KERNEL_ABI, needed_by=[]),
    ],
    ids=["other_release", "needer_not_pending", "nothing_needs_it"],
)
def test_a_new_package_no_planned_update_needs_stays_advice(new):
    items, new_packages = update_items(_state(KERNEL_META, new))
    assert [i["component"] for i in items] == ["linux-image-amd64"]
    assert [p["package"] for p in new_packages] == ["linux-image-6.1.0-57-amd64"]
    assert "no planned update of an installed package" in new_packages[0]["reason"]


def test_a_php_branch_switch_stays_advice_even_when_an_upgrade_pulls_it_in():
    php = _pending("php", "2:8.2+93", "2:8.2+94", [POINT])
    php84 = dict(_pending("php8.4", None, "8.4.11-1", [POINT], new_install=True), needed_by=["php"])
    state = _state(php, php84)
    state["components"] = {"php": {"branches": ["8.2"]}}
    items, new_packages = update_items(state)
    assert [i["component"] for i in items] == ["php"]
    assert [(p["package"], p["kind"]) for p in new_packages] == [("php8.4", "upgrade")]


def test_active_tiers_may_apply_part_of_the_set():
    assert _plan("pro", TUE_0730)["partial_apply"] is True
    assert _plan("medium", WED_0730)["partial_apply"] is True
    assert _plan("basic", TUE_1000)["partial_apply"] is False


def test_groups_hold_an_upgrade_with_its_new_packages_and_one_source_together():
    apache_bin = dict(
        _pending("apache2-bin", "2.4.68-1~deb12u1", "2.4.71-1~deb12u1", [SECURITY], security=True),
        source_package="apache2",
    )
    apache = dict(APACHE, source_package="apache2")
    meta = dict(KERNEL_META, source_package="linux-signed-amd64")
    plan = _plan("pro", TUE_0730, apache, apache_bin, TZDATA, meta, KERNEL_ABI)
    assert {p["name"]: p["group"] for p in plan["apply"]} == {
        "apache2": "apache2",
        "apache2-bin": "apache2",
        "tzdata": "tzdata",
        "linux-image-amd64": "linux-signed-amd64",
        "linux-image-6.1.0-57-amd64": "linux-signed-amd64",
    }
