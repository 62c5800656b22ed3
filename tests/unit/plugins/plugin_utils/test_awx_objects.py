# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX objects from SLA tiers: what each customer gets, and that the schedules keep the tier."""

from __future__ import annotations

import datetime
import json
import pathlib

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.twovalue.sla.plugins.filter.awx import FilterModule, sla_awx_objects
from ansible_collections.twovalue.sla.plugins.plugin_utils import awx_objects
from ansible_collections.twovalue.sla.plugins.plugin_utils.awx_objects import (
    PLAYBOOKS,
    AwxObjectsError,
    customer_objects,
    fleet_objects,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    GateError,
    approval_status,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import TIERS, resolve_targets
from dateutil import rrule, tz

ROOT = pathlib.Path(__file__).resolve().parents[4]
SETTINGS = {
    "organization": "Agency",
    "project": "SLA maintenance",
    "execution_environment": "twovalue-sla",
    "credentials": ["acme ssh"],
}
CHANGE_SET = "ab46235030b3ccb794c3b3890965ec9ff2e5680b9646122ac0dc22404400d270"


def _host(name, customer, tier, environment="production", **extra):
    return {
        "inventory_hostname": name,
        "sla_customer": customer,
        "sla_tier": tier,
        "sla_environment": environment,
        "ansible_host": f"{name}.example",
        **extra,
    }


def _objects(tier, overrides=None, advice=(), **extra):
    host = _host("www1", "acme", tier, **extra)
    if overrides is not None:
        host["sla_overrides"] = overrides
    return customer_objects("acme", [host], SETTINGS, advice)


def _templates(objects):
    return {t["name"].split(" - ", 1)[1]: t for t in objects["job_templates"]}


def _runs(schedules, key, weeks=5):
    """Every run of ``key``'s schedules in ``weeks`` after the last of them starts, in UTC."""
    rules = []
    for schedule in schedules:
        if schedule["unified_job_template"] != f"acme - {key}":
            continue
        dtstart, rule = schedule["rrule"].split(" ")
        tzid, stamp = dtstart.removeprefix("DTSTART;TZID=").split(":")
        start = datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=tz.gettz(tzid))
        rules.append(rrule.rrulestr(rule.removeprefix("RRULE:"), dtstart=start))
    if not rules:
        return []
    # From when every schedule runs: the steady state AWX is in after the first week.
    begin = max(r._dtstart for r in rules)
    until = begin + datetime.timedelta(weeks=weeks)
    runs = {
        when.astimezone(datetime.UTC) for r in rules for when in r.between(begin, until, inc=True)
    }
    return sorted(runs)


def _longest_gap_hours(runs):
    return max((b - a).total_seconds() / 3600 for a, b in zip(runs, runs[1:], strict=False))


def test_every_activity_playbook_has_a_template_and_every_template_a_playbook():
    listed = {playbook for _key, playbook, *_rest in PLAYBOOKS}
    for playbook in listed:
        assert (ROOT / playbook).is_file(), playbook
    on_disk = {
        f"playbooks/{p.name}"
        for p in (ROOT / "playbooks").glob("*.yml")
        if not p.name.startswith(("awx_", "_"))
    }
    assert on_disk <= listed, on_disk - listed


def test_filter_map():
    assert FilterModule().filters() == {"sla_awx_objects": sla_awx_objects}


@pytest.mark.parametrize("tier", TIERS)
def test_templates_follow_the_tiers_activities(tier):
    objects = _objects(tier)
    templates = _templates(objects)
    expected = {"maintenance", "docs", "backup", "sla_report", "verify_audit"}
    if tier != "basic":
        expected |= {"access", "offboard", "rotate_credentials", "deploy", "refresh_staging"}
        expected |= {"drift"}
    assert set(templates) == expected
    for template in templates.values():
        assert template["organization"] == "Agency"
        assert template["project"] == "SLA maintenance"
        assert template["inventory"] == "acme"
        assert template["execution_environment"] == "twovalue-sla"
        assert template["credentials"] == ["acme ssh"]
        assert (ROOT / template["playbook"]).is_file()
    assert templates["verify_audit"]["extra_vars"] == {"verify_audit_customer": "acme"}
    (nightly,) = [s for s in objects["schedules"] if s["unified_job_template"] == "acme - backup"]
    assert nightly["rrule"].endswith("T020000 RRULE:FREQ=DAILY")
    # Runs that need a person, a release or a source host ask for it at launch.
    for key in ("offboard", "deploy", "refresh_staging"):
        if key in templates:
            assert templates[key]["ask_variables_on_launch"] is True


