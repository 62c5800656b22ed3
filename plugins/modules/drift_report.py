# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: drift_report
short_description: Compare each customer's staging with its production and write the drift as advice
version_added: 0.1.0
description:
  - Takes the M(twovalue.sla.drift_facts) results of many hosts with their customer, tier and
    environment, pairs each staging host with the customer's first production host, and lists
    every difference in Debian packages, CMS and extension versions and configuration checksums.
  - Records one advice decision per staging host in the customer's audit trail and writes
    C(<advice_dir>/<customer>/staging-drift.md) and C(.json).
  - Runs on the controller only.
author:
  - twovalue
extends_documentation_fragment:
  - twovalue.sla.sla_advice
options:
  hosts:
    description: Per host C(host), C(customer), C(tier), C(environment) and C(drift).
    type: list
    elements: dict
    required: true
attributes:
  check_mode:
    support: full
    details:
      - The comparison is recorded and written in check mode too; nothing runs on a host.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Write each customer's staging drift
  twovalue.sla.drift_report:
    hosts: "{{ ansible_play_hosts | map('extract', hostvars, 'sla_drift_entry') | list }}"
    advice_dir: /srv/sla/advice
  run_once: true
"""

RETURN = r"""
reports:
  description: Per customer the C(files) written and the number of C(differences).
  returned: success
  type: dict
"""
