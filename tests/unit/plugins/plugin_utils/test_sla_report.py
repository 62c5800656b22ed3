# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import json

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils import sla_report
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_trail
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report import (
    ReportError,
    kpis,
    load_period,
    security_latencies,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    SlaConfigError,
    resolve_targets,
)

MARCH = ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
# Planted so the test knows the exact latency: 1 h 45 min 30.5 s.
T0 = "2026-03-02T06:00:00.250000Z"
T1 = "2026-03-02T07:45:30.750000Z"
LIBXML = "2.9.14+dfsg-1.3~deb12u2"
_SUMMARY_KEY = {"approved": "apply", "advised": "advise", "refused": "refuse"}


def _at(text):
    return datetime.datetime.fromisoformat(text)


def _record(time, host, run, activity, decision, item, **fields):
    return dict(
        kind="decision",
        time=time,
        run_id=run,
        operator="alice",
        customer="acme",
        host=host,
        tier="pro",
        activity=activity,
        decision=decision,
        item=item,
        **fields,
    )


def _plan(time, host, run, offers, activity="updates", check_mode=False):
    """One plan call as update_plan/cms_plan write it: a record per item, then `planned`.

    ``offers`` are (item, installed, candidate, decision, result extras).
    """
    records, summary = [], dict.fromkeys(_SUMMARY_KEY.values(), 0)
    for item, installed, candidate, decision, extra in offers:
        result = {"kind": "update", "security": False, **extra}
        records.append(
            _record(
                time,
                host,
                run,
                activity,
                decision,
                item,
                action=f"twovalue.sla.{'cms' if activity == 'cms' else 'update'}_plan",
                reason=f"{item} {installed} -> {candidate}",
                before=installed,
                after=candidate,
                approval=result.pop("approval", None),
                result=result,
                check_mode=check_mode,
            )
        )
        summary[_SUMMARY_KEY[decision]] += 1
    records.append(
        _record(
            time,
            host,
            run,
            activity,
            "planned",
            "change_set",
            after="c" * 64,
            result={"summary": summary, "advice_files": "[]"},
            check_mode=check_mode,
        )
    )
    return records


def _applied(time, host, run, after, before=None, decision="applied", approval=None):
    """The change-set record roles/updates/tasks/apply.yml writes."""
    return _record(
        time,
        host,
        run,
        "updates",
        decision,
        "change_set",
        action="twovalue.sla.audit_event",
        reason=f"{len(after)} packages",
        before=before or dict.fromkeys(after, "0"),
        after=after,
        approval=approval,
        result={"change_set": "c" * 64},
    )


SEC = {"security": True}
PERIODIC = {}

