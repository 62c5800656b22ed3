# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input catalogue: malformed inputs for every playbook of the collection.

Every case is data (entry point, inventory variables, extra vars, files it
needs, the phrase the failure must hold). One runner runs a case with
``ansible-playbook`` and checks that it behaved:

(a) the run fails (non-zero exit) with a message holding the expected phrase;
(b) no host was touched: the hosts are podman containers that do not exist,
    so any attempt to reach one shows as UNREACHABLE, and the audit trail
    holds no task result on them beyond controller-side actions; cases that
    need a real host (``real_host``) compare its state before and after;
(c) every audit trail file the run wrote verifies.

    python tests/reliability/bad_inputs.py              # the full catalogue
    python tests/reliability/bad_inputs.py --reduced    # the subset `make test` runs
    python tests/reliability/bad_inputs.py CASE_ID ...  # chosen cases

It ends with "bad-input catalogue: N cases tried, M behaved" and one line per
case that did not behave. Cases with ``xfail`` name a known defect of the
collection; they count as behaved only when they fail the way the defect says.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The tests' shared runner and waits (tests/), then the collection by its full name.
if os.path.join(ROOT, "tests") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests"))
import playbook_runner  # noqa: E402

playbook_runner.link_collection()

from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_verify import verify_path
from ansible_collections.twovalue.sla.plugins.plugin_utils.deploy_plan import (  # noqa: E402
    deploy_change_set,
    pack_directory,
)
from polling import systemd_settled  # noqa: E402

IMAGE = "localhost/twovalue-sla/lamp:current"
PREFIX = "twovalue-sla-badinput-"
HEAVY_LOCK = "/tmp/twovalue-heavy.lock"
MISSING = PREFIX + "no-such-container-"
# Actions that run on the controller only: a task result with any other action
# on a host of a case means the run reached for that host.
CONTROLLER_ACTIONS = frozenset(
    {
        "twovalue.sla.sla_context",
        "twovalue.sla.deploy",  # refuses on the controller before it reaches the host
        "twovalue.sla.audit_event",
        "twovalue.sla.sla_report",
        "ansible.builtin.assert",
        "ansible.builtin.fail",
        "ansible.builtin.debug",
        "ansible.builtin.set_fact",
        "ansible.builtin.validate_argument_spec",
        "ansible.builtin.meta",
        "ansible.builtin.include_role",
        "ansible.builtin.import_role",
    }
)
# A Monday 06:30 in Europe/Amsterdam: inside SLA Pro's daily window.
PRO_WINDOW = "2026-11-30T06:30:00+01:00"
WRONG_CHANGE_SET = "0" * 64


@dataclass
class Case:
    id: str
    playbook: str
    expect: list[str]
    # Variables of the two hosts (both non-existent containers unless real_host).
    bad: dict = field(default_factory=dict)
    good: dict = field(default_factory=dict)
    # Variables of every host.
    common: dict = field(default_factory=lambda: {"sla_customer": "acme", "sla_tier": "pro"})
    extra: dict = field(default_factory=dict)
    # name -> text (str) or "artifact" (a small site tarball), written to the case's directory.
    files: dict = field(default_factory=dict)
    reduced: bool = False
    xfail: str | None = None
    # With xfail: phrases of the problems the defect causes; the case behaves as catalogued
    # only while they, and no other problem, show (default: the run reached for a host).
    xfail_problems: tuple[str, ...] = ("UNREACHABLE",)
    # None, or what the real container host is for: "plain", "lock", "disk", "unreachable".
    real_host: str | None = None
    note: str = ""


def _approval(change_set, expires=None, customer="acme", hosts=None):
    approval = {
        "reference": "SR-4242",
        "customer": customer,
        "change_set": change_set,
        "approved_by": "j.jansen@acme.example",
    }
    if expires:
        approval["expires"] = expires
    if hosts:
        approval["hosts"] = hosts
    return yaml.safe_dump(approval)


ARTIFACT_VARS = {"deploy_artifact": "{dir}/site.tar.gz", "deploy_version": "2.4.0"}
GRANT = {"kind": "os_account", "account": "alice", "person": "alice", "controlled_by": "agency"}
ROTATED_DB_USER = {
    "kind": "db_user",
    "account": "wiki",
    "controlled_by": "agency",
    "rotate": True,
}
PEOPLE = {"alice": {"name": "Alice", "organisation": "agency"}}


