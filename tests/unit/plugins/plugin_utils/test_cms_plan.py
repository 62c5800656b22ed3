# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""CMS maintenance planning on the controller, through the real SLA gate and catalogue."""

from __future__ import annotations

import copy
import datetime
import json
import os

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.cms_plan import (
    CmsPlanError,
    advice_json,
    advice_markdown,
    from_endoflife,
    plan_cms,
    validate_catalogue,
    validate_sources,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import window_status
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets

CATALOGUE_FILE = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "..", "roles", "cms", "files",
    "release_catalogue.json",
)  # fmt: skip

# Europe/Amsterdam, CET. 2026-11-30 is a Monday.
PRO_WINDOW = "2026-11-30T06:30:00+01:00"  # Pro: Mon-Fri 06:00-08:00
BASIC_WINDOW = "2026-11-30T10:00:00+01:00"  # Basic: office hours
EVENING = "2026-11-30T20:00:00+01:00"  # every window closed

SHA_18 = "18" * 32
SHA_43 = "43" * 32
URL_18 = "https://releases.wikimedia.org/mediawiki/1.39/mediawiki-1.39.18.tar.gz"
SCOPE = {"customer": "acme", "host": "web1"}
# Planted where a leak would come from: the discovered settings of the site.
PLANTED = "PLANTED-db-password-7f3a"


def _shipped():
    with open(CATALOGUE_FILE, encoding="utf-8") as handle:
        return json.load(handle)


@pytest.fixture(scope="module")
def catalogue():
    return validate_catalogue(_shipped(), "shipped catalogue release_catalogue.json")


def _wiki(version="1.39.17", root="/srv/wiki", layout="releases", **extra):
    named = version or "unknown"
    site = {
        "kind": "mediawiki",
        "path": f"{root}/current" if layout == "releases" else root,
        "realpath": f"{root}/releases/{named}" if layout == "releases" else root,
        "version": version,
        "branch": ".".join(named.split(".")[:2]),
        "install": "tarball",
        "layout": layout,
        "site_root": root,
        "releases": [{"name": named, "failed": False}] if layout == "releases" else [],
        "settings": {
            "file": f"{root}/current/LocalSettings.php",
            "readable": True,
            "db_type": "mysql",
            "db_server": "localhost",
            "db_name": "wikidb",
            "db_prefix": "",
            "server": "https://wiki.example.org",
            "script_path": "",
            "sitename": "Team Wiki",
            "read_only": False,
            "loaded_extensions": ["Cite"],
            "loaded_skins": ["Vector"],
        },
        "extensions": [{"name": "Cite", "version": None, "loaded": True}],
        "skins": [{"name": "Vector", "version": None, "loaded": True}],
        "errors": [],
        "schema_version": version,
    }
    site.update(extra)
    return site


def _packaged_wiki(version="1.39.13", schema_version=None):
    path = "/usr/share/mediawiki"
    return _wiki(
        version,
        root=path,
        layout="package",
        install="debian",
        path=path,
        realpath=path,
        schema_version=schema_version,
    )


def _wordpress(version="6.8.3", root="/srv/blog"):
    return {
        "kind": "wordpress",
        "path": root,
        "realpath": root,
        "version": version,
        "branch": ".".join(version.split(".")[:2]),
        "install": "tarball",
        "layout": "in_place",
        "site_root": root,
        "releases": [],
        "settings": {"file": f"{root}/wp-config.php", "readable": True, "db_name": "blog"},
        "plugins": [],
        "themes": [],
        "db_version": 60421,
        "errors": [],
        "schema_version": None,
    }


def _sources(*releases):
    return {"mediawiki": [dict(r) for r in releases]}


PATCH = {"version": "1.39.18", "url": URL_18, "sha256": SHA_18, "security": True}


def _plan(catalogue, sites, tier="pro", now=PRO_WINDOW, sources=None, **kwargs):
    return plan_cms(
        sites,
        resolve_targets(tier),
        now,
        catalogue,
        sources=_sources(PATCH) if sources is None else sources,
        scope=SCOPE,
        **kwargs,
    )


def _by_kind(plan):
    return {d["kind"]: d for d in plan["decisions"]}