def test_inventory_groups_and_hosts_carry_no_secret():
    hosts = [
        _host("acme-staging", "acme", "pro", "staging", ansible_password="hunter2"),
        _host("acme-prod", "acme", "pro", vault_db_password="s3cret"),
    ]
    hosts[0]["sla_overrides"] = hosts[1]["sla_overrides"] = {"periodic_update_interval_days": 60}
    objects = customer_objects("acme", hosts, SETTINGS)
    assert "hunter2" not in repr(objects) and "s3cret" not in repr(objects)
    assert [h["name"] for h in objects["hosts"]] == ["acme-prod", "acme-staging"]
    assert objects["hosts"][0]["variables"] == {
        "ansible_host": "acme-prod.example",
        "sla_environment": "production",
    }
    groups = {g["name"]: g for g in objects["groups"]}
    assert groups["acme"]["variables"] == {
        "sla_customer": "acme",
        "sla_tier": "pro",
        "sla_overrides": {"periodic_update_interval_days": 60},
    }
    assert groups["staging"]["hosts"] == ["acme-staging"]
    assert groups["production"]["hosts"] == ["acme-prod"]


def test_medium_maintenance_runs_in_its_windows_and_access_within_its_interval():
    objects = _objects("medium")
    maintenance = [
        s for s in objects["schedules"] if s["unified_job_template"] == "acme - maintenance"
    ]
    assert [s["rrule"] for s in maintenance] == [
        "DTSTART;TZID=Europe/Amsterdam:20260105T070000 RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR"
    ]
    assert "periodic updates every 90 days" in maintenance[0]["description"]
    by_template = {s["unified_job_template"]: s for s in objects["schedules"]}
    # 180 days: every 25 weeks (175 days), on Monday 07:00, in a window.
    assert by_template["acme - access"]["rrule"].endswith("FREQ=WEEKLY;INTERVAL=25;BYDAY=MO")
    assert by_template["acme - rotate_credentials"]["rrule"].endswith("INTERVAL=25;BYDAY=MO")
    assert by_template["acme - sla_report"]["rrule"] == (
        "DTSTART;TZID=Europe/Amsterdam:20260101T080000 RRULE:FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1"
    )
    assert objects["workflows"] == []


def test_pro_gets_a_deadline_run_for_its_weekend_gap():
    names = [s["name"] for s in _objects("pro")["schedules"]]
    assert "acme - maintenance - security deadline" in names
    assert "acme - maintenance - security deadline" not in [
        s["name"] for s in _objects("medium")["schedules"]
    ]


OVERRIDES = [
    None,
    {"security_update_deadline_hours": 12},
    {"security_update_deadline_hours": 30, "maintenance_windows": [{"days": ["sun"], "start": "23:30", "end": "01:00"}]},
    {"maintenance_windows": [{"days": ["tue", "thu"], "start": "22:00", "end": "02:00"}]},
    {"access_review_interval_days": 10, "credential_rotation_interval_days": 400, "timezone": "America/New_York"},
]  # fmt: skip


@pytest.mark.parametrize("tier", TIERS)
@pytest.mark.parametrize("overrides", OVERRIDES)
def test_schedules_keep_the_deadline_and_intervals(tier, overrides):
    """Expanded by dateutil, no gap between runs exceeds what the tier promises."""
    targets = resolve_targets(tier, overrides)
    objects = _objects(tier, overrides)
    schedules = objects["schedules"]
    maintenance = _runs(schedules, "maintenance")
    assert _longest_gap_hours(maintenance) <= targets["security_update_deadline_hours"]
    # Every window start is a run: the gate applies only inside windows (or on a deadline).
    local = tz.gettz(targets["timezone"])
    runs_local = {(awx_objects.WEEKDAYS[w.astimezone(local).weekday()], f"{w.astimezone(local):%H:%M}")
                  for w in maintenance}  # fmt: skip
    for window in targets["maintenance_windows"]:
        for day in window["days"]:
            assert (day, window["start"]) in runs_local
    for key, interval in (
        ("access", "access_review_interval_days"),
        ("rotate_credentials", "credential_rotation_interval_days"),
    ):
        runs = _runs(schedules, key, weeks=120)
        if tier == "basic":
            assert runs == []
            continue
        assert _longest_gap_hours(runs) <= targets[interval] * 24


def _advice(customer="globex", activity="updates", host="globex-prod"):
    return {
        "activity": activity,
        "change_set": CHANGE_SET,
        "customer": customer,
        "host": host,
        "decided_at": "2026-11-28T07:26:44+00:00",
        "tier": "basic",
    }