def catalogue() -> list[Case]:
    """Every case, in the order they run."""
    cases = [
        # --- maintenance: the SLA settings and role variables -----------------------------
        Case(
            "maintenance-unknown-tier",
            "maintenance",
            ["host bad-host: sla_tier is 'gold'; expected one of basic, medium, pro"],
            bad={"sla_tier": "gold"},
            reduced=True,
        ),
        Case(
            "maintenance-missing-tier",
            "maintenance",
            ["host bad-host: sla_tier is not set"],
            common={"sla_customer": "acme"},
            good={"sla_tier": "pro"},
        ),
        Case(
            "maintenance-missing-customer",
            "maintenance",
            ["host bad-host: sla_customer is not set"],
            common={"sla_tier": "pro"},
            good={"sla_customer": "acme"},
            reduced=True,
        ),
        Case(
            "maintenance-customer-path",
            "maintenance",
            ["host bad-host: sla_customer is '../acme'"],
            bad={"sla_customer": "../acme"},
        ),
        Case(
            "maintenance-tier-wrong-type",
            "maintenance",
            ["host bad-host: sla_tier is ['pro']"],
            bad={"sla_tier": ["pro"]},
        ),
        Case(
            "maintenance-override-wrong-type",
            "maintenance",
            ["host bad-host: sla_overrides.security_update_deadline_hours"],
            bad={"sla_overrides": {"security_update_deadline_hours": "soon"}},
            reduced=True,
        ),
        Case(
            "maintenance-override-unknown-key",
            "maintenance",
            ["host bad-host: sla_overrides", "security_deadline"],
            bad={"sla_overrides": {"security_deadline": 12}},
        ),
        Case(
            "maintenance-window-malformed",
            "maintenance",
            ["sla_overrides.maintenance_windows[0].start is '25:00'"],
            bad={
                "sla_overrides": {
                    "maintenance_windows": [{"days": ["mon"], "start": "25:00", "end": "07:00"}]
                }
            },
        ),
        Case(
            "maintenance-control-unknown",
            "maintenance",
            ["host bad-host: sla_control", "nobody"],
            bad={"sla_control": {"os": "nobody"}},
        ),
        Case(
            "maintenance-role-var-wrong-type",
            "maintenance",
            ["host bad-host: argument 'updates_min_free_mb' is of type str"],
            bad={"updates_min_free_mb": "lots"},
            reduced=True,
        ),
        Case(
            "maintenance-probe-section-unknown",
            "maintenance",
            ["host bad-host:", "probe_sections", "kernel"],
            bad={"probe_sections": ["os", "kernel"]},
        ),
        Case(
            "maintenance-approval-missing-file",
            "maintenance",
            [
                "host bad-host: updates_approval_file: approval file /nonexistent/SR-2.yml cannot be read"
            ],
            bad={"sla_tier": "basic", "updates_approval_file": "/nonexistent/SR-2.yml"},
        ),
        Case(
            "maintenance-approval-incomplete",
            "maintenance",
            ["host bad-host: updates_approval_file:", "approved_by"],
            bad={"sla_tier": "basic", "updates_approval_file": "{dir}/incomplete.yml"},
            files={"incomplete.yml": "reference: SR-1\nchange_set: abc\n"},
        ),
        Case(
            "maintenance-approval-expiry-malformed",
            "maintenance",
            ["host bad-host:", "expires"],
            bad={"sla_tier": "basic", "updates_approval_file": "{dir}/sr.yml"},
            files={"sr.yml": _approval(WRONG_CHANGE_SET, expires="next tuesday")},
        ),
        Case(
            "maintenance-now-malformed",
            "maintenance",
            ["host bad-host:", "updates_now", "yesterday"],
            bad={"updates_now": "yesterday"},
        ),
        Case(
            "maintenance-last-update-without-timezone",
            "maintenance",
            ["host bad-host:", "updates_last_periodic_update"],
            bad={"updates_last_periodic_update": "2026-01-01T06:00:00"},
        ),
        Case(
            "maintenance-cms-release-version-malformed",
            "maintenance",
            ["host bad-host:", "cms_release_sources", "1.39.x"],
            bad={
                "cms_release_sources": {
                    "mediawiki": [
                        {
                            "version": "1.39.x",
                            "url": "https://example.org/mw.tgz",
                            "sha256": "a" * 64,
                        }
                    ]
                }
            },
            reduced=True,
        ),
        # --- access: the register --------------------------------------------------------
        Case(
            "access-unknown-person",
            "access",
            [
                "host bad-host: access register: access_grants[0].person is 'eve', who is not in access_people"
            ],
            common={"sla_customer": "acme", "sla_tier": "pro", "access_people": PEOPLE},
            bad={"access_grants": [dict(GRANT, account="eve", person="eve")]},
            reduced=True,
        ),
        Case(
            "access-missing-controller",
            "access",
            ["host bad-host: access register: access_grants[0].controlled_by is None"],
            common={"sla_customer": "acme", "sla_tier": "pro", "access_people": PEOPLE},
            bad={"access_grants": [{"kind": "os_account", "account": "alice", "person": "alice"}]},
        ),
        Case(
            "access-duplicate-account",
            "access",
            ["access_grants[1] is the same os_account 'alice' as access_grants[0]"],
            common={"sla_customer": "acme", "sla_tier": "pro", "access_people": PEOPLE},
            bad={"access_grants": [GRANT, GRANT]},
            reduced=True,
        ),
        Case(
            "access-empty-entry",
            "access",
            ["host bad-host: access register: access_grants[0]"],
            common={"sla_customer": "acme", "sla_tier": "pro", "access_people": PEOPLE},
            bad={"access_grants": [{}]},
        ),
        Case(
            "access-empty-person",
            "access",
            ["host bad-host: access register: access_people", "bob"],
            common={"sla_customer": "acme", "sla_tier": "pro"},
            bad={"access_people": {"bob": {}}},
        ),
        Case(
            "access-people-wrong-type",
            "access",
            ["host bad-host: argument 'access_people' is of type list"],
            bad={"access_people": ["alice"]},
        ),
        Case(
            "access-unknown-tier",
            "access",
            ["host bad-host: sla_tier is 'platinum'"],
            bad={"sla_tier": "platinum"},
        ),
        # --- offboard --------------------------------------------------------------------
        Case(
            "offboard-no-person",
            "offboard",
            ["Offboarding needs -e person=<id> naming someone in access_people (got nothing)"],
            common={"sla_customer": "acme", "sla_tier": "pro", "access_people": PEOPLE},
            reduced=True,
        ),
        Case(
            "offboard-unknown-person",
            "offboard",
            ["Offboarding needs -e person=<id> naming someone in access_people (got mallory)"],
            common={"sla_customer": "acme", "sla_tier": "pro", "access_people": PEOPLE},
            extra={"person": "mallory"},
        ),
        Case(
            "offboard-bad-register",
            "offboard",
            ["host bad-host: access register: access_grants[0].person is 'eve'"],
            common={"sla_customer": "acme", "sla_tier": "pro", "access_people": PEOPLE},
            bad={"access_grants": [dict(GRANT, account="eve", person="eve")]},
            extra={"person": "alice"},
        ),
        # --- rotate_credentials ----------------------------------------------------------
        Case(
            "rotate-unknown-tier",
            "rotate_credentials",
            ["host bad-host: sla_tier is 'gold'"],
            bad={"sla_tier": "gold"},
        ),
        Case(
            "rotate-no-vault-password",
            "rotate_credentials",
            ["access_vault_password_file"],
            common={
                "sla_customer": "acme",
                "sla_tier": "pro",
                "access_people": PEOPLE,
                "access_rotate_force": True,
                "access_now": PRO_WINDOW,
                "access_grants": [ROTATED_DB_USER],
            },
            reduced=True,
        ),
        Case(
            "rotate-force-wrong-type",
            "rotate_credentials",
            ["access_rotate_force", "bool"],
            common={
                "sla_customer": "acme",
                "sla_tier": "pro",
                "access_vault_password_file": "{dir}/vault-pass",
            },
            bad={"access_rotate_force": "perhaps"},
            files={"vault-pass": "not-a-real-password\n"},
        ),
        # --- deploy ----------------------------------------------------------------------
        Case(
            "deploy-missing-artifact-var",
            "deploy",
            ["host bad-host: missing required arguments: deploy_artifact"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra={"deploy_version": "2.4.0"},
        ),
        Case(
            "deploy-artifact-missing",
            "deploy",
            ["cannot deploy: artifact /nonexistent/site.tar.gz does not exist on the controller"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra={"deploy_artifact": "/nonexistent/site.tar.gz", "deploy_version": "2.4.0"},
            reduced=True,
        ),
        Case(
            "deploy-checksum-mismatch",
            "deploy",
            ["cannot deploy: artifact site.tar.gz has SHA-256", f"not {'f' * 64}"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_sha256="f" * 64),
            files={"site.tar.gz": "artifact"},
            reduced=True,
        ),
        Case(
            "deploy-not-staging-or-production",
            "deploy",
            ["cannot deploy: sla_environment is 'qa'; a deploy needs staging or production"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "qa"},
            extra=ARTIFACT_VARS,
            files={"site.tar.gz": "artifact"},
        ),
        Case(
            "deploy-promote-without-staging-pass",
            "deploy",
            ["was never deployed healthy to this customer's staging"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "production"},
            extra=ARTIFACT_VARS,
            files={"site.tar.gz": "artifact"},
            reduced=True,
        ),
        Case(
            "deploy-override-without-reason",
            "deploy",
            ["deploy_override needs a reason"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "production"},
            extra=dict(ARTIFACT_VARS, deploy_override={"by": "ops"}),
            files={"site.tar.gz": "artifact"},
        ),
        Case(
            "deploy-approval-other-change-set",
            "deploy",
            ["deploy of 2.4.0 refused: approval SR-4242 is for change set 000000000000.."],
            common={"sla_customer": "acme", "sla_tier": "basic", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_approval_file="{dir}/sr.yml"),
            files={"site.tar.gz": "artifact", "sr.yml": _approval(WRONG_CHANGE_SET)},
            reduced=True,
        ),
        Case(
            "deploy-approval-expired",
            "deploy",
            ["deploy of 2.4.0 refused: approval SR-4242 expired at 2020-01-31"],
            common={"sla_customer": "acme", "sla_tier": "basic", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_approval_file="{dir}/sr.yml"),
            # The change set is that of the artifact on bad-host; good-host's differs anyway.
            files={"site.tar.gz": "artifact", "sr.yml": "approval-expired"},
        ),
        Case(
            "deploy-approval-other-customer",
            "deploy",
            ["deploy of 2.4.0 refused: approval SR-4242 is for customer 'globex', not 'acme'"],
            common={"sla_customer": "acme", "sla_tier": "basic", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_approval_file="{dir}/sr.yml"),
            files={"site.tar.gz": "artifact", "sr.yml": "approval-globex"},
        ),
        Case(
            "deploy-keep-releases-wrong-type",
            "deploy",
            ["host bad-host: argument 'deploy_keep_releases' is of type str"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            bad={"deploy_keep_releases": "all"},
            extra=ARTIFACT_VARS,
            files={"site.tar.gz": "artifact"},
        ),
        Case(
            "deploy-version-malformed",
            "deploy",
            ["release '../2.4.0' is not a release name"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_version="../2.4.0"),
            files={"site.tar.gz": "artifact"},
        ),
        # --- refresh_staging -------------------------------------------------------------
        Case(
            "refresh-production-target",
            "refresh_staging",
            ["bad-host is not a staging host (sla_environment is production)"],
            common={"sla_customer": "acme", "sla_tier": "pro"},
            bad={"sla_environment": "production"},
            good={"sla_environment": "staging"},
            extra={"sla_hosts": "bad-host", "staging_source": "good-host"},
            reduced=True,
        ),
        Case(
            "refresh-missing-source",
            "refresh_staging",
            ["host bad-host: missing required arguments: staging_source"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra={"sla_hosts": "bad-host"},
        ),
        Case(
            "refresh-source-is-target",
            "refresh_staging",
            ["staging_source (bad-host) does not name another host"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra={"sla_hosts": "bad-host", "staging_source": "bad-host"},
        ),
        Case(
            "refresh-unknown-kind",
            "refresh_staging",
            ["host bad-host:", "staging_kind", "drupal"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra={
                "sla_hosts": "bad-host",
                "staging_source": "good-host",
                "staging_kind": "drupal",
            },
        ),
        # --- backup ----------------------------------------------------------------------
        Case(
            "backup-unknown-tier",
            "backup",
            ["host bad-host: sla_tier is 'gold'"],
            bad={"sla_tier": "gold"},
        ),
        Case(
            "backup-retention-wrong-type",
            "backup",
            ["host bad-host:", "backup_retention_days", "forever"],
            bad={"backup_retention_days": "forever"},
        ),
        # --- drift, docs, sla_report, verify_audit ----------------------------------------
        Case(
            "drift-unknown-tier",
            "drift",
            ["host bad-host: sla_tier is 'gold'"],
            bad={"sla_tier": "gold"},
        ),
        Case(
            "docs-unknown-tier",
            "docs",
            ["host bad-host: sla_tier is 'gold'"],
            bad={"sla_tier": "gold"},
        ),
        Case(
            "docs-horizon-wrong-type",
            "docs",
            ["sla_docs_horizon_days", "soon"],
            extra={"sla_docs_horizon_days": "soon"},
        ),
        Case(
            "docs-unknown-language",
            "docs",
            ["host bad-host: the documents' language is fr; expected en or nl"],
            bad={"sla_docs_language": "fr"},
        ),
        Case(
            "sla-report-unknown-tier",
            "sla_report",
            ["host bad-host: sla_tier is 'gold'"],
            bad={"sla_tier": "gold"},
            reduced=True,
        ),
        Case(
            "sla-report-period-malformed",
            "sla_report",
            ["2026-13-45"],
            extra={"sla_report_period_start": "2026-13-45", "sla_report_period_end": "2026-12-31"},
        ),
        Case(
            "sla-report-period-reversed",
            "sla_report",
            ["2026-03-31", "2026-01-01"],
            extra={"sla_report_period_start": "2026-03-31", "sla_report_period_end": "2026-01-01"},
        ),
        Case(
            "sla-report-unknown-language",
            "sla_report",
            ["language", "fr"],
            extra={"sla_report_language": "fr"},
        ),
        Case(
            "verify-audit-head-without-customer",
            "verify_audit",
            ["verify_audit_head applies to one customer's trail; set verify_audit_customer"],
            extra={"verify_audit_head": "a" * 64},
        ),
        # --- one real container host -----------------------------------------------------
        # The deploy refusals again, on a real host: the message, and the host's state
        # compared before and after.
        Case(
            "deploy-checksum-mismatch-real-host",
            "deploy",
            ["host good-host: cannot deploy: artifact site.tar.gz has SHA-256", f"not {'f' * 64}"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_sha256="f" * 64),
            files={"site.tar.gz": "artifact"},
            real_host="plain",
            reduced=True,
        ),
        Case(
            "deploy-promote-without-staging-pass-real-host",
            "deploy",
            ["deploy of 2.4.0 refused", "was never deployed healthy to this customer's staging"],
            common={"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "production"},
            extra=ARTIFACT_VARS,
            files={"site.tar.gz": "artifact"},
            real_host="plain",
        ),
        Case(
            "deploy-approval-expired-real-host",
            "deploy",
            ["deploy of 2.4.0 refused: approval SR-4242 expired at 2020-01-31"],
            common={"sla_customer": "acme", "sla_tier": "basic", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_approval_file="{dir}/sr.yml"),
            files={"site.tar.gz": "artifact", "sr.yml": "approval-expired"},
            real_host="plain",
        ),
        Case(
            "deploy-approval-other-customer-real-host",
            "deploy",
            ["deploy of 2.4.0 refused: approval SR-4242 is for customer 'globex', not 'acme'"],
            common={"sla_customer": "acme", "sla_tier": "basic", "sla_environment": "staging"},
            extra=dict(ARTIFACT_VARS, deploy_approval_file="{dir}/sr.yml"),
            files={"site.tar.gz": "artifact", "sr.yml": "approval-globex"},
            real_host="plain",
        ),
        Case(
            "updates-approval-other-change-set-real-host",
            "maintenance",
            ["approval SR-4242 is for change set 000000000000.."],
            common={
                "sla_customer": "acme",
                "sla_tier": "basic",
                "updates_approval_file": "{dir}/sr.yml",
                "updates_now": "2026-11-30T10:00:00+01:00",
                "updates_health_checks": [],
            },
            files={"sr.yml": _approval(WRONG_CHANGE_SET)},
            real_host="plain",
            xfail="an approval for another change set makes the updates role advise (as "
            "docs/tiers.md describes) and the run exits 0: nothing is applied, the mismatch is "
            "named in the advice only, so the run neither fails nor names it in its output",
            xfail_problems=(
                "the run exited 0",
                "does not hold 'approval SR-4242 is for change set",
            ),
        ),
        Case(
            "unreachable-host-named",
            "maintenance",
            ["fatal: [bad-host]: UNREACHABLE!"],
            # SLA Basic only advises: the real host is probed, and nothing on it changes.
            common={"sla_customer": "acme", "sla_tier": "basic", "updates_health_checks": []},
            real_host="unreachable",
        ),
        Case(
            "updates-dpkg-lock-held",
            "maintenance",
            [
                "the dpkg lock /var/lib/dpkg/lock-frontend is still held by another process",
                "nothing changed",
            ],
            common={
                "sla_customer": "acme",
                "sla_tier": "pro",
                "updates_now": PRO_WINDOW,
                "updates_health_checks": [],
            },
            real_host="lock",
        ),
        Case(
            "updates-disk-full",
            "maintenance",
            [
                "not enough disk space, nothing changed",
                "/srv/sla-full has",
                "below min_free_mb 500",
            ],
            common={
                "sla_customer": "acme",
                "sla_tier": "pro",
                "updates_now": PRO_WINDOW,
                "updates_health_checks": [],
                "updates_backup_dir": "/srv/sla-full/backups",
            },
            real_host="disk",
            reduced=True,
        ),
        Case(
            "backup-disk-full",
            "backup",
            [
                "/srv/sla-full has",
                "MiB free (counting old sets to remove) and the backup of 1 site(s) needs about",
                "no new backup written",
            ],
            common={
                "sla_customer": "acme",
                "sla_tier": "pro",
                "backup_dir": "/srv/sla-full/backups",
            },
            real_host="disk",
        ),
    ]
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases


# --- running one case ----------------------------------------------------------------------


def _fill(value, directory):
    if isinstance(value, str):
        return value.replace("{dir}", directory)
    if isinstance(value, dict):
        return {k: _fill(v, directory) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, directory) for v in value]
    return value


def _write_files(case, directory):
    for name, content in case.files.items():
        path = os.path.join(directory, name)
        if content == "artifact":
            site = os.path.join(directory, "site-2.4.0")
            os.makedirs(site, exist_ok=True)
            with open(os.path.join(site, "sla-version.txt"), "w", encoding="utf-8") as handle:
                handle.write("2.4.0\n")
            pack_directory(site, path)
            continue
        if content in ("approval-expired", "approval-globex"):
            from ansible_collections.twovalue.sla.plugins.module_utils.cms_release import (
                sha256_of,
            )

            # The change set names the host the deploy goes to.
            target = "good-host" if case.real_host else "bad-host"
            change_set = deploy_change_set(
                target, sha256_of(os.path.join(directory, "site.tar.gz"))
            )
            if content == "approval-expired":
                content = _approval(change_set, expires="2020-01-31T00:00:00+00:00")
            else:
                content = _approval(change_set, customer="globex")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(content)


def _inventory(case, directory, real_name=None):
    hosts = {
        "good-host": dict(case.good, ansible_host=MISSING + "1"),
        "bad-host": dict(case.bad, ansible_host=MISSING + "2"),
    }
    if real_name:
        # The real container is "good-host"; in the unreachable case bad-host stays missing.
        hosts["good-host"]["ansible_host"] = real_name
        hosts["good-host"]["ansible_python_interpreter"] = "/usr/bin/python3"
        if case.real_host != "unreachable":
            del hosts["bad-host"]
    inventory = {
        "all": {
            "vars": dict(copy.deepcopy(case.common), ansible_connection="containers.podman.podman"),
            "hosts": hosts,
        }
    }
    return _fill(inventory, directory)


def run_playbook(case, directory, real_name=None, timeout=600):
    inventory = os.path.join(directory, "hosts.yml")
    with open(inventory, "w", encoding="utf-8") as handle:
        yaml.safe_dump(_inventory(case, directory, real_name), handle)
    env = playbook_runner.collection_env(
        os.path.join(directory, "audit"),
        SLA_ADVICE_DIR=os.path.join(directory, "advice"),
        SLA_EVIDENCE_DIR=os.path.join(directory, "evidence"),
        SLA_DOCS_DIR=os.path.join(directory, "docs"),
        SLA_REPORT_DIR=os.path.join(directory, "reports"),
        SLA_VAULT_DIR=os.path.join(directory, "vault"),
    )
    args = playbook_runner.playbook_args(
        f"playbooks/{case.playbook}.yml",
        inventory=inventory,
        extra_vars=_fill(case.extra, directory),
    )
    completed = playbook_runner.run_playbook(args, env, timeout=timeout)
    return completed.returncode, completed.stdout + completed.stderr


def check_trails(directory, fake_hosts):
    """Problems with the trails the run wrote: none written, one that does not verify,
    or a task result on a host the run must not have reached."""
    audit_dir = os.path.join(directory, "audit")
    trails = sorted(
        os.path.join(audit_dir, name)
        for name in (os.listdir(audit_dir) if os.path.isdir(audit_dir) else [])
        if name.endswith(".jsonl")
    )
    if not trails:
        return ["no audit trail was written"]
    problems = []
    for report in verify_path(audit_dir):
        if not report.valid:
            problems.append(
                f"trail {os.path.basename(report.path)} does not verify: {report.problem} "
                f"at line {report.line}: {report.detail}"
            )
    for trail in trails:
        with open(trail, encoding="utf-8") as handle:
            for line in handle:
                record = json.loads(line)
                if record.get("kind") != "task" or record.get("host") not in fake_hosts:
                    continue
                if record.get("status") == "unreachable":
                    problems.append(f"trail records {record['host']} as unreachable")
                elif record.get("action") not in CONTROLLER_ACTIONS:
                    problems.append(
                        f"trail records a {record.get('action')} result on {record['host']} "
                        f"({record.get('item')})"
                    )
    return problems


@dataclass
class Outcome:
    case: Case
    behaved: bool
    problems: list[str]
    output: str
    seconds: float


def judge(case, rc, output, directory, fake_hosts, state_before=None, state_after=None):
    """The list of ways in which a run did not behave (empty: it behaved)."""
    problems = []
    flat = " ".join(output.split())
    if rc == 0:
        problems.append("the run exited 0")
    for phrase in case.expect:
        if " ".join(phrase.split()) not in flat:
            problems.append(f"the output does not hold {phrase!r}")
    if case.real_host == "unreachable":
        if "UNREACHABLE" in flat.replace("fatal: [bad-host]: UNREACHABLE!", ""):
            problems.append("a host other than bad-host is UNREACHABLE")
    elif "UNREACHABLE" in flat:
        problems.append("a host was contacted (UNREACHABLE in the output)")
    problems += check_trails(directory, fake_hosts)
    if state_before is not None and state_before != state_after:
        problems.append(f"the real host changed: {_diff(state_before, state_after)}")
    return problems


def _diff(before, after):
    b, a = before.splitlines(), after.splitlines()
    gone = [line for line in b if line not in a][:5]
    new = [line for line in a if line not in b][:5]
    return f"gone {gone}, new {new}"


# --- the real container host ---------------------------------------------------------------


def _podman(*args, check=True, timeout=120):
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


_LOCK_DEPTH = [0]


@contextlib.contextmanager
def heavy_lock():
    """Serialise container starts and long runs with the other users of this machine
    (re-entrant within this process; do not wrap this program in flock(1) on the same file)."""
    if _LOCK_DEPTH[0]:
        _LOCK_DEPTH[0] += 1
        try:
            yield
        finally:
            _LOCK_DEPTH[0] -= 1
        return
    with open(HEAVY_LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _LOCK_DEPTH[0] = 1
        try:
            yield
        finally:
            _LOCK_DEPTH[0] = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


STATE_SCRIPT = (
    "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n'; "
    "echo '--- backups'; find /var/backups/twovalue-sla /srv/sla-full 2>/dev/null | sort; "
    "echo '--- site'; find /var/www -maxdepth 2 2>/dev/null | sort; "
    "echo '--- dpkg updates'; ls /var/lib/dpkg/updates"
)


def host_state(name):
    return _podman("exec", name, "sh", "-c", STATE_SCRIPT).stdout


@contextlib.contextmanager
def real_host(kind):
    """A LAMP container with Debian's security suite switched on (real pending updates)."""
    name = f"{PREFIX}{kind}-{os.getpid()}"
    argv = ["run", "-d", "--name", name, "--systemd", "always"]
    if kind == "disk":
        # The backups directory of the case lives on a 1 MiB filesystem: far below min_free_mb.
        argv += ["--mount", "type=tmpfs,destination=/srv/sla-full,tmpfs-size=1m"]
    argv += [IMAGE, "/sbin/init"]
    try:
        _podman(*argv)
        systemd_settled(name, timeout=60)
        _podman(
            "exec", name, "sed", "-i", "/^Enabled: no$/d", "/etc/apt/sources.list.d/debian.sources"
        )
        holder = None
        if kind == "lock":
            # Held the way apt holds it: an fcntl lock on dpkg's frontend lock file.
            holder = subprocess.Popen(
                [
                    "podman", "exec", name, "python3", "-c",
                    "import fcntl, time\n"
                    "f = open('/var/lib/dpkg/lock-frontend', 'w')\n"
                    "fcntl.lockf(f, fcntl.LOCK_EX)\n"
                    "print('held', flush=True)\n"
                    "time.sleep(900)\n",
                ],
                stdout=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            holder.stdout.readline()
        try:
            yield name
        finally:
            if holder is not None:
                holder.kill()
                holder.wait()
    finally:
        _podman("rm", "-f", "-t", "0", name, check=False)


def run_case(case) -> Outcome:
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sla-badinput-") as directory:
        _write_files(case, directory)
        if case.real_host:
            # The command line holds the heavy lock around each case; under pytest, whoever
            # runs pytest holds it (flock(1)), and taking it here again would deadlock.
            with real_host(case.real_host) as name:
                before = host_state(name)
                rc, output = run_playbook(case, directory, real_name=name)
                after = host_state(name)
            fake = {"bad-host"} if case.real_host == "unreachable" else set()
            problems = judge(case, rc, output, directory, fake, before, after)
            if case.real_host == "unreachable":
                problems = _judge_unreachable(problems) + _unreachable_trail_checks(directory)
        else:
            rc, output = run_playbook(case, directory)
            problems = judge(case, rc, output, directory, {"good-host", "bad-host"})
    behaved = not problems
    if case.xfail:
        # A known defect: the case behaves as catalogued while that defect, and nothing
        # else, shows. Any other problem (a changed host, a missing message) is a failure.
        behaved = bool(problems) and not beyond_known_defect(case, problems)
    return Outcome(case, behaved, problems, output, time.monotonic() - start)


def beyond_known_defect(case, problems):
    """The problems a case's named defect does not explain (all of them without one)."""
    return [p for p in problems if not case.xfail or not any(x in p for x in case.xfail_problems)]


def _unreachable_trail_checks(directory):
    """The trail must name the unreachable host as such, and bad-host only."""
    seen = set()
    for name in os.listdir(os.path.join(directory, "audit")):
        if name.endswith(".jsonl"):
            with open(os.path.join(directory, "audit", name), encoding="utf-8") as handle:
                for line in handle:
                    record = json.loads(line)
                    if record.get("status") == "unreachable":
                        seen.add(record.get("host"))
    if seen != {"bad-host"}:
        return [f"the trail records as unreachable {sorted(seen)}, expected ['bad-host']"]
    return []


# --- command line ----------------------------------------------------------------------------


def _judge_unreachable(problems):
    # bad-host is expected unreachable in that case; check_trails flags it as a fake host.
    return [p for p in problems if p != "trail records bad-host as unreachable"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="run only these cases")
    parser.add_argument("--reduced", action="store_true", help="only the cases marked reduced")
    parser.add_argument("--no-containers", action="store_true", help="leave out real-host cases")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each run's output")
    args = parser.parse_args(argv)
    cases = catalogue()
    if args.ids:
        unknown = set(args.ids) - {c.id for c in cases}
        if unknown:
            parser.error(f"unknown case ids: {', '.join(sorted(unknown))}")
        cases = [c for c in cases if c.id in args.ids]
    if args.reduced:
        cases = [c for c in cases if c.reduced]
    if args.no_containers:
        cases = [c for c in cases if not c.real_host]
    if args.list:
        for case in cases:
            marks = ("reduced " if case.reduced else "") + ("xfail " if case.xfail else "")
            print(f"{case.id:45} {case.playbook:20} {marks}")
        return 0
    outcomes = []
    for case in cases:
        with heavy_lock():
            outcome = run_case(case)
        outcomes.append(outcome)
        verdict = "behaved" if outcome.behaved else "DID NOT BEHAVE"
        known = " (known defect)" if case.xfail else ""
        print(f"{case.id}: {verdict}{known} ({outcome.seconds:.0f} s)", flush=True)
        if args.verbose or not outcome.behaved:
            for problem in outcome.problems:
                print(f"    {problem}")
        if args.verbose:
            print(outcome.output)
    behaved = sum(o.behaved for o in outcomes)
    print(f"bad-input catalogue: {len(outcomes)} cases tried, {behaved} behaved")
    for outcome in outcomes:
        if outcome.case.xfail:
            print(f"  known defect {outcome.case.id}: {outcome.case.xfail}")
        if not outcome.behaved:
            print(f"  did not behave {outcome.case.id}: {'; '.join(outcome.problems)}")
    return 0 if behaved == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
