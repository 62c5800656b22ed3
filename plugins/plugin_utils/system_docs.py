# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A customer's system documentation and migration advice, from probed facts and the trail.

``build_docs`` turns what the probe found on each host (``sla_state``), the
access register, the customer's verified audit trail and the release
catalogues into plain, language-free data: what the JSON documents hold.
``render_documents`` lays that data out as Markdown (for a docs repository)
and as one HTML page, through the outline the SLA report uses.

Regenerating with nothing changed gives the same bytes: the documents hold no
clock reading, only the data's own dates (release and end-of-life dates,
recorded rotations and refusals). The clock enters in one place only: a
component's support status (supported, ending within the horizon, past its
end of life), which changes on the day a boundary passes, and that is a real
change.

Fields reach a document only where a section names them. The probe reads no
secret, and the register holds public keys only; documents show a key's
fingerprint, never the key.
"""

from __future__ import annotations

import datetime
import json

from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    credential_id as register_credential_id,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    describe,
    is_former,
    validate_grants,
    validate_people,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import (
    Cell,
    Facts,
    Heading,
    Paragraph,
    Table,
    html_page,
    markdown_document,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import (
    VersionError,
    branch_of,
)

DOCS_FORMAT = 1
LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"
DEFAULT_HORIZON_DAYS = 180
STACK_PRODUCTS = ("debian", "apache", "php", "mariadb")
CMS_PRODUCTS = ("mediawiki", "wordpress")
DOCUMENTS = ("system-documentation", "migration-advice")
EXTENSIONS = ("html", "md", "json")
# Support states, from fine to urgent.
STATES = ("supported", "ending", "extended", "end_of_life", "unknown")
_ADVISED_STATES = ("ending", "extended", "end_of_life")
_CREDENTIAL_PREFIX = "credential "


class DocsError(ValueError):
    """The documentation cannot be made from this input; the message says what to fix."""


# --------------------------------------------------------------------------- support


def support_status(catalogue, product, branch, today, horizon_days):
    """Where ``branch`` of ``product`` stands on ``today``: dates and one of STATES."""
    entry = catalogue["products"][product]["branches"].get(branch)
    if entry is None:
        return {"branch": branch, "state": "unknown", "eol": None, "extended_until": None}
    eol, extended = entry["eol"], entry.get("extended_until")
    if eol is None or (eol - today).days > horizon_days:
        state = "supported"
    elif today <= eol:
        state = "ending"
    elif extended is not None and today <= extended:
        state = "extended"
    else:
        state = "end_of_life"
    return {
        "branch": branch,
        "state": state,
        "eol": _iso(eol),
        "extended_until": _iso(extended),
        "lts": entry["lts"],
    }


def _iso(day):
    return None if day is None else day.isoformat()


def _branch_key(branch):
    return tuple(int(part) for part in branch.split("."))


def _newest_supported(catalogue, product, today, prefer_lts=True):
    branches = [
        entry
        for entry in catalogue["products"][product]["branches"].values()
        if entry["eol"] is None or today <= entry["eol"]
    ]
    if prefer_lts and any(entry["lts"] for entry in branches):
        branches = [entry for entry in branches if entry["lts"]]
    return max(branches, key=lambda e: _branch_key(e["branch"]), default=None)


def _target(catalogue, product, branch, today):
    entry = catalogue["products"][product]["branches"][branch]
    return {
        "product": product,
        "branch": branch,
        "codename": entry.get("codename"),
        "eol": _iso(entry["eol"]),
        "extended_until": _iso(entry.get("extended_until")),
        "lts": entry["lts"],
        "supported": entry["eol"] is None or today <= entry["eol"],
    }


def _debian_target(stack, installed_release, today):
    newest = _newest_supported(stack, "debian", today)
    if newest is None or _branch_key(newest["branch"]) <= _branch_key(installed_release):
        return None
    return newest


def _proposal(stack, cms, product, branch, packaged, debian_target, today):
    """The migration proposed for a component that is ending or past its end of life."""
    if product == "debian":
        if debian_target is None:
            return None
        return {
            "via": "debian",
            "target": _target(stack, "debian", debian_target["branch"], today),
            "ships": debian_target.get("ships", {}),
        }
    catalogue = cms if product in CMS_PRODUCTS else stack
    if packaged:
        # A packaged component changes branch with its distribution.
        shipped = (debian_target or {}).get("ships", {}).get(product)
        if shipped and shipped in catalogue["products"][product]["branches"]:
            return {
                "via": "debian",
                "target": _target(catalogue, product, shipped, today),
                "debian": _target(stack, "debian", debian_target["branch"], today),
            }
        return None
    newest = _newest_supported(catalogue, product, today)
    if newest is None or _branch_key(newest["branch"]) <= _branch_key(branch):
        return None
    return {"via": "branch", "target": _target(catalogue, product, newest["branch"], today)}


# --------------------------------------------------------------------------- trail


def trail_facts(records):
    """What the documents take from the trail: refusals, rotations, backups.

    ``records`` are verified decision records in trail order, check mode
    left out. Only named fields are read.
    """
    refusals, rotations, backups = {}, {}, {}
    for record in records:
        host, item, decision = record.get("host"), record.get("item"), record.get("decision")
        result = record.get("result") if isinstance(record.get("result"), dict) else {}
        if not isinstance(item, str) or not isinstance(host, str):
            continue
        if decision == "refused" and result.get("kind") == "upgrade":
            key = (host, item, record.get("after"))
            entry = refusals.setdefault(
                key,
                {
                    "host": host,
                    "activity": record.get("activity"),
                    "item": item,
                    "candidate": record.get("after"),
                    "first_refused": record.get("time"),
                },
            )
            # The first refusal dates the advice; the latest reason is what applies now.
            entry.update(installed=record.get("before"), reason=record.get("reason"))
        elif (
            record.get("activity") == "access"
            and decision == "applied"
            and item.startswith(_CREDENTIAL_PREFIX)
        ):
            key = (host, item[len(_CREDENTIAL_PREFIX) :])
            rotations[key] = max(rotations.get(key, ""), record.get("time") or "")
        elif record.get("activity") == "backup" and decision == "applied":
            backups[(host, "backup")] = {"time": record.get("time"), "item": item}
            # The backup role verifies by loading the dump into a scratch database.
            if result.get("verified") is True:
                backups[(host, "restore")] = {"time": record.get("time"), "item": item}
    return {"refusals": refusals, "rotations": rotations, "backups": backups}


# --------------------------------------------------------------------------- data


def _component(stack, product, version, today, horizon_days, **extra):
    scheme = stack["products"][product]["scheme"]
    try:
        branch = branch_of(scheme, version)
    except VersionError:
        branch = None
    status = (
        support_status(stack, product, branch, today, horizon_days)
        if branch
        else {"branch": None, "state": "unknown", "eol": None, "extended_until": None}
    )
    return {"product": product, "version": version, "branch": branch, "support": status, **extra}


def _stack(state, stack, today, horizon_days):
    os_facts = state.get("os") or {}
    components = state.get("components") or {}
    entries = []
    if os_facts.get("id") == "debian" and os_facts.get("version_id"):
        entries.append(
            _component(
                stack,
                "debian",
                os_facts["version_id"],
                today,
                horizon_days,
                point_release=os_facts.get("debian_version") or None,
                codename=os_facts.get("codename") or None,
                packaged=False,
            )
        )
    for product in ("apache", "php", "mariadb"):
        found = components.get(product)
        if not found:
            continue
        extra = {"package": found.get("package"), "package_version": found.get("version")}
        if product == "apache":
            extra["modules"] = list(found.get("modules") or [])
        if product == "php":
            extra["modules"] = {
                sapi: list(names) for sapi, names in sorted((found.get("modules") or {}).items())
            }
        entries.append(
            _component(
                stack,
                product,
                found.get("upstream") or "",
                today,
                horizon_days,
                packaged=found.get("source") == "debian",
                **extra,
            )
        )
    return entries


def _addons(site, field):
    return [
        {"name": str(entry.get("name")), "version": entry.get("version")}
        for entry in site.get(field) or []
        if isinstance(entry, dict)
    ]


def _site(site, cms, today, horizon_days):
    kind, version = site.get("kind"), site.get("version")
    settings = site.get("settings") or {}
    branch = None
    if version:
        try:
            branch = branch_of(kind, version)
        except VersionError:
            branch = None
    status = (
        support_status(cms, kind, branch, today, horizon_days)
        if branch and kind in CMS_PRODUCTS
        else {"branch": branch, "state": "unknown", "eol": None, "extended_until": None}
    )
    url = settings.get("server") or settings.get("home") or ""
    if settings.get("script_path"):
        url += settings["script_path"]
    entry = {
        "product": kind,
        "component": f"{kind} {site.get('site_root') or site.get('path')}",
        "path": site.get("path"),
        "site_root": site.get("site_root"),
        "version": version,
        "branch": branch,
        "install": site.get("install"),
        "layout": site.get("layout"),
        "name": settings.get("sitename"),
        "url": url or None,
        "packaged": site.get("install") == "debian",
        "support": status,
    }
    if kind == "mediawiki":
        entry["extensions"] = _addons(site, "extensions")
        entry["skins"] = _addons(site, "skins")
    else:
        entry["plugins"] = _addons(site, "plugins")
        entry["themes"] = _addons(site, "themes")
    return entry


def _people(raw_people):
    try:
        return validate_people(raw_people or {})
    except ValueError as exc:
        raise DocsError(f"access register: {exc}") from exc


def _access(host, raw_grants, people, rotations, today):
    try:
        grants = validate_grants(raw_grants, people)
    except ValueError as exc:
        raise DocsError(f"access register of {host}: {exc}") from exc
    rows = []
    for grant in grants:
        holders = grant.get("people") or ([grant["person"]] if grant["person"] else [])
        former = [pid for pid in holders if is_former(people[pid], today)]
        credential = register_credential_id(grant) if grant["rotate"] else None
        rows.append(
            {
                "access": describe(grant),
                "kind": grant["kind"],
                "account": grant["account"],
                "holders": holders,
                "controlled_by": grant["controlled_by"],
                "sudo": grant.get("sudo"),
                "privileges": grant.get("privileges", []),
                "site": grant.get("site"),
                "db_host": grant.get("db_host"),
                "credential": credential,
                "last_rotation": rotations.get((host, credential)) if credential else None,
                "former_holders": former,
            }
        )
    return rows


def _person_entry(person_id, person, today):
    return {
        "id": person_id,
        "name": person["name"],
        "organisation": person["organisation"],
        "customer": person["customer"],
        "ends": _iso(person["ends"]),
        "former": is_former(person, today),
        # The fingerprint identifies the key; the key itself stays in the register.
        "keys": [key["fingerprint"] for key in person["keys"]],
    }


def build_docs(
    customer,
    tier,
    hosts,
    stack,
    cms,
    today,
    records=(),
    people=None,
    horizon_days=DEFAULT_HORIZON_DAYS,
    trail_file=None,
):
    """The documents' data, language-free and JSON-ready.

    ``hosts`` is a list of ``{name, environment, state, grants, control}``
    with the probed ``sla_state``; ``stack`` and ``cms`` are validated
    release catalogues; ``records`` the customer's verified decision records.
    """
    if not isinstance(horizon_days, int) or horizon_days < 0:
        raise DocsError(f"horizon_days is {horizon_days!r}; expected 0 or more days")
    if isinstance(today, str):
        today = datetime.date.fromisoformat(today)
    facts = trail_facts(records)
    register = _people(people)
    documented, advice, listed_people = [], [], set()
    for host in sorted(hosts, key=lambda h: h["name"]):
        name, state = host["name"], host.get("state")
        if not isinstance(state, dict) or "os" not in state:
            raise DocsError(
                f"{name} has no probed state (sla_state with os, stack and cms); "
                "run the twovalue.sla.probe role first"
            )
        access = _access(name, host.get("grants"), register, facts["rotations"], today)
        for row in access:
            listed_people.update(row["holders"])
        stack_entries = _stack(state, stack, today, horizon_days)
        sites = [_site(site, cms, today, horizon_days) for site in state.get("cms") or []]
        os_facts = state.get("os") or {}
        entry = {
            "name": name,
            "environment": host.get("environment") or None,
            "control": dict(sorted((host.get("control") or {}).items())),
            "os": {
                "name": os_facts.get("pretty_name") or None,
                "kernel": os_facts.get("kernel") or None,
                "arch": os_facts.get("arch") or None,
            },
            "stack": stack_entries,
            "sites": sites,
            "backups": {
                "last_backup": facts["backups"].get((name, "backup")),
                "last_verified_restore": facts["backups"].get((name, "restore")),
            },
            "access": access,
        }
        documented.append(entry)
        advice += _host_advice(entry, stack, cms, today, facts["refusals"])
    return {
        "format": DOCS_FORMAT,
        "customer": customer,
        "tier": tier,
        "horizon_days": horizon_days,
        "catalogues": {
            "stack": {"as_of": _iso(stack["as_of"]), "origin": stack["origin"]},
            "cms": {"as_of": _iso(cms["as_of"]), "origin": cms["origin"]},
            "sources": {
                product: catalogue["products"][product]["sources"]
                for catalogue, products in ((stack, STACK_PRODUCTS), (cms, CMS_PRODUCTS))
                for product in products
            },
        },
        "trail": trail_file,
        "topology": _topology(documented),
        "hosts": documented,
        "people": [_person_entry(pid, register[pid], today) for pid in sorted(listed_people)],
        "advice": advice,
    }


def _topology(hosts):
    environments = {}
    for host in hosts:
        environments.setdefault(host["environment"] or "", []).append(host["name"])
    order = {"production": 0, "staging": 1}
    return [
        {"environment": environment or None, "hosts": names}
        for environment, names in sorted(
            environments.items(), key=lambda kv: (order.get(kv[0], 2), kv[0])
        )
    ]


def _host_advice(host, stack, cms, today, refusals):
    name = host["name"]
    debian = next((c for c in host["stack"] if c["product"] == "debian"), None)
    debian_target = _debian_target(stack, debian["branch"], today) if debian else None
    items = []
    components = [(c["product"], None, c) for c in host["stack"]] + [
        (s["product"], s["site_root"] or s["path"], s) for s in host["sites"]
    ]
    claimed = set()
    for product, where, component in components:
        refused = _refusals_for(name, product, component, refusals)
        claimed.update(id(entry) for entry in refused)
        state = component["support"]["state"]
        if state not in _ADVISED_STATES and not refused:
            continue
        catalogue = cms if product in CMS_PRODUCTS else stack
        items.append(
            {
                "host": name,
                "component": component.get("component", product),
                "product": product,
                "where": where,
                "installed": component.get("point_release") or component["version"],
                "branch": component["branch"],
                "state": state,
                "eol": component["support"]["eol"],
                "extended_until": component["support"]["extended_until"],
                "packaged": component.get("packaged", False),
                "debian": debian["branch"] if debian else None,
                "refused": [_refusal_entry(entry) for entry in refused],
                "proposal": _proposal(
                    stack,
                    cms,
                    product,
                    component["branch"],
                    component.get("packaged", False),
                    debian_target,
                    today,
                ),
                "policy": catalogue["products"][product]["policy"],
            }
        )
    # A refused upgrade of something the documents do not list is advice all the same.
    for entry in sorted(
        (e for (host_name, _item, _after), e in refusals.items() if host_name == name),
        key=lambda e: (e["item"], str(e["candidate"])),
    ):
        if id(entry) in claimed:
            continue
        items.append(
            {
                "host": name,
                "component": entry["item"],
                "product": None,
                "where": None,
                "installed": entry["installed"],
                "branch": None,
                "state": "refused",
                "eol": None,
                "extended_until": None,
                "packaged": False,
                "debian": debian["branch"] if debian else None,
                "refused": [_refusal_entry(entry)],
                "proposal": None,
                "policy": "",
            }
        )
    return items


def _refusals_for(host, product, component, refusals):
    found = []
    for (host_name, item, _after), entry in sorted(
        refusals.items(), key=lambda kv: (kv[0][1], str(kv[0][2]))
    ):
        if host_name != host:
            continue
        if product in CMS_PRODUCTS:
            if item == component["component"]:
                found.append(entry)
        elif product != "debian" and _package_of(item) == product:
            found.append(entry)
    return found


def _package_of(item):
    """The stack product a refused package belongs to (``php8.2-intl`` -> php)."""
    name = item.split()[0]
    if name.startswith("php"):
        return "php"
    if name.startswith("mariadb"):
        return "mariadb"
    if name.startswith("apache2"):
        return "apache"
    return None


def _refusal_entry(entry):
    return {
        "item": entry["item"],
        "installed": entry["installed"],
        "candidate": entry["candidate"],
        "first_refused": entry["first_refused"],
        "reason": entry["reason"],
    }


# --------------------------------------------------------------------------- texts

# Proper names: the same in every language.
_PRODUCT_NAMES = {
    "debian": "Debian",
    "apache": "Apache",
    "php": "PHP",
    "mariadb": "MariaDB",
    "mediawiki": "MediaWiki",
    "wordpress": "WordPress",
}

STRINGS = {
    "en": {
        "docs_title": "System documentation",
        "advice_title": "Migration advice",
        "customer": "Customer",
        "tier": "SLA tier",
        "catalogue": "Release catalogues",
        "catalogue_value": "stack as of {stack}, CMS as of {cms}",
        "horizon": "Advice horizon",
        "horizon_value": "{days} days before end of life",
        "docs_intro": (
            "The systems the agency maintains for {customer} under SLA {tier}, as the last "
            "maintenance probe found them, with each component's support status against the "
            "release catalogues, the backups and the access register. Generated from the "
            "hosts' facts, the inventory's register and the verified audit trail; a component "
            "is flagged when its end of life is within {days} days or past."
        ),
        "advice_intro": (
            "Components that are within {days} days of their end of life, past it, or whose "
            "upgrade the SLA automation refused. An upgrade to a new branch is a migration "
            "project, planned with {customer} and tested on staging; it is never applied by "
            "the SLA's automatic updates."
        ),
        "advice_none": "No component is within {days} days of its end of life, and no upgrade was refused.",
        "section_topology": "Topology",
        "col_environment": "Environment",
        "col_hosts": "Hosts",
        "environment_unset": "not set (sla_environment)",
        "section_host": "{host}",
        "host_facts_os": "Operating system",
        "host_facts_kernel": "Kernel",
        "host_facts_environment": "Environment",
        "host_facts_control": "Controlled by",
        "control_value": "{layer}: {party}",
        "sub_stack": "Stack",
        "col_component": "Component",
        "col_version": "Version",
        "col_branch": "Branch",
        "col_package": "Package",
        "col_support": "Support",
        "col_eol": "End of life",
        "sub_modules": "Modules",
        "apache_modules": "Apache modules enabled",
        "php_modules": "PHP extensions enabled ({sapi})",
        "none": "none",
        "sub_sites": "CMS sites",
        "col_site": "Site",
        "col_install": "Installed as",
        "col_name": "Name",
        "col_address": "Address",
        "sites_none": "No MediaWiki or WordPress site was found on this host.",
        "sub_addons": "{kind} of {site}",
        "addons_none": "none found",
        "extensions": "Extensions",
        "skins": "Skins",
        "plugins": "Plugins",
        "themes": "Themes",
        "version_unknown": "version not stated",
        "sub_backups": "Backups",
        "backup_last": "Last backup",
        "backup_restore": "Last verified restore",
        "no_backup": "no backup recorded",
        "no_restore": "no verified restore recorded",
        "recorded_at": "{time} ({item})",
        "sub_access": "Accesses",
        "access_none": "The access register lists no access on this host.",
        "col_access": "Access",
        "access_kind": {
            "os_account": "OS account {account}",
            "db_user": "database user {account}@{db_host}",
            "cms_account": "CMS account {account} on {site}",
        },
        "col_holders": "Held by",
        "col_controlled_by": "Controlled by",
        "col_rights": "Rights",
        "col_rotation": "Last rotation",
        "col_remark": "Remark",
        "sudo_rule": "sudo: {rule}",
        "never_rotated": "never rotated",
        "service_credential": "service credential",
        "not_rotated": "-",
        "former_holder": "held by former staff: {names}",
        "section_people": "People in the access register",
        "people_none": "No person holds an access on these hosts in the register.",
        "col_person": "Person",
        "col_organisation": "Organisation",
        "col_status": "Status",
        "col_keys": "SSH key fingerprints",
        "person_current": "current",
        "person_leaves": "leaves {date}",
        "person_former": "former, since {date}",
        "section_sources": "Sources of the support dates",
        "col_product": "Product",
        "col_sources": "Sources",
        "section_trail": "Audit trail",
        "trail_text": "Last rotations, refusals and backups are read from the verified trail {file}.",
        "trail_none": "No audit trail exists yet for this customer: no rotation, refusal or backup is recorded.",
        "state": {
            "supported": "supported",
            "ending": "ends {eol}",
            "extended": "regular support ended {eol}; LTS until {extended}",
            "end_of_life": "END OF LIFE since {eol}",
            "end_of_life_never": "END OF LIFE",
            "unknown": "not in the catalogue",
            "refused": "upgrade refused",
        },
        "supported_until": "supported until {eol}",
        "supported_open": "supported, no announced end of life",
        "install": {
            "debian": "Debian package",
            "tarball": "release archive",
        },
        "layout": {
            "releases": "releases layout",
            "package": "package",
            "in_place": "unpacked in place",
        },
        "product": _PRODUCT_NAMES,
        "organisation": {"agency": "agency", "customer": "customer"},
        "party": {"agency": "agency", "hoster": "hoster", "customer": "customer"},
        "col_host": "Host",
        "col_installed": "Installed",
        "col_date": "Date",
        "col_reason": "Reason",
        "col_proposal": "Proposed migration",
        "reason_ending": "{product} {branch} reaches its end of life on {eol}.",
        "reason_extended": (
            "{product} {branch}'s regular security support ended {eol}; Debian LTS covers a "
            "subset of its packages until {extended}."
        ),
        "reason_end_of_life": "{product} {branch} is past its end of life ({eol}): no security fixes.",
        "reason_packaged": (
            " Debian {debian} packages it: fixes for it come from Debian, as far as they can be "
            "backported, while Debian {debian} is supported."
        ),
        "reason_refused": (
            "Upgrade {installed} -> {candidate} refused by the SLA automation, first on {date}: "
            "{reason}"
        ),
        "proposal_debian": (
            "Upgrade to Debian {branch} ({codename}), supported until {eol}{extended}; it ships "
            "{ships}."
        ),
        "proposal_extended": ", LTS until {date}",
        "proposal_packaged": (
            "{product} {branch} (supported until {eol}) with the upgrade to Debian {debian}."
        ),
        "proposal_branch": "Move to {product} {branch}{lts}, supported until {eol}.",
        "proposal_branch_open": "Move to {product} {branch}{lts}, with no announced end of life.",
        "lts": " LTS",
        "proposal_none": "No supported successor in the catalogue; ask the agency for a plan.",
        "proposal_refused": "Plan the upgrade as a migration project with the agency.",
        "migration_note": (
            "Each migration is a project: test it on staging with a copy of the data, check "
            "every extension, skin, plugin and theme against the new branch, then move "
            "production in an agreed window."
        ),
        "policy": "Support policy",
    },
    "nl": {
        "docs_title": "Systeemdocumentatie",
        "advice_title": "Migratieadvies",
        "customer": "Klant",
        "tier": "SLA-niveau",
        "catalogue": "Releasecatalogi",
        "catalogue_value": "stack per {stack}, CMS per {cms}",
        "horizon": "Adviestermijn",
        "horizon_value": "{days} dagen voor het einde van de ondersteuning",
        "docs_intro": (
            "De systemen die het bureau voor {customer} onderhoudt onder SLA {tier}, zoals de "
            "laatste onderhoudsscan ze aantrof, met de ondersteuningsstatus van elk onderdeel "
            "volgens de releasecatalogi, de back-ups en het toegangsregister. Gemaakt uit de "
            "gegevens van de servers, het register in de inventory en het gecontroleerde "
            "audit-logboek; een onderdeel wordt gemarkeerd als de ondersteuning binnen {days} "
            "dagen eindigt of al voorbij is."
        ),
        "advice_intro": (
            "Onderdelen waarvan de ondersteuning binnen {days} dagen eindigt of al geëindigd is, "
            "of waarvan de SLA-automatisering de upgrade weigerde. Een upgrade naar een nieuwe "
            "versietak is een migratieproject, samen met {customer} gepland en op staging "
            "getest; de automatische SLA-updates voeren die nooit uit."
        ),
        "advice_none": (
            "Geen onderdeel nadert binnen {days} dagen het einde van de ondersteuning, en geen "
            "upgrade werd geweigerd."
        ),
        "section_topology": "Opbouw",
        "col_environment": "Omgeving",
        "col_hosts": "Servers",
        "environment_unset": "niet ingesteld (sla_environment)",
        "section_host": "{host}",
        "host_facts_os": "Besturingssysteem",
        "host_facts_kernel": "Kernel",
        "host_facts_environment": "Omgeving",
        "host_facts_control": "Beheerd door",
        "control_value": "{layer}: {party}",
        "sub_stack": "Stack",
        "col_component": "Onderdeel",
        "col_version": "Versie",
        "col_branch": "Versietak",
        "col_package": "Pakket",
        "col_support": "Ondersteuning",
        "col_eol": "Einde ondersteuning",
        "sub_modules": "Modules",
        "apache_modules": "Ingeschakelde Apache-modules",
        "php_modules": "Ingeschakelde PHP-extensies ({sapi})",
        "none": "geen",
        "sub_sites": "CMS-sites",
        "col_site": "Site",
        "col_install": "Geïnstalleerd als",
        "col_name": "Naam",
        "col_address": "Adres",
        "sites_none": "Op deze server is geen MediaWiki- of WordPress-site gevonden.",
        "sub_addons": "{kind} van {site}",
        "addons_none": "geen gevonden",
        "extensions": "Extensies",
        "skins": "Skins",
        "plugins": "Plugins",
        "themes": "Thema's",
        "version_unknown": "versie niet vermeld",
        "sub_backups": "Back-ups",
        "backup_last": "Laatste back-up",
        "backup_restore": "Laatste gecontroleerde terugzetting",
        "no_backup": "geen back-up vastgelegd",
        "no_restore": "geen gecontroleerde terugzetting vastgelegd",
        "recorded_at": "{time} ({item})",
        "sub_access": "Toegang",
        "access_none": "Het toegangsregister vermeldt geen toegang tot deze server.",
        "col_access": "Toegang",
        "access_kind": {
            "os_account": "systeemaccount {account}",
            "db_user": "databasegebruiker {account}@{db_host}",
            "cms_account": "CMS-account {account} op {site}",
        },
        "col_holders": "In handen van",
        "col_controlled_by": "Beheerd door",
        "col_rights": "Rechten",
        "col_rotation": "Laatst gewijzigd",
        "col_remark": "Opmerking",
        "sudo_rule": "sudo: {rule}",
        "never_rotated": "nooit gewijzigd",
        "service_credential": "servicewachtwoord",
        "not_rotated": "-",
        "former_holder": "in handen van oud-medewerkers: {names}",
        "section_people": "Personen in het toegangsregister",
        "people_none": "Volgens het register heeft niemand toegang tot deze servers.",
        "col_person": "Persoon",
        "col_organisation": "Organisatie",
        "col_status": "Status",
        "col_keys": "Vingerafdrukken van SSH-sleutels",
        "person_current": "huidig",
        "person_leaves": "vertrekt {date}",
        "person_former": "vertrokken sinds {date}",
        "section_sources": "Bronnen van de ondersteuningsdata",
        "col_product": "Product",
        "col_sources": "Bronnen",
        "section_trail": "Audit-logboek",
        "trail_text": (
            "De laatste wachtwoordwijzigingen, weigeringen en back-ups komen uit het "
            "gecontroleerde logboek {file}."
        ),
        "trail_none": (
            "Voor deze klant bestaat nog geen audit-logboek: er is geen wachtwoordwijziging, "
            "weigering of back-up vastgelegd."
        ),
        "state": {
            "supported": "ondersteund",
            "ending": "eindigt {eol}",
            "extended": "reguliere ondersteuning geëindigd {eol}; LTS tot {extended}",
            "end_of_life": "NIET MEER ONDERSTEUND sinds {eol}",
            "end_of_life_never": "NIET MEER ONDERSTEUND",
            "unknown": "niet in de catalogus",
            "refused": "upgrade geweigerd",
        },
        "supported_until": "ondersteund tot {eol}",
        "supported_open": "ondersteund, geen einddatum aangekondigd",
        "install": {
            "debian": "Debian-pakket",
            "tarball": "releasearchief",
        },
        "layout": {
            "releases": "releases-indeling",
            "package": "pakket",
            "in_place": "ter plekke uitgepakt",
        },
        "product": _PRODUCT_NAMES,
        "organisation": {"agency": "bureau", "customer": "klant"},
        "party": {"agency": "bureau", "hoster": "hostingpartij", "customer": "klant"},
        "col_host": "Server",
        "col_installed": "Geïnstalleerd",
        "col_date": "Datum",
        "col_reason": "Reden",
        "col_proposal": "Voorgestelde migratie",
        "reason_ending": "De ondersteuning van {product} {branch} eindigt op {eol}.",
        "reason_extended": (
            "De reguliere beveiligingsondersteuning van {product} {branch} eindigde {eol}; "
            "Debian LTS dekt een deel van de pakketten tot {extended}."
        ),
        "reason_end_of_life": (
            "{product} {branch} wordt sinds {eol} niet meer ondersteund: geen beveiligingsupdates."
        ),
        "reason_packaged": (
            " Debian {debian} levert het als pakket: updates komen van Debian, voor zover ze "
            "terug te zetten zijn, zolang Debian {debian} ondersteund wordt."
        ),
        "reason_refused": (
            "Upgrade {installed} -> {candidate} geweigerd door de SLA-automatisering, voor het "
            "eerst op {date}: {reason}"
        ),
        "proposal_debian": (
            "Upgrade naar Debian {branch} ({codename}), ondersteund tot {eol}{extended}; het "
            "levert {ships}."
        ),
        "proposal_extended": ", LTS tot {date}",
        "proposal_packaged": (
            "{product} {branch} (ondersteund tot {eol}) met de upgrade naar Debian {debian}."
        ),
        "proposal_branch": "Overstappen op {product} {branch}{lts}, ondersteund tot {eol}.",
        "proposal_branch_open": (
            "Overstappen op {product} {branch}{lts}, zonder aangekondigde einddatum."
        ),
        "lts": " LTS",
        "proposal_none": "Geen ondersteunde opvolger in de catalogus; vraag het bureau om een plan.",
        "proposal_refused": "Plan de upgrade als migratieproject met het bureau.",
        "migration_note": (
            "Elke migratie is een project: test haar op staging met een kopie van de gegevens, "
            "controleer elke extensie, skin, plugin en elk thema op de nieuwe versietak, en zet "
            "productie daarna over in een afgesproken venster."
        ),
        "policy": "Ondersteuningsbeleid",
    },
}


def _texts(language):
    if language not in STRINGS:
        raise DocsError(f"language is {language!r}; expected one of {', '.join(LANGUAGES)}")
    return STRINGS[language]


# --------------------------------------------------------------------------- outline


def _state_cell(support, texts):
    state = support["state"]
    words = texts["state"]
    if state == "supported":
        if support["eol"]:
            return Cell(texts["supported_until"].format(eol=support["eol"]), "met")
        return Cell(texts["supported_open"], "met")
    if state == "ending":
        return Cell(words["ending"].format(eol=support["eol"]), "warn")
    if state == "extended":
        return Cell(
            words["extended"].format(eol=support["eol"], extended=support["extended_until"]),
            "warn",
        )
    if state == "end_of_life":
        return Cell(words["end_of_life"].format(eol=support["eol"]), "not_met")
    return Cell(words["unknown"], "unknown")


def _moment(text):
    """A recorded time as the documents show it: to the minute, in UTC."""
    if not text:
        return ""
    moment = datetime.datetime.fromisoformat(text).astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _installed_as(site, texts):
    install = texts["install"].get(site["install"], site["install"] or "")
    if site["layout"] in (None, "package"):
        return install
    return f"{install}, {texts['layout'].get(site['layout'], site['layout'])}"


def _product(texts, product):
    return texts["product"].get(product, product or "")


def _header(data, texts, title, intro):
    return [
        Heading(1, f"{title}: {data['customer']}"),
        Facts(
            (
                (texts["customer"], data["customer"]),
                (texts["tier"], data["tier"].capitalize()),
                (
                    texts["catalogue"],
                    texts["catalogue_value"].format(
                        stack=data["catalogues"]["stack"]["as_of"],
                        cms=data["catalogues"]["cms"]["as_of"],
                    ),
                ),
                (texts["horizon"], texts["horizon_value"].format(days=data["horizon_days"])),
            )
        ),
        Paragraph(intro),
    ]


def _docs_outline(data, texts):
    customer, tier = data["customer"], data["tier"].capitalize()
    blocks = _header(
        data,
        texts,
        texts["docs_title"],
        texts["docs_intro"].format(customer=customer, tier=tier, days=data["horizon_days"]),
    )
    blocks.append(Heading(2, texts["section_topology"], "topology"))
    blocks.append(
        Table(
            (texts["col_environment"], texts["col_hosts"]),
            tuple(
                (entry["environment"] or texts["environment_unset"], ", ".join(entry["hosts"]))
                for entry in data["topology"]
            ),
            "topology",
        )
    )
    for host in data["hosts"]:
        blocks += _host_blocks(host, texts, data)
    blocks += _people_blocks(data, texts)
    blocks += _sources_blocks(data, texts)
    blocks.append(Heading(2, texts["section_trail"], "trail"))
    blocks.append(
        Paragraph(
            texts["trail_text"].format(file=data["trail"]) if data["trail"] else texts["trail_none"]
        )
    )
    return blocks


def _host_blocks(host, texts, data):
    name = host["name"]
    facts = [
        (texts["host_facts_environment"], host["environment"] or texts["environment_unset"]),
        (texts["host_facts_os"], host["os"]["name"] or ""),
        (texts["host_facts_kernel"], f"{host['os']['kernel'] or ''} ({host['os']['arch'] or ''})"),
    ]
    if host["control"]:
        facts.append(
            (
                texts["host_facts_control"],
                ", ".join(
                    texts["control_value"].format(
                        layer=layer, party=texts["party"].get(party, party)
                    )
                    for layer, party in host["control"].items()
                ),
            )
        )
    return (
        [Heading(2, texts["section_host"].format(host=name), f"host-{name}"), Facts(tuple(facts))]
        + _stack_blocks(host, texts)
        + _site_blocks(host, texts)
        + _backup_blocks(host, texts)
        + _access_blocks(host, texts, data)
    )


def _stack_blocks(host, texts):
    blocks = [Heading(3, texts["sub_stack"])]
    rows = []
    for component in host["stack"]:
        version = component["version"]
        if component["product"] == "debian" and component.get("point_release"):
            version = f"{component['point_release']} ({component.get('codename') or ''})"
        package = (
            f"{component['package']} {component['package_version']}"
            if component.get("package")
            else ""
        )
        rows.append(
            (
                _product(texts, component["product"]),
                version,
                component["branch"] or "",
                package,
                _state_cell(component["support"], texts),
            )
        )
    blocks.append(
        Table(
            (
                texts["col_component"],
                texts["col_version"],
                texts["col_branch"],
                texts["col_package"],
                texts["col_support"],
            ),
            tuple(rows),
            "stack",
        )
    )
    modules = []
    for component in host["stack"]:
        if component["product"] == "apache":
            modules.append(
                (texts["apache_modules"], ", ".join(component["modules"]) or texts["none"])
            )
        if component["product"] == "php":
            for sapi, names in component["modules"].items():
                modules.append(
                    (texts["php_modules"].format(sapi=sapi), ", ".join(names) or texts["none"])
                )
    if modules:
        blocks += [Heading(3, texts["sub_modules"]), Facts(tuple(modules))]
    return blocks


def _site_blocks(host, texts):
    blocks = [Heading(3, texts["sub_sites"])]
    if not host["sites"]:
        blocks.append(Paragraph(texts["sites_none"]))
    else:
        blocks.append(
            Table(
                (
                    texts["col_site"],
                    texts["col_version"],
                    texts["col_install"],
                    texts["col_name"],
                    texts["col_address"],
                    texts["col_support"],
                ),
                tuple(
                    (
                        f"{_product(texts, site['product'])} {site['site_root'] or site['path']}",
                        site["version"] or "",
                        _installed_as(site, texts),
                        site["name"] or "",
                        site["url"] or "",
                        _state_cell(site["support"], texts),
                    )
                    for site in host["sites"]
                ),
                "sites",
            )
        )
        for site in host["sites"]:
            kinds = (
                ("extensions", "skins") if site["product"] == "mediawiki" else ("plugins", "themes")
            )
            pairs = tuple(
                (
                    texts[kind],
                    ", ".join(
                        f"{addon['name']} {addon['version'] or texts['version_unknown']}"
                        for addon in site[kind]
                    )
                    or texts["addons_none"],
                )
                for kind in kinds
            )
            blocks += [
                Heading(
                    4, f"{_product(texts, site['product'])} {site['site_root'] or site['path']}"
                ),
                Facts(pairs),
            ]
    return blocks


def _backup_blocks(host, texts):
    backups = host["backups"]
    return [
        Heading(3, texts["sub_backups"]),
        Facts(
            (
                (
                    texts["backup_last"],
                    texts["recorded_at"].format(
                        time=_moment(backups["last_backup"]["time"]),
                        item=backups["last_backup"]["item"],
                    )
                    if backups["last_backup"]
                    else texts["no_backup"],
                ),
                (
                    texts["backup_restore"],
                    texts["recorded_at"].format(
                        time=_moment(backups["last_verified_restore"]["time"]),
                        item=backups["last_verified_restore"]["item"],
                    )
                    if backups["last_verified_restore"]
                    else texts["no_restore"],
                ),
            )
        ),
    ]


def _access_blocks(host, texts, data):
    blocks = [Heading(3, texts["sub_access"])]
    if not host["access"]:
        blocks.append(Paragraph(texts["access_none"]))
        return blocks
    names = {person["id"]: person["name"] for person in data["people"]}
    rows = []
    for row in host["access"]:
        rights = []
        if row["sudo"]:
            rights.append(texts["sudo_rule"].format(rule=row["sudo"]))
        rights += row["privileges"]
        if row["credential"]:
            rotation = _moment(row["last_rotation"]) or texts["never_rotated"]
        else:
            rotation = texts["not_rotated"]
        remark = (
            Cell(
                texts["former_holder"].format(
                    names=", ".join(names[pid] for pid in row["former_holders"])
                ),
                "not_met",
            )
            if row["former_holders"]
            else ""
        )
        rows.append(
            (
                texts["access_kind"][row["kind"]].format(**row),
                ", ".join(names[pid] for pid in row["holders"]) or texts["service_credential"],
                texts["party"].get(row["controlled_by"], row["controlled_by"]),
                "; ".join(rights),
                rotation,
                remark,
            )
        )
    blocks.append(
        Table(
            (
                texts["col_access"],
                texts["col_holders"],
                texts["col_controlled_by"],
                texts["col_rights"],
                texts["col_rotation"],
                texts["col_remark"],
            ),
            tuple(rows),
            "access",
        )
    )
    return blocks


def _people_blocks(data, texts):
    blocks = [Heading(2, texts["section_people"], "people")]
    if not data["people"]:
        return blocks + [Paragraph(texts["people_none"])]
    rows = []
    for person in data["people"]:
        if person["former"]:
            status = Cell(texts["person_former"].format(date=person["ends"]), "not_met")
        elif person["ends"]:
            status = Cell(texts["person_leaves"].format(date=person["ends"]), "warn")
        else:
            status = texts["person_current"]
        organisation = texts["organisation"].get(person["organisation"], person["organisation"])
        if person["customer"]:
            organisation += f" ({person['customer']})"
        rows.append(
            (
                f"{person['name']} ({person['id']})",
                organisation,
                status,
                ", ".join(person["keys"]) or texts["none"],
            )
        )
    blocks.append(
        Table(
            (
                texts["col_person"],
                texts["col_organisation"],
                texts["col_status"],
                texts["col_keys"],
            ),
            tuple(rows),
            "people",
        )
    )
    return blocks


def _sources_blocks(data, texts):
    return [
        Heading(2, texts["section_sources"], "sources"),
        Table(
            (texts["col_product"], texts["col_sources"]),
            tuple(
                (_product(texts, product), ", ".join(sources))
                for product, sources in data["catalogues"]["sources"].items()
            ),
            "sources",
        ),
    ]


def _advice_outline(data, texts):
    days = data["horizon_days"]
    blocks = _header(
        data,
        texts,
        texts["advice_title"],
        texts["advice_intro"].format(customer=data["customer"], days=days),
    )
    if not data["advice"]:
        return blocks + [Paragraph(texts["advice_none"].format(days=days))]
    rows = []
    for item in data["advice"]:
        rows.append(
            (
                item["host"],
                " ".join(filter(None, (_product(texts, item["product"]), item["where"])))
                if item["product"]
                else item["component"],
                item["installed"] or "",
                _advice_state(item, texts),
                _advice_reason(item, texts),
                _advice_proposal(item, texts),
            )
        )
    blocks.append(
        Table(
            (
                texts["col_host"],
                texts["col_component"],
                texts["col_installed"],
                texts["col_date"],
                texts["col_reason"],
                texts["col_proposal"],
            ),
            tuple(rows),
            "migration",
        )
    )
    blocks.append(Paragraph(texts["migration_note"]))
    policies = {}
    for item in data["advice"]:
        if item["product"] and item["policy"]:
            policies[item["product"]] = item["policy"]
    if policies:
        blocks += [
            Heading(2, texts["policy"], "policy"),
            Facts(tuple((_product(texts, p), text) for p, text in sorted(policies.items()))),
        ]
    blocks += _sources_blocks(data, texts)
    return blocks


def _advice_state(item, texts):
    if item["state"] == "refused":
        first = item["refused"][0]["first_refused"] or ""
        return Cell(f"{texts['state']['refused']} {first[:10]}".strip(), "warn")
    return _state_cell(
        {"state": item["state"], "eol": item["eol"], "extended_until": item["extended_until"]},
        texts,
    )


def _advice_reason(item, texts):
    parts = []
    product = _product(texts, item["product"])
    values = {
        "product": product,
        "branch": item["branch"],
        "eol": item["eol"],
        "extended": item["extended_until"],
    }
    if item["state"] in _ADVISED_STATES:
        parts.append(texts[f"reason_{item['state']}"].format(**values))
        if item["packaged"] and item["debian"] and item["product"] != "debian":
            parts[-1] += texts["reason_packaged"].format(debian=item["debian"])
    for refusal in item["refused"]:
        parts.append(
            texts["reason_refused"].format(
                installed=refusal["installed"],
                candidate=refusal["candidate"],
                date=(refusal["first_refused"] or "")[:10],
                reason=refusal["reason"],
            )
        )
    return " ".join(parts)


def _advice_proposal(item, texts):
    proposal = item["proposal"]
    if proposal is None:
        return texts["proposal_refused"] if item["state"] == "refused" else texts["proposal_none"]
    target = proposal["target"]
    if item["product"] == "debian":
        ships = ", ".join(
            f"{_product(texts, product)} {branch}"
            for product, branch in sorted(proposal["ships"].items())
        )
        extended = (
            texts["proposal_extended"].format(date=target["extended_until"])
            if target["extended_until"]
            else ""
        )
        return texts["proposal_debian"].format(
            branch=target["branch"],
            codename=target["codename"],
            eol=target["eol"],
            extended=extended,
            ships=ships,
        )
    if proposal["via"] == "debian":
        return texts["proposal_packaged"].format(
            product=_product(texts, item["product"]),
            branch=target["branch"],
            eol=target["eol"] or "-",
            debian=proposal["debian"]["branch"],
        )
    key = "proposal_branch" if target["eol"] else "proposal_branch_open"
    return texts[key].format(
        product=_product(texts, item["product"]),
        branch=target["branch"],
        lts=texts["lts"] if target["lts"] else "",
        eol=target["eol"],
    )


# --------------------------------------------------------------------------- documents


def render_documents(data, language=DEFAULT_LANGUAGE):
    """Every document by name and extension: ``{name: {html, md, json}}``."""
    texts = _texts(language)
    documents = {}
    for name, title, outline in (
        ("system-documentation", texts["docs_title"], _docs_outline),
        ("migration-advice", texts["advice_title"], _advice_outline),
    ):
        blocks = outline(data, texts)
        documents[name] = {
            "html": html_page(f"{title}: {data['customer']}", language, blocks),
            "md": markdown_document(blocks),
        }
    body = json.dumps({**data, "language": language}, indent=2, sort_keys=True) + "\n"
    advice = {
        key: data[key]
        for key in ("format", "customer", "tier", "horizon_days", "catalogues", "advice")
    }
    documents["system-documentation"]["json"] = body
    documents["migration-advice"]["json"] = (
        json.dumps({**advice, "language": language}, indent=2, sort_keys=True) + "\n"
    )
    return documents