def test_the_clock_used_here_is_where_the_tests_say():
    assert window_status(resolve_targets("pro"), PRO_WINDOW)["in_window"] is True
    assert window_status(resolve_targets("basic"), PRO_WINDOW)["in_window"] is False
    assert window_status(resolve_targets("basic"), BASIC_WINDOW)["in_window"] is True
    assert window_status(resolve_targets("pro"), EVENING)["in_window"] is False


# the catalogue


def test_the_shipped_catalogue_validates_and_holds_the_lts_branches(catalogue):
    assert catalogue["as_of"] == datetime.date(2026, 2, 3)
    branches = catalogue["products"]["mediawiki"]["branches"]
    assert branches["1.39"]["lts"] is True
    assert branches["1.39"]["eol"] == datetime.date(2025, 12, 31)
    assert branches["1.43"]["lts"] is True
    assert branches["1.43"]["eol"] == datetime.date(2027, 12, 31)
    assert branches["1.45"]["lts"] is False
    # The newest WordPress branch has no end date until the next one is out.
    assert catalogue["products"]["wordpress"]["branches"]["6.9"]["eol"] is None
    for product in catalogue["products"].values():
        assert product["policy"]
        for entry in product["branches"].values():
            assert entry["latest"].startswith(entry["branch"] + ".")


ENDOFLIFE_MEDIAWIKI = [
    {
        "cycle": "1.45",
        "releaseDate": "2025-12-04",
        "eol": "2026-12-31",
        "latest": "1.45.1",
        "latestReleaseDate": "2025-12-16",
        "lts": False,
    },
    {
        "cycle": "1.43",
        "releaseDate": "2024-12-21",
        "eol": "2027-12-31",
        "latest": "1.43.6",
        "latestReleaseDate": "2025-12-16",
        "lts": True,
    },
    {
        "cycle": "1.47",
        "releaseDate": "2026-12-01",
        "eol": False,
        "latest": "1.47.0",
        "latestReleaseDate": "2026-12-01",
        "lts": "2026-12-01",
    },
]


def test_an_endoflife_answer_becomes_a_catalogue_product():
    url = "https://endoflife.date/api/mediawiki.json"
    product = from_endoflife("mediawiki", ENDOFLIFE_MEDIAWIKI, url)
    assert product["sources"] == [url]
    first = product["branches"][0]
    assert first == {
        "branch": "1.45",
        "released": "2025-12-04",
        "eol": "2026-12-31",
        "lts": False,
        "latest": "1.45.1",
        "latest_released": "2025-12-16",
    }
    document = dict(_shipped())
    document["products"] = dict(document["products"], mediawiki=product)
    checked = validate_catalogue(document, f"catalogue from {url}")
    branches = checked["products"]["mediawiki"]["branches"]
    assert sorted(branches) == ["1.43", "1.45", "1.47"]
    assert branches["1.43"]["eol"] == datetime.date(2027, 12, 31)
    assert branches["1.43"]["lts"] is True
    # eol false: no end announced; an LTS given as a date still means LTS.
    assert branches["1.47"]["eol"] is None
    assert branches["1.47"]["lts"] is True


