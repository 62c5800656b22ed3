# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: cms_plan
short_description: Decide a host's CMS patch releases, schema steps and branch changes under its SLA
version_added: 0.1.0
description:
  - Takes the MediaWiki and WordPress sites found by M(twovalue.sla.host_probe) and,
    per site, the newest configured release within the installed branch (an SLA
    update) and the newest supported branch in the release catalogue (an upgrade).
  - Decides each through the SLA gate (see docs/tiers.md). Upgrades are always refused
    and written up as migration advice with the branches' end-of-life dates.
    Updates of sites not in the releases layout, and of WordPress, are advised.
  - For a Debian-packaged MediaWiki whose code changed since its schema was last
    updated, plans the schema step (update.php).
  - Records every decision in the customer's audit trail before returning, then
    writes the advice (Markdown and JSON) on the controller.
  - Runs on the controller only; nothing is executed on the managed host.
extends_documentation_fragment:
  - twovalue.sla.sla_decision
  - twovalue.sla.sla_plan
  - twovalue.sla.sla_advice
options:
  catalogue_file:
    description: The release catalogue (format 1 JSON) with branch release and end-of-life dates.
    type: path
    required: true
  catalogue_urls:
    description:
      - Per CMS kind (C(mediawiki), C(wordpress)), a URL answering a catalogue product or an
        endoflife.date API list of cycles. An unreachable URL is a warning; the file's dates are used.
    type: dict
    default: {}
  sources:
    description:
      - Release archives on offer per CMS kind, each with C(version), C(url) or C(path),
        C(sha256) and optional C(security).
    type: dict
    default: {}
  updated_packages:
    description:
      - Debian packages the updates activity installed in this run (the C(updates_applied_packages)
        fact); when C(mediawiki) is among them, a packaged wiki's schema step follows.
    type: list
    elements: str
    default: []
  migration_project:
    description: Recorded with the plan; CMS branch changes are still never applied.
    type: str
author:
  - twovalue
"""

EXAMPLES = r"""
- name: Decide the CMS changes under the customer's SLA
  twovalue.sla.cms_plan:
    state: "{{ ansible_facts['sla_state'] }}"
    sla: "{{ ansible_facts['sla'] }}"
    catalogue_file: "{{ role_path }}/files/release_catalogue.json"
    sources:
      mediawiki:
        - version: 1.39.18
          url: https://releases.wikimedia.org/mediawiki/1.39/mediawiki-1.39.18.tar.gz
          sha256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
          security: true
    advice_dir: /var/lib/sla/advice
  register: plan
"""

RETURN = r"""
ansible_facts:
  description: C(sla_cms_plan) with change_set, summary, to_apply, schema_steps, advice_files and support.
  returned: success
  type: dict
plan:
  description: The decisions, the release switches and schema steps to run, migrations and notes.
  returned: success
  type: dict
"""
