# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""twovalue.sla.cms_plan on the controller: catalogue, plan, decision records and advice files."""

from __future__ import annotations

import datetime
import http.client
import io
import json
import os

import pytest
from action_harness import controller_action, run_on_controller
from ansible_collections.twovalue.sla.plugins.action import cms_plan as cms_plan_action
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_path
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets

CATALOGUE_FILE = os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "..", "roles", "cms", "files",
    "release_catalogue.json",
)  # fmt: skip
SHIPPED = "shipped catalogue release_catalogue.json"
EOL_URL = "https://endoflife.date/api/mediawiki.json"

# Europe/Amsterdam; 2026-11-30 is a Monday.
PRO_WINDOW = "2026-11-30T06:30:00+01:00"
BASIC_WINDOW = "2026-11-30T10:00:00+01:00"
SHA_18 = "18" * 32
URL_18 = "https://releases.wikimedia.org/mediawiki/1.39/mediawiki-1.39.18.tar.gz"
SOURCES = {"mediawiki": [{"version": "1.39.18", "url": URL_18, "sha256": SHA_18}]}
PLANTED = "PLANTED-db-password-51c0"


def _wiki(version="1.39.17"):
    return {
        "kind": "mediawiki",
        "path": "/srv/wiki/current",
        "realpath": f"/srv/wiki/releases/{version}",
        "version": version,
        "branch": ".".join(version.split(".")[:2]),
        "install": "tarball",
        "layout": "releases",
        "site_root": "/srv/wiki",
        "releases": [{"name": version, "failed": False}],
        "settings": {
            "readable": True,
            "db_name": "wikidb",
            "db_server": "localhost",
            "db_password": PLANTED,
        },
        "extensions": [],
        "skins": [],
        "errors": [],
        "schema_version": version,
    }


def _packaged_wiki(schema_version):
    return {
        "kind": "mediawiki",
        "path": "/usr/share/mediawiki",
        "realpath": "/usr/share/mediawiki",
        "version": "1.39.13",
        "branch": "1.39",
        "install": "debian",
        "layout": "package",
        "site_root": "/usr/share/mediawiki",
        "releases": [],
        "settings": {"readable": True, "db_name": "debwiki", "db_password": PLANTED},
        "extensions": [],
        "skins": [],
        "errors": [],
        "schema_version": schema_version,
    }


def _sla(tier="pro"):
    return {"customer": "acme", "tier": tier, "targets": resolve_targets(tier), "control": None}


@pytest.fixture
def no_network(monkeypatch):
    def refuse(url, **kwargs):
        raise AssertionError(f"no catalogue URL configured, yet {url} was opened")

    monkeypatch.setattr(cms_plan_action, "open_url", refuse)


def _run(tmp_path, sites, tier="pro", now=PRO_WINDOW, check_mode=False, **extra):
    args = {
        "state": {"cms": sites},
        "sla": _sla(tier),
        "catalogue_file": CATALOGUE_FILE,
        "sources": SOURCES,
        "advice_dir": str(tmp_path / "advice"),
        "now": now,
        **extra,
    }
    action, connection = controller_action(
        cms_plan_action.ActionModule,
        args,
        check_mode=check_mode,
        action_name="twovalue.sla.cms_plan",
    )
    result = run_on_controller(action, connection, {"inventory_hostname": "web1"})
    return result


def _records(audit_dir):
    with open(audit_dir / "acme.jsonl", encoding="ascii") as handle:
        return [json.loads(line) for line in handle]