# Two hosts, February (before the period), March (the period), April (after).
BATCHES = [
    [dict(kind="run_start", time="2026-02-10T05:59:00Z", run_id="r0", host=None)],
    # web1's last periodic update before March.
    _plan(
        "2026-02-10T06:00:00Z",
        "web1",
        "r0",
        [("openssl", "3.0.15", "3.0.16", "approved", PERIODIC)],
    ),
    [_applied("2026-02-10T06:05:00Z", "web1", "r0", {"openssl": "3.0.16"})],
    # web2: a security update first seen in February, applied in March; vim
    # (non-security) is advised in every web2 plan and never applied.
    _plan(
        "2026-02-27T10:00:00Z",
        "web2",
        "r1",
        [
            ("libxml2", "2.9.14", LIBXML, "advised", SEC),
            ("vim", "9.0.1", "9.0.2", "advised", PERIODIC),
        ],
    ),
    _plan(
        "2026-03-01T06:00:00Z",
        "web2",
        "r2",
        [
            ("libxml2", "2.9.14", LIBXML, "approved", SEC),
            ("vim", "9.0.1", "9.0.2", "advised", PERIODIC),
        ],
    ),
    [_applied("2026-03-01T06:20:00Z", "web2", "r2", {"libxml2": LIBXML})],
    # web1: security and periodic update together, at the planted times.
    _plan(
        T0,
        "web1",
        "r3",
        [
            ("curl", "7.88.1-10", "7.88.1-11", "approved", SEC),
            ("bash", "5.2.15-1", "5.2.15-2", "approved", PERIODIC),
        ],
    ),
    [_applied(T1, "web1", "r3", {"curl": "7.88.1-11", "bash": "5.2.15-2"})],
    # web1's wiki: a security release switched, a branch upgrade refused (twice).
    _plan(
        "2026-03-05T06:00:00Z",
        "web1",
        "r4",
        [
            ("mediawiki /var/www/wiki", "1.39.17", "1.39.18", "approved", SEC),
            ("mediawiki /var/www/wiki", "1.39.17", "1.43.6", "refused", {"kind": "upgrade"}),
        ],
        activity="cms",
    ),
    [
        _record(
            "2026-03-05T06:10:00Z",
            "web1",
            "r4",
            "cms",
            "applied",
            "mediawiki /var/www/wiki",
            before="1.39.17",
            after="1.39.18",
            result={"change_set": "c" * 64},
        )
    ],
    # web2: sudo is offered, then no longer (installed by the hoster, say).
    _plan(
        "2026-03-08T06:00:00Z",
        "web2",
        "r5",
        [
            ("sudo", "1.9.13p3-1", "1.9.13p3-2", "advised", SEC),
            ("vim", "9.0.1", "9.0.2", "advised", PERIODIC),
        ],
    ),
    _plan("2026-03-09T06:00:00Z", "web2", "r6", [("vim", "9.0.1", "9.0.2", "advised", PERIODIC)]),
    # A dry run: it must count for nothing.
    _plan(
        "2026-03-10T06:00:00Z",
        "web1",
        "r7",
        [("tzdata", "2024a-1", "2025b-1", "approved", SEC)],
        check_mode=True,
    ),
    _plan(
        "2026-03-12T06:00:00Z",
        "web1",
        "r8",
        [("mediawiki /var/www/wiki", "1.39.18", "1.43.6", "refused", {"kind": "upgrade"})],
        activity="cms",
    ),
    [
        _record(
            "2026-03-12T06:05:00Z",
            "web1",
            "r8",
            "cms",
            "failed",
            "mediawiki /var/www/wiki schema",
            reason="update.php failed",
        )
    ],
    # web1: nginx security update rolled back, then held outside the window.
    _plan(
        "2026-03-16T06:00:00Z", "web1", "r9", [("nginx", "1.22.1-9", "1.22.1-10", "approved", SEC)]
    ),
    [
        _applied(
            "2026-03-16T06:20:00Z",
            "web1",
            "r9",
            {"nginx": "1.22.1-10"},
            before={"nginx": "1.22.1-9"},
            decision="rolled_back",
        )
    ],
    _plan(
        "2026-03-20T06:00:00Z",
        "web1",
        "r10",
        [
            ("nginx", "1.22.1-9", "1.22.1-10", "advised", SEC),
            ("bash", "5.2.15-2", "5.2.15-3", "approved", {"approval": "SR-1234"}),
        ],
    ),
    [_applied("2026-03-20T06:10:00Z", "web1", "r10", {"bash": "5.2.15-3"}, approval="SR-1234")],
    # web2: a migration project, outside the SLA figures.
    _plan(
        "2026-03-25T06:00:00Z",
        "web2",
        "r11",
        [
            (
                "php-common",
                "2:93",
                "2:96",
                "approved",
                {"kind": "upgrade", "outside_sla": True, "approval": "MIG-7"},
            ),
            ("vim", "9.0.1", "9.0.2", "advised", PERIODIC),
        ],
    ),
    [_applied("2026-03-25T06:30:00Z", "web2", "r11", {"php-common": "2:96"}, approval="MIG-7")],
    # After the period.
    _plan(
        "2026-04-02T06:00:00Z", "web1", "r12", [("zlib1g", "1.2.13", "1.2.13.1", "approved", SEC)]
    ),
]


@pytest.fixture
def trail(tmp_path):
    trail = AuditTrail(str(tmp_path / "audit" / "acme.jsonl"))
    for batch in BATCHES:
        trail.append_many(batch)
    return trail


@pytest.fixture
def march(trail):
    return load_period(trail.path, *MARCH)


@pytest.fixture
def figures(march):
    return kpis(march["records"], resolve_targets("pro"), march["end"], opening=march["opening"])


def _latency(entries, host, package):
    (entry,) = [e for e in entries if e["host"] == host and e["package"] == package]
    return entry


def _lines(path):
    with open(path, "rb") as handle:
        return handle.readlines()