def test_an_endoflife_cycle_that_is_eol_without_a_date_is_not_supported(catalogue):
    cycles = [
        {"cycle": "1.43", "eol": "2027-12-31", "latest": "1.43.6", "lts": True},
        {
            "cycle": "1.39",
            "eol": True,
            "latest": "1.39.17",
            "latestReleaseDate": "2025-12-16",
            "lts": True,
        },
    ]
    product = from_endoflife("mediawiki", cycles, "https://eol.example/mediawiki.json")
    document = dict(_shipped())
    document["products"] = dict(document["products"], mediawiki=product)
    refreshed = validate_catalogue(document)
    plan = _plan(refreshed, [_wiki()])
    (support,) = plan["support"]
    # eol true says the branch is over; it must not read as "no end date yet".
    assert support["supported"] is False
    assert support["eol"] == "2025-12-16"
    del cycles[1]["latestReleaseDate"]
    with pytest.raises(CmsPlanError, match="cycle 1.39 is end of life, but no date says since"):
        from_endoflife("mediawiki", cycles, "https://eol.example/mediawiki.json")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"cycle": "1.43"}, "is not a list of release cycles"),
        (["1.43"], "holds '1.43'; expected release cycles"),
        ([{"eol": "2027-12-31"}], "expected release cycles"),
    ],
)
def test_an_answer_that_is_not_an_endoflife_list_is_refused(answer, message):
    with pytest.raises(CmsPlanError, match=message):
        from_endoflife("mediawiki", answer, "https://eol.example/mediawiki.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=2), "is not a format 1 release catalogue"),
        (lambda d: d["products"].pop("wordpress"), "has no branch list for wordpress"),
        (
            lambda d: d["products"]["mediawiki"]["branches"][0].update(eol="31.12.2026"),
            "mediawiki.branches[0].eol is '31.12.2026'; expected a date YYYY-MM-DD",
        ),
        (
            lambda d: d["products"]["mediawiki"]["branches"][0].update(latest="1.44.3"),
            "mediawiki.branches[0].latest 1.44.3 is not on branch 1.45",
        ),
        (
            lambda d: d["products"]["mediawiki"]["branches"][0].update(branch="current"),
            "mediawiki.branches[0].branch:",
        ),
        (
            lambda d: d["products"]["wordpress"]["branches"].__setitem__(0, "6.9"),
            "wordpress.branches[0] is '6.9'; expected a mapping",
        ),
    ],
    ids=["format", "no_product", "bad_date", "latest_off_branch", "bad_branch", "not_mapping"],
)
def test_a_malformed_catalogue_says_what_to_fix(change, message):
    document = copy.deepcopy(_shipped())
    change(document)
    with pytest.raises(CmsPlanError) as excinfo:
        validate_catalogue(document, "catalogue.json")
    assert str(excinfo.value).startswith("catalogue.json")
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (
            {"mediawiki": [{"version": "1.39.18", "url": URL_18}]},
            "release sources mediawiki[0].sha256 is missing or malformed",
        ),
        (
            {"mediawiki": [{"version": "1.39.18", "url": URL_18, "sha256": "abc"}]},
            "release sources mediawiki[0].sha256 is missing or malformed",
        ),
        (
            {
                "mediawiki": [
                    {"version": "1.39.18", "url": URL_18, "path": "/srv/mw.tgz", "sha256": SHA_18}
                ]
            },
            "release sources mediawiki[0] needs exactly one of url and path",
        ),
        (
            {"mediawiki": [{"version": "1.39.18", "sha256": SHA_18}]},
            "release sources mediawiki[0] needs exactly one of url and path",
        ),
        (
            {"mediawiki": [PATCH, {"version": "latest", "url": URL_18, "sha256": SHA_18}]},
            "release sources mediawiki[1].version:",
        ),
        ({"drupal": []}, "release sources name 'drupal'"),
        ({"mediawiki": PATCH}, "release sources for mediawiki are"),
        ([PATCH], "expected a mapping per CMS kind"),
    ],
    ids=[
        "no_sha256",
        "short_sha256",
        "url_and_path",
        "neither",
        "bad_version",
        "unknown_kind",
        "not_a_list",
        "not_a_mapping",
    ],
)
def test_malformed_release_sources_say_what_to_fix(catalogue, sources, message):
    with pytest.raises(CmsPlanError) as excinfo:
        _plan(catalogue, [_wiki()], sources=sources)
    assert message in str(excinfo.value)


def test_release_sources_are_normalised():
    (checked,) = validate_sources(
        {"mediawiki": [{"version": "1.39.18", "path": "/srv/mw.tgz", "sha256": SHA_18.upper()}]}
    )["mediawiki"]
    assert checked == {
        "version": "1.39.18",
        "url": None,
        "path": "/srv/mw.tgz",
        "sha256": SHA_18,
        "security": False,
    }
    assert validate_sources(None) == {}


# plan: tarball sites in the releases layout