def test_the_plan_and_its_summary_are_returned(tmp_path, audit_dir, no_network):
    result = _run(tmp_path, [_wiki()])
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert "warnings" not in result
    plan = result["plan"]
    assert [(t["from"], t["to"], t["sha256"]) for t in plan["apply"]] == [
        ("1.39.17", "1.39.18", SHA_18)
    ]
    assert plan["catalogue"] == {"as_of": "2026-02-03", "origin": SHIPPED}
    fact = result["ansible_facts"]["sla_cms_plan"]
    assert fact == {
        "change_set": plan["change_set"],
        "summary": {"apply": 1, "advise": 0, "refuse": 1, "apply_with_approval": 0},
        "to_apply": 1,
        "schema_steps": 0,
        "advice_files": plan["advice_files"],
        "support": plan["support"],
    }


def test_every_decision_is_recorded_and_the_trail_verifies(tmp_path, audit_dir, no_network):
    result = _run(tmp_path, [_wiki(), _packaged_wiki("1.39.10")])
    records = _records(audit_dir)
    assert [(r["item"], r["decision"]) for r in records] == [
        ("mediawiki /srv/wiki", "approved"),
        ("mediawiki /srv/wiki", "refused"),
        ("mediawiki /usr/share/mediawiki", "refused"),
        ("mediawiki /usr/share/mediawiki schema", "approved"),
        ("change_set", "planned"),
    ]
    assert {r["activity"] for r in records} == {"cms"}
    assert {r["action"] for r in records} == {"twovalue.sla.cms_plan"}
    assert {(r["host"], r["customer"], r["tier"]) for r in records} == {("web1", "acme", "pro")}
    assert {r["check_mode"] for r in records} == {False}
    update = records[0]
    assert (update["before"], update["after"]) == ("1.39.17", "1.39.18")
    assert update["result"] == {
        "kind": "update",
        "security": False,
        "addressed_to": "agency",
        "deadline": None,
    }
    assert records[1]["after"] == "1.43.6"
    assert records[1]["result"] == {
        "kind": "upgrade",
        "security": False,
        "addressed_to": "customer",
        "deadline": None,
    }
    assert "changed the code from 1.39.10 to 1.39.13" in records[3]["reason"]
    planned = records[-1]
    plan = result["plan"]
    assert planned["after"] == plan["change_set"]
    assert planned["reason"] == "1 release switches, 1 schema steps, 2 advised or refused"
    assert planned["result"]["summary"] == plan["summary"]
    assert planned["result"]["support"] == {
        "mediawiki /srv/wiki": "2025-12-31",
        "mediawiki /usr/share/mediawiki": "2025-12-31",
    }
    assert json.loads(planned["result"]["advice_files"]) == plan["advice_files"]
    (report,) = verify_path(str(audit_dir))
    assert report.valid
    assert report.records == 5
    with open(audit_dir / "acme.jsonl", encoding="ascii") as handle:
        assert PLANTED not in handle.read()


def test_advice_files_are_written_per_customer_and_host(tmp_path, audit_dir, no_network):
    result = _run(tmp_path, [_wiki()], tier="basic", now=BASIC_WINDOW)
    base = tmp_path / "advice" / "acme" / "web1-cms"
    assert result["plan"]["advice_files"] == [f"{base}.md", f"{base}.json"]
    markdown = (tmp_path / "advice" / "acme" / "web1-cms.md").read_text()
    assert markdown.startswith("# CMS advice for web1 (acme, SLA basic)\n")
    assert "END OF LIFE since 2025-12-31" in markdown
    assert "## How to approve" in markdown
    text = (tmp_path / "advice" / "acme" / "web1-cms.json").read_text()
    document = json.loads(text)
    assert document["change_set"] == result["plan"]["change_set"]
    assert [(i["candidate"], i["decision"]) for i in document["items"]] == [
        ("1.39.18", "advise"),
        ("1.43.6", "refuse"),
    ]
    assert PLANTED not in text and PLANTED not in markdown
    assert not list((tmp_path / "advice" / "acme").glob("*.tmp"))


