# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn probed host states into a per-customer summary a person can read."""

from __future__ import annotations

_COMPONENT_LABELS = (("apache", "Apache"), ("php", "PHP"), ("mariadb", "MariaDB"))


def _component_text(state):
    components = state.get("components", {})
    parts = [
        f"{label} {components[key]['upstream']}"
        for key, label in _COMPONENT_LABELS
        if key in components
    ]
    for site in state.get("cms", []):
        name = "MediaWiki" if site["kind"] == "mediawiki" else "WordPress"
        parts.append(f"{name} {site['version'] or 'unknown version'} ({site['path']})")
    return ", ".join(parts) or "no LAMP components found"


def _updates_text(state):
    updates = state.get("updates")
    if updates is None:
        return "updates not probed"
    total = len(updates["pending"])
    if total == 0:
        text = "no pending updates"
    else:
        text = (
            f"{total} pending updates ({updates['security_count']} security, "
            f"{updates['regular_count']} regular)"
        )
    if updates.get("held"):
        text += f"; held: {', '.join(updates['held'])}"
    return text


def _decisions_text(plan, label="SLA decisions"):
    summary = plan.get("summary") or {}
    counts = [f"{summary[k]} {k.replace('_', ' ')}" for k in sorted(summary) if summary[k]]
    text = f"{label}: " + (", ".join(counts) if counts else "nothing to decide")
    if plan.get("advice_files"):
        text += f"; advice in {plan['advice_files'][0]}"
    return text


def _support_text(entry):
    if not entry.get("known"):
        return f"{entry['component']} {entry['version']}: branch {entry['branch']} not in the catalogue"
    if entry.get("supported") is False:
        state = f"END OF LIFE since {entry['eol']}"
    elif entry.get("eol"):
        state = f"supported until {entry['eol']}"
    else:
        state = "supported"
    return f"{entry['component']} {entry['version']}: branch {entry['branch']} {state}"


def _cms_lines(plan):
    lines = [_support_text(entry) for entry in plan.get("support", [])]
    return lines + [_decisions_text(plan, "CMS decisions")]


def _kernel_reboot_text(kernel):
    return (
        f"reboot pending: kernel {kernel['reboot_pending_for']} is installed, "
        f"{kernel['running']} is running"
    )


def _warnings(state, outcome=None):
    warnings = []
    dpkg = state.get("dpkg", {})
    if dpkg.get("locked"):
        warnings.append("dpkg lock is held by another process")
    if dpkg.get("interrupted"):
        warnings.append("a previous dpkg run was interrupted")
    restarts = state.get("restarts", {})
    # An update in this run may have installed a newer kernel than the probe saw.
    kernel = (outcome or {}).get("kernel_reboot") or restarts.get("kernel_reboot") or {}
    if kernel.get("reboot_pending_for"):
        warnings.append(_kernel_reboot_text(kernel))
    elif restarts.get("reboot_required"):
        warnings.append("reboot required")
    elif restarts.get("kernel_outdated"):
        warnings.append("reboot required: the running kernel is older than the installed one")
    if restarts.get("services"):
        warnings.append(f"services to restart: {', '.join(restarts['services'])}")
    for disk in state.get("disk", []):
        if disk["free_mb"] < 1024:
            warnings.append(f"only {disk['free_mb']} MiB free on {disk['path']}")
    return warnings


def host_summary(host):
    """One host as a dict of display lines; ``host`` holds its vars.

    Facts are read from ``ansible_facts`` (injected fact names are going away
    in ansible-core); a plain ``sla_state`` var is accepted for callers
    without facts.
    """
    facts = host.get("ansible_facts") or {}
    state = facts.get("sla_state") or host.get("sla_state") or {}
    plan = facts.get("sla_update_plan") or host.get("sla_update_plan")
    cms_plan = facts.get("sla_cms_plan") or host.get("sla_cms_plan")
    os_facts = state.get("os", {})
    system = os_facts.get("pretty_name") or "unknown system"
    if os_facts.get("debian_version"):
        system += f" ({os_facts['debian_version']}, kernel {os_facts.get('kernel', '?')})"
    return {
        "host": host["inventory_hostname"],
        "environment": host.get("sla_environment", "unspecified"),
        "system": system,
        "stack": _component_text(state),
        "updates": _updates_text(state),
        "decisions": _decisions_text(plan) if plan else None,
        "cms": _cms_lines(cms_plan) if cms_plan else [],
        "warnings": _warnings(state, host.get("updates_outcome")),
    }


def fleet_summary(hosts):
    """Group host summaries by customer: ``{customer: {tier, hosts: [...]}}``.

    Hosts are taken in the given order, so the output is stable for a stable
    inventory; the cost is linear in the number of hosts.
    """
    customers = {}
    for host in hosts:
        customer = customers.setdefault(
            host.get("sla_customer", "(no customer)"),
            {"tier": host.get("sla_tier", "(no tier)"), "hosts": []},
        )
        customer["hosts"].append(host_summary(host))
    return customers


def summary_lines(customers):
    lines = []
    for name in sorted(customers):
        customer = customers[name]
        lines.append(f"{name} - SLA {customer['tier']}")
        for host in customer["hosts"]:
            lines.append(f"  {host['host']} [{host['environment']}] {host['system']}")
            lines.append(f"    stack:   {host['stack']}")
            lines.append(f"    updates: {host['updates']}")
            if host["decisions"]:
                lines.append(f"    {host['decisions']}")
            for line in host.get("cms", []):
                lines.append(f"    cms:     {line}")
            for warning in host["warnings"]:
                lines.append(f"    warning: {warning}")
    return lines
