# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

DOCUMENTATION = r"""
module: audit_event
short_description: Record an SLA decision in the customer's tamper-evident audit trail
version_added: 0.1.0
description:
  - Appends one C(decision) record to the trail of the host's customer,
    C(<audit_dir>/<sla_customer>.jsonl), chained to the previous record by its
    SHA-256 (or HMAC-SHA256) hash. See docs/audit-trail.md.
  - With C(sla_audit_backend=postgresql) (inventory or vault variables C(sla_audit_dsn),
    C(sla_audit_db_host), C(sla_audit_db_port), C(sla_audit_db_name), C(sla_audit_db_user),
    C(sla_audit_db_password)) or the callback's C(backend) option, the trail is the
    customer's in a shared PostgreSQL database, advanced under a row lock; a database
    that cannot be reached fails the task, naming host, port and database.
  - Runs on the controller only; nothing is executed on the managed host.
  - Fails closed. If the record cannot be written (directory not writable,
    lock not obtained, disk full, key file unreadable) the task fails, so a
    change placed after it does not run unrecorded.
  - Values of vault-encrypted variables, of the variables named in the
    callback's C(secret_var_names), and of keys that look like secrets
    (password, token, secret, private_key, ...) are stored as C(********).
  - Settings (audit directory, HMAC key file, operator, secret variable names)
    are those of the P(twovalue.sla.audit#callback) callback (C(SLA_AUDIT_DIR),
    C(SLA_AUDIT_KEY_FILE), C(SLA_OPERATOR), C(SLA_AUDIT_SECRET_VARS) or the
    C([twovalue_sla_audit]) section of ansible.cfg), whether or not the callback is enabled.
options:
  activity:
    description: The SLA activity, usually the role, for example C(security_updates).
    type: str
    required: true
  item:
    description: What the decision is about, for example C(mediawiki) or C(php8.2-fpm).
    type: str
  decision:
    description:
      - What happened. The gate's words C(apply), C(advise), C(refuse) and
        C(apply_with_approval) are accepted and stored as C(applied),
        C(advised), C(refused) and C(approved).
    type: str
    required: true
    choices: [planned, applied, advised, refused, approved, failed, rolled_back, skipped, deferred,
              apply, advise, refuse, apply_with_approval]
  reason:
    description: Why, in words the customer can read.
    type: str
  before:
    description: State before, for example the installed version.
    type: raw
  after:
    description: State after, or the proposed state for advice.
    type: raw
  approval:
    description: Approval reference (support request, project reference), or the gate's approval mapping.
    type: raw
  result:
    description: A short summary of the outcome. Never pass a full module result.
    type: raw
  customer:
    description: Customer whose trail receives the record. Defaults to the host variable C(sla_customer), else C(_unassigned).
    type: str
  tier:
    description: SLA tier to record. Defaults to the host variable C(sla_tier).
    type: str
  audit_dir:
    description:
      - Directory of the trails. Defaults to the callback's C(audit_dir) setting.
      - When given, the record goes to this directory's trail file whatever the backend.
    type: path
attributes:
  check_mode:
    support: full
    details:
      - In check mode the record is still written, with C(check_mode=true), because
        advice produced in a dry run is part of the trail the customer receives.
  diff_mode:
    support: none
  platform:
    platforms: all
notes:
  - The task reports C(changed=false) because recording does not change the managed host.
  - With C(no_log) on the task the record is still written (redacted); only the task output is hidden.
seealso:
  - plugin: twovalue.sla.audit
    plugin_type: callback
author:
  - twovalue (@twovalue)
"""

EXAMPLES = r"""
- name: Record the advice to upgrade MediaWiki (an upgrade is a project, not SLA work)
  twovalue.sla.audit_event:
    activity: cms_updates
    item: mediawiki
    decision: advised
    reason: MediaWiki 1.39 reaches end of life; upgrading to 1.43 is a migration project
    before: "1.39.10"
    after: "1.43.5"

- name: Record the approved update before applying it
  twovalue.sla.audit_event:
    activity: security_updates
    item: php8.2
    decision: "{{ gate_result.decision }}"
    reason: "{{ gate_result.reason }}"
    approval: "{{ gate_result.approval | default(omit) }}"
    before: "{{ php_before }}"
    after: "{{ php_candidate }}"
  register: audit_record

- name: Apply the update only after it is on record
  ansible.builtin.apt:
    name: php8.2
    state: latest
  when: audit_record.decision in ['applied', 'approved']
"""

RETURN = r"""
hash:
  description: Hash of the new record; the trail's new head.
  returned: success
  type: str
  sample: 5af84b5735d054463ef41b5513ae5c75ef1dd46e6b5cd0e3baa9d3a58003a29b
prev:
  description: Hash of the record before it.
  returned: success
  type: str
seq:
  description: Position of the record in the trail, counting from 1.
  returned: success
  type: int
  sample: 42
trail:
  description: Path of the trail file written, or C(postgresql://user@host:port/database#customer).
  returned: success
  type: str
  sample: /var/lib/sla-audit/acme.jsonl
decision:
  description: The decision as recorded (aliases resolved).
  returned: success
  type: str
  sample: advised
check_mode:
  description: Whether the record was made in check mode.
  returned: success
  type: bool
"""