def test_a_supported_site_with_nothing_to_do_gets_no_advice(tmp_path, audit_dir, no_network):
    stale = tmp_path / "advice" / "acme" / "web1-cms.md"
    stale.parent.mkdir(parents=True)
    stale.write_text("old advice\n")
    result = _run(tmp_path, [_wiki("1.43.6")], sources={})
    assert result["plan"]["decisions"] == []
    assert result["plan"]["advice_files"] == []
    # Advice that no longer holds is withdrawn.
    assert not stale.exists()
    assert [r["item"] for r in _records(audit_dir)] == ["change_set"]


def test_an_approval_is_recorded_with_the_decision(tmp_path, audit_dir, no_network):
    first = _run(tmp_path, [_wiki()], tier="basic", now=BASIC_WINDOW)
    approval = {
        "reference": "SR-4711",
        "customer": "acme",
        "hosts": ["web1"],
        "change_set": first["plan"]["change_set"],
        "approved_by": "Jo Customer",
    }
    result = _run(tmp_path, [_wiki()], tier="basic", now=BASIC_WINDOW, approval=approval)
    assert [t["to"] for t in result["plan"]["apply"]] == ["1.39.18"]
    approved = [r for r in _records(audit_dir) if r["decision"] == "approved"]
    assert [(r["item"], r["approval"]) for r in approved] == [("mediawiki /srv/wiki", "SR-4711")]


def test_check_mode_still_records_the_decisions(tmp_path, audit_dir, no_network):
    _run(tmp_path, [_wiki()], check_mode=True)
    assert {r["check_mode"] for r in _records(audit_dir)} == {True}


def test_an_unreadable_catalogue_url_is_a_warning_and_the_plan_is_made(
    tmp_path, audit_dir, monkeypatch
):
    opened = []

    def unreachable(url, **kwargs):
        opened.append(url)
        raise OSError("Name or service not known")

    monkeypatch.setattr(cms_plan_action, "open_url", unreachable)
    result = _run(tmp_path, [_wiki()], catalogue_urls={"mediawiki": EOL_URL})
    assert opened == [EOL_URL]
    assert not result.get("failed"), result.get("msg")
    assert result["warnings"] == [
        f"release catalogue for mediawiki not refreshed from {EOL_URL}: Name or service not "
        "known; shipped dates used"
    ]
    plan = result["plan"]
    assert plan["catalogue"] == {"as_of": "2026-02-03", "origin": SHIPPED}
    assert [t["to"] for t in plan["apply"]] == ["1.39.18"]


def test_a_catalogue_url_with_credentials_is_shown_masked(tmp_path, audit_dir, monkeypatch):
    url = "https://agency:PLANTED-catalogue-pw@catalogue.example/mediawiki.json"

    def refused(opened_url, **kwargs):
        raise OSError(f"401 for {opened_url}")

    monkeypatch.setattr(cms_plan_action, "open_url", refused)
    result = _run(tmp_path, [_wiki()], catalogue_urls={"mediawiki": url})
    assert result["warnings"] == [
        "release catalogue for mediawiki not refreshed from "
        "https://agency:***@catalogue.example/mediawiki.json: 401 for "
        "https://agency:********@catalogue.example/mediawiki.json; shipped dates used"
    ]
    assert "PLANTED-catalogue-pw" not in str(result)


def test_a_catalogue_answer_cut_short_is_a_warning(tmp_path, audit_dir, monkeypatch):
    class CutShort:
        def read(self):
            raise http.client.IncompleteRead(b"[{", 4096)

    monkeypatch.setattr(cms_plan_action, "open_url", lambda url, **kwargs: CutShort())
    result = _run(tmp_path, [_wiki()], catalogue_urls={"mediawiki": EOL_URL})
    assert not result.get("failed"), result.get("msg")
    (warning,) = result["warnings"]
    assert warning.startswith(f"release catalogue for mediawiki not refreshed from {EOL_URL}: ")
    assert result["plan"]["catalogue"]["origin"] == SHIPPED


