# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters over the SLA policy engine in plugin_utils.

Each filter is a thin face: it converts Jinja arguments, calls plugin_utils
and turns their ValueError into AnsibleFilterError. Documentation lives next
to this file in one YAML file per filter.
"""

from __future__ import annotations

import datetime

from ansible.errors import AnsibleFilterError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import change_set_hash, decide
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import classify_change


def sla_targets(tier, overrides=None):
    """Return the SLA targets of ``tier`` with the customer's ``overrides`` applied."""
    try:
        return resolve_targets(tier, overrides)
    except ValueError as e:
        raise AnsibleFilterError(f"sla_targets: {e}") from e


def sla_version_change(installed, candidate, scheme, candidate_suite=None, release=None):
    """Classify ``installed`` -> ``candidate`` as update, upgrade, downgrade or same."""
    try:
        change = classify_change(
            scheme, installed, candidate, candidate_suite=candidate_suite, release=release
        )
    except ValueError as e:
        raise AnsibleFilterError(f"sla_version_change: {e}") from e
    return change.as_dict()


def sla_change_set_hash(items):
    """Return the SHA-256 identifying a set of proposed changes, as approvals quote it."""
    try:
        return change_set_hash(items)
    except ValueError as e:
        raise AnsibleFilterError(f"sla_change_set_hash: {e}") from e


def sla_gate(
    items,
    targets,
    now=None,
    approval=None,
    layer_control=None,
    last_periodic_update=None,
    migration_project=None,
):
    """Decide per proposed change what the SLA allows now; see plugin_utils.sla_gate.decide."""
    # A playbook rarely has an aware clock at hand; the controller's is the honest default.
    if now is None:
        now = datetime.datetime.now(datetime.UTC)
    try:
        return decide(
            items,
            targets,
            now,
            approval=approval,
            layer_control=layer_control,
            last_periodic_update=last_periodic_update,
            migration_project=migration_project,
        )
    except ValueError as e:
        raise AnsibleFilterError(f"sla_gate: {e}") from e


class FilterModule:
    """SLA policy filters."""

    def filters(self):
        return {
            "sla_targets": sla_targets,
            "sla_version_change": sla_version_change,
            "sla_change_set_hash": sla_change_set_hash,
            "sla_gate": sla_gate,
        }
