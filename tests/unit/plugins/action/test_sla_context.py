# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from action_harness import controller_action
from ansible.errors import AnsibleUndefinedVariable
from ansible_collections.twovalue.sla.plugins.action.sla_context import ActionModule

_HINT = "(set it in the customer's group_vars)"


def _action(template=lambda value: value):
    return controller_action(ActionModule, template=template)


def _run(host_vars, **kwargs):
    action, connection = _action(**kwargs)
    task_vars = {"inventory_hostname": "acme-prod", **host_vars}
    result = action.run(task_vars=task_vars)
    connection.exec_command.assert_not_called()
    connection.put_file.assert_not_called()
    return result


def test_valid_context_becomes_the_sla_fact():
    result = _run(
        {
            "sla_customer": "acme",
            "sla_tier": "pro",
            "sla_overrides": {"periodic_update_interval_days": 60},
            "sla_control": {"os": "hoster"},
        }
    )
    assert result["changed"] is False
    assert not result.get("failed")
    sla = result["ansible_facts"]["sla"]
    assert sla["customer"] == "acme"
    assert sla["tier"] == "pro"
    assert sla["targets"]["periodic_update_interval_days"] == 60
    assert sla["targets"]["security_update_deadline_hours"] == 24
    assert sla["control"] == {"os": "hoster", "cms": "agency", "access": "agency"}


def test_overrides_and_control_are_optional():
    result = _run({"sla_customer": "acme", "sla_tier": "basic"})
    sla = result["ansible_facts"]["sla"]
    assert sla["targets"]["decision_mode"] == "advisory"
    assert sla["control"] == {"os": "agency", "cms": "agency", "access": "agency"}


def test_unknown_tier_names_host_and_variable():
    result = _run({"sla_customer": "acme", "sla_tier": "gold"})
    assert result["failed"] is True
    assert result["msg"] == (
        f"host acme-prod: sla_tier is 'gold'; expected one of basic, medium, pro {_HINT}"
    )
    assert "ansible_facts" not in result


def test_missing_tier_and_customer_are_both_reported():
    result = _run({})
    assert result["failed"] is True
    assert result["errors"] == [
        (
            "host acme-prod: sla_customer is not set; expected the customer's name as a non-empty "
            f"string {_HINT}"
        ),
        f"host acme-prod: sla_tier is not set; expected one of basic, medium, pro {_HINT}",
    ]


@pytest.mark.parametrize(
    ("host_vars", "message"),
    [
        (
            {"sla_overrides": {"periodic_update_interval_days": 0}},
            (
                "host acme-prod: sla_overrides.periodic_update_interval_days is 0; expected a whole "
                f"number of days greater than 0 {_HINT}"
            ),
        ),
        (
            {"sla_overrides": "weekly"},
            "host acme-prod: sla_overrides is 'weekly'; expected a mapping of target settings",
        ),
        (
            {
                "sla_overrides": {
                    "maintenance_windows": [{"days": ["mon"], "start": "9", "end": "10"}]
                }
            },
            "host acme-prod: sla_overrides.maintenance_windows[0].start is '9'; expected a time",
        ),
        (
            {"sla_control": {"os": "nobody"}},
            "host acme-prod: sla_control.os is 'nobody'; expected one of agency, hoster, customer",
        ),
        ({"sla_customer": ""}, "host acme-prod: sla_customer is ''; expected the customer's name"),
        ({"sla_customer": 42}, "host acme-prod: sla_customer is 42; expected the customer's name"),
    ],
)
def test_invalid_settings_name_the_variable_and_key(host_vars, message):
    result = _run({"sla_customer": "acme", "sla_tier": "medium", **host_vars})
    assert result["failed"] is True
    assert message in result["msg"]


def test_overrides_are_not_checked_against_an_unknown_tier():
    result = _run(
        {"sla_customer": "acme", "sla_tier": "gold", "sla_overrides": {"backup_retention_days": 9}}
    )
    assert len(result["errors"]) == 1
    assert result["errors"][0].startswith("host acme-prod: sla_tier is 'gold'")


