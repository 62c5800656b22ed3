# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan a host's package updates: probe state in, gate decisions and advice out.

Controller-side and pure: the caller passes the probed state, the customer's
targets and the clock, and gets back what to install, what to advise and the
advice document. Nothing here touches a host or a file.
"""

from __future__ import annotations

import re

from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import (
    advice_document,
    markdown_table,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    APPLY_DECISIONS,
    decide,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import (
    VersionError,
    debian_suite,
    package_branch_switch,
)

_PHP_PACKAGE = re.compile(r"^php(?P<branch>\d+\.\d+)(?P<suffix>-.*)?$")
_NEW_PACKAGE_REASON = (
    "a pending update would newly install this package, and no planned update of an installed "
    "package from its release needs it; such packages are installed only on purpose, never as "
    "a side effect of SLA updates"
)


class PlanError(SlaInputError):
    """The probed state cannot be planned on; the message says what is missing."""


def _candidate_suite(pending, host_release):
    """The Debian suite a candidate comes from, as the version rules read it.

    apt names archives by their moving names (``oldstable-security``); the
    origin's release field carries the number (``12``, ``12.12``) or, for
    backports, the codename suite. Moving names are turned into numbers here
    so a future "stable" never passes for the host's own release.
    """
    origins = pending.get("origins") or []
    if not origins:
        return host_release
    origin = origins[0]
    pocket = origin.get("suite", "").partition("-")[2] or None
    release = origin.get("release", "")
    number = release.split(".")[0]
    if not number.isdigit():
        try:
            number = str(debian_suite(release)[0])
        except VersionError:
            number = host_release
    return f"{number}-{pocket}" if pocket else number


def update_items(state):
    """Gate items for the pending package updates in ``state``.

    Returns ``(items, new_packages)``. A package an update newly installs is
    an item when apt pulls it in for an upgrade of an installed package from
    the same origin and release (a new kernel ABI package, a library's new
    soname): it goes with that upgrade. Any other new package is kept apart
    and reported as advice, never installed by SLA automation.
    """
    try:
        pending = state["updates"]["pending"]
        release = str(state["os"]["version_id"]).split(".")[0]
    except (KeyError, TypeError) as exc:
        raise PlanError(
            f"the probed state lacks {exc}: run twovalue.sla.host_probe with the os and "
            "updates sections first"
        ) from exc
    php_branches = state.get("components", {}).get("php", {}).get("branches", [])
    upgrades = {p["package"]: p for p in pending if _is_upgrade(p)}
    items, new_packages = [], []
    for package in pending:
        if _is_upgrade(package):
            items.append(_item(package, release))
            continue
        entry = _new_package(package, php_branches)
        needing = _needing_upgrade(package, upgrades)
        if entry["kind"] == "new" and needing is not None:
            items.append(
                dict(
                    _item(package, release),
                    installed="",
                    new_install=True,
                    needed_by=needing["package"],
                )
            )
        else:
            new_packages.append(entry)
    return items, new_packages


def _is_upgrade(package):
    return bool(package.get("installed")) and not package.get("new_install")


def _origin_release(package):
    origins = package.get("origins") or []
    return (origins[0].get("label"), origins[0].get("release")) if origins else None


def _needing_upgrade(package, upgrades):
    """The upgrade of an installed package that apt said needs ``package``, if any.

    Only an upgrade from the same origin and release counts: a package from
    another release is not part of an update of this one.
    """
    release = _origin_release(package)
    for name in package.get("needed_by") or []:
        needing = upgrades.get(name)
        if needing is not None and release is not None and _origin_release(needing) == release:
            return needing
    return None


def update_groups(pending):
    """The group each pending package is applied in, by package name.

    apt must be able to take each group on its own: an upgrade with every new
    package it pulls in, and the binary packages of one source package
    together (apache2 without apache2-bin at the same version cannot be
    installed). A group is named after its source package.
    """
    upgrades = {p["package"]: p for p in pending if _is_upgrade(p)}
    groups = {
        name: package.get("source_package") or name.split(":")[0]
        for name, package in upgrades.items()
    }
    for package in pending:
        needing = None if _is_upgrade(package) else _needing_upgrade(package, upgrades)
        if needing is not None:
            groups[package["package"]] = groups[needing["package"]]
    return groups


def _item(package, release):
    origins = package.get("origins") or []
    return {
        "component": package["package"],
        "installed": package["installed"],
        "candidate": package["candidate"],
        "scheme": "debian",
        "security": bool(package.get("security")),
        "source": ", ".join(f"{o['label']}:{o['release']}/{o['suite']}" for o in origins),
        "candidate_suite": _candidate_suite(package, release),
        "release": release,
        "layer": "os",
    }


def _new_package(package, php_branches):
    """A package an update would newly install, with why it is not installed.

    A new ``php8.4-*`` beside an installed PHP 8.2 is a branch switch, which
    is a migration project; any other new package is just not installed unasked.
    """
    entry = {"package": package["package"], "candidate": package["candidate"], "kind": "new"}
    match = _PHP_PACKAGE.match(package["package"])
    if match and php_branches and match.group("branch") not in php_branches:
        installed = f"php{php_branches[-1]}{match.group('suffix') or ''}"
        switch = package_branch_switch(installed, package["package"])
        if switch and switch["kind"] == "upgrade":
            entry.update(kind="upgrade", reason=switch["reason"])
            return entry
    entry["reason"] = _NEW_PACKAGE_REASON
    return entry


def decision_header(decision, migration_project):
    """What a plan says about how it was decided: the change set, the mode, the clock, the approval."""
    header = {key: decision[key] for key in ("change_set", "decision_mode", "now", "in_window")}
    header.update(
        migration_project=migration_project,
        next_window=decision["next_window"],
        approval=decision["approval"],
    )
    return header


def plan_updates(
    state,
    targets,
    now,
    approval=None,
    control=None,
    last_periodic_update=None,
    migration_project=None,
    scope=None,
):
    """Decide every pending update; return the plan the role acts on.

    ``scope`` ``{customer, host}`` binds an approval to its customer and hosts.
    """
    items, new_packages = update_items(state)
    decision = decide(
        items,
        targets,
        now,
        approval=approval,
        layer_control=control,
        last_periodic_update=last_periodic_update,
        migration_project=migration_project,
        scope=scope,
    )
    groups = update_groups(state["updates"]["pending"])
    apply = [
        dict(_apply_entry(d), group=groups.get(d["component"], d["component"]))
        for d in decision["items"]
        if d["decision"] in APPLY_DECISIONS
    ]
    advice = [d for d in decision["items"] if d["decision"] not in APPLY_DECISIONS]
    return {
        **decision_header(decision, migration_project),
        "summary": decision["summary"],
        "decisions": decision["items"],
        "apply": sorted(apply, key=lambda p: p["name"]),
        "advice": advice,
        "new_packages": new_packages,
        # For the trail: each package the update installs newly, and what needs it.
        "new_installs": {
            d["component"]: d["needed_by"]
            for d in decision["items"]
            if d.get("new_install") and d["decision"] in APPLY_DECISIONS
        },
        "partial_apply": decision["partial_apply"],
    }


def _apply_entry(decision):
    if decision.get("new_install"):
        # Nothing installed to go back to: a rollback purges it.
        return {"name": decision["component"], "version": decision["candidate"], "previous": None}
    return {
        "name": decision["component"],
        "version": decision["candidate"],
        "previous": decision["installed"],
    }


def advice_json(plan, customer, host, tier):
    items = sorted(plan["advice"], key=lambda d: d["component"])
    fields = {"approval": plan["approval"], "items": items, "new_packages": plan["new_packages"]}
    return advice_document(plan, customer, host, tier, "updates", **fields)


def advice_markdown(plan, customer, host, tier):
    lines = [
        f"# Update advice for {host} ({customer}, SLA {tier})",
        "",
        f"Decided at {plan['now']}. Change set `{plan['change_set']}`.",
        "",
    ]
    advice = sorted(plan["advice"], key=lambda d: d["component"])
    if advice:
        headers = ("package", "installed", "candidate", "security", "decision", "why", "for")
        rows = [
            (item["component"], item["installed"] or "new", item["candidate"],
             "yes" if item["security"] else "no", item["decision"], item["reason"],
             item["addressed_to"])
            for item in advice
        ]  # fmt: skip
        lines += [markdown_table(headers, rows), ""]
    for package in plan["new_packages"]:
        lines.append(
            f"- new package `{package['package']}` {package['candidate']}: {package['reason']}"
        )
    if plan["new_packages"]:
        lines.append("")
    if plan["decision_mode"] == "advisory" and any(d["decision"] == "advise" for d in advice):
        lines += [
            "## How to approve",
            "",
            "The customer approves this exact change set; the approval no longer applies once",
            "the candidates change. Record it as a file and pass it to the next run:",
            "",
            "```yaml",
            "reference: SR-0000          # the support request",
            f"customer: {customer}",
            f"hosts: [{host}]            # optional: leave out to approve this set on every host",
            f"change_set: {plan['change_set']}",
            "approved_by: name of the customer's contact",
            "expires: 2030-01-31T00:00:00+00:00   # optional",
            "```",
            "",
            "`ansible-playbook twovalue.sla.maintenance -e updates_approval_file=approval.yml`",
            "",
        ]
    return "\n".join(lines)
