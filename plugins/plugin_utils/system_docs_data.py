# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The data of a customer's system documentation and migration advice.

``build_docs`` turns what the probe found on each host (``sla_state``), the
access register, the customer's verified audit trail and the release
catalogues into plain, language-free data: what the JSON documents hold.
system_docs lays that data out.

Regenerating with nothing changed gives the same data: it holds no clock
reading, only the data's own dates (release and end-of-life dates, recorded
rotations and refusals). The clock enters in one place only: a component's
support status (supported, ending within the horizon, past its end of life),
which changes on the day a boundary passes, and that is a real change.

Fields reach the data only where a section names them. The probe reads no
secret, and the register holds public keys only; the data holds a key's
fingerprint, never the key.
"""

from __future__ import annotations

from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    credential_id as register_credential_id,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    describe,
    is_former,
    validate_grants,
    validate_people,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_date
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_versions import (
    VersionError,
    branch_of,
)

DOCS_FORMAT = 1
DEFAULT_HORIZON_DAYS = 180
STACK_PRODUCTS = ("debian", "apache", "php", "mariadb")
CMS_PRODUCTS = ("mediawiki", "wordpress")
# Support states, from fine to urgent.
STATES = ("supported", "ending", "extended", "end_of_life", "unknown")
ADVISED_STATES = ("ending", "extended", "end_of_life")
_CREDENTIAL_PREFIX = "credential "


class DocsError(SlaInputError):
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


def _branch(scheme, version):
    """The release branch ``version`` belongs to, or None when the scheme cannot read it."""
    try:
        return branch_of(scheme, version)
    except VersionError:
        return None


def _component(stack, product, version, today, horizon_days, **extra):
    branch = _branch(stack["products"][product]["scheme"], version)
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
    branch = _branch(kind, version) if version else None
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
    today = parse_date(today, "today")
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
        if state not in ADVISED_STATES and not refused:
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
