# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLA report's documents, rendered from a recorded quarter of a real trail."""

from __future__ import annotations

import datetime
import html.parser
import json
import pathlib

import pytest
import sla_report_trail as recorded
from ansible_collections.twovalue.sla.plugins.plugin_utils import sla_report_charts as charts
from ansible_collections.twovalue.sla.plugins.plugin_utils import sla_report_data as report_data
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report import load_period
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report_render import (
    STRINGS,
    ReportRenderError,
    build_report,
    last_complete_quarter,
    period_bounds,
    period_label,
    render_all,
    render_html,
    render_json,
    render_markdown,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets

TARGETS = resolve_targets(recorded.TIER)


@pytest.fixture(scope="module")
def trail(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "acme.jsonl"
    period_head = recorded.write_trail(path)
    assert verify_trail(str(path)).valid
    return path, period_head


@pytest.fixture(scope="module")
def data(trail):
    path, _head = trail
    start, end = period_bounds(*recorded.PERIOD, TARGETS["timezone"])
    period = load_period(str(path), start, end)
    return build_report(period, TARGETS, recorded.CUSTOMER, recorded.TIER)


@pytest.fixture(scope="module")
def documents(data):
    return {language: render_all(data, language) for language in ("en", "nl")}


class _Page(html.parser.HTMLParser):
    """The text of each table row, per table class, and the page's inline SVGs."""

    def __init__(self):
        super().__init__()
        self.rows, self.svgs, self.external = {}, 0, []
        self._table = self._row = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = attrs.get("class")
            self.rows.setdefault(self._table, [])
        elif tag == "tr" and self._table:
            self._row = []
        elif tag == "svg":
            self.svgs += 1
        for name in ("src", "href"):
            if name in attrs and not attrs[name].startswith("#"):
                self.external.append(attrs[name])
        if tag == "link":
            self.external.append(attrs)

    def handle_endtag(self, tag):
        if tag == "tr" and self._row is not None:
            self.rows[self._table].append(" ".join(self._row))
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, text):
        if self._row is not None and text.strip():
            self._row.append(text.strip())


def _page(text):
    page = _Page()
    page.feed(text)
    return page


def _row(rows, *starts):
    (row,) = [row for row in rows if row.startswith(starts)]
    return row


# --------------------------------------------------------------------------- numbers


def test_the_planted_latency_is_exactly_applied_minus_first_seen(data):
    t0 = datetime.datetime.fromisoformat(recorded.T0)
    t1 = datetime.datetime.fromisoformat(recorded.T1)
    assert (t1 - t0).total_seconds() == recorded.LATENCY_SECONDS
    (curl,) = [entry for entry in data["security_updates"] if entry["package"] == "curl"]
    assert curl["seconds"] == recorded.LATENCY_SECONDS
    in_time = data["kpis"][0]
    assert in_time["id"] == "security_in_time"
    assert in_time["measured_seconds"] == recorded.LATENCY_SECONDS
    assert (in_time["applied"], in_time["in_time"], in_time["met"]) == (3, 3, True)


@pytest.mark.parametrize(
    ("language", "kpi_cells", "security_row"),
    [
        (
            "en",
            (
                "Security updates applied within the deadline",
                "at most 24 h from first seen to applied",
                "slowest 12 h 15 min 30.5 s; 3 of 3 in time",
                "yes",
            ),
            "acme-prod curl 7.88.1-10+deb12u8 7.88.1-10+deb12u9 2026-01-12 06:30 "
            "2026-01-12 18:45 12 h 15 min 30.5 s applied yes",
        ),
        (
            "nl",
            (
                "Beveiligingsupdates binnen de termijn geïnstalleerd",
                "hoogstens 24 u van eerst gezien tot geïnstalleerd",
                "traagste 12 u 15 min 30,5 s; 3 van 3 op tijd",
                "ja",
            ),
            "acme-prod curl 7.88.1-10+deb12u8 7.88.1-10+deb12u9 2026-01-12 06:30 "
            "2026-01-12 18:45 12 u 15 min 30,5 s geïnstalleerd ja",
        ),
    ],
)
def test_the_kpi_table_shows_the_latency_in_both_languages(
    documents, language, kpi_cells, security_row
):
    page = _page(documents[language]["html"])
    assert " ".join(kpi_cells) in page.rows["kpis"]
    assert security_row in page.rows["security"]
    # The Markdown says the same in its own table syntax.
    assert "| " + " | ".join(kpi_cells) + " |" in documents[language]["md"]


def test_the_other_kpis_follow_the_recorded_quarter(documents):
    rows = _page(documents["en"]["html"]).rows["kpis"]
    assert _row(rows, "Security updates pending past").endswith(
        "1 (0 pending within the deadline) no"
    )
    assert _row(rows, "Periodic updates on acme-prod").endswith("longest gap 28.5 days yes")
    # Staging is the hoster's: never updated, so the whole quarter is its gap.
    assert _row(rows, "Periodic updates on acme-staging").endswith("longest gap 90.0 days no")
    assert _row(rows, "Backups verified").endswith("none recorded not measured")
    assert _row(rows, "Access review").endswith("every 90 days none recorded not measured")


def test_pending_update_is_shown_with_its_age_and_addressee(data, documents):
    (libxml,) = [entry for entry in data["security_updates"] if entry["package"] == "libxml2"]
    assert libxml["status"] == "pending"
    assert libxml["first_seen"] == "2025-12-20T05:00:00Z"
    # Age at the period's end, 2026-04-01 00:00 in Amsterdam.
    assert (
        libxml["seconds"]
        == (
            datetime.datetime(2026, 3, 31, 22, tzinfo=datetime.UTC)
            - datetime.datetime(2025, 12, 20, 5, tzinfo=datetime.UTC)
        ).total_seconds()
    )
    assert libxml["addressed_to"] == "hoster"
    row = _row(_page(documents["nl"]["html"]).rows["security"], "acme-staging libxml2")
    assert row.endswith("2441 u open nee hoster")


def test_activities_list_what_was_done(documents):
    rows = _page(documents["en"]["html"]).rows
    assert len(rows["applied"]) == 1 + 5
    assert _row(rows["applied"], "2026-03-10 10:10 acme-prod OS and LAMP updates nginx").endswith(
        "1.22.1-9+deb12u1 1.22.1-9+deb12u2 SR-2041"
    )
    assert _row(rows["approvals"], "SR-2041") == "SR-2041 acme-prod 3 2026-03-10 10:00"
    assert _row(rows["migration"], "acme-prod CMS mediawiki") == (
        "acme-prod CMS mediawiki /var/www/wiki 1.39.18 1.43.6 refused 2 "
        "mediawiki /var/www/wiki 1.39.18 -> 1.43.6"
    )
    assert _row(rows["migration"], "acme-prod OS and LAMP updates mariadb-server") == (
        "acme-prod OS and LAMP updates mariadb-server 1:10.11.11-0+deb12u1 1:11.4.5-1~bpo12+1 "
        "refused 1 a backports candidate is a new branch"
    )
    assert _row(rows["rollbacks"], "2026-03-10 06:20").startswith(
        "2026-03-10 06:20 acme-prod OS and LAMP updates nginx, vim rolled back health check"
    )
    assert _row(rows["advised"], "acme-staging OS and LAMP updates libxml2").endswith(
        "yes hoster 3 the hoster controls the OS layer; login ******** expired"
    )


def test_nothing_recorded_is_said_so(documents):
    for language, words in (("en", "none recorded"), ("nl", "niets vastgelegd")):
        for document in (documents[language]["html"], documents[language]["md"]):
            for heading in ("sub_access", "sub_backups"):
                assert f"{STRINGS[language][heading]}</h3>\n<p>{words}</p>" in document or (
                    f"### {STRINGS[language][heading]}\n\n{words}\n" in document
                )


def test_dry_runs_and_records_after_the_period_count_for_nothing(data, documents):
    packages = {entry["package"] for entry in data["security_updates"]}
    assert not {"tzdata", "zlib1g"} & packages
    assert data["ignored_check_mode"] == 2
    for language in ("en", "nl"):
        for document in documents[language].values():
            assert "tzdata" not in document
            assert "zlib1g" not in document


def test_the_head_is_the_trail_at_the_end_of_the_period(trail, data, documents):
    _path, (seq, head) = trail
    assert data["trail"] == {"file": "acme.jsonl", "head": head, "seq": seq}
    for language in ("en", "nl"):
        for document in documents[language].values():
            assert head in document
    assert f"verify acme.jsonl --head {head}" in documents["nl"]["md"]


def test_json_holds_the_data_and_the_language(data, documents):
    for language in ("en", "nl"):
        document = json.loads(documents[language]["json"])
        assert document == {**json.loads(json.dumps(data)), "language": language}
    assert document["period"] == {
        "label": "2026-Q1",
        "first_day": "2026-01-01",
        "last_day": "2026-03-31",
        "start": "2025-12-31T23:00:00Z",
        "end": "2026-03-31T22:00:00Z",
        "timezone": "Europe/Amsterdam",
    }


# --------------------------------------------------------------------------- page


def test_html_is_one_self_contained_page_with_two_charts(documents):
    for language in ("en", "nl"):
        text = documents[language]["html"]
        page = _page(text)
        assert page.svgs == 2
        assert page.external == []
        assert f'<html lang="{language}">' in text
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
        assert "@media print" in text
        assert "<?xml" not in text and "<!DOCTYPE svg" not in text
        assert text.count('role="img"') == 2
        # Two charts in one page must not share an element id.
        ids = [part.split('"', 1)[0] for part in text.split(' id="')[1:]]
        assert len(ids) == len(set(ids))


def test_chart_texts_follow_the_language(documents):
    assert 'aria-label="Security updates: hours to apply"' in documents["en"]["html"]
    assert 'aria-label="Beveiligingsupdates: uren tot installatie"' in documents["nl"]["html"]


def test_markdown_has_no_chart_but_every_table(documents):
    markdown = documents["en"]["md"]
    assert "<svg" not in markdown
    assert markdown.count("\n## ") == 5
    assert "| KPI | Target | Measured | Met |" in markdown


# --------------------------------------------------------------------------- properties


def test_rendering_twice_gives_the_same_bytes(trail, data, documents):
    path, _head = trail
    start, end = period_bounds(*recorded.PERIOD, TARGETS["timezone"])
    again = build_report(load_period(str(path), start, end), TARGETS, "acme", "pro")
    assert again == data
    for language in ("en", "nl"):
        assert render_all(again, language) == documents[language]
    # Nothing in them depends on when or where they were made.
    today = datetime.date.today().isoformat()
    for document in documents["en"].values():
        assert today not in document
        assert str(path.parent) not in document


def test_no_secret_reaches_any_document(trail, documents):
    path, _head = trail
    raw = path.read_text(encoding="utf-8")
    # The fixture does hold it, where no section looks.
    assert raw.count(recorded.SECRET) == 3
    for language in ("en", "nl"):
        for document in documents[language].values():
            assert recorded.SECRET not in document
            assert "hunter2" not in document
            assert "ops-laptop" not in document
            assert "connection string" not in document


def test_every_language_has_every_text():
    shape = {
        key: sorted(value) if isinstance(value, dict) else None
        for key, value in STRINGS["en"].items()
    }
    for language, texts in STRINGS.items():
        assert {
            key: sorted(value) if isinstance(value, dict) else None for key, value in texts.items()
        } == shape, language


def test_an_unknown_language_is_refused(data):
    for function in (render_html, render_markdown, render_json):
        with pytest.raises(ReportRenderError, match="report language is 'de'; expected one of en"):
            function(data, "de")


def test_a_period_before_the_first_record_still_makes_a_report(trail):
    path, _head = trail
    start, end = period_bounds("2025-10-01", "2025-12-14", TARGETS["timezone"])
    empty = build_report(load_period(str(path), start, end), TARGETS, "acme", "pro")
    assert empty["trail"] == {"file": "acme.jsonl", "head": "0" * 64, "seq": 0}
    page = _page(render_html(empty, "en"))
    assert page.svgs == 0
    markdown = render_markdown(empty)
    assert "No security update was seen or applied in this period." in markdown
    assert "No host had a maintenance run recorded in this period." in markdown
    assert "The audit trail held no record at the end of the period." in markdown
    assert _row(page.rows["kpis"], "Security updates applied").endswith(
        "none applied in the period yes"
    )


def test_a_period_with_only_pending_updates_charts_their_age(trail):
    path, _head = trail
    start, end = period_bounds("2027-01-01", "2027-03-31", TARGETS["timezone"])
    later = build_report(load_period(str(path), start, end), TARGETS, "acme", "pro")
    assert {(entry["package"], entry["status"]) for entry in later["security_updates"]} == {
        ("libxml2", "pending"),
        ("zlib1g", "pending"),
    }
    assert _page(render_html(later, "en")).svgs == 2


def test_without_matplotlib_the_html_says_what_to_install(data, monkeypatch):
    def missing():
        raise ReportRenderError("the SLA report's charts need matplotlib on the controller")

    monkeypatch.setattr(charts, "_matplotlib", missing)
    with pytest.raises(ReportRenderError, match="need matplotlib"):
        render_html(data)
    assert render_markdown(data)


# --------------------------------------------------------------------------- periods


@pytest.mark.parametrize(
    ("today", "quarter"),
    [
        ("2026-04-01", ("2026-01-01", "2026-03-31")),
        ("2026-06-30", ("2026-01-01", "2026-03-31")),
        ("2026-02-15", ("2025-10-01", "2025-12-31")),
        ("2026-11-28", ("2026-07-01", "2026-09-30")),
    ],
)
def test_the_default_period_is_the_last_complete_quarter(today, quarter):
    first, last = last_complete_quarter(datetime.date.fromisoformat(today))
    assert (first.isoformat(), last.isoformat()) == quarter


@pytest.mark.parametrize(
    ("first", "last", "label"),
    [
        ("2026-01-01", "2026-03-31", "2026-Q1"),
        ("2026-10-01", "2026-12-31", "2026-Q4"),
        ("2026-03-01", "2026-03-31", "2026-03"),
        ("2026-02-01", "2026-04-30", "2026-02-01_2026-04-30"),
        ("2026-01-05", "2026-01-11", "2026-01-05_2026-01-11"),
    ],
)
def test_period_labels(first, last, label):
    assert period_label(first, last) == label


def test_period_days_are_the_customers(trail):
    start, end = period_bounds("2026-03-01", "2026-03-31", "Europe/Amsterdam")
    # Winter time at the start, summer time at the end.
    assert start.astimezone(datetime.UTC).isoformat() == "2026-02-28T23:00:00+00:00"
    assert end.astimezone(datetime.UTC).isoformat() == "2026-03-31T22:00:00+00:00"
    with pytest.raises(ValueError, match="period_end 2026-02-01 is before period_start"):
        period_bounds("2026-03-01", "2026-02-01", "Europe/Amsterdam")
    with pytest.raises(ValueError, match="period_start is 'March'; expected a date"):
        period_bounds("March", "2026-02-01", "Europe/Amsterdam")


def test_updates_of_one_plan_share_a_bar_though_recorded_microseconds_apart():
    def pending(package, first_seen, seconds):
        return {
            "host": "web1",
            "activity": "updates",
            "package": package,
            "first_seen": first_seen,
            "applied": None,
            "seconds": seconds,
        }

    bars = charts._security_bars(
        [
            pending("libperl5.36", "2026-11-28T01:08:21.834277Z", 2930000.000001),
            pending("perl", "2026-11-28T01:08:21.834301Z", 2929999.999977),
            pending("curl", "2026-11-01T01:00:00Z", 5000000.0),
        ],
        24,
        STRINGS["en"],
    )
    assert [label for label, *_rest in bars] == ["web1: curl", "web1: libperl5.36 +1 more"]
    assert all(hatched for *_rest, hatched in bars)


def test_access_reviews_recorded_by_access_runs_are_measured(tmp_path):
    from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail

    path = tmp_path / "acme.jsonl"
    AuditTrail(str(path)).append_many(
        [
            recorded._record(when, "acme-prod", run, "access", "planned", "access register")
            for when, run in (("2026-01-05T06:00:00Z", "a1"), ("2026-02-20T06:00:00Z", "a2"))
        ]
    )
    start, end = period_bounds(*recorded.PERIOD, TARGETS["timezone"])
    report = build_report(load_period(str(path), start, end), TARGETS, "acme", "pro")
    markdown = render_all(report, "en")["md"]
    # The longest gap is between the two runs, 5 Jan to 20 Feb: exactly 46 days.
    (row,) = [line for line in markdown.splitlines() if line.startswith("| Access review")]
    assert row == "| Access review | every 90 days | longest gap 46.0 days | yes |"


def test_verified_backups_are_measured_against_the_retention(tmp_path):
    from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail

    path = tmp_path / "acme.jsonl"
    AuditTrail(str(path)).append_many(
        [
            recorded._record(
                when,
                "acme-prod",
                run,
                "backup",
                "applied",
                "/var/www/wiki",
                result={"verified": True},
            )  # fmt: skip
            for when, run in (("2026-01-01T02:00:00Z", "b1"), ("2026-03-01T02:00:00Z", "b2"))
        ]
    )
    start, end = period_bounds(*recorded.PERIOD, TARGETS["timezone"])
    report = build_report(load_period(str(path), start, end), TARGETS, "acme", "pro")
    markdown = render_all(report, "en")["md"]
    # Pro keeps backups 90 days; the longest stretch without one is 1 Jan to 1 Mar: 59 days.
    (row,) = [line for line in markdown.splitlines() if line.startswith("| Backups verified")]
    assert row == (
        "| Backups verified | a verified backup within 90 days (retention) "
        "| longest gap 59.0 days | yes |"
    )


def test_reboots_pending_name_the_kernel_each_hosts_last_update_left_waiting():
    def applied(time, host, kernel, activity="updates"):
        return {
            "time": time,
            "host": host,
            "activity": activity,
            "decision": "applied",
            "result": {"reboot_pending_for": kernel},
        }

    records = [
        applied("2026-03-02T05:40:00Z", "acme-prod", "6.1.0-50-amd64"),
        applied("2026-03-09T05:40:00Z", "acme-prod", "6.1.0-57-amd64"),
        # A later CMS change says nothing about the kernel.
        applied("2026-03-10T05:40:00Z", "acme-prod", None, activity="cms"),
        applied("2026-03-02T05:40:00Z", "acme-staging", "6.1.0-57-amd64"),
        # Rebooted and updated again since: nothing pending.
        applied("2026-03-09T05:40:00Z", "acme-staging", None),
    ]
    assert report_data._reboots_pending(records) == [
        {"time": "2026-03-09T05:40:00Z", "host": "acme-prod", "kernel": "6.1.0-57-amd64"}
    ]


def test_the_check_command_the_report_gives_runs_a_file_the_collection_ships(data):
    # The customer copies this line: it must name the verifier where the collection has it.
    collection = pathlib.Path(__file__).resolve().parents[4]
    command = next(
        line.strip() for line in render_markdown(data).splitlines() if "sla_audit.py verify" in line
    )
    script = command.split()[1]
    assert command.startswith("python3 ") and (collection / script).is_file(), command
