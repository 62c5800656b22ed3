# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime

import pytest
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    RegisterError,
    credential_id,
    grants_change_set,
    host_access,
    parse_public_key,
    validate_grants,
    validate_people,
)
from ssh_keys import ed25519

TODAY = datetime.date(2026, 11, 28)


PEOPLE = {
    "alice": {"name": "Alice Agent", "organisation": "agency", "ssh_keys": [ed25519(1)]},
    "bob": {
        "name": "Bob Before",
        "organisation": "agency",
        "ends": "2026-10-31",
        "ssh_keys": [ed25519(2)],
    },
    "carol": {"name": "Carol Customer", "organisation": "customer", "customer": "acme"},
    "dave": {"name": "Dave Deploy", "organisation": "agency", "ssh_keys": [ed25519(3), ed25519(4)]},
}


def grants(*extra):
    return [
        {
            "kind": "os_account",
            "account": "alice",
            "person": "alice",
            "sudo": True,
            "controlled_by": "agency",
        },
        {"kind": "os_account", "account": "bob", "person": "bob", "controlled_by": "agency"},
        {
            "kind": "os_account",
            "account": "deploy",
            "people": ["alice", "bob", "dave"],
            "controlled_by": "agency",
        },
        {
            "kind": "db_user",
            "account": "bob",
            "person": "bob",
            "controlled_by": "agency",
            "privileges": ["SELECT ON wikidb.*"],
        },
        {
            "kind": "cms_account",
            "account": "Bob",
            "person": "bob",
            "site": "/var/www/wiki",
            "controlled_by": "agency",
        },
        {
            "kind": "cms_account",
            "account": "BobCustomerSide",
            "person": "bob",
            "site": "/var/www/wiki",
            "controlled_by": "customer",
        },
        {
            "kind": "cms_account",
            "account": "Carol",
            "person": "carol",
            "site": "/var/www/wiki",
            "controlled_by": "customer",
        },
        {
            "kind": "db_user",
            "account": "wikiuser",
            "rotate": True,
            "site": "/var/www/wiki",
            "controlled_by": "agency",
        },
        *extra,
    ]


def plan(revoke=(), extra=()):
    people = validate_people(PEOPLE)
    return host_access(people, validate_grants(grants(*extra), people), TODAY, revoke=revoke)


def test_a_former_agency_member_is_locked_out_everywhere_the_agency_controls():
    desired = plan()
    accounts = {entry["account"]: entry for entry in desired["os_accounts"]}
    assert accounts["bob"]["state"] == "locked"
    assert accounts["bob"]["keys"] == [] and accounts["bob"]["sudo"] is None
    assert accounts["alice"]["state"] == "present"
    assert accounts["alice"]["sudo"] == "ALL=(ALL:ALL) NOPASSWD: ALL"
    # The shared account keeps the keys of those still here, and only theirs.
    deploy_keys = accounts["deploy"]["keys"]
    assert len(deploy_keys) == 3 and not any(line.endswith(" bob") for line in deploy_keys)
    assert desired["db_users"] == [
        {
            "account": "bob",
            "db_host": "localhost",
            "state": "absent",
            "privileges": ["SELECT ON wikidb.*"],
            "person": "bob",
        }
    ]
    assert desired["cms_accounts"] == [
        {"site": "/var/www/wiki", "account": "Bob", "state": "revoked", "person": "bob"}
    ]
    assert desired["revoked_people"] == ["bob"]
    assert [entry["person"] for entry in desired["sweep_keys"]] == ["bob"]


def test_customer_controlled_accesses_are_review_items_never_changes():
    desired = plan()
    review = {item["account"]: item for item in desired["review"]}
    assert set(review) == {"BobCustomerSide", "Carol"}
    assert review["BobCustomerSide"]["urgent"] is True
    assert (
        "former agency staff member Bob Before (2026-10-31)"
        in review["BobCustomerSide"]["concerns"][0]
    )
    assert review["Carol"]["urgent"] is False
    assert all(entry["account"] != "BobCustomerSide" for entry in desired["cms_accounts"])


def test_offboarding_revokes_a_person_before_their_end_date():
    desired = plan(revoke=["dave"])
    accounts = {entry["account"]: entry for entry in desired["os_accounts"]}
    assert len(accounts["deploy"]["keys"]) == 1
    assert desired["revoked_people"] == ["bob", "dave"]
    assert sorted({e["person"] for e in desired["sweep_keys"]}) == ["bob", "dave"]


