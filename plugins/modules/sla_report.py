# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.
from __future__ import annotations

DOCUMENTATION = r"""
module: sla_report
short_description: Write a customer's SLA report for a period from the verified audit trail
version_added: 0.1.0
description:
  - Verifies the customer's audit trail and reads the decisions recorded in the period.
    A trail that does not verify gives no report; the task fails naming the first bad record.
  - Measures the KPIs against the customer's targets (security updates from first seen to
    applied, updates pending past the deadline, periodic update gaps per host) and lists
    the period's activities (updates applied and advised, approvals, refused upgrades and
    migration advice, rollbacks, access changes, verified backups).
  - Writes C(<report_dir>/<customer>/sla-report-<period>.html), C(.md) and C(.json). The HTML
    is one self-contained page with inline charts, readable on a phone and printable.
  - States the hash of the trail's last record at the end of the period, so the customer can
    check later that nothing up to it was changed or removed.
  - The same trail always gives the same bytes; a report that would not change is not rewritten
    and the task reports C(changed=false). In check mode nothing is written.
  - Runs on the controller only; nothing is executed on the managed host.
extends_documentation_fragment:
  - twovalue.sla.sla_documents
options:
  report_dir:
    description: Directory on the controller; the report goes to a folder per customer in it.
    type: path
    required: true
  period_start:
    description:
      - First day of the period, C(YYYY-MM-DD), read in the SLA's timezone.
      - Give it with O(period_end), or neither for the last complete calendar quarter.
    type: str
  period_end:
    description: Last day of the period, C(YYYY-MM-DD), included.
    type: str
author:
  - twovalue
"""

EXAMPLES = r"""
- name: Write the customer's report for the last complete quarter
  twovalue.sla.sla_report:
    sla: "{{ ansible_facts['sla'] }}"
    report_dir: /var/lib/sla/reports
    language: "{{ sla_report_language | default('en') }}"
  register: report

- name: A report for March 2026 in Dutch
  twovalue.sla.sla_report:
    sla: "{{ ansible_facts['sla'] }}"
    report_dir: /var/lib/sla/reports
    period_start: "2026-03-01"
    period_end: "2026-03-31"
    language: nl
"""

RETURN = r"""
paths:
  description: The report's files by format (C(html), C(md), C(json)).
  returned: success
  type: dict
  sample:
    html: /var/lib/sla/reports/acme/sla-report-2026-Q1.html
    md: /var/lib/sla/reports/acme/sla-report-2026-Q1.md
    json: /var/lib/sla/reports/acme/sla-report-2026-Q1.json
period:
  description: The period's label, first and last day, its instants in UTC and the timezone.
  returned: success
  type: dict
head:
  description: Hash of the trail's last record at the end of the period, as the report states it.
  returned: success
  type: str
head_seq:
  description: Sequence number of that record (0 for an empty trail).
  returned: success
  type: int
kpis_met:
  description: Per KPI whether its target was met; null where the trail holds nothing to measure.
  returned: success
  type: dict
"""
