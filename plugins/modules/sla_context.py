# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: sla_context
short_description: Resolve and validate a host's SLA customer, tier, targets and layer control
version_added: 0.1.0
description:
  - Reads the host variables C(sla_customer), C(sla_tier), C(sla_overrides) and
    C(sla_control), validates them against the tier catalogue and sets the fact
    C(sla) with the customer, the tier, the resolved targets and who controls
    each layer.
  - Runs on the controller only; nothing is executed on the managed host.
  - Meant as the first task of every playbook, in a play with
    C(any_errors_fatal=true), so that a wrong tier or override stops the run
    before any host is touched.
  - "On bad input it fails with one line per problem, naming the host and the
    variable, for example
    C(host acme-prod: sla_tier is 'gold'; expected one of basic, medium, pro (set it in the customer's group_vars))."
  - The tiers, their defaults and how overrides work are described in C(docs/tiers.md).
options:
  roles:
    description:
      - Collection roles (such as V(probe), V(updates), V(cms)) whose variables are checked
        against their C(meta/argument_specs.yml) here, so that the roles can be imported
        with C(rolespec_validate=false) and a wrong type still stops the run before any host
        is touched.
      - V(role:entry) checks the variables of another entry point of the role, such as
        V(access:rotate); for that one an unset C(access_vault_password_file) falls back to
        the environment variable E(SLA_VAULT_PASSWORD_FILE), as the role's default does.
      - With V(access) or V(access:rotate), the access register itself is checked too (unknown
        people, duplicate accounts, missing C(controlled_by), malformed keys), and
        C(access_approval_file) parsed.
    type: list
    elements: str
    default: []
notes:
  - It reads the host variables below.
  - C(sla_customer) (string, required) is the customer's name.
  - C(sla_tier) (string, required) is one of V(basic), V(medium), V(pro).
  - C(sla_overrides) (dict, optional) replaces tier defaults for this customer,
    see the P(twovalue.sla.sla_targets#filter) filter for the keys.
  - C(sla_control) (dict, optional) maps the layers V(os), V(cms) and V(access)
    to V(agency), V(hoster) or V(customer); layers left out are controlled by the agency.
  - C(updates_approval_file) and C(cms_approval_file) (paths, optional) are read and
    checked when set; an approval that cannot be read or lacks a field stops the run too.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Nothing is changed in either mode; the fact is set in check mode too.
  connection:
    support: none
  delegation:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: all
seealso:
  - plugin: twovalue.sla.sla_targets
    plugin_type: filter
  - plugin: twovalue.sla.sla_gate
    plugin_type: filter
author:
  - twovalue (@twovalue)
"""

EXAMPLES = r"""
- name: Resolve the SLA context before touching any host
  hosts: "{{ sla_hosts | default('all') }}"
  any_errors_fatal: true
  gather_facts: false
  tasks:
    - name: Resolve SLA context
      twovalue.sla.sla_context:
        roles: [probe, updates, cms]

    - name: Show the periodic update interval of this customer
      ansible.builtin.debug:
        msg: >-
          {{ ansible_facts.sla.customer }}: every
          {{ ansible_facts.sla.targets.periodic_update_interval_days }} days

# group_vars/acme.yml
# sla_customer: acme
# sla_tier: pro
# sla_overrides:
#   periodic_update_interval_days: 60
#   blackout_dates:
#     - {from: "2025-12-22", to: "2026-01-02"}
# sla_control:
#   os: hoster
"""

RETURN = r"""
ansible_facts:
  description: The resolved SLA context, as the fact C(sla).
  returned: success
  type: dict
  contains:
    sla:
      description: SLA context of the host.
      type: dict
      contains:
        customer:
          description: The customer's name from C(sla_customer).
          type: str
          sample: acme
        tier:
          description: The tier from C(sla_tier).
          type: str
          sample: pro
        targets:
          description: The tier's targets with the customer's overrides, as P(twovalue.sla.sla_targets#filter) returns them.
          type: dict
        control:
          description: Who controls each layer.
          type: dict
          sample: {os: hoster, cms: agency, access: agency}
errors:
  description: One message per problem found, each naming the host and the variable.
  returned: failure
  type: list
  elements: str
  sample: ["host globex-prod: sla_tier is not set; expected one of basic, medium, pro (set it in the customer's group_vars)"]
"""