# --------------------------------------------------------------------------- load_period


def test_load_period_returns_the_period_decisions_and_the_verified_head(trail, march):
    seq, head = trail.head()
    assert march["head"] == head
    assert march["head_seq"] == seq == march["trail_records"] == len(_lines(trail.path))
    assert march["start"] == "2026-03-01T00:00:00Z"
    assert march["end"] == "2026-04-01T00:00:00Z"
    assert march["records"]
    for record in march["records"]:
        assert record["kind"] == "decision"
        assert record["check_mode"] is False
        assert MARCH[0] <= record["time"] < MARCH[1]
    assert [r["seq"] for r in march["records"]] == sorted(r["seq"] for r in march["records"])


def test_records_outside_the_period_are_left_out(march):
    items = {record["item"] for record in march["records"]}
    assert "zlib1g" not in items  # April
    assert "openssl" not in items  # February
    # The February sighting is still known, as opening state rather than as a record.
    (pending,) = march["opening"]["security_pending"]
    assert (pending["host"], pending["package"], pending["first_seen"]) == (
        "web2",
        "libxml2",
        "2026-02-27T10:00:00Z",
    )
    assert march["opening"]["periodic_anchors"]["web1"][-1]["time"] == "2026-02-10T06:05:00Z"


def test_check_mode_records_are_ignored(march, figures):
    assert "tzdata" not in {record["item"] for record in march["records"]}
    assert march["ignored_check_mode"] == 2
    assert "tzdata" not in {e["package"] for e in security_latencies(march["records"])}
    # Passing check-mode records to kpis directly changes nothing either.
    dry = [dict(r, check_mode=True, time="2026-03-10T06:00:00Z") for r in march["records"][:3]]
    again = kpis(
        march["records"] + dry, resolve_targets("pro"), march["end"], opening=march["opening"]
    )
    assert again == figures


@pytest.mark.parametrize(
    ("tamper", "seq"),
    [
        (lambda lines: lines.__setitem__(3, lines[3].replace(b"3.0.16", b"3.0.99")), "seq 4"),
        (lambda lines: lines.__delitem__(3), "seq 5"),
    ],
)
def test_a_tampered_trail_is_refused_naming_the_first_bad_line(trail, tamper, seq):
    lines = _lines(trail.path)
    tamper(lines)
    with open(trail.path, "wb") as handle:
        handle.writelines(lines)
    with pytest.raises(
        ReportError, match=rf"does not verify.* at line 4 \({seq}\): (edited|deleted)"
    ):
        load_period(trail.path, *MARCH)


def test_a_missing_trail_is_refused(tmp_path):
    with pytest.raises(ReportError, match="does not verify.*trail file is absent"):
        load_period(str(tmp_path / "none.jsonl"), *MARCH)


def test_an_hmac_trail_needs_its_key(tmp_path):
    key = b"report-key"
    trail = AuditTrail(str(tmp_path / "acme.jsonl"), key=key)
    trail.append_many(BATCHES[1])
    with pytest.raises(ReportError, match="key_required"):
        load_period(trail.path, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")
    period = load_period(trail.path, "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", key=key)
    assert len(period["records"]) == 2


def test_records_appended_after_verification_are_not_read(trail, monkeypatch):
    _seq, head = trail.head()

    def verify_then_append(path, key=None):
        report = verify_trail(path, key=key)
        trail.append(_record("2026-03-30T00:00:00Z", "web1", "late", "updates", "advised", "x"))
        return report

    monkeypatch.setattr(sla_report, "verify_trail", verify_then_append)
    period = load_period(trail.path, *MARCH)
    assert period["head"] == head
    assert "x" not in {record["item"] for record in period["records"]}


def test_an_edit_after_verification_is_refused(trail, monkeypatch):
    def verify_then_edit(path, key=None):
        report = verify_trail(path, key=key)
        lines = _lines(path)
        lines[5] = lines[5].replace(b'"decision":"advised"', b'"decision":"approved"')
        with open(path, "wb") as handle:
            handle.writelines(lines)
        return report

    monkeypatch.setattr(sla_report, "verify_trail", verify_then_edit)
    with pytest.raises(ReportError, match="line 6 changed after the trail was verified"):
        load_period(trail.path, *MARCH)


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-03-01T00:00:00", MARCH[1], "start is 2026-03-01T00:00:00 without a timezone"),
        (MARCH[1], MARCH[0], "is not after start"),
        ("March", MARCH[1], "expected an ISO 8601 time"),
    ],
)
def test_period_bounds_must_be_unambiguous(trail, start, end, message):
    with pytest.raises(ValueError, match=message):
        load_period(trail.path, start, end)