def test_pro_in_a_window_applies_exactly_the_patch_switch(catalogue):
    plan = _plan(catalogue, [_wiki()])
    assert plan["decision_mode"] == "active"
    assert plan["in_window"] is True
    assert plan["apply"] == [
        {
            "component": "mediawiki /srv/wiki",
            "kind": "mediawiki",
            "site_root": "/srv/wiki",
            "from": "1.39.17",
            "to": "1.39.18",
            "source": URL_18,
            "sha256": SHA_18,
            "database": "wikidb",
            "db_server": "localhost",
        }
    ]
    update = _by_kind(plan)["update"]
    assert update["decision"] == "apply"
    assert update["security"] is True
    assert plan["summary"] == {"apply": 1, "advise": 0, "refuse": 1, "apply_with_approval": 0}
    assert plan["schema"] == []
    assert plan["notes"] == []
    # The checksum is what the switch verifies; it stays out of the hashed gate items.
    assert all("sha256" not in d for d in plan["decisions"])


def test_the_next_lts_branch_is_refused_as_a_migration_project(catalogue):
    plan = _plan(catalogue, [_wiki()])
    upgrade = _by_kind(plan)["upgrade"]
    assert (upgrade["candidate"], upgrade["decision"]) == ("1.43.6", "refuse")
    assert upgrade["addressed_to"] == "customer"
    assert "a CMS branch change is a migration project" in upgrade["reason"]
    assert upgrade["source"] == "release catalogue"
    assert plan["advice"] == [upgrade]
    (migration,) = plan["migrations"]
    assert migration["component"] == "mediawiki /srv/wiki"
    assert (migration["installed"], migration["target"]) == ("1.39.17", "1.43.6")
    old, new = migration["installed_branch"], migration["target_branch"]
    assert (old["branch"], old["eol"], old["supported"], old["lts"]) == (
        "1.39",
        "2025-12-31",
        False,
        True,
    )
    assert (new["branch"], new["eol"], new["supported"], new["lts"]) == (
        "1.43",
        "2027-12-31",
        True,
        True,
    )
    assert new["days_left"] == (datetime.date(2027, 12, 31) - datetime.date(2026, 11, 30)).days
    assert migration["policy"].startswith("Non-LTS branches get security fixes")


def test_the_migration_path_depends_on_how_the_site_is_installed(catalogue):
    plan = _plan(catalogue, [_wiki(), _packaged_wiki(schema_version="1.39.13")])
    paths = {m["component"]: m["path"] for m in plan["migrations"]}
    assert "unpack the new branch as a release" in paths["mediawiki /srv/wiki"]
    assert "Debian release upgrade" in paths["mediawiki /usr/share/mediawiki"]
    markdown = advice_markdown(plan, "acme", "web1", "pro")
    assert "- how: this site is Debian's package" in markdown


def test_a_migration_project_does_not_apply_a_cms_branch_change(catalogue):
    plan = _plan(catalogue, [_wiki()], migration_project="PRJ-12")
    upgrade = _by_kind(plan)["upgrade"]
    assert upgrade["decision"] == "refuse"
    assert [task["to"] for task in plan["apply"]] == ["1.39.18"]


def test_a_configured_source_on_the_target_branch_is_named_in_the_migration(catalogue):
    offered = {"version": "1.43.6", "path": "/srv/mw-1.43.6.tgz", "sha256": SHA_43}
    plan = _plan(catalogue, [_wiki()], sources=_sources(PATCH, offered))
    upgrade = _by_kind(plan)["upgrade"]
    assert (upgrade["candidate"], upgrade["source"]) == ("1.43.6", "/srv/mw-1.43.6.tgz")
    assert [task["to"] for task in plan["apply"]] == ["1.39.18"]


def test_pro_outside_a_window_advises_the_update_with_the_next_window(catalogue):
    source = dict(PATCH, security=False)
    plan = _plan(catalogue, [_wiki()], now=EVENING, sources=_sources(source))
    update = _by_kind(plan)["update"]
    assert update["decision"] == "advise"
    assert "next window at 2026-12-01T06:00:00+01:00" in update["reason"]
    assert plan["apply"] == []


