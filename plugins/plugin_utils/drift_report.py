# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A customer's staging-versus-production drift, as advice in Markdown and JSON."""

from __future__ import annotations

import json

from ansible_collections.twovalue.sla.plugins.module_utils.drift import compare

_AREAS = {"packages": "Debian packages", "cms": "CMS and extensions", "config": "configuration"}


def customer_drift(hosts):
    """Pairs each staging host with the customer's first production host; returns the comparisons."""
    production = sorted(h["host"] for h in hosts if h["environment"] == "production")
    staging = sorted(h["host"] for h in hosts if h["environment"] == "staging")
    by_name = {h["host"]: h for h in hosts}
    if not production or not staging:
        missing = "production" if not production else "staging"
        return {"pairs": [], "note": f"no {missing} host in the inventory: nothing to compare"}
    reference = by_name[production[0]]
    pairs = [
        {
            "production": reference["host"],
            "staging": name,
            "differences": compare(reference["drift"], by_name[name]["drift"]),
        }
        for name in staging
    ]
    return {"pairs": pairs, "note": None}


def _shown(value):
    return (
        "absent"
        if value is None
        else f"`{value[:12]}..`"
        if len(str(value)) == 64
        else f"`{value}`"
    )


def drift_markdown(customer, result):
    lines = [f"# Staging drift for {customer}", ""]
    if result["note"]:
        return "\n".join([*lines, result["note"] + ".", ""])
    for pair in result["pairs"]:
        differences = pair["differences"]
        lines += [f"## {pair['staging']} (staging) against {pair['production']} (production)", ""]
        if not differences:
            lines += ["No drift: staging rehearses production faithfully.", ""]
            continue
        lines += [
            f"{len(differences)} differences. A release tested on a staging that differs from "
            "production is not fully tested; bring staging in line (a refresh, the same updates).",
            "",
        ]
        for area, title in _AREAS.items():
            rows = [d for d in differences if d["area"] == area]
            if rows:
                lines += [f"### {title}", "", "| item | production | staging |", "|---|---|---|"]
                lines += [
                    f"| {d['item']} | {_shown(d['production'])} | {_shown(d['staging'])} |"
                    for d in rows
                ]
                lines.append("")
    return "\n".join(lines)


def drift_json(customer, result):
    return json.dumps({"customer": customer, **result}, indent=2, sort_keys=True) + "\n"