def test_period_bounds_may_be_datetimes_in_any_zone(trail, march):
    amsterdam = datetime.timezone(datetime.timedelta(hours=1))
    period = load_period(
        trail.path,
        datetime.datetime(2026, 3, 1, 1, 0, tzinfo=amsterdam),
        datetime.datetime(2026, 4, 1, tzinfo=datetime.UTC),
    )
    assert period == march


# --------------------------------------------------------------------------- latencies


def test_latency_is_exactly_applied_minus_first_seen(march):
    curl = _latency(security_latencies(march["records"], march["opening"]), "web1", "curl")
    assert curl["first_seen"] == T0
    assert curl["applied"] == T1
    assert curl["hours"] == (_at(T1) - _at(T0)) / datetime.timedelta(hours=1)
    assert curl["hours"] == 6330.5 / 3600
    assert (curl["status"], curl["version"], curl["applied_version"]) == (
        "applied",
        "7.88.1-11",
        "7.88.1-11",
    )


def test_first_seen_before_the_period_comes_from_the_opening_state(march):
    entries = security_latencies(march["records"], march["opening"])
    libxml = _latency(entries, "web2", "libxml2")
    assert libxml["first_seen"] == "2026-02-27T10:00:00Z"
    assert libxml["hours"] == 44 + 20 / 60
    # Without the opening state the period only knows the March sighting.
    alone = _latency(security_latencies(march["records"]), "web2", "libxml2")
    assert alone["first_seen"] == "2026-03-01T06:00:00Z"


def test_opening_state_gives_the_same_latencies_as_the_whole_trail(trail, march):
    whole = load_period(trail.path, "2026-01-01T00:00:00Z", MARCH[1])
    assert whole["opening"]["security_pending"] == []
    from_start = [
        e
        for e in security_latencies(whole["records"])
        if e["status"] == "pending" or (e["applied"] or e["resolved"]) >= MARCH[0]
    ]
    assert security_latencies(march["records"], march["opening"]) == from_start


def test_a_cms_security_release_is_applied_by_its_switch(march):
    wiki = _latency(
        security_latencies(march["records"], march["opening"]), "web1", "mediawiki /var/www/wiki"
    )
    assert (wiki["activity"], wiki["version"], wiki["applied"]) == (
        "cms",
        "1.39.18",
        "2026-03-05T06:10:00Z",
    )
    assert wiki["hours"] == pytest.approx(1 / 6)


def test_a_rolled_back_update_stays_pending(march):
    nginx = _latency(security_latencies(march["records"], march["opening"]), "web1", "nginx")
    assert (nginx["status"], nginx["applied"], nginx["hours"]) == ("pending", None, None)
    assert nginx["first_seen"] == "2026-03-16T06:00:00Z"
    assert nginx["last_decision"] == "advised"


def test_an_update_no_longer_offered_is_resolved_elsewhere(march):
    sudo = _latency(security_latencies(march["records"], march["opening"]), "web2", "sudo")
    assert (sudo["status"], sudo["applied"], sudo["resolved"]) == (
        "resolved_elsewhere",
        None,
        "2026-03-09T06:00:00Z",
    )


def test_an_incomplete_plan_call_proves_nothing_was_resolved():
    records = _plan(
        "2026-03-01T06:00:00Z",
        "web1",
        "r1",
        [("curl", "1", "2", "approved", SEC)],
    )
    later = _plan("2026-03-02T06:00:00Z", "web1", "r2", [("bash", "1", "2", "advised", PERIODIC)])
    # The bash record is lost: the planned record's summary counts one item not seen.
    (curl,) = security_latencies(records + later[1:])
    assert curl["status"] == "pending"


