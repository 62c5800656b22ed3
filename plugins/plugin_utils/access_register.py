# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The access register: who may reach what, who controls it, and what a host must look like.

The register is inventory data in two parts. ``access_people`` names every
person once (agency staff, customer staff, former staff with an end date)
with their SSH public keys. ``access_grants`` lists, per host, the accesses
on it: OS accounts (with sudo), database users and CMS accounts, each with
the party that controls it. From both, ``host_access`` derives what the
host must look like for the accesses the agency controls, what must be
revoked, and what the customer should review. It is pure: the caller
passes the date.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping

from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import SlaInputError
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_date

KINDS = ("os_account", "db_user", "cms_account")
ORGANISATIONS = ("agency", "customer")
CONTROLLERS = ("agency", "hoster", "customer")
DEFAULT_SUDO_RULE = "ALL=(ALL:ALL) NOPASSWD: ALL"
DEFAULT_SHELL = "/bin/bash"
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)

# Names end up in useradd, SQL and sudoers: only what all three take verbatim.
_OS_ACCOUNT = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_DB_ACCOUNT = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")
_DB_HOST = re.compile(r"^[A-Za-z0-9_.%:-]{1,255}$")
_CMS_ACCOUNT = re.compile(r"^[^\x00-\x1f#<>\[\]|{}/:]{1,85}$")
_PRIVILEGE = re.compile(
    r"^(?:[A-Z]+(?: [A-Z]+)*)(?:, ?[A-Z]+(?: [A-Z]+)*)* ON (?:\*|`?[A-Za-z0-9_$]+`?)\.(?:\*|`?[A-Za-z0-9_$]+`?)$"
)
# One sudoers rule body for the account: host list, run-as and commands, no newlines.
_SUDO_RULE = re.compile(r"^[^\n\r\\#]{1,512}$")
_SITE = re.compile(r"^/[^\x00\n]*$")


class RegisterError(SlaInputError):
    """The register cannot be used; the message names the entry and the field."""


def _text(value, where, pattern=None, expected="a non-empty string"):
    if not isinstance(value, str) or not value.strip():
        raise RegisterError(f"{where} is {value!r}; expected {expected}")
    if pattern is not None and not pattern.match(value):
        raise RegisterError(f"{where} is {value!r}; expected {expected}")
    return value


def _date(value, where):
    return parse_date(value, where, RegisterError)