def test_basic_advises_and_an_approval_of_the_change_set_applies(catalogue):
    first = _plan(catalogue, [_wiki()], tier="basic", now=BASIC_WINDOW)
    update = _by_kind(first)["update"]
    assert first["decision_mode"] == "advisory"
    assert update["decision"] == "advise"
    assert update["addressed_to"] == "customer"
    assert first["change_set"][:12] in update["reason"]
    assert first["apply"] == []
    approval = {
        "reference": "SR-4711",
        "customer": "acme",
        "hosts": ["web1"],
        "change_set": first["change_set"],
        "approved_by": "Jo Customer",
    }
    approved = _plan(catalogue, [_wiki()], tier="basic", now=BASIC_WINDOW, approval=approval)
    assert approved["change_set"] == first["change_set"]
    assert approved["approval"]["valid"] is True
    decided = _by_kind(approved)
    assert decided["update"]["decision"] == "apply_with_approval"
    assert decided["update"]["approval"] == "SR-4711"
    # An approval never turns a branch change into an SLA update.
    assert decided["upgrade"]["decision"] == "refuse"
    assert [(t["from"], t["to"], t["sha256"]) for t in approved["apply"]] == [
        ("1.39.17", "1.39.18", SHA_18)
    ]


def test_an_approval_waits_for_the_basic_window(catalogue):
    first = _plan(catalogue, [_wiki()], tier="basic", now=EVENING)
    approval = {
        "reference": "SR-4711",
        "customer": "acme",
        "hosts": ["web1"],
        "change_set": first["change_set"],
        "approved_by": "Jo Customer",
    }
    plan = _plan(catalogue, [_wiki()], tier="basic", now=EVENING, approval=approval)
    assert _by_kind(plan)["update"]["decision"] == "advise"
    assert plan["apply"] == []


def test_an_approval_for_another_change_set_does_not_apply(catalogue):
    approval = {
        "reference": "SR-4712",
        "customer": "acme",
        "hosts": ["web1"],
        "change_set": "f" * 64,
        "approved_by": "Jo Customer",
    }
    plan = _plan(catalogue, [_wiki()], tier="basic", now=BASIC_WINDOW, approval=approval)
    update = _by_kind(plan)["update"]
    assert update["decision"] == "advise"
    assert "the candidates changed since approval" in update["reason"]
    assert plan["approval"]["valid"] is False
    assert plan["apply"] == []


def test_a_site_outside_the_releases_layout_is_advised(catalogue):
    plan = _plan(catalogue, [_wiki(root="/var/www/wiki", layout="in_place")])
    update = _by_kind(plan)["update"]
    assert update["decision"] == "advise"
    assert "1.39.17 -> 1.39.18 stays on branch 1.39; apply by hand" in update["reason"]
    assert "not in the releases layout" in update["reason"]
    assert plan["apply"] == []


def test_a_wordpress_site_in_place_is_advised_and_its_branch_change_refused(catalogue):
    sources = {"wordpress": [{"version": "6.8.4", "url": "https://wp.example/6.8.4.zip"}]}
    sources["wordpress"][0]["sha256"] = "68" * 32
    plan = _plan(catalogue, [_wordpress()], sources=sources)
    update = _by_kind(plan)["update"]
    assert update["component"] == "wordpress /srv/blog"
    assert update["decision"] == "advise"
    assert "not in the releases layout" in update["reason"]
    upgrade = _by_kind(plan)["upgrade"]
    assert (upgrade["candidate"], upgrade["decision"]) == ("6.9.1", "refuse")
    assert plan["apply"] == []


def test_a_wordpress_site_in_the_releases_layout_is_switched(catalogue):
    sources = {"wordpress": [{"version": "6.8.4", "path": "/srv/wordpress-6.8.4.tar.gz"}]}
    sources["wordpress"][0]["sha256"] = "68" * 32
    site = dict(_wordpress(root="/var/www/blog/current"), layout="releases")
    site.update(site_root="/var/www/blog", settings=dict(site["settings"], db_host="localhost"))
    plan = _plan(catalogue, [site], sources=sources)
    assert plan["apply"] == [
        {
            "component": "wordpress /var/www/blog",
            "kind": "wordpress",
            "site_root": "/var/www/blog",
            "from": "6.8.3",
            "to": "6.8.4",
            "source": "/srv/wordpress-6.8.4.tar.gz",
            "sha256": "68" * 32,
            "database": "blog",
            "db_server": "localhost",
        }
    ]


