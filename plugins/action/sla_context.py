# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve a host's SLA context on the controller, before anything touches the host.

Reads sla_customer, sla_tier, sla_overrides and sla_control from the host's
variables, validates them with the tier catalogue and returns them as the
``sla`` fact. With ``roles`` it also checks the host's variables for those
collection roles against their argument specs, so a playbook can import the
roles without a validation task per role and host. No module runs on the host.
"""

from __future__ import annotations

import copy
import datetime
import os

import yaml
from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible_collections.twovalue.sla.plugins.plugin_utils.access_register import (
    RegisterError,
    host_access,
    validate_grants,
    validate_people,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.approval_file import load_approval
from ansible_collections.twovalue.sla.plugins.plugin_utils.cms_plan import (
    CmsPlanError,
    validate_sources,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import masks_known_secrets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import CUSTOMER_NAME
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_gate import GateError, aware_time
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import (
    TIERS,
    SlaConfigError,
    resolve_control,
    resolve_targets,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.update_plan import (
    PlanError,
)

_WHERE_TO_FIX = "(set it in the customer's group_vars)"
# An approval that does not parse must stop the run before any host is touched.
APPROVAL_FILE_VARS = ("updates_approval_file", "cms_approval_file", "access_approval_file")
_NOT_SET = object()
# Role variables holding a time: a malformed one would only fail in the plans,
# after the probe has reached every host.
VAULT_PASSWORD_ENV = "SLA_VAULT_PASSWORD_FILE"
TIME_VARS = ("updates_now", "updates_last_periodic_update", "cms_now", "access_now")
_ROLES_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "roles")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset({"roles"})

    @masks_known_secrets
    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "unknown host")

        errors = []
        customer = self._read(task_vars, "sla_customer", errors)
        tier = self._read(task_vars, "sla_tier", errors)
        overrides = self._read(task_vars, "sla_overrides", errors)
        control = self._read(task_vars, "sla_control", errors)

        customer = _checked_customer(customer, errors)
        tier = _checked_tier(tier, errors)
        targets = _checked(
            "sla_overrides", errors, lambda: resolve_targets(tier, _optional(overrides))
        )
        control = _checked("sla_control", errors, lambda: resolve_control(_optional(control)))
        for name in APPROVAL_FILE_VARS:
            _check_approval_file(name, self._read(task_vars, name, errors), errors)
        roles = self._task.args.get("roles") or []
        try:
            spec = role_variables_spec(tuple(roles))
        except (OSError, KeyError, yaml.YAMLError) as e:
            raise AnsibleError(
                f"sla_context: cannot read the argument specs of {roles}: {e}"
            ) from e
        provided = {name: self._read(task_vars, name, errors) for name in spec}
        provided = {name: value for name, value in provided.items() if value is not _NOT_SET}
        if "access:rotate" in roles and not provided.get("access_vault_password_file"):
            # The rotate entry point's default, which this play does not load.
            provided.pop("access_vault_password_file", None)
            if os.environ.get(VAULT_PASSWORD_ENV):
                provided["access_vault_password_file"] = os.environ[VAULT_PASSWORD_ENV]
        checked = ArgumentSpecValidator(copy.deepcopy(spec)).validate(provided)
        for message in checked.error_messages:
            errors.append(f"{message} {_WHERE_TO_FIX}")
        for name in TIME_VARS:
            if provided.get(name):
                try:
                    aware_time(provided[name], name)
                except GateError as e:
                    errors.append(f"{e} {_WHERE_TO_FIX}")
        if provided.get("cms_release_sources") and not checked.error_messages:
            try:
                validate_sources(provided["cms_release_sources"])
            except CmsPlanError as e:
                errors.append(f"cms_release_sources: {e} {_WHERE_TO_FIX}")
        if {"access", "access:rotate"} & set(roles) and not checked.error_messages:
            _check_access_register(checked.validated_parameters, errors)

        result["changed"] = False
        if errors:
            result["failed"] = True
            result["errors"] = [f"host {host}: {error}" for error in errors]
            result["msg"] = "\n".join(result["errors"])
            return result
        result["ansible_facts"] = {
            "sla": {"customer": customer, "tier": tier, "targets": targets, "control": control}
        }
        return result

    def _read(self, task_vars, name, errors):
        if name not in task_vars:
            return _NOT_SET
        try:
            return self._templar.template(task_vars[name])
        except AnsibleError as e:
            errors.append(f"{name} could not be templated: {e} {_WHERE_TO_FIX}")
            return None


# libyaml's loader parses the specs about ten times faster. Every host's task
# runs in a fresh worker process, so a cache of the parsed specs would not help.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def role_variables_spec(roles):
    """The merged options of these roles' entry points: ``role`` is its main one, ``role:entry`` another."""
    spec = {}
    for role in roles:
        name, _, entry = role.partition(":")
        path = os.path.join(_ROLES_DIR, name, "meta", "argument_specs.yml")
        with open(path, encoding="utf-8") as handle:
            specs = yaml.load(handle, Loader=_SAFE_LOADER)["argument_specs"]
        spec.update(specs[entry or "main"]["options"])
    return spec


def _optional(value):
    return None if value is _NOT_SET else value


def _checked_customer(customer, errors):
    expected = f"expected the customer's name as a non-empty string {_WHERE_TO_FIX}"
    if customer is _NOT_SET:
        errors.append(f"sla_customer is not set; {expected}")
    elif not isinstance(customer, str) or not customer.strip():
        errors.append(f"sla_customer is {customer!r}; {expected}")
    elif not CUSTOMER_NAME.fullmatch(customer):
        errors.append(
            f"sla_customer is {customer!r}; it names the customer's audit trail and advice "
            f"folder, so use letters, digits, '_', '.' and '-' only {_WHERE_TO_FIX}"
        )
    else:
        return customer
    return None


def _checked_tier(tier, errors):
    expected = f"expected one of {', '.join(TIERS)} {_WHERE_TO_FIX}"
    if tier is _NOT_SET:
        errors.append(f"sla_tier is not set; {expected}")
    elif not isinstance(tier, str) or tier not in TIERS:
        errors.append(f"sla_tier is {tier!r}; {expected}")
    else:
        return tier
    return None


def _check_approval_file(name, path, errors):
    if path is _NOT_SET or not path:
        return
    try:
        load_approval(path)
    except PlanError as e:
        errors.append(f"{name}: {e}")


def _check_access_register(variables, errors):
    """The register's content, which an argument spec cannot check: people, duplicates, keys."""
    try:
        people = validate_people(variables.get("access_people") or {})
        host_access(
            people,
            validate_grants(variables.get("access_grants") or [], people),
            datetime.date.today(),
            revoke=variables.get("access_revoke") or [],
            readmit=variables.get("access_readmit") or [],
        )
    except RegisterError as e:
        errors.append(f"access register: {e}")


def _checked(variable, errors, resolve):
    # Overrides can only be checked against a known tier; a bad tier is
    # already reported, so stay quiet rather than repeat it.
    if variable == "sla_overrides" and any(error.startswith("sla_tier") for error in errors):
        return None
    try:
        return resolve()
    except SlaConfigError as e:
        top_level = e.key in ("overrides", "control")
        location = variable if top_level else f"{variable}.{e.key}"
        errors.append(f"{location} {e.detail} {_WHERE_TO_FIX}")
    return None
