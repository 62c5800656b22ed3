# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options of every action that writes a customer's documents from the verified audit trail."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  sla:
    description:
      - The host's SLA context as set by M(twovalue.sla.sla_context) (C(ansible_facts['sla'])),
        with C(customer), C(tier) and the resolved C(targets).
    type: dict
    required: true
  language:
    description: Language of the HTML and Markdown, English or Dutch; the JSON holds the same data in either.
    type: str
    default: en
    choices: [en, nl]
  audit_dir:
    description:
      - Directory of the audit trails. Default is the twovalue.sla.audit callback's setting
        (C(SLA_AUDIT_DIR), C([twovalue_sla_audit] dir) in ansible.cfg, or its default).
    type: path
  key_file:
    description: HMAC key of a keyed trail. Default is the callback's C(key_file) setting.
    type: path
"""
