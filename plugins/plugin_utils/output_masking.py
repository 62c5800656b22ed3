# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mask the secrets a task knows in everything the collection's actions write.

A vaulted value templated into an option, or a value named in
SLA_AUDIT_SECRET_VARS, can come back in a host's error message, a planner's
reason, an advice document or the summary printed from the plans' facts.
Every action's ``run`` is wrapped by ``masks_known_secrets``: its result is
masked with the audit trail's own redactor (built from the task's variables)
before Ansible shows, logs or keeps it, and documents written during the run
are masked by ``mask_document``.
"""

from __future__ import annotations

import contextvars
import functools

from ansible.errors import AnsibleError
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_writer

# The redactor of the action running in this worker; None outside an action.
_ACTIVE_REDACTOR = contextvars.ContextVar("twovalue_sla_output_redactor", default=None)


def mask_document(text):
    """``text`` as the running action may write it: every secret it knows masked."""
    redactor = _ACTIVE_REDACTOR.get()
    return redactor.redact_text(text) if redactor is not None else text


def masks_known_secrets(run):
    """Decorate an ActionModule's ``run``: what it returns and writes shows no known secret."""

    @functools.wraps(run)
    def _masked_run(self, tmp=None, task_vars=None):
        try:
            settings = audit_writer.callback_settings()
        except AnsibleError:
            # Without the recorder's settings the vaulted values are still known;
            # the actions that write the trail fail on it themselves.
            settings = {}
        redactor = audit_writer.known_secrets_redactor(
            task_vars or {}, self._templar.template, settings
        )
        token = _ACTIVE_REDACTOR.set(redactor)
        try:
            result = run(self, tmp, task_vars)
        finally:
            _ACTIVE_REDACTOR.reset(token)
        # Facts too: the plans' facts are what the run's summary is printed from.
        return redactor.mask_strings(result)

    return _masked_run
