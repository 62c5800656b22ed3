# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every (change kind x tier x layer) the tier rule answers, for the table test.

Each case names a kind of change, a tier (with variants that drop or add
activities), who controls the change's layer, a moment (inside the Medium
and Pro windows, inside Basic's, outside all) and the approval (none, one
for this change set, one for another). tier_policy_outcomes.json pins what
the five places that decided this before the gate's one rule answered.
"""

from __future__ import annotations

import itertools

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    ACTIVITIES,
    CONTROLLERS,
    LAYERS,
    resolve_targets,
)

TIERS = {
    "basic": ("basic", None),
    "basic_with_every_activity": ("basic", {"activities": list(ACTIVITIES)}),
    "medium": ("medium", None),
    "pro": ("pro", None),
    "pro_docs_only": ("pro", {"activities": ["docs"]}),
}
MOMENTS = {
    "pro_and_medium_window": "2025-11-03T07:30:00+01:00",
    "basic_window": "2025-11-03T10:00:00+01:00",
    "no_window": "2025-11-03T20:00:00+01:00",
}
APPROVALS = ("none", "this_change_set", "another_change_set")
# The layer each kind of change happens on; an update happens on the layer of its item.
KIND_LAYERS = {
    "update": LAYERS,
    "security_update": LAYERS,
    "periodic_update": LAYERS,
    "access_grant": ("access",),
    "rotation": ("access",),
    "deploy": ("cms",),
    "schema_step": ("cms",),
}
UPDATE_ITEMS = {
    "os": {"component": "apache2", "installed": "2.4.62-1~deb12u1",
           "candidate": "2.4.62-1~deb12u2", "scheme": "debian", "source": "Debian:12.12/oldstable",
           "candidate_suite": "12", "release": "12"},
    "cms": {"component": "mediawiki /srv/wiki", "installed": "1.43.1", "candidate": "1.43.2",
            "scheme": "mediawiki", "source": "https://releases.example/mediawiki-1.43.2.tar.gz"},
    "access": {"component": "openssh-server", "installed": "1:9.2p1-2+deb12u5",
               "candidate": "1:9.2p1-2+deb12u6", "scheme": "debian",
               "source": "Debian-Security:12/oldstable-security", "candidate_suite": "12-security",
               "release": "12"},
}  # fmt: skip
# Three days before the moments: a periodic update is not due yet on any tier.
RECENT_PERIODIC_UPDATE = "2025-10-31T07:00:00+01:00"
SCOPE = {"customer": "acme", "host": "web1"}


def update_item(kind, layer):
    return dict(UPDATE_ITEMS[layer], layer=layer, security=kind == "security_update")


def approval_for(which, change_set):
    if which == "none":
        return None
    return {
        "reference": "SR-7",
        "customer": "acme",
        "change_set": change_set if which == "this_change_set" else "0" * 64,
        "approved_by": "Carol",
    }


def targets_of(tier):
    name, overrides = TIERS[tier]
    return resolve_targets(name, overrides)


def cases():
    """(case id, kind, tier, layer, controller, moment, approval) for every combination."""
    for kind, layers in KIND_LAYERS.items():
        for tier, layer, controller, moment, approval in itertools.product(
            TIERS, layers, CONTROLLERS, MOMENTS, APPROVALS
        ):
            case_id = "/".join((kind, tier, layer, controller, moment, approval))
            yield case_id, kind, tier, layer, controller, moment, approval
