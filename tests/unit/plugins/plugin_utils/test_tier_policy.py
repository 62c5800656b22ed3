# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate's one tier rule answers every (change kind x tier x layer) as the five places did.

tier_policy_outcomes.json was made by running each case through the code
that decided before the rule moved into the gate: sla_gate.decide for
updates, access_plan.grant_policy, credential_rotate's policy,
deploy_plan.decide_deploy and cms_plan's schema step.
"""

from __future__ import annotations

import datetime
import json
import pathlib

import pytest
from ansible_collections.twovalue.sla.plugins.action.credential_rotate import rotation_change_set
from ansible_collections.twovalue.sla.plugins.plugin_utils.deploy_plan import deploy_change_set
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    DECISIONS,
    TIER_RULES,
    change_set_hash,
    may_change,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import classify_change
from tier_policy_cases import (
    KIND_LAYERS,
    MOMENTS,
    RECENT_PERIODIC_UPDATE,
    SCOPE,
    approval_for,
    cases,
    targets_of,
    update_item,
)

_PINNED = json.loads(
    (pathlib.Path(__file__).parent / "tier_policy_outcomes.json").read_text(encoding="utf-8")
)
_UPDATES = ("update", "security_update", "periodic_update")
_CHANGE_SETS = {
    "access_grant": "c" * 64,
    "rotation": rotation_change_set("web1", [{"id": "db_user/wikiuser@localhost"}]),
    "deploy": deploy_change_set("web1", "ab" * 32),
    "schema_step": None,
}


def _ask(kind, tier, layer, controller, moment, which):
    targets = targets_of(tier)
    now = datetime.datetime.fromisoformat(MOMENTS[moment])
    control = {layer: controller}
    if kind not in _UPDATES:
        change_set = _CHANGE_SETS[kind]
        return may_change(
            kind,
            targets,
            now,
            control=control,
            approval=approval_for(which, change_set),
            change_set=change_set,
            scope=SCOPE,
        )
    item = update_item(kind, layer)
    change_set = change_set_hash([item])
    change = classify_change(
        item["scheme"],
        item["installed"],
        item["candidate"],
        candidate_suite=item.get("candidate_suite"),
        release=item.get("release"),
    )
    deadline = now + datetime.timedelta(hours=targets["security_update_deadline_hours"])
    last = RECENT_PERIODIC_UPDATE if kind == "periodic_update" else None
    return may_change(
        "update",
        targets,
        now,
        layer=layer,
        control=control,
        approval=approval_for(which, change_set),
        change_set=change_set,
        scope=SCOPE,
        facts={
            "change": change.reason,
            "component": item["component"],
            "arrow": f"{item['component']} {item['installed']} -> {item['candidate']}",
            "upgrade": False,
            "security": item["security"],
            "deadline": deadline if item["security"] else None,
            "last_periodic_update": last and datetime.datetime.fromisoformat(last),
        },
    )


def test_the_table_covers_every_kind_tier_and_layer():
    assert len(_PINNED["outcomes"]) == len(list(cases()))
    assert {kind for kind in KIND_LAYERS if kind not in _UPDATES} | {"update"} == set(TIER_RULES)


@pytest.mark.parametrize(
    ("case_id", "kind", "tier", "layer", "controller", "moment", "which"),
    list(cases()),
    ids=lambda value: value if isinstance(value, str) and value.count("/") == 5 else "",
)
def test_the_one_rule_gives_what_the_old_code_gave(
    case_id, kind, tier, layer, controller, moment, which
):
    allowed, decision, addressed_to, approval, reason = _PINNED["outcomes"][case_id]
    answer = _ask(kind, tier, layer, controller, moment, which)
    assert set(answer) == {
        "allowed",
        "decision",
        "reason",
        "addressed_to",
        "approval",
        "outside_sla",
        "migration_project",
    }
    assert answer["decision"] in DECISIONS
    assert answer["allowed"] is allowed
    assert answer["allowed"] is (answer["decision"] in ("apply", "apply_with_approval"))
    if kind in _UPDATES:
        assert (answer["decision"], answer["addressed_to"]) == (decision, addressed_to)
        assert answer["approval"] == approval
    else:
        # The other places kept an approval's reference only when it allowed the change.
        assert (answer["approval"] if allowed else None) == approval
    if not (kind == "deploy" and allowed):
        # A deploy the tier allows takes its reason from the promotion rules.
        assert answer["reason"] == _PINNED["reasons"][reason]


@pytest.mark.parametrize("tier", ["pro", "medium", "basic"])
def test_an_approval_given_as_a_callable_is_read_only_where_the_rule_asks_for_one(tier):
    # Rotation across a fleet with one Basic customer's approval file: the active tiers must
    # decide by their window without opening (or failing on) that file.
    opened = []

    def approval():
        opened.append(tier)
        raise OSError("the approval file is unreadable")

    now = datetime.datetime(2026, 3, 3, 6, 30, tzinfo=datetime.UTC)
    if tier == "basic":
        with pytest.raises(OSError, match="unreadable"):
            may_change("rotation", resolve_targets(tier), now, approval=approval, change_set="c")
        assert opened == ["basic"]
    else:
        answer = may_change(
            "rotation", resolve_targets(tier), now, approval=approval, change_set="c"
        )
        assert opened == [] and answer["decision"] in DECISIONS