def test_basic_gets_an_approval_workflow_per_advised_change_set():
    hosts = [_host("globex-prod", "globex", "basic"), _host("acme-prod", "acme", "pro")]
    advice = [_advice(), _advice(activity="cms"), _advice(customer="acme", host="acme-prod")]
    objects = {o["customer"]: o for o in fleet_objects(hosts, SETTINGS, advice)}
    assert objects["acme"]["workflows"] == []  # the agency decides under Pro
    workflows = objects["globex"]["workflows"]
    assert [w["name"] for w in workflows] == [
        "globex - approve cms change set ab46235030b3 on globex-prod",
        "globex - approve updates change set ab46235030b3 on globex-prod",
    ]
    workflow = workflows[1]
    approve, apply = workflow["workflow_nodes"]
    assert approve["unified_job_template"]["type"] == "workflow_approval"
    assert f"change set {CHANGE_SET}" in approve["unified_job_template"]["description"]
    assert approve["related"] == {"success_nodes": [{"identifier": "apply"}]}
    assert apply["unified_job_template"]["name"] == "globex - maintenance"
    assert apply["unified_job_template"]["type"] == "job_template"
    approval = workflow["extra_vars"]["updates_approval"]
    assert workflow["extra_vars"]["sla_hosts"] == "globex-prod"
    assert workflow["ask_variables_on_launch"] is True

    # Filled in at launch, it is exactly the approval the gate accepts for this set.
    now = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
    scope = {"customer": "globex", "host": "globex-prod"}
    filled = dict(approval, reference="SR-1234", approved_by="j.jansen@globex.example")
    assert approval_status(filled, CHANGE_SET, now, scope)["valid"] is True
    assert approval_status(filled, "0" * 64, now, scope)["valid"] is False
    # Launched without them, the run stops before touching a host.
    with pytest.raises(GateError):
        approval_status(approval, CHANGE_SET, now, scope)


def test_workflows_skip_advice_without_a_change_set_or_template():
    advice = [dict(_advice(), change_set=None), _advice(activity="access")]
    hosts = [_host("globex-prod", "globex", "basic")]
    # Basic has no access template: that advice has nothing to apply it.
    assert fleet_objects(hosts, SETTINGS, advice)[0]["workflows"] == []


@pytest.mark.parametrize(
    ("hosts", "settings", "message"),
    [
        ([_host("a", "acme", "gold")], SETTINGS, "customer acme: tier is 'gold'"),
        (
            [_host("a", "acme", "pro"), _host("b", "acme", "basic")],
            SETTINGS,
            "customer acme: hosts disagree on sla_tier",
        ),
        ([_host("a", "acme", "pro")], {"organization": "Agency"}, "settings.project is missing"),
    ],
)
def test_bad_input_is_named(hosts, settings, message):
    with pytest.raises(AwxObjectsError, match=message):
        fleet_objects(hosts, settings)
    with pytest.raises(AnsibleFilterError, match=message):
        sla_awx_objects(hosts, settings)


def test_the_demo_inventory_becomes_two_customers():
    import yaml

    inventory = yaml.safe_load((ROOT / "inventories/demo/hosts.yml").read_text())
    hosts = [
        {"inventory_hostname": name, **group["vars"], **host_vars}
        for group in inventory["all"]["children"].values()
        for name, host_vars in group["hosts"].items()
    ]
    objects = sla_awx_objects(hosts, SETTINGS, [_advice()], "2026-03-01")
    assert [(o["customer"], o["tier"]) for o in objects] == [("acme", "pro"), ("globex", "basic")]
    assert all("20260302T" in s["rrule"] or "20260301T" in s["rrule"] or "2026030" in s["rrule"]
               for o in objects for s in o["schedules"] if "quarterly" not in s["name"])  # fmt: skip
    assert len(objects[1]["workflows"]) == 1


def test_advice_is_read_from_the_advice_directory(tmp_path):
    (tmp_path / "globex").mkdir()
    (tmp_path / "globex" / "globex-prod-updates.json").write_text(json.dumps(_advice()))
    (tmp_path / "globex" / "broken.md").write_text("# not advice")
    hosts = [_host("globex-prod", "globex", "basic")]
    objects = sla_awx_objects(hosts, SETTINGS, str(tmp_path))
    assert len(objects[0]["workflows"]) == 1
    (tmp_path / "globex" / "bad.json").write_text("{")
    with pytest.raises(AnsibleFilterError, match="bad.json cannot be read"):
        sla_awx_objects(hosts, SETTINGS, str(tmp_path))


def test_an_empty_start_date_means_the_default_as_a_missing_one_does():
    host = _host("www1", "acme", "pro")
    assert customer_objects("acme", [host], SETTINGS, start_date="") == customer_objects(
        "acme", [host], SETTINGS
    )
