# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""System documentation and migration advice rendered from a recorded customer."""

from __future__ import annotations

import copy
import datetime
import json

import pytest
import system_docs_fixture as recorded
from ansible_collections.twovalue.sla.plugins.action.system_docs import (
    CMS_CATALOGUE,
    STACK_CATALOGUE,
    load_catalogue_file,
    trail_records,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.cms_plan import KINDS as CMS_KINDS
from ansible_collections.twovalue.sla.plugins.plugin_utils.system_docs import (
    LANGUAGES,
    STACK_PRODUCTS,
    STRINGS,
    DocsError,
    build_docs,
    render_documents,
    support_status,
)


@pytest.fixture(scope="module")
def catalogues():
    return (
        load_catalogue_file(STACK_CATALOGUE, STACK_PRODUCTS),
        load_catalogue_file(CMS_CATALOGUE, CMS_KINDS),
    )


@pytest.fixture
def records(tmp_path):
    trail = tmp_path / "acme.jsonl"
    recorded.write_trail(trail)
    return trail_records(str(trail), None)


def _build(catalogues, records, hosts=None, **extra):
    stack, cms = catalogues
    found, trail_file = records
    arguments = {
        "records": found,
        "people": recorded.PEOPLE,
        "trail_file": trail_file,
        **extra,
    }
    return build_docs(
        recorded.CUSTOMER,
        recorded.TIER,
        copy.deepcopy(hosts or recorded.HOSTS),
        stack,
        cms,
        recorded.TODAY,
        **arguments,
    )


def _everything(documents):
    return "".join(text for document in documents.values() for text in document.values())


def test_the_shipped_stack_catalogue_holds_the_real_dates(catalogues):
    stack, _cms = catalogues
    debian = stack["products"]["debian"]["branches"]
    assert debian["12"]["eol"] == datetime.date(2026, 6, 10)
    assert debian["12"]["extended_until"] == datetime.date(2028, 6, 30)
    assert debian["13"]["ships"]["php"] == "8.4"
    assert stack["products"]["php"]["branches"]["8.2"]["eol"] == datetime.date(2026, 12, 31)
    assert stack["products"]["mariadb"]["branches"]["10.11"]["eol"] == datetime.date(2028, 2, 16)
    assert stack["products"]["apache"]["branches"]["2.4"]["eol"] is None
    for product in STACK_PRODUCTS:
        assert stack["products"][product]["sources"], product


@pytest.mark.parametrize(
    ("product", "branch", "today", "state"),
    [
        ("php", "8.2", "2026-07-03", "ending"),  # exactly 181 days before: still fine
        ("php", "8.2", "2026-07-04", "ending"),
        ("php", "8.3", "2026-07-04", "supported"),
        ("php", "8.1", "2026-07-04", "end_of_life"),
        ("debian", "12", "2026-06-10", "ending"),
        ("debian", "12", "2026-06-11", "extended"),
        ("debian", "12", "2028-07-01", "end_of_life"),
        ("apache", "2.4", "2040-01-01", "supported"),
        ("mariadb", "12.9", "2026-07-04", "unknown"),
    ],
)
def test_support_states_at_their_boundaries(catalogues, product, branch, today, state):
    stack, _cms = catalogues
    day = datetime.date.fromisoformat(today)
    horizon = 180 if today != "2026-07-03" else 181
    assert support_status(stack, product, branch, day, horizon)["state"] == state


def test_each_host_is_documented_with_its_real_versions(catalogues, records):
    data = _build(catalogues, records)
    assert [host["name"] for host in data["hosts"]] == ["acme-prod", "acme-staging"]
    assert data["topology"] == [
        {"environment": "production", "hosts": ["acme-prod"]},
        {"environment": "staging", "hosts": ["acme-staging"]},
    ]
    prod = data["hosts"][0]
    versions = {entry["product"]: entry["version"] for entry in prod["stack"]}
    assert versions == {"debian": "12", "apache": "2.4.68", "php": "8.2.32", "mariadb": "10.11.18"}
    assert prod["os"] == {
        "name": "Debian GNU/Linux 12 (bookworm)",
        "kernel": "6.1.0-41-amd64",
        "arch": "x86_64",
    }
    markdown = render_documents(data)["system-documentation"]["md"]
    for text in (
        "| Debian | 12.12 (bookworm) | 12 |",
        "| PHP | 8.2.32 | 8.2 | php8.2-common 8.2.32-1~deb12u1 | ends 2026-12-31 |",
        "| MariaDB | 10.11.18 | 10.11 | mariadb-server 1:10.11.18-0+deb12u1 | supported until 2028-02-16 |",
        "| Apache | 2.4.68 | 2.4 | apache2 2.4.68-1~deb12u1 | supported, no announced end of life |",
        "**PHP extensions enabled (apache2)**: intl, mysqli, opcache",
        "**Apache modules enabled**: mpm\\_prefork, php8.2, rewrite",
        "| MediaWiki /usr/share/mediawiki | 1.39.17 | Debian package | Acme Intranet | "
        "http://wiki.acme.example/mediawiki | END OF LIFE since 2025-12-31 |",
        "**Extensions**: ParserFunctions 1.6.1, Cite version not stated",
        "**Plugins**: akismet 5.3",
        "**Kernel**: 6.1.0-41-amd64 (x86\\_64)",
    ):
        assert text in markdown, text


def test_backups_are_honestly_none(catalogues, records):
    markdown = render_documents(_build(catalogues, records))["system-documentation"]["md"]
    assert markdown.count("**Last backup**: no backup recorded") == 2
    assert markdown.count("**Last verified restore**: no verified restore recorded") == 2


def test_the_access_register_with_rotations_and_former_staff(catalogues, records):
    data = _build(catalogues, records)
    markdown = render_documents(data)["system-documentation"]["md"]
    rows = {line.split(" | ")[0]: line for line in markdown.splitlines() if line.startswith("| ")}
    # The applied rotation from the trail; the dry run on staging counts for nothing.
    assert "| 2026-09-14 02:10 UTC |" in rows["| database user wikiuser@localhost"]
    assert "| never rotated |" in rows["| CMS account SLA-Admin on /usr/share/mediawiki"]
    assert "| customer |" in rows["| CMS account Bob on /usr/share/mediawiki"]
    assert "held by former staff: Bob de Vries" in rows["| CMS account Bob on /usr/share/mediawiki"]
    assert "held by former staff: Bob de Vries" in rows["| OS account deploy"]
    assert "former, since 2026-10-31" in rows["| Bob de Vries (bob)"]
    assert "sudo: ALL=(ALL:ALL) NOPASSWD: ALL" in rows["| OS account alice"]
    people = {person["id"]: person for person in data["people"]}
    assert people["alice"]["keys"][0].startswith("SHA256:")
    assert people["bob"]["former"] is True


def test_migration_advice_names_date_reason_and_proposal(catalogues, records):
    data = _build(catalogues, records)
    advice = {(item["host"], item["component"]): item for item in data["advice"]}
    assert sorted(advice) == [
        ("acme-prod", "debian"),
        ("acme-prod", "mediawiki /usr/share/mediawiki"),
        ("acme-prod", "php"),
        ("acme-staging", "debian"),
        ("acme-staging", "mediawiki /usr/share/mediawiki"),
        ("acme-staging", "php"),
    ]
    debian = advice[("acme-prod", "debian")]
    assert (debian["state"], debian["eol"], debian["extended_until"]) == (
        "extended",
        "2026-06-10",
        "2028-06-30",
    )
    assert debian["proposal"]["target"]["branch"] == "13"
    php = advice[("acme-prod", "php")]
    assert (php["state"], php["eol"]) == ("ending", "2026-12-31")
    assert php["proposal"]["target"]["branch"] == "8.4"
    wiki = advice[("acme-prod", "mediawiki /usr/share/mediawiki")]
    assert wiki["state"] == "end_of_life"
    # Refused on every run; the first refusal dates the advice.
    assert [r["first_refused"] for r in wiki["refused"]] == [recorded.REFUSED_FIRST]
    assert wiki["proposal"]["target"]["branch"] == "1.43"
    markdown = render_documents(data)["migration-advice"]["md"]
    assert (
        "| acme-prod | PHP | 8.2.32 | ends 2026-12-31 | PHP 8.2 reaches its end of life on "
        "2026-12-31." in markdown
    )
    assert "PHP 8.4 (supported until 2028-12-31) with the upgrade to Debian 13." in markdown
    assert (
        "Upgrade to Debian 13 (trixie), supported until 2028-08-09, LTS until 2030-06-30"
        in markdown
    )
    assert (
        "Upgrade 1.39.17 -> 1.43.6 refused by the SLA automation, first on 2026-11-01" in markdown
    )
    # MariaDB 10.11, Apache 2.4 and WordPress 6.9 are fine: no advice.
    assert "MariaDB 10" not in markdown and "WordPress" not in markdown.split("## Sources")[0]


def test_a_wider_horizon_brings_mariadb_in(catalogues, records):
    data = _build(catalogues, records, horizon_days=500)
    assert ("acme-prod", "mariadb") in {(i["host"], i["component"]) for i in data["advice"]}


def test_a_refused_upgrade_of_an_unlisted_package_is_advice_too(catalogues, records):
    stack, cms = catalogues
    found, trail_file = records
    refusal = dict(
        found[1],
        item="linux-image-amd64",
        before="6.1.158-1",
        after="6.12.48-1~bpo12+1",
        reason="leaves the installed branch",
    )
    data = build_docs(
        "acme",
        "pro",
        copy.deepcopy(recorded.HOSTS),
        stack,
        cms,
        recorded.TODAY,
        records=[refusal],
        people=recorded.PEOPLE,
    )
    extra = [item for item in data["advice"] if item["component"] == "linux-image-amd64"]
    assert len(extra) == 1 and extra[0]["state"] == "refused"
    assert "upgrade refused 2026-11-01" in render_documents(data)["migration-advice"]["md"]


def test_regenerating_gives_the_same_bytes(catalogues, records, tmp_path):
    first = render_documents(_build(catalogues, records))
    again = render_documents(_build(catalogues, records))
    assert first == again
    # A fresh copy of the same trail, written later, gives the same documents too.
    trail = tmp_path / "again" / "acme.jsonl"
    trail.parent.mkdir()
    recorded.write_trail(trail)
    assert render_documents(_build(catalogues, trail_records(str(trail), None))) == first


def test_no_secret_and_no_key_reaches_any_document(catalogues, records):
    text = _everything(render_documents(_build(catalogues, records)))
    assert recorded.SECRET not in text
    for body in recorded.KEY_BODIES:
        assert body not in text
    assert "ssh-ed25519 AAAA" not in text


def test_the_html_is_one_page_with_the_tables(catalogues, records):
    page = render_documents(_build(catalogues, records))["system-documentation"]["html"]
    assert page.startswith("<!DOCTYPE html>")
    for name in ("topology", "stack", "sites", "access", "people"):
        assert f'<table class="{name}">' in page
    assert '<span class="badge not_met">END OF LIFE since 2025-12-31</span>' in page
    assert "<script" not in page and "http-equiv" not in page


def test_the_json_documents_hold_the_data(catalogues, records):
    documents = render_documents(_build(catalogues, records))
    advice = json.loads(documents["migration-advice"]["json"])
    assert {item["component"] for item in advice["advice"]} >= {"debian", "php"}
    docs = json.loads(documents["system-documentation"]["json"])
    assert docs["hosts"][0]["stack"][2]["modules"] == recorded.PHP_MODULES


def test_no_trail_yet_is_said_plainly(catalogues):
    data = _build(catalogues, ([], None))
    markdown = render_documents(data)["system-documentation"]["md"]
    assert "No audit trail exists yet for this customer" in markdown
    assert "| never rotated |" in markdown


def test_a_host_without_a_probed_state_is_refused(catalogues, records):
    hosts = copy.deepcopy(recorded.HOSTS)
    hosts[1]["state"] = None
    with pytest.raises(DocsError, match="acme-staging has no probed state"):
        _build(catalogues, records, hosts=hosts)


def test_a_bad_register_names_the_entry(catalogues, records):
    hosts = copy.deepcopy(recorded.HOSTS)
    hosts[0]["grants"][0]["controlled_by"] = "nobody"
    with pytest.raises(
        DocsError, match=r"access register of acme-prod: access_grants\[0\].controlled_by"
    ):
        _build(catalogues, records, hosts=hosts)


def test_a_verified_backup_is_the_last_backup_and_the_last_verified_restore(catalogues):
    found = [
        {"kind": "decision", "host": "acme-prod", "activity": "backup", "decision": "applied",
         "item": "/var/www/wiki", "time": "2026-11-27T01:00:00Z", "result": {"verified": True}},
        # Written, but its dump never loaded: a backup, not a verified restore.
        {"kind": "decision", "host": "acme-prod", "activity": "backup", "decision": "applied",
         "item": "/var/www/wiki", "time": "2026-11-28T01:00:00Z", "result": {"verified": False}},
    ]  # fmt: skip
    markdown = render_documents(_build(catalogues, (found, "acme.jsonl")))["system-documentation"][
        "md"
    ]
    assert "**Last backup**: 2026-11-28" in markdown
    assert "**Last verified restore**: 2026-11-27" in markdown
    # acme-staging has none.
    assert markdown.count("no verified restore recorded") == 1


def test_every_language_has_every_text_with_the_same_placeholders():
    import string  # noqa: PLC0415

    def shape(texts):
        out = {}
        for key, value in texts.items():
            if isinstance(value, dict):
                out[key] = shape(value)
            else:
                out[key] = sorted(f for _, f, _, _ in string.Formatter().parse(value) if f)
        return out

    for language in LANGUAGES:
        assert shape(STRINGS[language]) == shape(STRINGS["en"]), language


def test_the_documents_in_dutch(catalogues, records):
    documents = render_documents(_build(catalogues, records), "nl")
    markdown = documents["system-documentation"]["md"]
    for text in ("# Systeemdocumentatie", "## Opbouw", "### Back-ups", "geen back-up vastgelegd",
                 "NIET MEER ONDERSTEUND sinds 2025-12-31", "Personen in het toegangsregister",
                 "| systeemaccount alice |", "| databasegebruiker wikiuser@localhost |"):  # fmt: skip
        assert text in markdown, text
    assert 'lang="nl"' in documents["system-documentation"]["html"]
    assert "# Migratieadvies" in documents["migration-advice"]["md"]
    for english in ("System documentation", "Backups", "END OF LIFE", "Support policy"):
        assert english not in markdown, english
