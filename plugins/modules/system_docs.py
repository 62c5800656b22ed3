# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: system_docs
short_description: Write a customer's system documentation and migration advice from live facts
version_added: 0.1.0
description:
  - Documents every host of one customer from the state the probe read (the C(sla_state) fact of
    M(twovalue.sla.host_probe), sections C(os), C(stack) and C(cms)); the operating system and
    kernel, Apache with its modules, PHP with its extensions per SAPI, MariaDB, the CMS sites with
    their extensions, skins, plugins and themes, each with its support status against the release
    catalogues, the staging/production topology (C(sla_environment)), backups and their last
    verified restore, and the access register (who holds what, controlled by whom, last rotation,
    former staff still listed).
  - Writes migration advice for every component within O(horizon_days) of its end of life, past
    it, or whose upgrade the SLA automation refused (refusals read from the verified audit trail),
    with the date, the reason and the proposed migration.
  - Writes C(<docs_dir>/<customer>/system-documentation.md), C(.html), C(.json) and
    C(migration-advice.md), C(.html), C(.json).
  - The same facts, register and trail give the same bytes; documents that would not change are not
    rewritten and the task reports C(changed=false). In check mode nothing is written.
  - Shows SSH key fingerprints, never keys; the probe reads no secret.
  - A customer without a trail yet is documented with no rotation, refusal or backup.
  - Runs on the controller only; nothing is executed on the managed host.
extends_documentation_fragment:
  - twovalue.sla.sla_documents
options:
  docs_dir:
    description: Directory on the controller; the documents go to a folder per customer in it.
    type: path
    required: true
  hosts:
    description:
      - Inventory names of the hosts to document; each needs the C(sla_state) fact.
      - Default is every host of the play whose C(sla_customer) is this customer.
    type: list
    elements: str
  horizon_days:
    description: A component whose end of life is this many days away or fewer becomes advice.
    type: int
    default: 180
  stack_catalogue:
    description:
      - Release catalogue of Debian, Apache, PHP and MariaDB (format 1, as the CMS one).
      - Default is the collection's C(roles/updates/files/release_catalogue.json).
    type: path
  cms_catalogue:
    description:
      - Release catalogue of MediaWiki and WordPress.
      - Default is the collection's C(roles/cms/files/release_catalogue.json).
    type: path
  today:
    description:
      - The day support states are judged on, C(YYYY-MM-DD). Default is today in the SLA's timezone.
    type: str
author:
  - twovalue
"""

EXAMPLES = r"""
- name: Write the customer's system documentation and migration advice
  twovalue.sla.system_docs:
    sla: "{{ ansible_facts['sla'] }}"
    docs_dir: /var/lib/sla/docs
  register: docs

- name: Advice a year ahead of every end of life
  twovalue.sla.system_docs:
    sla: "{{ ansible_facts['sla'] }}"
    docs_dir: /var/lib/sla/docs
    horizon_days: 365
"""

RETURN = r"""
paths:
  description: The documents' files by document and format.
  returned: success
  type: dict
  sample:
    system-documentation:
      html: /var/lib/sla/docs/acme/system-documentation.html
      md: /var/lib/sla/docs/acme/system-documentation.md
      json: /var/lib/sla/docs/acme/system-documentation.json
    migration-advice:
      html: /var/lib/sla/docs/acme/migration-advice.html
      md: /var/lib/sla/docs/acme/migration-advice.md
      json: /var/lib/sla/docs/acme/migration-advice.json
hosts:
  description: The hosts documented.
  returned: success
  type: list
  elements: str
advice:
  description: The advice items, each with host, component, installed version, state and dates.
  returned: success
  type: list
  elements: dict
"""
