# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the tier lets the access activity do on a host, and the documents it leaves.

Revocations are never deferred: a person who left, or a key taken out of
the register, loses access on every tier at once, because the risk is in
waiting. Granting access is agency work on the customer's server, so it
follows the tier: Medium and Pro grant by themselves, Basic only with the
customer's approval of the exact set of accesses.
"""

from __future__ import annotations

import json

from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import (
    Heading,
    Paragraph,
    Table,
    markdown_document,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import may_change

REVOCATION_REASON = (
    "revoking an agency-controlled access of a person who left or was taken out of the "
    "register is never deferred, on any tier"
)


def grant_policy(targets, change_set, approval, now, scope):
    """(allowed, reason, approval reference) for adding accesses on this host."""
    answer = may_change(
        "access_grant", targets, now, approval=approval, change_set=change_set, scope=scope
    )
    return answer["allowed"], answer["reason"], answer["approval"]


GRANT_CHANGES = ("created", "unlocked", "sudo rule added", "keys added")


def is_grant(change):
    """Whether a change gives access (tier rules apply) rather than takes it away."""
    return change["change"] in GRANT_CHANGES or bool(change.get("keys_added"))


def _change_row(change):
    keys = ", ".join(change.get("keys_removed", []) + change.get("keys_added", []))
    return (change["kind"], change["account"], change["change"], change.get("person") or "-", keys)


def _review_row(item, *more):
    return (item["access"], item["controlled_by"], ", ".join(item["holders"]) or "-", *more)


def advice_markdown(plan, customer, host, tier, review_days):
    blocks = [Heading(1, f"Access advice for {host} ({customer}, SLA {tier})")]
    withheld = [c for c in plan["changes"] if not c["applied"]]
    if withheld:
        blocks += [
            Heading(2, "Accesses the agency did not change"),
            Paragraph(plan["grant_reason"] + "."),
            _table(("kind", "account", "change", "person", "key fingerprints"),
                   [_change_row(c) for c in withheld]),
        ]  # fmt: skip
    urgent = [item for item in plan["review"] if item["urgent"]]
    if urgent:
        blocks += [
            Heading(2, "Remove now: accesses you control that former staff still hold"),
            _table(("access", "controlled by", "held by", "why"),
                   [_review_row(i, "; ".join(i["concerns"])) for i in urgent]),
        ]  # fmt: skip
    routine = [item for item in plan["review"] if not item["urgent"]]
    if routine and tier != "basic":
        blocks += [
            Heading(2, f"Review every {review_days} days: accesses you control"),
            Paragraph("The agency does not change these. Check that each is still needed."),
            _table(("access", "controlled by", "held by"), [_review_row(i) for i in routine]),
        ]
    elif routine:
        blocks.append(
            Paragraph(
                f"{len(routine)} further accesses are controlled by you or your hoster; "
                f"review them at least every {review_days} days."
            )
        )
    return markdown_document(blocks)


def _table(headers, rows):
    return Table(headers, tuple(rows), "advice")


def advice_json(plan, customer, host, tier):
    document = {
        "customer": customer,
        "host": host,
        "tier": tier,
        "grant_change_set": plan["change_set"],
        "withheld": [c for c in plan["changes"] if not c["applied"]],
        "review": plan["review"],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def has_advice(plan):
    return bool(plan["review"]) or any(not c["applied"] for c in plan["changes"])


def evidence_json(plan, customer, host, run_id, now):
    """What was removed or locked on the host, for whoever asks who still has access."""
    document = {
        "customer": customer,
        "host": host,
        "run_id": run_id,
        "time": now,
        "revoked_people": plan["revoked_people"],
        "removed": [c for c in plan["changes"] if c["applied"] and not is_grant(c)],
        "added": [c for c in plan["changes"] if c["applied"] and is_grant(c)],
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