def test_a_site_whose_configuration_names_no_database_is_advised(catalogue):
    site = _wiki()
    site["settings"] = {"file": "/srv/wiki/LocalSettings.php", "readable": False}
    plan = _plan(catalogue, [site], sources=_sources(PATCH))
    assert plan["apply"] == []
    assert "names no database" in _by_kind(plan)["update"]["reason"]


def test_a_new_upstream_branch_does_not_void_an_approved_patch_release(catalogue):
    lts = {"version": "1.43.7", "path": "/srv/mediawiki-1.43.7.tar.gz", "sha256": SHA_43}
    before = _plan(catalogue, [_wiki()], tier="basic", now=BASIC_WINDOW, sources=_sources(PATCH))
    after = _plan(
        catalogue, [_wiki()], tier="basic", now=BASIC_WINDOW, sources=_sources(PATCH, lts)
    )
    assert _by_kind(after)["upgrade"]["candidate"] == "1.43.7"
    assert after["change_set"] == before["change_set"]


def test_a_cms_layer_run_by_the_customer_is_advised_to_the_customer(catalogue):
    plan = _plan(catalogue, [_wiki()], control={"cms": "customer"})
    update = _by_kind(plan)["update"]
    assert (update["decision"], update["addressed_to"]) == ("advise", "customer")
    assert plan["apply"] == []


def test_an_unreadable_version_plans_nothing_and_says_so(catalogue):
    plan = _plan(catalogue, [_wiki(version=None, branch=None)])
    assert plan["decisions"] == []
    assert plan["support"] == []
    assert plan["notes"] == ["mediawiki at /srv/wiki/current: version unreadable; nothing planned"]


# plan: packaged MediaWiki


def test_a_packaged_wiki_gets_no_release_switch(catalogue):
    plan = _plan(catalogue, [_packaged_wiki(schema_version="1.39.13")])
    assert "update" not in _by_kind(plan)
    assert plan["apply"] == []
    assert plan["schema"] == []
    # Debian's package brings the patches; no note asks for a release source.
    assert plan["notes"] == []


@pytest.mark.parametrize(
    ("tier", "now", "recorded", "run", "reason"),
    [
        ("pro", PRO_WINDOW, "1.39.10", True, "changed the code from 1.39.10 to 1.39.13"),
        ("basic", EVENING, "1.39.10", True, "changed the code from 1.39.10 to 1.39.13"),
        ("pro", PRO_WINDOW, None, True, "update.php establishes it"),
        ("pro", EVENING, None, False, "waits for a window"),
        ("basic", BASIC_WINDOW, None, False, "with the customer's approval"),
    ],
    ids=["changed_pro", "changed_basic", "never_pro", "never_pro_evening", "never_basic"],
)
def test_the_schema_step_of_a_packaged_wiki(catalogue, tier, now, recorded, run, reason):
    plan = _plan(catalogue, [_packaged_wiki(schema_version=recorded)], tier=tier, now=now)
    (step,) = plan["schema"]
    assert step["component"] == "mediawiki /usr/share/mediawiki"
    assert step["site"] == "/usr/share/mediawiki"
    assert step["run"] is run
    assert reason in step["reason"]


def test_a_package_updated_in_this_run_brings_its_schema_step_even_on_basic(catalogue):
    wiki = _packaged_wiki(schema_version=None)
    waiting = _plan(catalogue, [wiki], tier="basic", now=BASIC_WINDOW)
    assert [step["run"] for step in waiting["schema"]] == [False]
    plan = _plan(catalogue, [wiki], tier="basic", now=BASIC_WINDOW, updated_packages=["mediawiki"])
    (step,) = plan["schema"]
    assert step["run"] is True
    assert "updated to 1.39.13 in this run" in step["reason"]


def test_no_schema_step_when_the_recorded_version_is_the_code_version(catalogue):
    plan = _plan(catalogue, [_packaged_wiki(schema_version="1.39.13")], tier="basic")
    assert plan["schema"] == []


