# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A recorded quarter of one customer's audit trail, written with the real writer.

Customer acme on SLA Pro (24-hour security deadline, 30-day periodic
interval), first quarter of 2026 in Europe/Amsterdam. The numbers are planted
so a test knows what the report must say:

- curl on acme-prod: first seen at T0, applied at T1, 12 h 15 min 30.5 s: the
  slowest of three security updates applied, all in time;
- libxml2 on acme-staging: first seen in December, advised to the hoster,
  still pending at the end of the period: one update past the deadline;
- nginx on acme-prod: rolled back once, then applied under approval SR-2041;
- the wiki's branch upgrade 1.39 -> 1.43 refused twice, and MariaDB 11.4 from
  backports once (migration advice);
- a dry run, and a security update after the period, that count for nothing.

``SECRET`` is planted twice: in a reason, which the trail's redactor masks,
and unmasked in record fields no report section shows (a task result, a
decision's extra result key, the controller name).
"""

from __future__ import annotations

from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_redaction import Redactor

CUSTOMER = "acme"
TIER = "pro"
PERIOD = ("2026-01-01", "2026-03-31")
SECRET = "hunter2-db-Pa55-7f3a"
T0 = "2026-01-12T05:30:00.250000Z"
T1 = "2026-01-12T17:45:30.750000Z"
LATENCY_SECONDS = 12 * 3600 + 15 * 60 + 30.5
LIBXML = "2.9.14+dfsg-1.3~deb12u2"
WIKI = "mediawiki /var/www/wiki"

_SUMMARY_KEY = {"approved": "apply", "advised": "advise", "refused": "refuse"}
SEC = {"security": True}
PERIODIC = {"security": False}


def _record(time, host, run, activity, decision, item, **fields):
    return {
        "kind": "decision",
        "time": time,
        "run_id": run,
        "operator": "ops-alice",
        "controller": "ops-laptop",
        "customer": CUSTOMER,
        "host": host,
        "tier": TIER,
        "activity": activity,
        "decision": decision,
        "item": item,
        **fields,
    }


def _plan(time, host, run, offers, activity="updates", check_mode=False):
    """One plan call as update_plan/cms_plan write it: a record per item, then ``planned``.

    ``offers`` are (item, installed, candidate, decision, result extras).
    """
    records, summary = [], dict.fromkeys(_SUMMARY_KEY.values(), 0)
    for item, installed, candidate, decision, extra in offers:
        result = {
            "kind": "update",
            "security": False,
            "addressed_to": "agency",
            "deadline": None,
            **extra,
        }
        records.append(
            _record(
                time,
                host,
                run,
                activity,
                decision,
                item,
                action=f"twovalue.sla.{'cms' if activity == 'cms' else 'update'}_plan",
                reason=result.pop("reason", f"{item} {installed} -> {candidate}"),
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


def _change_set(time, host, run, after, before, decision="applied", approval=None, reason=None):
    """The change-set record roles/updates/tasks/apply.yml writes."""
    return _record(
        time,
        host,
        run,
        "updates",
        decision,
        "change_set",
        action="twovalue.sla.audit_event",
        reason=reason or f"{len(after)} packages updated",
        before=before,
        after=after,
        approval=approval,
        result={"change_set": "c" * 64, "health": []},
    )


def _run_start(time, run):
    return {
        "kind": "run_start",
        "time": time,
        "run_id": run,
        "operator": "ops-alice",
        "controller": "ops-laptop",
        "customer": CUSTOMER,
        "tier": TIER,
        "activity": "run",
        "item": "playbooks/maintenance.yml",
        "result": {"ansible_version": "2.19.14", "limit": None},
    }


STAGING_OFFERS = [
    (
        "libxml2",
        "2.9.14+dfsg-1.3~deb12u1",
        LIBXML,
        "advised",
        {
            **SEC,
            "addressed_to": "hoster",
            # The writer's redactor masks the planted secret here.
            "reason": f"the hoster controls the OS layer; login {SECRET} expired",
        },
    ),
    ("vim", "2:9.0.1378-2", "2:9.0.1378-2+deb12u1", "advised", {"addressed_to": "hoster"}),
]

REDACTED_BATCHES = [
    [_run_start("2025-12-15T04:59:00Z", "r0")],
    # acme-prod's last periodic update before the quarter.
    _plan(
        "2025-12-15T05:00:00Z",
        "acme-prod",
        "r0",
        [("openssl", "3.0.15-1~deb12u1", "3.0.16-1~deb12u1", "approved", PERIODIC)],
    ),
    [
        _change_set(
            "2025-12-15T05:10:00Z",
            "acme-prod",
            "r0",
            {"openssl": "3.0.16-1~deb12u1"},
            {"openssl": "3.0.15-1~deb12u1"},
        )
    ],
    # acme-staging: a security update the hoster has to install, first seen in December.
    _plan("2025-12-20T05:00:00Z", "acme-staging", "r1", STAGING_OFFERS),
    # The planted latency: curl seen at T0, applied at T1, with a periodic update.
    [_run_start("2026-01-12T05:29:00Z", "r2")],
    _plan(
        T0,
        "acme-prod",
        "r2",
        [
            ("curl", "7.88.1-10+deb12u8", "7.88.1-10+deb12u9", "approved", SEC),
            ("bash", "5.2.15-2+b7", "5.2.15-2+b8", "approved", PERIODIC),
        ],
    ),
    [
        _change_set(
            T1,
            "acme-prod",
            "r2",
            {"curl": "7.88.1-10+deb12u9", "bash": "5.2.15-2+b8"},
            {"curl": "7.88.1-10+deb12u8", "bash": "5.2.15-2+b7"},
        )
    ],
    _plan("2026-01-12T05:31:00Z", "acme-staging", "r2", STAGING_OFFERS),
    # The wiki: a security release switched, the branch upgrade refused.
    _plan(
        "2026-02-02T05:00:00Z",
        "acme-prod",
        "r3",
        [
            (WIKI, "1.39.17", "1.39.18", "approved", SEC),
            (WIKI, "1.39.17", "1.43.6", "refused", {"kind": "upgrade"}),
        ],
        activity="cms",
    ),
    [
        _record(
            "2026-02-02T05:10:00Z",
            "acme-prod",
            "r3",
            "cms",
            "applied",
            WIKI,
            before="1.39.17",
            after="1.39.18",
            result={"change_set": "c" * 64},
        )
    ],
    # A plan with nothing due keeps acme-prod's periodic interval.
    _plan("2026-02-10T05:00:00Z", "acme-prod", "r4", []),
    _plan("2026-02-12T05:00:00Z", "acme-staging", "r4", STAGING_OFFERS),
    # nginx: rolled back after a failed health check, applied again the same morning.
    _plan(
        "2026-03-10T05:00:00Z",
        "acme-prod",
        "r5",
        [
            ("nginx", "1.22.1-9+deb12u1", "1.22.1-9+deb12u2", "approved", SEC),
            ("vim", "2:9.0.1378-2", "2:9.0.1378-2+deb12u1", "approved", PERIODIC),
        ],
    ),
    [
        _change_set(
            "2026-03-10T05:20:00Z",
            "acme-prod",
            "r5",
            {"nginx": "1.22.1-9+deb12u2", "vim": "2:9.0.1378-2+deb12u1"},
            {"nginx": "1.22.1-9+deb12u1", "vim": "2:9.0.1378-2"},
            decision="rolled_back",
            reason="health check failed: the wiki answered 500; packages restored",
        )
    ],
    _plan(
        "2026-03-10T09:00:00Z",
        "acme-prod",
        "r6",
        [
            (
                "nginx",
                "1.22.1-9+deb12u1",
                "1.22.1-9+deb12u2",
                "approved",
                {**SEC, "approval": "SR-2041"},
            ),
            (
                "vim",
                "2:9.0.1378-2",
                "2:9.0.1378-2+deb12u1",
                "approved",
                {"approval": "SR-2041"},
            ),
            (
                "mariadb-server",
                "1:10.11.11-0+deb12u1",
                "1:11.4.5-1~bpo12+1",
                "refused",
                {"kind": "upgrade", "reason": "a backports candidate is a new branch"},
            ),
        ],
    ),
    _plan(
        "2026-03-10T09:01:00Z",
        "acme-prod",
        "r6",
        [(WIKI, "1.39.18", "1.43.6", "refused", {"kind": "upgrade"})],
        activity="cms",
    ),
    [
        _change_set(
            "2026-03-10T09:10:00Z",
            "acme-prod",
            "r6",
            {"nginx": "1.22.1-9+deb12u2", "vim": "2:9.0.1378-2+deb12u1"},
            {"nginx": "1.22.1-9+deb12u1", "vim": "2:9.0.1378-2"},
            approval="SR-2041",
        )
    ],
    _plan("2026-03-12T05:00:00Z", "acme-staging", "r6", STAGING_OFFERS),
    # A dry run counts for nothing.
    _plan(
        "2026-03-20T05:00:00Z",
        "acme-prod",
        "r7",
        [("tzdata", "2025a-0+deb12u1", "2025b-0+deb12u1", "approved", SEC)],
        check_mode=True,
    ),
]

# Written without the secret known to the redactor: these fields are in the
# trail as they are, and no report section may show them.
UNREDACTED_BATCH = [
    {
        "kind": "task",
        "time": "2026-03-20T05:01:00Z",
        "run_id": "r7",
        "operator": "ops-alice",
        "controller": f"ops-laptop-{SECRET}",
        "customer": CUSTOMER,
        "host": "acme-prod",
        "tier": TIER,
        "activity": "probe",
        "item": "Read the host's state",
        "action": "twovalue.sla.host_probe",
        "status": "ok",
        "result": {"changed": False, "failed": False, "msg": f"db login {SECRET}"},
    },
    _record(
        "2026-03-21T05:00:00Z",
        "acme-prod",
        "r8",
        "updates",
        "advised",
        "php8.2-mysql",
        reason="outside a maintenance window",
        before="8.2.28-1~deb12u1",
        after="8.2.29-1~deb12u1",
        result={
            "kind": "update",
            "security": False,
            "addressed_to": "agency",
            "deadline": None,
            "details": f"connection string mysql://wiki:{SECRET}@localhost/wikidb",
        },
    ),
]

# After the period: neither its figures nor its head may reach the report.
AFTER_PERIOD_BATCH = _plan(
    "2026-04-02T05:00:00Z",
    "acme-prod",
    "r9",
    [("zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1", "approved", SEC)],
)


def write_trail(path):
    """Write the quarter to ``path``; returns (seq, hash) of the last record in the period."""
    trail = AuditTrail(str(path), redactor=Redactor({SECRET}))
    for batch in REDACTED_BATCHES:
        trail.append_many(batch)
    trail.append_many(UNREDACTED_BATCH, redactor=Redactor())
    period_head = trail.head()
    trail.append_many(AFTER_PERIOD_BATCH)
    return period_head