def key_fingerprint(blob):
    """OpenSSH's SHA256 fingerprint of a public key blob."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def parse_public_key(line, where):
    """(key type, base64 body, fingerprint) of one authorized_keys-style public key."""
    fields = line.split() if isinstance(line, str) else []
    if len(fields) < 2 or fields[0] not in KEY_TYPES:
        raise RegisterError(
            f"{where} is not an SSH public key; expected '<type> <base64> [comment]' "
            f"with type one of {', '.join(KEY_TYPES)}"
        )
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RegisterError(f"{where} has a key body that is not base64") from exc
    # The blob starts with its own type name; a mismatch is a pasted-together key.
    if len(blob) < 4 or blob[4 : 4 + int.from_bytes(blob[:4], "big")] != fields[0].encode():
        raise RegisterError(f"{where} has a key body that does not match its type {fields[0]}")
    return fields[0], fields[1], key_fingerprint(blob)


def validate_people(people):
    """Normalise ``access_people``: id -> name, organisation, customer, ends, keys."""
    if not isinstance(people, Mapping):
        raise RegisterError(
            f"access_people is {people!r}; expected a mapping of person id to person"
        )
    normalised = {}
    owners = {}
    for person_id, raw in sorted(people.items(), key=lambda kv: str(kv[0])):
        where = f"access_people.{person_id}"
        if not isinstance(raw, Mapping):
            raise RegisterError(f"{where} is {raw!r}; expected a mapping")
        organisation = raw.get("organisation")
        if organisation not in ORGANISATIONS:
            raise RegisterError(
                f"{where}.organisation is {organisation!r}; expected one of {', '.join(ORGANISATIONS)}"
            )
        keys = raw.get("ssh_keys", [])
        if not isinstance(keys, list):
            raise RegisterError(f"{where}.ssh_keys is {keys!r}; expected a list of public keys")
        parsed = []
        for index, line in enumerate(keys):
            key_type, body, fingerprint = parse_public_key(line, f"{where}.ssh_keys[{index}]")
            if fingerprint in owners:
                raise RegisterError(
                    f"{where}.ssh_keys[{index}] is the same key as one of {owners[fingerprint]}'s; "
                    "a key identifies one person"
                )
            owners[fingerprint] = person_id
            # The comment is dropped: the rendered file says whose key it is.
            parsed.append({"line": f"{key_type} {body} {person_id}", "fingerprint": fingerprint})
        normalised[str(person_id)] = {
            "name": _text(raw.get("name", str(person_id)), f"{where}.name"),
            "organisation": organisation,
            "customer": raw.get("customer"),
            "ends": _date(raw.get("ends"), f"{where}.ends"),
            "keys": parsed,
        }
    return normalised


def is_former(person, today):
    return person["ends"] is not None and person["ends"] <= today


def _person(raw, field, people, where):
    person_id = raw.get(field)
    if person_id is None:
        return None
    person_id = str(person_id)
    if person_id not in people:
        raise RegisterError(
            f"{where}.{field} is {person_id!r}, who is not in access_people; "
            "add the person to the register first"
        )
    return person_id


def _grant(raw, index, people):
    where = f"access_grants[{index}]"
    if not isinstance(raw, Mapping):
        raise RegisterError(f"{where} is {raw!r}; expected a mapping")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise RegisterError(f"{where}.kind is {kind!r}; expected one of {', '.join(KINDS)}")
    controlled_by = raw.get("controlled_by")
    if controlled_by not in CONTROLLERS:
        raise RegisterError(
            f"{where}.controlled_by is {controlled_by!r}; expected one of {', '.join(CONTROLLERS)} "
            "(who controls this access decides whether the agency may change it)"
        )
    grant = {
        "kind": kind,
        "controlled_by": controlled_by,
        "person": _person(raw, "person", people, where),
        "rotate": bool(raw.get("rotate", False)),
    }
    if kind == "os_account":
        grant["account"] = _text(
            raw.get("account"),
            f"{where}.account",
            _OS_ACCOUNT,
            "a Linux user name ([a-z_][a-z0-9_-]*)",
        )
        shared = raw.get("people", [])
        if not isinstance(shared, list):
            raise RegisterError(f"{where}.people is {shared!r}; expected a list of person ids")
        grant["people"] = sorted(
            {_person({"people": p}, "people", people, where) for p in shared}
            | ({grant["person"]} if grant["person"] else set())
        )
        sudo = raw.get("sudo", False)
        if sudo is True:
            sudo = DEFAULT_SUDO_RULE
        elif sudo is False or sudo is None:
            sudo = None
        else:
            sudo = _text(sudo, f"{where}.sudo", _SUDO_RULE, "true, false or one sudoers rule body")
        grant["sudo"] = sudo
        grant["shell"] = _text(raw.get("shell", DEFAULT_SHELL), f"{where}.shell", _SITE, "a path")
        if grant["rotate"]:
            raise RegisterError(
                f"{where}.rotate is set on an OS account; OS accounts log in by key, "
                "rotation covers database users and CMS accounts"
            )
        grant["key"] = ("os_account", grant["account"])
    elif kind == "db_user":
        grant["account"] = _text(
            raw.get("account"), f"{where}.account", _DB_ACCOUNT, "a database user name"
        )
        grant["db_host"] = _text(
            raw.get("db_host", "localhost"), f"{where}.db_host", _DB_HOST, "a host name"
        )
        privileges = raw.get("privileges", [])
        if not isinstance(privileges, list):
            raise RegisterError(f"{where}.privileges is {privileges!r}; expected a list")
        for p_index, privilege in enumerate(privileges):
            _text(privilege, f"{where}.privileges[{p_index}]", _PRIVILEGE, "'PRIVS ON db.table'")
        grant["privileges"] = list(privileges)
        grant["site"] = raw.get("site")
        if grant["site"] is not None:
            _text(
                grant["site"],
                f"{where}.site",
                _SITE,
                "the CMS site root whose configuration holds this password",
            )
        grant["key"] = ("db_user", grant["account"], grant["db_host"])
    else:
        grant["account"] = _text(
            raw.get("account"), f"{where}.account", _CMS_ACCOUNT, "a CMS user name"
        )
        grant["site"] = _text(
            raw.get("site"), f"{where}.site", _SITE, "the CMS site root, e.g. /var/www/wiki"
        )
        grant["key"] = ("cms_account", grant["site"], grant["account"])
    if grant["rotate"] and grant["person"] is not None:
        raise RegisterError(
            f"{where}.rotate is set on {grant['person']}'s personal account; the agency "
            "rotates service credentials only, people keep their own passwords"
        )
    if kind == "db_user" and grant["person"] is None and not grant["rotate"]:
        raise RegisterError(
            f"{where} is a database user with no person and no rotate: true; name the person "
            "it belongs to or mark it as a service credential the agency rotates"
        )
    return grant


def validate_grants(grants, people):
    """Normalise one host's ``access_grants``; a duplicate account is an error."""
    if grants is None:
        return []
    if not isinstance(grants, list):
        raise RegisterError(f"access_grants is {grants!r}; expected a list of accesses")
    seen = {}
    normalised = []
    for index, raw in enumerate(grants):
        grant = _grant(raw, index, people)
        if grant["key"] in seen:
            raise RegisterError(
                f"access_grants[{index}] is the same {grant['kind']} {grant['account']!r} as "
                f"access_grants[{seen[grant['key']]}]; list each account once"
            )
        seen[grant["key"]] = index
        normalised.append(grant)
    return normalised