@pytest.mark.parametrize(
    "body",
    [b"<html>Bad gateway</html>", b'{"format": 1}', b'[{"cycle": "1.39", "eol": "soon"}]'],
    ids=["not_json", "no_branches", "bad_date"],
)
def test_a_catalogue_url_with_a_useless_answer_is_a_warning(tmp_path, audit_dir, monkeypatch, body):
    monkeypatch.setattr(cms_plan_action, "open_url", lambda url, **kwargs: io.BytesIO(body))
    result = _run(tmp_path, [_wiki()], catalogue_urls={"mediawiki": EOL_URL})
    assert not result.get("failed"), result.get("msg")
    (warning,) = result["warnings"]
    assert warning.startswith(f"release catalogue for mediawiki not refreshed from {EOL_URL}: ")
    assert result["plan"]["catalogue"]["origin"] == SHIPPED


ENDOFLIFE = [
    {
        "cycle": "1.47",
        "releaseDate": "2026-11-02",
        "eol": "2029-11-30",
        "latest": "1.47.1",
        "latestReleaseDate": "2026-11-20",
        "lts": True,
    },
    {
        "cycle": "1.43",
        "releaseDate": "2024-12-21",
        "eol": "2027-12-31",
        "latest": "1.43.8",
        "latestReleaseDate": "2026-10-01",
        "lts": True,
    },
    {
        "cycle": "1.39",
        "releaseDate": "2022-11-30",
        "eol": "2025-12-31",
        "latest": "1.39.17",
        "latestReleaseDate": "2025-12-16",
        "lts": True,
    },
]


def test_an_endoflife_answer_refreshes_the_product(tmp_path, audit_dir, monkeypatch):
    asked = []

    def answer(url, **kwargs):
        asked.append((url, kwargs.get("timeout")))
        return io.BytesIO(json.dumps(ENDOFLIFE).encode())

    monkeypatch.setattr(cms_plan_action, "open_url", answer)
    result = _run(tmp_path, [_wiki()], catalogue_urls={"mediawiki": EOL_URL})
    assert asked == [(EOL_URL, 10)]
    assert "warnings" not in result
    plan = result["plan"]
    assert plan["catalogue"] == {
        "as_of": datetime.date.today().isoformat(),
        "origin": f"{SHIPPED} + {EOL_URL}",
    }
    # The newest LTS branch in the answer is the migration target now.
    (migration,) = plan["migrations"]
    assert migration["target"] == "1.47.1"
    assert migration["target_branch"]["eol"] == "2029-11-30"
    # endoflife.date publishes no policy; the shipped one still describes MediaWiki.
    assert migration["policy"].startswith("Non-LTS branches get security fixes")
    markdown = (tmp_path / "advice" / "acme" / "web1-cms.md").read_text()
    assert f"Release catalogue as of {datetime.date.today().isoformat()}" in markdown
    assert "\n- \n" not in markdown


def test_a_catalogue_url_for_an_unknown_kind_fails(tmp_path, audit_dir, no_network):
    result = _run(tmp_path, [_wiki()], catalogue_urls={"drupal": "https://eol.example/d.json"})
    assert result["failed"] is True
    assert result["msg"].startswith("host web1: cannot plan CMS maintenance: catalogue_urls")
    assert not audit_dir.exists()


def test_a_missing_catalogue_file_fails(tmp_path, audit_dir, no_network):
    result = _run(tmp_path, [_wiki()], catalogue_file=str(tmp_path / "none.json"))
    assert result["failed"] is True
    assert f"release catalogue {tmp_path / 'none.json'} cannot be read" in result["msg"]
    assert "plan" not in result


def test_bad_release_sources_fail_before_anything_is_recorded(tmp_path, audit_dir, no_network):
    sources = {"mediawiki": [{"version": "1.39.18", "url": URL_18}]}
    result = _run(tmp_path, [_wiki()], sources=sources)
    assert result["failed"] is True
    assert "sha256 is missing or malformed" in result["msg"]
    assert not audit_dir.exists()