def test_a_newer_version_applied_ends_the_first_exposure():
    records = _plan("2026-03-01T06:00:00Z", "web1", "r1", [("curl", "1", "2", "advised", SEC)])
    records += _plan("2026-03-02T06:00:00Z", "web1", "r2", [("curl", "1", "3", "approved", SEC)])
    records.append(_applied("2026-03-02T07:00:00Z", "web1", "r2", {"curl": "3"}))
    first, second = security_latencies(records)
    assert (first["version"], first["applied_version"], first["hours"]) == ("2", "3", 25.0)
    assert (second["version"], second["applied_version"], second["hours"]) == ("3", "3", 1.0)


# --------------------------------------------------------------------------- kpis


def test_security_updates_applied_in_time(figures):
    in_time = figures["security_updates_in_time"]
    assert in_time["target"] == 24
    assert (in_time["applied"], in_time["in_time"]) == (3, 2)
    assert in_time["share"] == 2 / 3
    assert in_time["measured"] == 44 + 20 / 60
    assert in_time["met"] is False
    assert (in_time["worst"]["host"], in_time["worst"]["package"]) == ("web2", "libxml2")
    assert [late["package"] for late in in_time["late"]] == ["libxml2"]


def test_security_updates_pending_past_the_deadline(figures):
    overdue = figures["security_updates_past_deadline"]
    assert (overdue["target"], overdue["deadline_hours"], overdue["measured"]) == (0, 24, 1)
    assert overdue["met"] is False
    (nginx,) = overdue["items"]
    assert (nginx["host"], nginx["package"]) == ("web1", "nginx")
    assert nginx["age_hours"] == (_at(MARCH[1]) - _at("2026-03-16T06:00:00Z")) / datetime.timedelta(
        hours=1
    )
    assert [e["package"] for e in figures["security_updates_resolved_elsewhere"]] == ["sudo"]


def test_a_looser_tier_meets_what_pro_misses(march):
    targets = resolve_targets("pro", {"security_update_deadline_hours": 48})
    figures = kpis(march["records"], targets, march["end"], opening=march["opening"])
    assert figures["security_updates_in_time"]["met"] is True
    assert figures["security_updates_in_time"]["share"] == 1.0


def test_periodic_updates_per_host(figures):
    periodic = figures["periodic_updates"]
    assert (periodic["target"], periodic["met"]) == (30, False)
    web1, web2 = periodic["hosts"]["web1"], periodic["hosts"]["web2"]
    # web1: from the February update to the March one is the longest gap.
    assert web1["met"] is True
    assert web1["status"] == "periodic updates applied"
    assert web1["periodic_updates_applied"] == 2
    assert web1["plans_with_nothing_due"] == 1  # the nginx-only plan
    assert web1["gap_from"] == {"time": "2026-02-10T06:05:00Z", "what": "periodic update applied"}
    assert web1["gap_to"] == {
        "time": "2026-03-02T07:45:30.750000Z",
        "what": "periodic update applied",
    }
    assert web1["measured"] == (_at(T1) - _at("2026-02-10T06:05:00Z")) / datetime.timedelta(days=1)
    assert web1["last_periodic_update"] == "2026-03-20T06:10:00Z"
    # web2: vim is always pending; the security and migration changes do not count.
    assert web2["status"] == "no periodic update in period"
    assert web2["measured"] == 31
    assert web2["met"] is False
    assert web2["last_periodic_update"] is None
    assert web2["gap_from"]["what"] == "period start"
    assert periodic["measured"] == 31


def test_a_plan_with_nothing_due_keeps_the_host_compliant():
    records = _plan("2026-03-01T06:00:00Z", "web1", "r1", [])
    records += _plan("2026-03-20T06:00:00Z", "web1", "r2", [("curl", "1", "2", "advised", SEC)])
    opening = {"at": MARCH[0]}
    host = kpis(records, resolve_targets("pro"), MARCH[1], opening=opening)["periodic_updates"][
        "hosts"
    ]["web1"]
    assert host["status"] == "no periodic update in period"
    assert host["plans_with_nothing_due"] == 2
    assert host["met"] is True
    assert host["measured"] == pytest.approx(19)