def credential_id(grant):
    """The name a rotated credential has in the secret store and the audit trail."""
    if grant["kind"] == "db_user":
        return f"db_user/{grant['account']}@{grant['db_host']}"
    return f"cms_account/{grant['site']}/{grant['account']}"


def describe(grant):
    if grant["kind"] == "os_account":
        return f"OS account {grant['account']}"
    if grant["kind"] == "db_user":
        return f"database user {grant['account']}@{grant['db_host']}"
    return f"CMS account {grant['account']} on {grant['site']}"


def host_access(people, grants, today, revoke=(), readmit=()):
    """What the host must look like, what is revoked, and what the customer should review.

    A person is revoked on this host when they are named in ``revoke`` (an
    offboarding run) or their end date has passed. The agency converges only
    the accesses it controls; the others become review items.
    """
    unknown = sorted((set(revoke) | set(readmit)) - set(people))
    if unknown:
        raise RegisterError(
            f"access_revoke or access_readmit names {', '.join(unknown)}, who is not in "
            "access_people; offboarding needs the person's register entry for their keys"
        )
    revoked = {pid for pid, p in people.items() if pid in revoke or is_former(p, today)}

    def present(pid):
        return pid is not None and pid not in revoked

    os_accounts, db_users, cms_accounts, review = [], [], [], []
    for grant in grants:
        if grant["controlled_by"] != "agency":
            holders = grant.get("people") or ([grant["person"]] if grant["person"] else [])
            review.append(_review_item(grant, holders, people, revoked))
            continue
        if grant["kind"] == "os_account":
            holders = [pid for pid in grant["people"] if present(pid)]
            personal_revoked = grant["person"] is not None and grant["person"] in revoked
            state = "locked" if personal_revoked or (grant["people"] and not holders) else "present"
            os_accounts.append(
                {
                    "account": grant["account"],
                    "state": state,
                    "keys": sorted(k["line"] for pid in holders for k in people[pid]["keys"]),
                    "sudo": grant["sudo"] if state == "present" else None,
                    "shell": grant["shell"],
                    "people": grant["people"],
                }
            )
        elif grant["kind"] == "db_user":
            if grant["person"] is None:
                continue
            db_users.append(
                {
                    "account": grant["account"],
                    "db_host": grant["db_host"],
                    "state": "present" if present(grant["person"]) else "absent",
                    "privileges": grant["privileges"],
                    "person": grant["person"],
                }
            )
        elif grant["person"] is not None:
            cms_accounts.append(
                {
                    "site": grant["site"],
                    "account": grant["account"],
                    "state": "present" if present(grant["person"]) else "revoked",
                    "person": grant["person"],
                }
            )
    sweep = sorted(
        {
            (key["fingerprint"], pid)
            for pid in revoked
            for key in people[pid]["keys"]
            if people[pid]["organisation"] == "agency" or pid in revoke
        }
    )
    return {
        "os_accounts": os_accounts,
        "db_users": db_users,
        "cms_accounts": cms_accounts,
        "revoked_people": sorted(revoked),
        "readmit": sorted(set(readmit) - revoked),
        # Keys of revoked people are taken out of every authorized_keys on the
        # host, not only the files the register renders: a key once copied to
        # root's file by hand is exactly what offboarding misses.
        "sweep_keys": [{"fingerprint": fp, "person": pid} for fp, pid in sweep],
        "review": [item for item in review if item is not None],
        "credentials": [
            {
                "id": credential_id(grant),
                "kind": grant["kind"],
                "account": grant["account"],
                "db_host": grant.get("db_host"),
                "site": grant.get("site"),
            }
            for grant in grants
            if grant["rotate"] and grant["controlled_by"] == "agency"
        ],
    }


def _review_item(grant, holders, people, revoked):
    """A customer-controlled access, with why it deserves a look."""
    concerns = []
    for pid in holders:
        person = people[pid]
        if pid in revoked and person["organisation"] == "agency":
            ended = person["ends"].isoformat() if person["ends"] else "offboarding"
            concerns.append(f"held by former agency staff member {person['name']} ({ended})")
        elif pid in revoked:
            concerns.append(f"held by {person['name']}, whose access ended")
    return {
        "access": describe(grant),
        "kind": grant["kind"],
        "account": grant["account"],
        "controlled_by": grant["controlled_by"],
        "holders": [people[pid]["name"] for pid in holders],
        "concerns": concerns,
        "urgent": bool(concerns),
    }


def grants_change_set(desired):
    """SHA-256 of the accesses the host would gain: what a Basic customer approves."""
    granted = [
        {
            "os_account": entry["account"],
            "keys": sorted(entry["keys"]),
            "sudo": entry["sudo"],
        }
        for entry in desired["os_accounts"]
        if entry["state"] == "present"
    ] + [
        {"db_user": f"{entry['account']}@{entry['db_host']}", "privileges": entry["privileges"]}
        for entry in desired["db_users"]
        if entry["state"] == "present"
    ]
    canonical = json.dumps(granted, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