def test_variables_are_templated():
    values = {"{{ tier }}": "medium", "{{ name }}": "globex"}
    result = _run(
        {"sla_customer": "{{ name }}", "sla_tier": "{{ tier }}"},
        template=lambda value: values.get(value, value),
    )
    assert result["ansible_facts"]["sla"]["tier"] == "medium"
    assert result["ansible_facts"]["sla"]["customer"] == "globex"


def test_undefined_variable_inside_a_setting_is_reported():
    def template(value):
        if value == "{{ missing }}":
            raise AnsibleUndefinedVariable("'missing' is undefined")
        return value

    result = _run({"sla_customer": "acme", "sla_tier": "{{ missing }}"}, template=template)
    assert result["failed"] is True
    assert result["errors"][0].startswith(
        "host acme-prod: sla_tier could not be templated: 'missing' is undefined"
    )


def test_runs_without_a_connection_and_in_check_mode():
    action, _ = _action()
    action._task.check_mode = True
    assert ActionModule._requires_connection is False
    result = action.run(
        task_vars={"inventory_hostname": "h", "sla_customer": "acme", "sla_tier": "pro"}
    )
    assert result["ansible_facts"]["sla"]["tier"] == "pro"


def test_a_customer_name_that_could_leave_its_folder_is_refused():
    result = _run({"sla_customer": "../acme", "sla_tier": "pro"})
    assert result["failed"] is True
    assert "sla_customer is '../acme'" in result["msg"]


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("updates_now", "yesterday", "updates_now is 'yesterday'; expected an ISO 8601 time"),
        (
            "updates_last_periodic_update",
            "2026-01-01T06:00:00",
            "updates_last_periodic_update is 2026-01-01T06:00:00 without a timezone",
        ),
        ("cms_now", "soon", "cms_now is 'soon'; expected an ISO 8601 time"),
    ],
)
def test_a_malformed_time_stops_the_run_in_the_preflight(variable, value, problem):
    action, _connection = _action()
    action._task.args = {"roles": ["probe", "updates", "cms"]}
    result = action.run(
        task_vars={
            "inventory_hostname": "acme-prod",
            "sla_customer": "acme",
            "sla_tier": "pro",
            variable: value,
        }
    )
    assert result["failed"] is True
    assert result["msg"].startswith(f"host acme-prod: {problem}")


def test_a_well_formed_time_passes_the_preflight():
    action, _connection = _action()
    action._task.args = {"roles": ["updates"]}
    result = action.run(
        task_vars={
            "inventory_hostname": "acme-prod",
            "sla_customer": "acme",
            "sla_tier": "pro",
            "updates_now": "2026-11-28T03:00:00+01:00",
            "updates_last_periodic_update": "",
        }
    )
    assert "failed" not in result


def _rotate_preflight(monkeypatch, vault_env, **host_vars):
    if vault_env is None:
        monkeypatch.delenv("SLA_VAULT_PASSWORD_FILE", raising=False)
    else:
        monkeypatch.setenv("SLA_VAULT_PASSWORD_FILE", vault_env)
    action, _connection = _action()
    action._task.args = {"roles": ["access:rotate"]}
    return action.run(
        task_vars={
            "inventory_hostname": "acme-prod",
            "sla_customer": "acme",
            "sla_tier": "pro",
            **host_vars,
        }
    )


def test_the_rotate_entry_point_needs_a_vault_password_file(monkeypatch):
    result = _rotate_preflight(monkeypatch, None)
    assert result["failed"] is True
    assert "missing required arguments: access_vault_password_file" in result["msg"]


def test_the_rotate_entry_point_takes_the_vault_password_file_from_the_environment(monkeypatch):
    result = _rotate_preflight(monkeypatch, "/run/vault-pass")
    assert "failed" not in result


def test_the_rotate_entry_point_checks_its_own_variables(monkeypatch):
    result = _rotate_preflight(monkeypatch, "/run/vault-pass", access_rotate_force="perhaps")
    assert result["failed"] is True
    assert "access_rotate_force" in result["msg"]
    assert "bool" in result["msg"]