def test_a_plan_call_cut_by_the_period_start_still_classifies_its_update(tmp_path):
    trail = AuditTrail(str(tmp_path / "acme.jsonl"))
    trail.append_many(
        _plan("2026-02-28T23:58:00Z", "web3", "r1", [("bash", "1", "2", "approved", PERIODIC)])
    )
    trail.append(_applied("2026-03-01T00:03:00Z", "web3", "r1", {"bash": "2"}))
    period = load_period(trail.path, *MARCH)
    figures = kpis(period["records"], resolve_targets("pro"), period["end"], period["opening"])
    host = figures["periodic_updates"]["hosts"]["web3"]
    assert host["status"] == "periodic updates applied"
    assert host["periodic_updates_applied"] == 1
    # 30 days 23 h 57 min to the end of March: over pro's 30 days.
    assert host["measured"] == 44637 / 1440
    assert host["met"] is False


def test_activity_counts_approvals_rollbacks_and_failures(figures):
    activity = figures["activity"]
    assert activity["by_activity"] == {
        "cms": {"applied": 1, "approved": 1, "failed": 1, "planned": 2, "refused": 2},
        "updates": {"advised": 6, "applied": 4, "approved": 6, "planned": 7, "rolled_back": 1},
    }
    assert (activity["applied"], activity["advised"], activity["refused"]) == (5, 6, 2)
    assert activity["approvals_used"] == {"records": 2, "references": ["SR-1234"]}
    assert activity["migration_projects"] == {"records": 2, "references": ["MIG-7"]}
    assert activity["rollbacks"]["count"] == 1
    assert activity["rollbacks"]["items"][0]["host"] == "web1"
    assert activity["failures"]["count"] == 1
    assert activity["failures"]["items"][0]["item"] == "mediawiki /var/www/wiki schema"


def test_cms_migration_advice_is_listed_once_per_move(figures):
    (advice,) = figures["cms_migration_advice"]
    assert advice["host"] == "web1"
    assert advice["item"] == "mediawiki /var/www/wiki"
    assert (advice["installed"], advice["candidate"]) == ("1.39.18", "1.43.6")
    assert advice["times_recorded"] == 2
    assert advice["first_recorded"] == "2026-03-05T06:00:00Z"
    assert advice["last_recorded"] == "2026-03-12T06:00:00Z"


def test_every_kpi_has_its_target_next_to_a_measured_value_and_met(figures):
    kpi_dicts = [
        figures["security_updates_in_time"],
        figures["security_updates_past_deadline"],
        figures["periodic_updates"],
        *figures["periodic_updates"]["hosts"].values(),
    ]
    for kpi in kpi_dicts:
        assert {"target", "unit", "measured", "met"} <= set(kpi)
        assert isinstance(kpi["met"], bool)
    assert figures["period"] == {"start": MARCH[0], "end": MARCH[1]}
    # The figures go into a report file as they are.
    assert json.loads(json.dumps(figures)) == figures


def test_kpis_without_an_opening_start_at_the_first_record(march):
    figures = kpis(march["records"], resolve_targets("pro"), march["end"])
    assert figures["period"]["start"] == "2026-03-01T06:00:00Z"
    # libxml2 now counts from its first March sighting; curl is the slowest.
    assert figures["security_updates_in_time"]["measured"] == 6330.5 / 3600


def test_an_empty_period_meets_the_security_targets(tmp_path):
    trail = AuditTrail(str(tmp_path / "acme.jsonl"))
    trail.append_many(BATCHES[1] + BATCHES[2])
    period = load_period(trail.path, *MARCH)
    figures = kpis(period["records"], resolve_targets("medium"), period["end"], period["opening"])
    assert figures["security_updates_in_time"] | {"worst": None} == {
        "target": 72,
        "unit": "hours from first seen to applied",
        "measured": None,
        "met": True,
        "applied": 0,
        "in_time": 0,
        "share": None,
        "worst": None,
        "late": [],
    }
    # web1 was last updated in February: still within medium's 90 days.
    assert figures["periodic_updates"]["hosts"]["web1"]["met"] is True


def test_kpis_need_complete_targets(march):
    with pytest.raises(SlaConfigError, match="decision_mode is missing from the targets"):
        kpis(march["records"], {"security_update_deadline_hours": 24}, march["end"])


def _access_run(time, host, run, check_mode=False):
    return _record(time, host, run, "access", "planned", "access register", check_mode=check_mode)


