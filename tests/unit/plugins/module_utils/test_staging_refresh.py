# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible_collections.twovalue.sla.plugins.module_utils.staging_refresh import (
    Refresh,
    RefreshError,
    sanitising_sql,
    validate_rules,
)

RULES_FILE = (
    pathlib.Path(__file__).parents[4] / "roles" / "staging" / "files" / "sanitise_rules.yml"
)


def test_the_shipped_rules_are_valid_and_cover_what_the_issue_names():
    rules = yaml.safe_load(RULES_FILE.read_text())
    for kind in ("mediawiki", "wordpress"):
        validate_rules(rules[kind])
    covered = {(r["table"], r.get("column")) for r in rules["mediawiki"] if "action" in r}
    assert {("user", "user_email"), ("user", "user_real_name"), ("user", "user_password"),
            ("user", "user_token"), ("objectcache", None),
            ("watchlist", "wl_notificationtimestamp")} <= covered  # fmt: skip


def test_every_shipped_rule_becomes_a_statement():
    rules = yaml.safe_load(RULES_FILE.read_text())["mediawiki"]
    statements, checks = sanitising_sql(rules, "", "http://p.example", "http://s.example")
    assert len(statements) + len(checks) == len(rules)
    assert "UPDATE `user` SET `user_real_name` = ''" in statements
    assert "UPDATE `user` SET `user_email_token` = NULL" in statements
    assert "UPDATE `recentchanges` SET `rc_ip` = '127.0.0.1'" in statements


def test_statements_use_the_prefix_and_checks_come_separately():
    rules = [
        {"table": "user", "column": "user_email", "action": "email", "key": "user_id"},
        {"table": "objectcache", "action": "truncate"},
        {"table": "text", "column": "old_text", "action": "url"},
        {"table": "user", "check": "user_password <> ''"},
    ]
    statements, checks = sanitising_sql(
        rules, "mw_", "https://www.acme.example", "https://staging.acme.example"
    )
    assert statements == [
        "UPDATE `mw_user` SET `user_email` = CONCAT('user', `user_id`, '@example.invalid')",
        "DELETE FROM `mw_objectcache`",
        "UPDATE `mw_text` SET `old_text` = REPLACE(`old_text`, 'https://www.acme.example', "
        "'https://staging.acme.example')",
    ]
    assert checks == [(rules[3], "SELECT COUNT(*) FROM `mw_user` WHERE user_password <> ''")]
    # Without two different URLs there is nothing to rewrite.
    assert len(sanitising_sql(rules, "", None, None)[0]) == 2


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "the sanitising rules are empty"),
        ([{"table": "user; DROP", "action": "truncate"}], "not a plain table or column name"),
        ([{"table": "user", "column": "x", "action": "shred"}], "action is 'shred'"),
        ([{"table": "user", "column": "e", "action": "email"}], "rule 1 key None"),
        ([{"table": "user", "column": "e", "action": "fixed"}], "rule 1 needs a value"),
    ],
)
def test_bad_rules_are_named(rules, message):
    with pytest.raises(RefreshError, match=message.replace("(", r"\(")):
        validate_rules(rules)


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ({"environment": "production", "machine_id": "b", "url": "https://s"}, "says production"),
        (
            {"environment": None, "machine_id": "a", "hostname": "h", "url": "https://s"},
            "same machine",
        ),
        # One image, two containers: the same machine-id on another host.
        ({"environment": None, "machine_id": "a", "hostname": "h2", "url": "https://s"}, None),
        (
            {"environment": None, "machine_id": "b", "url": "https://p"},
            "production's URL https://p",
        ),
        ({"environment": "staging", "machine_id": "b", "url": "https://s"}, None),
    ],
)
def test_the_host_itself_says_whether_it_may_be_overwritten(target, reason):
    source = {"machine_id": "a", "hostname": "h", "url": "https://p"}
    found = Refresh(None).guard(source, target)
    assert (found is None) if reason is None else (reason in found)
