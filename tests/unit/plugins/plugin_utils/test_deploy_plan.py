# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime
import json
import os

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_store import AuditError
from ansible_collections.twovalue.sla.plugins.plugin_utils.deploy_plan import (
    DeployPlanError,
    decide_deploy,
    deploy_change_set,
    pack_directory,
    staging_passes,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets

SHA = "ab" * 32
NOW = datetime.datetime(2026, 11, 30, 10, tzinfo=datetime.UTC)


def record(**fields):
    base = {"kind": "decision", "activity": "deploy", "decision": "applied", "host": "stage1",
            "check_mode": False,
            "result": {"sha256": SHA, "environment": "staging", "healthy": True}}  # fmt: skip
    base.update(fields)
    return json.dumps(base)


def test_only_a_healthy_real_staging_deploy_of_the_same_artifact_counts(tmp_path):
    trail = tmp_path / "acme.jsonl"
    lines = [
        record(host="stage1"),
        record(host="stage2", check_mode=True),
        record(host="stage3", decision="failed"),
        record(host="stage4", result={"sha256": SHA, "environment": "staging", "healthy": False}),
        record(host="prod1", result={"sha256": SHA, "environment": "production", "healthy": True}),
        record(host="stage5", result={"sha256": "cd" * 32, "environment": "staging", "healthy": True}),
    ]  # fmt: skip
    trail.write_text("\n".join(lines) + "\n")
    assert staging_passes(str(trail), SHA) == {"stage1"}
    assert staging_passes(str(tmp_path / "none.jsonl"), SHA) == set()


def test_a_torn_trail_line_fails_the_plan_cleanly_naming_the_line(tmp_path):
    # A controller killed mid-append leaves half a line; the plan must fail as an audit error
    # (which the deploy action reports per host), not crash with a JSON traceback.
    trail = tmp_path / "acme.jsonl"
    trail.write_text(record(host="stage1") + "\n" + record(host="stage2")[:40] + SHA + "\n")
    with pytest.raises(AuditError, match="line 2 .* is not a whole record"):
        staging_passes(str(trail), SHA)


def decide(environment="production", tier="pro", passes=(), override=None, approval=None):
    return decide_deploy(environment, resolve_targets(tier), SHA, "prod1", set(passes),
                         override, approval, NOW, "acme")  # fmt: skip


def test_production_takes_what_staging_passed_and_refuses_the_rest():
    assert decide(passes=["stage1"])[0] is True
    allowed, reason, _ref = decide()
    assert allowed is False and "never deployed healthy to this customer's staging" in reason
    assert decide(environment="staging")[0] is True


def test_an_override_needs_a_reason_and_is_named_in_the_decision():
    allowed, reason, _ref = decide(override={"reason": "hotfix INC-42, staging down"})
    assert allowed and reason == "promotion override: hotfix INC-42, staging down"
    with pytest.raises(DeployPlanError, match="needs a reason"):
        decide(override={"reason": " "})


def test_basic_needs_an_approval_for_every_deploy_override_included():
    allowed, reason, _ref = decide(tier="basic", override={"reason": "urgent"})
    assert not allowed and deploy_change_set("prod1", SHA) in reason
    approval = {"reference": "SR-9", "customer": "acme", "approved_by": "Carol",
                "change_set": deploy_change_set("prod1", SHA)}  # fmt: skip
    assert decide(tier="basic", override={"reason": "urgent"}, approval=approval) == (
        True, "promotion override: urgent", "SR-9")  # fmt: skip
    other = dict(approval, change_set=deploy_change_set("prod1", "cd" * 32))
    assert decide(tier="basic", passes=["stage1"], approval=other)[0] is False


def test_an_unknown_environment_is_an_error():
    with pytest.raises(DeployPlanError, match="sla_environment is None"):
        decide(environment=None)


def test_a_directory_packs_to_the_same_bytes_every_time(tmp_path):
    site = tmp_path / "site"
    (site / "skins" / "x").mkdir(parents=True)
    (site / "index.php").write_text("<?php")
    (site / "skins" / "x" / "a.css").write_text("a{}")
    os.symlink("skins", site / "themes")
    pack_directory(str(site), str(tmp_path / "one.tar.gz"))
    os.utime(site / "index.php", (0, 12345))
    pack_directory(str(site), str(tmp_path / "two.tar.gz"))
    assert (tmp_path / "one.tar.gz").read_bytes() == (tmp_path / "two.tar.gz").read_bytes()
    import tarfile  # noqa: PLC0415

    with tarfile.open(tmp_path / "one.tar.gz") as archive:
        names = archive.getnames()
    assert names == ["site", "site/index.php", "site/themes", "site/skins", "site/skins/x",
                     "site/skins/x/a.css"]  # fmt: skip