def test_access_reviews_are_measured_from_the_access_runs():
    opening = {
        "at": "2026-03-01T00:00:00+00:00",
        "access_reviews": {"web1": ["2026-02-20T06:00:00+00:00"]},
    }
    records = [
        _access_run("2026-03-10T06:00:00+00:00", "web1", "a1"),
        _access_run("2026-03-25T06:00:00+00:00", "web1", "a2", check_mode=True),
        _access_run("2026-03-05T06:00:00+00:00", "web2", "a3"),
    ]
    end = _at("2026-04-01T00:00:00+00:00")
    reviews = kpis(records, resolve_targets("pro"), end, opening=opening)["access_reviews"]
    # web1: 20 Feb to 10 Mar (18 days), then 10 Mar 06:00 to the period end (21.75); the
    # check-mode run is no review. web2: the start to 5 Mar 06:00, then 26.75 days to the end.
    assert reviews["hosts"]["web1"]["measured"] == pytest.approx(21.75)
    assert reviews["hosts"]["web1"]["reviews"] == 1
    assert reviews["hosts"]["web2"]["measured"] == pytest.approx(26.75)
    assert reviews["measured"] == pytest.approx(26.75) and reviews["met"] is True
    quarterly = dict(resolve_targets("pro"), access_review_interval_days=20)
    assert kpis(records, quarterly, end, opening=opening)["access_reviews"]["met"] is False


def test_without_access_runs_the_review_is_not_measured(march, figures):
    assert figures["access_reviews"] == {
        "target": 90,
        "unit": "days between access reviews, longest over the hosts",
        "measured": None,
        "met": None,
        "hosts": {},
    }


def _backup(time, host, decision="applied", verified=True, check_mode=False, site="/var/www/wiki"):
    return _record(time, host, "b-" + time[:10], "backup", decision, site,
                   result={"verified": verified}, check_mode=check_mode)  # fmt: skip


def test_verified_backups_are_measured_per_site_as_the_longest_time_without_a_restore_point():
    wiki, blog = "web1 /var/www/wiki", "web1 /var/www/blog"
    opening = {
        "at": "2026-03-01T00:00:00+00:00",
        "verified_backups": {"web1": {"/var/www/wiki": ["2026-02-27T02:00:00+00:00"]}},
    }
    records = [
        _backup("2026-03-02T02:00:00+00:00", "web1"),
        # Written but not verified, failed, or in check mode: no restore point.
        _backup("2026-03-10T02:00:00+00:00", "web1", verified=False),
        _backup("2026-03-11T02:00:00+00:00", "web1", decision="failed", verified=False),
        _backup("2026-03-12T02:00:00+00:00", "web1", check_mode=True),
        _backup("2026-03-22T02:00:00+00:00", "web1"),
        # A second site on the same host whose backups only failed: its whole month
        # counts, however well the wiki is backed up.
        _backup("2026-03-05T02:00:00+00:00", "web1", decision="failed", site="/var/www/blog"),
        # A run that failed before any site names the host: it makes no site.
        _backup("2026-03-06T02:00:00+00:00", "web1", decision="failed", site="web1"),
        # Backups left the SLA on web2: its earlier failure is measured no longer.
        _backup("2026-03-05T02:00:00+00:00", "web2", decision="failed", verified=False),
        _backup("2026-03-07T02:00:00+00:00", "web2", decision="skipped", site="web2"),
    ]
    end = _at("2026-04-01T00:00:00+00:00")
    backups = kpis(records, resolve_targets("medium"), end, opening=opening)["verified_backups"]
    assert set(backups["sites"]) == {wiki, blog}
    # 2 Mar to 22 Mar is the wiki's longest stretch: 20 days.
    assert backups["sites"][wiki]["measured"] == pytest.approx(20)
    assert backups["sites"][wiki]["backups"] == 2 and backups["sites"][wiki]["met"] is True
    assert backups["sites"][wiki]["last_backup"] == "2026-03-22T02:00:00Z"
    assert backups["sites"][blog]["measured"] == pytest.approx(31)
    assert backups["met"] is False and backups["target"] == 30
    # Carried over: the next period starts from each site's last verified backup.
    ledger, _used = sla_report._replay(records, opening, end)
    assert ledger.state(end)["verified_backups"] == {
        "web1": {"/var/www/blog": [], "/var/www/wiki": ["2026-03-22T02:00:00+00:00"]}
    }


def test_without_backup_records_backups_are_not_measured(march, figures):
    assert figures["verified_backups"]["measured"] is None
    assert figures["verified_backups"]["met"] is None