def test_no_schema_step_when_the_customer_runs_the_cms(catalogue):
    plan = _plan(catalogue, [_packaged_wiki(schema_version="1.39.10")], control={"cms": "customer"})
    (step,) = plan["schema"]
    assert step["run"] is False
    assert "not maintained by the agency" in step["reason"]


# notes and advice


def test_an_upstream_patch_without_a_source_is_a_note(catalogue):
    older = {"version": "1.39.16", "url": URL_18.replace("18", "16"), "sha256": SHA_18}
    plan = _plan(catalogue, [_wiki(version="1.39.15")], sources=_sources(older))
    assert [t["to"] for t in plan["apply"]] == ["1.39.16"]
    assert plan["notes"] == [
        "mediawiki /srv/wiki: mediawiki 1.39.17 is released upstream on branch 1.39; "
        "configure its release source (URL or path, and its SHA-256) so the SLA update "
        "can apply it"
    ]


def test_no_note_when_the_configured_source_is_the_newest(catalogue):
    plan = _plan(catalogue, [_wiki(version="1.39.16")], sources=_sources(PATCH))
    assert plan["notes"] == []


def test_markdown_advice_names_the_end_of_life_and_how_to_approve(catalogue):
    plan = _plan(catalogue, [_wiki()], tier="basic", now=BASIC_WINDOW)
    text = advice_markdown(plan, "acme", "web1", "basic")
    assert text.startswith("# CMS advice for web1 (acme, SLA basic)\n")
    assert (
        "| mediawiki /srv/wiki | 1.39.17 | 1.39 | END OF LIFE since 2025-12-31: "
        "no security fixes | 2025-12-31 | yes |"
    ) in text
    assert "## Migration advice: mediawiki /srv/wiki 1.39.17 -> 1.43.6" in text
    assert "- installed branch 1.39: end of life 2025-12-31 (passed: no more security fixes)" in (
        text
    )
    assert "- target branch 1.43 (LTS): supported until 2027-12-31" in text
    assert "## How to approve" in text
    assert f"change_set: {plan['change_set']}" in text
    assert "hosts: [web1]" in text


def test_markdown_advice_on_pro_has_no_approval_section(catalogue):
    plan = _plan(catalogue, [_wiki()], now=EVENING)
    text = advice_markdown(plan, "acme", "web1", "pro")
    assert "## How to approve" not in text
    assert "## Decisions" in text


def test_markdown_advice_lists_schema_steps_that_wait(catalogue):
    plan = _plan(catalogue, [_packaged_wiki()], tier="basic", now=BASIC_WINDOW)
    text = advice_markdown(plan, "acme", "web1", "basic")
    assert (
        "- schema step for mediawiki /usr/share/mediawiki: the schema state of this wiki was "
        "never recorded"
    ) in text


def test_json_advice_parses_and_holds_no_secret(catalogue):
    wiki = _wiki()
    wiki["settings"]["db_password"] = PLANTED
    wiki["settings"]["secret_key"] = PLANTED
    packaged = _packaged_wiki()
    packaged["settings"]["db_password"] = PLANTED
    plan = _plan(catalogue, [wiki, packaged, _wordpress()], tier="basic", now=BASIC_WINDOW)
    text = advice_json(plan, "acme", "web1", "basic")
    document = json.loads(text)
    assert (document["customer"], document["host"], document["tier"]) == ("acme", "web1", "basic")
    assert document["activity"] == "cms"
    assert document["change_set"] == plan["change_set"]
    assert document["catalogue"] == {
        "as_of": "2026-02-03",
        "origin": "shipped catalogue release_catalogue.json",
    }
    assert {i["component"] for i in document["items"]} == {
        "mediawiki /srv/wiki",
        "mediawiki /usr/share/mediawiki",
        "wordpress /srv/blog",
    }
    assert [s["run"] for s in document["schema"]] == [False]
    assert PLANTED not in text
    assert PLANTED not in advice_markdown(plan, "acme", "web1", "basic")
    # The whole plan is returned to the playbook and shown with -v.
    assert PLANTED not in json.dumps(plan, default=str)