def test_a_shared_account_whose_people_all_left_is_locked():
    desired = plan(revoke=["alice", "dave"])
    accounts = {entry["account"]: entry for entry in desired["os_accounts"]}
    assert accounts["deploy"]["state"] == "locked"


def test_rotated_credentials_are_listed_with_a_stable_id():
    desired = plan()
    assert desired["credentials"] == [
        {
            "id": "db_user/wikiuser@localhost",
            "kind": "db_user",
            "account": "wikiuser",
            "db_host": "localhost",
            "site": "/var/www/wiki",
        }
    ]
    assert credential_id({"kind": "cms_account", "site": "/s", "account": "Admin"}) == (
        "cms_account//s/Admin"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            {"kind": "os_account", "account": "eve", "person": "eve", "controlled_by": "agency"},
            "access_grants[8].person is 'eve', who is not in access_people",
        ),
        (
            {"kind": "os_account", "account": "alice", "controlled_by": "agency"},
            "access_grants[8] is the same os_account 'alice' as access_grants[0]",
        ),
        (
            {"kind": "os_account", "account": "x", "person": "alice"},
            "access_grants[8].controlled_by is None; expected one of agency, hoster, customer",
        ),
        (
            {"kind": "ftp", "account": "x", "controlled_by": "agency"},
            "access_grants[8].kind is 'ftp'",
        ),
        (
            {"kind": "os_account", "account": "Root!", "controlled_by": "agency"},
            "access_grants[8].account is 'Root!'",
        ),
        (
            {
                "kind": "db_user",
                "account": "x",
                "person": "alice",
                "controlled_by": "agency",
                "privileges": ["ALL; DROP DATABASE x ON *.*"],
            },
            "access_grants[8].privileges[0]",
        ),
        (
            {"kind": "db_user", "account": "svc", "controlled_by": "agency"},
            "no person and no rotate: true",
        ),
        (
            {
                "kind": "db_user",
                "account": "a2",
                "person": "alice",
                "rotate": True,
                "controlled_by": "agency",
            },
            "rotates service credentials only",
        ),
        (
            {
                "kind": "os_account",
                "account": "y",
                "person": "alice",
                "controlled_by": "agency",
                "sudo": "ALL\nroot ALL=(ALL) ALL",
            },
            "access_grants[8].sudo",
        ),
    ],
)
def test_register_errors_name_the_entry_and_the_problem(extra, message):
    people = validate_people(PEOPLE)
    with pytest.raises(RegisterError) as excinfo:
        validate_grants(grants(extra), people)
    assert message in str(excinfo.value)


@pytest.mark.parametrize(
    ("person", "message"),
    [
        ({"name": "X", "organisation": "freelance"}, "organisation is 'freelance'"),
        ({"name": "X", "organisation": "agency", "ends": "last week"}, "ends is 'last week'"),
        (
            {"name": "X", "organisation": "agency", "ssh_keys": ["ssh-ed25519 !!notbase64"]},
            "key body that is not base64",
        ),
        (
            {"name": "X", "organisation": "agency", "ssh_keys": [ed25519(1)]},
            "the same key as one of alice's",
        ),
        (
            {
                "name": "X",
                "organisation": "agency",
                "ssh_keys": [ed25519(9).replace("ssh-ed25519", "ssh-rsa")],
            },
            "does not match its type ssh-rsa",
        ),
    ],
)
def test_people_errors_name_the_person_and_the_field(person, message):
    with pytest.raises(RegisterError) as excinfo:
        validate_people({**PEOPLE, "xavier": person})
    assert message in str(excinfo.value)


def test_offboarding_someone_unknown_is_an_error():
    people = validate_people(PEOPLE)
    with pytest.raises(RegisterError, match="access_revoke or access_readmit names zed"):
        host_access(people, [], TODAY, revoke=["zed"])


def test_fingerprint_matches_openssh():
    # What ssh-keygen -lf prints for this key.
    _type, _body, fingerprint = parse_public_key(ed25519(1), "key")
    assert fingerprint == "SHA256:RXm/ruZ0eTzRXKwi1AQEDynB0VgHQ2ac9KPSFdf/YnA"


def test_the_grant_change_set_moves_with_what_would_be_granted_only():
    base = grants_change_set(plan())
    assert base == grants_change_set(plan())
    assert base != grants_change_set(plan(revoke=["dave"]))
    # Someone who left changes nothing a Basic customer must approve.
    people = dict(PEOPLE, bob=dict(PEOPLE["bob"], ends="2026-09-30"))
    validated = validate_people(people)
    assert base == grants_change_set(
        host_access(validated, validate_grants(grants(), validated), TODAY)
    )
