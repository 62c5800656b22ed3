# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan a host's CMS maintenance: discovered sites in, gate decisions and advice out.

Controller-side and pure, like the update plan: the caller passes the probed
sites, the release catalogue, the configured release sources, the customer's
targets and the clock. A patch release within the installed branch is an SLA
update; a new branch is a migration project, always advised and never applied
by this automation.
"""

from __future__ import annotations

from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import (
    advice_document,
    markdown_table,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import (
    APPLY_DECISIONS,
    aware_time,
    decide,
    may_change,
    summarise,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_date
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import (
    VersionError,
    branch_of,
    classify_change,
    compare_versions,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import decision_header

KINDS = ("mediawiki", "wordpress")
# Kinds whose release switch this collection performs; others get advice only.
SWITCHABLE = ("mediawiki", "wordpress")
_CATALOGUE_FORMAT = 1


class CmsPlanError(SlaInputError):
    """Input the CMS plan cannot be made from; the message says what to fix."""


def _date(value, where):
    return parse_date(value, where, CmsPlanError)


def _branch_entry(scheme, raw, where):
    if not isinstance(raw, dict):
        raise CmsPlanError(f"{where} is {raw!r}; expected a mapping")
    try:
        branch = branch_of(scheme, str(raw["branch"]))
    except (KeyError, VersionError) as exc:
        raise CmsPlanError(f"{where}.branch: {exc}") from exc
    entry = {
        "branch": branch,
        "released": _date(raw.get("released"), f"{where}.released"),
        "eol": _date(raw.get("eol"), f"{where}.eol"),
        "lts": bool(raw.get("lts", False)),
        "latest": raw.get("latest"),
        "latest_released": _date(raw.get("latest_released"), f"{where}.latest_released"),
    }
    if entry["latest"] is not None:
        try:
            if branch_of(scheme, str(entry["latest"])) != branch:
                raise CmsPlanError(f"{where}.latest {entry['latest']} is not on branch {branch}")
        except VersionError as exc:
            raise CmsPlanError(f"{where}.latest: {exc}") from exc
    # A distribution's release carries a name, extended (LTS) support and the
    # branches it packages; a CMS branch has none of these.
    if "codename" in raw:
        entry["codename"] = str(raw["codename"])
    if "extended_until" in raw:
        entry["extended_until"] = _date(raw["extended_until"], f"{where}.extended_until")
    if "ships" in raw:
        ships = raw["ships"]
        if not isinstance(ships, dict) or not all(
            isinstance(name, str) and isinstance(version, str) for name, version in ships.items()
        ):
            raise CmsPlanError(f"{where}.ships is {ships!r}; expected product: branch pairs")
        entry["ships"] = dict(ships)
    return entry


def validate_catalogue(document, origin="the release catalogue", kinds=KINDS):
    """Check a catalogue document and return it with dates parsed.

    ``kinds`` are the products it must hold; a product's ``scheme`` names
    its version scheme when that differs from the product's name.
    """
    if not isinstance(document, dict) or document.get("format") != _CATALOGUE_FORMAT:
        raise CmsPlanError(f"{origin} is not a format {_CATALOGUE_FORMAT} release catalogue")
    products = {}
    for kind in kinds:
        product = document.get("products", {}).get(kind)
        if not isinstance(product, dict) or not isinstance(product.get("branches"), list):
            raise CmsPlanError(f"{origin} has no branch list for {kind}")
        scheme = product.get("scheme", kind)
        branches = [
            _branch_entry(scheme, raw, f"{origin}: {kind}.branches[{index}]")
            for index, raw in enumerate(product["branches"])
        ]
        products[kind] = {
            "scheme": scheme,
            "policy": product.get("policy", ""),
            "sources": list(product.get("sources", [])),
            "branches": {entry["branch"]: entry for entry in branches},
        }
    return {
        "as_of": _date(document.get("as_of"), f"{origin}: as_of"),
        "origin": origin,
        "products": products,
    }


def from_endoflife(kind, cycles, origin):
    """A catalogue product from an endoflife.date API answer (a list of cycles).

    The public API is the usual refresh source; its ``eol`` is a date or a
    boolean, and ``lts`` a boolean or a date.
    """
    if not isinstance(cycles, list):
        raise CmsPlanError(f"{origin} is not a list of release cycles")
    branches = []
    for cycle in cycles:
        if not isinstance(cycle, dict) or "cycle" not in cycle:
            raise CmsPlanError(f"{origin} holds {cycle!r}; expected release cycles")
        eol = cycle.get("eol")
        if eol is True:
            # Over without a published date: its last release is when fixes stopped.
            # Left empty, the branch would read as supported with no end in sight.
            eol = cycle.get("latestReleaseDate") or cycle.get("releaseDate")
            if not eol:
                raise CmsPlanError(
                    f"{origin}: cycle {cycle['cycle']} is end of life, but no date says since when"
                )
        branches.append(
            {
                "branch": str(cycle["cycle"]),
                "released": cycle.get("releaseDate"),
                "eol": eol if isinstance(eol, str) else None,
                "lts": bool(cycle.get("lts")),
                "latest": cycle.get("latest"),
                "latest_released": cycle.get("latestReleaseDate"),
            }
        )
    return {"sources": [origin], "branches": branches}


def branch_status(catalogue, kind, branch, today):
    """Support facts of one branch on ``today``; unknown branches say so."""
    entry = catalogue["products"][kind]["branches"].get(branch)
    if entry is None:
        return {
            "branch": branch,
            "known": False,
            "supported": None,
            "eol": None,
            "lts": None,
            "latest": None,
            "days_left": None,
        }
    eol = entry["eol"]
    return {
        "branch": branch,
        "known": True,
        "supported": eol is None or today <= eol,
        "eol": None if eol is None else eol.isoformat(),
        "lts": entry["lts"],
        "latest": entry["latest"],
        "days_left": None if eol is None else (eol - today).days,
    }


def _newest_supported_branch(catalogue, kind, today):
    supported = [
        entry
        for entry in catalogue["products"][kind]["branches"].values()
        if entry["eol"] is None or today <= entry["eol"]
    ]
    if not supported:
        return None
    # An LTS branch is what an agency migrates to; the newest one wins.
    lts = [entry for entry in supported if entry["lts"]]
    pool = lts or supported
    return max(pool, key=lambda e: tuple(int(p) for p in e["branch"].split(".")))


def validate_sources(sources):
    """Release sources per kind: ``{mediawiki: [{version, url|path, sha256, security?}]}``."""
    if sources is None:
        return {}
    if not isinstance(sources, dict):
        raise CmsPlanError(f"cms release sources are {sources!r}; expected a mapping per CMS kind")
    checked = {}
    for kind, releases in sources.items():
        if kind not in KINDS:
            raise CmsPlanError(f"release sources name {kind!r}; expected one of {', '.join(KINDS)}")
        if not isinstance(releases, list):
            raise CmsPlanError(f"release sources for {kind} are {releases!r}; expected a list")
        checked[kind] = []
        for index, release in enumerate(releases):
            where = f"release sources {kind}[{index}]"
            if not isinstance(release, dict):
                raise CmsPlanError(f"{where} is {release!r}; expected a mapping")
            version = str(release.get("version", ""))
            try:
                branch_of(kind, version)
                compare_versions(kind, version, version)
            except VersionError as exc:
                raise CmsPlanError(f"{where}.version: {exc}") from exc
            if bool(release.get("url")) == bool(release.get("path")):
                raise CmsPlanError(f"{where} needs exactly one of url and path")
            sha256 = str(release.get("sha256", "")).lower()
            if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
                raise CmsPlanError(
                    f"{where}.sha256 is missing or malformed: every release is verified "
                    "against the SHA-256 published with it"
                )
            checked[kind].append(
                {
                    "version": version,
                    "url": release.get("url"),
                    "path": release.get("path"),
                    "sha256": sha256,
                    "security": bool(release.get("security", False)),
                }
            )
    return checked


def _component(site):
    return f"{site['kind']} {site['site_root']}"


def _newest(kind, releases):
    newest = None
    for release in releases:
        if newest is None or compare_versions(kind, release["version"], newest["version"]) > 0:
            newest = release
    return newest


def _site_candidates(site, sources, catalogue, today):
    """Gate items for one site, and notes that are advice without a decision."""
    kind, installed = site["kind"], site["version"]
    branch = branch_of(kind, installed)
    releases = sources.get(kind, [])
    in_branch = [
        r
        for r in releases
        if branch_of(kind, r["version"]) == branch
        and compare_versions(kind, r["version"], installed) > 0
    ]
    items, notes = [], []
    base = {"component": _component(site), "installed": installed, "scheme": kind, "layer": "cms"}
    update = _newest(kind, in_branch)
    if update and site.get("install") != "debian":
        items.append(
            dict(
                base,
                candidate=update["version"],
                security=update["security"],
                source=update["url"] or update["path"],
                sha256=update["sha256"],
                upgrade=False,
            )
        )
    status = branch_status(catalogue, kind, branch, today)
    upstream = status["latest"]
    known = update["version"] if update else installed
    if upstream and compare_versions(kind, upstream, known) > 0 and site.get("install") != "debian":
        notes.append(
            f"{kind} {upstream} is released upstream on branch {branch}; configure its release "
            "source (URL or path, and its SHA-256) so the SLA update can apply it"
        )
    target = _newest_supported_branch(catalogue, kind, today)
    if target and compare_versions(kind, f"{target['branch']}.0", f"{branch}.0") > 0:
        in_target = [r for r in releases if branch_of(kind, r["version"]) == target["branch"]]
        offered = _newest(kind, in_target)
        candidate = offered["version"] if offered else (target["latest"] or f"{target['branch']}.0")
        items.append(
            dict(
                base,
                candidate=candidate,
                security=False,
                source=(offered["url"] or offered["path"]) if offered else "release catalogue",
                sha256=offered["sha256"] if offered else None,
                upgrade=True,
            )
        )
    return items, notes, status


def _migration(site, item, catalogue, today):
    kind = site["kind"]
    installed = branch_status(catalogue, kind, branch_of(kind, site["version"]), today)
    target = branch_status(catalogue, kind, branch_of(kind, item["candidate"]), today)
    return {
        "component": item["component"],
        "installed": site["version"],
        "installed_branch": installed,
        "target": item["candidate"],
        "target_branch": target,
        "policy": catalogue["products"][kind]["policy"],
        # A packaged wiki changes branch with its distribution, not with a tarball.
        "path": (
            "this site is Debian's package: its branch changes with a Debian release upgrade "
            "(or a packaged backport), after the customer's data is moved and tested on staging"
            if site.get("install") == "debian"
            else "unpack the new branch as a release, carry the site over, run the schema "
            "update and check every extension, skin, plugin and theme for the new branch"
        ),
    }


def _schema_step(site, targets, control, now, updated_packages=()):
    """Whether update.php must follow a packaged MediaWiki whose code changed.

    The package update itself passed the gate in the updates activity; the
    schema step is its consequence. Only a site whose schema state was never
    recorded needs a decision of its own, as a first run changes the database.
    """
    recorded = site.get("schema_version")
    if site["kind"] != "mediawiki" or site.get("install") != "debian":
        return None
    if recorded == site["version"]:
        return None
    tier = may_change("schema_step", targets, now, control=control)
    # Held back for someone other than the agency: the layer is not the agency's to change.
    if not tier["allowed"] and tier["addressed_to"] != "agency":
        return {"run": False, "reason": tier["reason"]}
    if recorded is not None:
        return {
            "run": True,
            "reason": f"the package changed the code from {recorded} to {site['version']}; "
            "its schema update follows",
        }
    if "mediawiki" in updated_packages:
        return {
            "run": True,
            "reason": f"the mediawiki package was updated to {site['version']} in this run; "
            "its schema update follows",
        }
    return {"run": tier["allowed"], "reason": tier["reason"]}


def plan_cms(
    sites,
    targets,
    now,
    catalogue,
    sources=None,
    approval=None,
    control=None,
    migration_project=None,
    scope=None,
    updated_packages=(),
):
    """Decide every CMS change on a host; return the plan the role acts on.

    ``updated_packages`` names the Debian packages the updates activity
    installed in this run: a packaged wiki's schema step follows them.
    """
    sources = validate_sources(sources)
    now_dt = aware_time(now, "now")
    today = now_dt.date()
    control = control or {}
    items, notes, support, schema, by_component = [], [], [], [], {}
    for site in sites:
        if not site.get("version"):
            notes.append(f"{site['kind']} at {site['path']}: version unreadable; nothing planned")
            continue
        site_items, site_notes, status = _site_candidates(site, sources, catalogue, today)
        items += site_items
        notes += [f"{_component(site)}: {note}" for note in site_notes]
        support.append(
            {"component": _component(site), "version": site["version"], "kind": site["kind"]}
            | status
        )
        by_component[_component(site)] = site
        step = _schema_step(site, targets, control, now_dt, updated_packages)
        if step is not None:
            schema.append({"component": _component(site), "site": site["path"], **step})
    updates = [item for item in items if not item["upgrade"]]
    gate_items = [{k: v for k, v in i.items() if k not in ("sha256", "upgrade")} for i in updates]
    # Branch changes stay out of the gate and its change set: they are never
    # applied, and a new upstream branch must not void an approved patch release.
    decision = decide(
        gate_items,
        targets,
        now_dt,
        approval=approval,
        layer_control=control,
        migration_project=migration_project,
        scope=scope,
    )
    apply, advice, migrations = [], [], []
    for item, decided in zip(updates, decision["items"], strict=True):
        site = by_component[item["component"]]
        why_not = _not_switchable(site)
        if decided["decision"] in APPLY_DECISIONS and why_not:
            decided.update(
                decision="advise", reason=f"{decided['reason']}; apply by hand: {why_not}"
            )
        if decided["decision"] in APPLY_DECISIONS:
            apply.append(_release_task(site, item))
        else:
            advice.append(decided)
    refused = []
    for item in items:
        if item["upgrade"]:
            refused.append(_refused_upgrade(item))
            migrations.append(_migration(by_component[item["component"]], item, catalogue, today))
    advice += refused
    decisions = decision["items"] + refused
    return {
        **decision_header(decision, migration_project),
        "decisions": decisions,
        "summary": summarise(decisions),
        "apply": apply,
        "advice": advice,
        "migrations": migrations,
        "support": support,
        "schema": schema,
        "notes": notes,
        "catalogue": {
            "as_of": None if catalogue["as_of"] is None else catalogue["as_of"].isoformat(),
            "origin": catalogue["origin"],
        },
    }


def _not_switchable(site):
    if site["kind"] not in SWITCHABLE:
        return f"{site['kind']} release switches are not automated"
    if site.get("layout") != "releases":
        return "the site is not in the releases layout (current -> releases/<version>)"
    if not (site.get("settings") or {}).get("db_name"):
        return "the site's configuration names no database, so there is no dump to roll back to"
    return None


def _refused_upgrade(item):
    change = classify_change(item["scheme"], item["installed"], item["candidate"])
    return {
        "component": item["component"],
        "installed": item["installed"],
        "candidate": item["candidate"],
        "scheme": item["scheme"],
        "security": False,
        "source": item["source"],
        "layer": "cms",
        "kind": change.kind,
        "deadline": None,
        "installed_branch": change.installed_branch,
        "candidate_branch": change.candidate_branch,
        # A new branch changes extensions, PHP needs and the schema: it is
        # planned as a project, whatever the tier or a migration reference.
        "decision": "refuse",
        "reason": f"{item['installed']} -> {item['candidate']} leaves branch "
        f"{change.installed_branch} for {change.candidate_branch}: a CMS branch change is a "
        "migration project, planned with the customer and never applied by SLA automation; "
        "see the migration advice",
        "addressed_to": "customer",
        "outside_sla": False,
        "migration_project": None,
        "approval": None,
    }


def _release_task(site, item):
    settings = site.get("settings") or {}
    return {
        "component": item["component"],
        "kind": site["kind"],
        "site_root": site["site_root"],
        "from": site["version"],
        "to": item["candidate"],
        "source": item["source"],
        "sha256": item["sha256"],
        "database": settings.get("db_name"),
        "db_server": settings.get("db_server") or settings.get("db_host"),
    }


def advice_json(plan, customer, host, tier):
    fields = {key: plan[key] for key in ("catalogue", "support", "migrations", "notes")}
    waiting = [step for step in plan["schema"] if not step["run"]]
    return advice_document(
        plan, customer, host, tier, "cms", items=plan["advice"], schema=waiting, **fields
    )


def _support_row(entry):
    if not entry["known"]:
        return (
            entry["component"],
            entry["version"],
            entry["branch"],
            "not in the catalogue",
            "",
            "",
        )
    if entry["eol"] is None:
        state = "supported (newest branch)"
    elif entry["supported"]:
        state = f"supported, {entry['days_left']} days left"
    else:
        state = f"END OF LIFE since {entry['eol']}: no security fixes"
    return (entry["component"], entry["version"], entry["branch"], state, entry["eol"] or "-",
            "yes" if entry["lts"] else "no")  # fmt: skip


def advice_markdown(plan, customer, host, tier):
    catalogue = plan["catalogue"]
    lines = [
        f"# CMS advice for {host} ({customer}, SLA {tier})",
        "",
        f"Decided at {plan['now']}. Change set `{plan['change_set']}`. Release catalogue "
        f"as of {catalogue['as_of']} ({catalogue['origin']}).",
        "",
        markdown_table(
            ("site", "version", "branch", "support", "end of life", "LTS"),
            [_support_row(entry) for entry in plan["support"]],
        ),
        "",
    ]
    if plan["advice"]:
        lines += [
            "## Decisions",
            "",
            markdown_table(
                ("site", "installed", "candidate", "kind", "decision", "why", "for"),
                [
                    (
                        d["component"],
                        d["installed"],
                        d["candidate"],
                        d["kind"],
                        d["decision"],
                        d["reason"],
                        d["addressed_to"],
                    )
                    for d in plan["advice"]
                ],
            ),
            "",
        ]
    for migration in plan["migrations"]:
        old, new = migration["installed_branch"], migration["target_branch"]
        lines += [
            f"## Migration advice: {migration['component']} {migration['installed']} -> "
            f"{migration['target']}",
            "",
            f"- installed branch {old['branch']}: "
            + (
                f"end of life {old['eol']}"
                + (" (passed: no more security fixes)" if old["supported"] is False else "")
                if old["known"]
                else "not in the catalogue"
            ),
            f"- target branch {new['branch']}"
            + (" (LTS)" if new["lts"] else "")
            + (f": supported until {new['eol']}" if new["eol"] else ""),
            f"- {migration['policy']}",
            f"- how: {migration['path']}",
            "- A branch change is a migration project: plan it with the customer, test it on "
            "staging, and run it outside the SLA's automatic updates.",
            "",
        ]
    for step in plan["schema"]:
        if not step["run"]:
            lines += [f"- schema step for {step['component']}: {step['reason']}"]
    lines += [f"- {note}" for note in plan["notes"]]
    if plan["decision_mode"] == "advisory" and any(
        d["decision"] == "advise" and d["kind"] == "update" for d in plan["advice"]
    ):
        lines += [
            "",
            "## How to approve",
            "",
            "Approve this exact change set in a support request and pass it to the next run:",
            "",
            "```yaml",
            "reference: SR-0000",
            f"customer: {customer}",
            f"hosts: [{host}]",
            f"change_set: {plan['change_set']}",
            "approved_by: name of the customer's contact",
            "```",
            "",
            "`ansible-playbook twovalue.sla.maintenance -e cms_approval_file=approval.yml`",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"
