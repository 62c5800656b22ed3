# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A customer's system documentation and migration advice as documents.

``build_docs`` (system_docs_data) makes the documents' data;
``render_documents`` lays it out as Markdown (for a docs repository) and as
one HTML page, through the outline the SLA report uses, in the customer's
language. The words are the ``system_docs`` texts of document_texts.

Regenerating with nothing changed gives the same bytes: the documents hold
no clock reading, only the data's own dates.
"""

from __future__ import annotations

import json

from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import (
    Cell,
    Facts,
    Heading,
    Paragraph,
    html_page,
    markdown_document,
    table,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.document_texts import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    texts_of,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import utc_time
from ansible_collections.twovalue.sla.plugins.plugin_utils.system_docs_data import (
    ADVISED_STATES,
    DEFAULT_HORIZON_DAYS,
    STACK_PRODUCTS,
    DocsError,
    build_docs,
    support_status,
)

# What the docs action and its callers import from here: the documents' public face.
__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "DEFAULT_LANGUAGE",
    "DOCUMENTS",
    "EXTENSIONS",
    "LANGUAGES",
    "STACK_PRODUCTS",
    "STRINGS",
    "DocsError",
    "build_docs",
    "render_documents",
    "support_status",
]

DOCUMENTS = ("system-documentation", "migration-advice")
EXTENSIONS = ("html", "md", "json")
STRINGS = {language: texts_of("system_docs", language) for language in LANGUAGES}

# Proper names: the same in every language.
_PRODUCT_NAMES = {
    "debian": "Debian",
    "apache": "Apache",
    "php": "PHP",
    "mariadb": "MariaDB",
    "mediawiki": "MediaWiki",
    "wordpress": "WordPress",
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
    return utc_time(text, "time").strftime("%Y-%m-%d %H:%M UTC")


def _installed_as(site, texts):
    install = texts["install"].get(site["install"], site["install"] or "")
    if site["layout"] in (None, "package"):
        return install
    return f"{install}, {texts['layout'].get(site['layout'], site['layout'])}"


def _product(product):
    return _PRODUCT_NAMES.get(product, product or "")


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
        table(
            texts,
            ("col_environment", "col_hosts"),
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
                _product(component["product"]),
                version,
                component["branch"] or "",
                package,
                _state_cell(component["support"], texts),
            )
        )
    blocks.append(
        table(
            texts,
            ("col_component", "col_version", "col_branch", "col_package", "col_support"),
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
            table(
                texts,
                (
                    "col_site",
                    "col_version",
                    "col_install",
                    "col_name",
                    "col_address",
                    "col_support",
                ),
                tuple(
                    (
                        f"{_product(site['product'])} {site['site_root'] or site['path']}",
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
                Heading(4, f"{_product(site['product'])} {site['site_root'] or site['path']}"),
                Facts(pairs),
            ]
    return blocks


def _recorded(entry, texts, missing):
    """When and what the trail recorded, or the text ``missing`` names."""
    if not entry:
        return texts[missing]
    return texts["recorded_at"].format(time=_moment(entry["time"]), item=entry["item"])


def _backup_blocks(host, texts):
    backups = host["backups"]
    return [
        Heading(3, texts["sub_backups"]),
        Facts(
            (
                (texts["backup_last"], _recorded(backups["last_backup"], texts, "no_backup")),
                (
                    texts["backup_restore"],
                    _recorded(backups["last_verified_restore"], texts, "no_restore"),
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
        table(
            texts,
            (
                "col_access",
                "col_holders",
                "col_controlled_by",
                "col_rights",
                "col_rotation",
                "col_remark",
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
        table(
            texts,
            ("col_person", "col_organisation", "col_status", "col_keys"),
            tuple(rows),
            "people",
        )
    )
    return blocks


def _sources_blocks(data, texts):
    return [
        Heading(2, texts["section_sources"], "sources"),
        table(
            texts,
            ("col_product", "col_sources"),
            tuple(
                (_product(product), ", ".join(sources))
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
                " ".join(filter(None, (_product(item["product"]), item["where"])))
                if item["product"]
                else item["component"],
                item["installed"] or "",
                _advice_state(item, texts),
                _advice_reason(item, texts),
                _advice_proposal(item, texts),
            )
        )
    blocks.append(
        table(
            texts,
            (
                "col_host",
                "col_component",
                "col_installed",
                "col_date",
                "col_reason",
                "col_proposal",
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
            Facts(tuple((_product(p), text) for p, text in sorted(policies.items()))),
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
    product = _product(item["product"])
    values = {
        "product": product,
        "branch": item["branch"],
        "eol": item["eol"],
        "extended": item["extended_until"],
    }
    if item["state"] in ADVISED_STATES:
        parts.append(texts["reason"][item["state"]].format(**values))
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
            f"{_product(product)} {branch}" for product, branch in sorted(proposal["ships"].items())
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
            product=_product(item["product"]),
            branch=target["branch"],
            eol=target["eol"] or "-",
            debian=proposal["debian"]["branch"],
        )
    key = "proposal_branch" if target["eol"] else "proposal_branch_open"
    return texts[key].format(
        product=_product(item["product"]),
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
