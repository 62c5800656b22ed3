# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The set-up every controller-side action shares, and what the SLA decision actions add.

``SlaAction`` validates the arguments, masks known secrets in what it
returns, knows check mode, and turns an expected failure into a failed
result. Only the errors a phase names are turned into one: anything else (a
KeyError, a TypeError) is a defect and surfaces with its traceback.

``DecisionAction`` adds what deciding under a customer's SLA needs: the
options of the twovalue.sla.sla_decision doc fragment, the decision clock
(always with a timezone), the approval, the customer's trail, and "record
before acting": a change the trail cannot hold is not made.

``DocumentAction`` adds what writing a customer's documents from the
verified trail needs: the options of the twovalue.sla.sla_documents doc
fragment, the trail with the key that verifies it, and one list of what
ends such an action as failed.
"""

from __future__ import annotations

import contextlib

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_writer
from ansible_collections.twovalue.sla.plugins.plugin_utils.approval_file import load_approval
from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_writer import DecisionWriter
from ansible_collections.twovalue.sla.plugins.plugin_utils.document_texts import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import masks_known_secrets
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_audit import (
    CUSTOMER_NAME,
    load_key,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_errors import (
    SlaInputError,
    SlaOperationError,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import TIERS
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_time import parse_now

# What can go wrong while writing the trail, a vault or a document.
RECORD_ERRORS = (SlaOperationError, AnsibleError, OSError)
# What ends a document action as failed: input it cannot use, a trail it cannot read or trust.
DOCUMENT_ERRORS = (ValueError, SlaOperationError, AnsibleError)


def decision_argument_spec(**options):
    """``options`` and the ones of doc fragment twovalue.sla.sla_decision, which every decision takes."""
    return {
        **options,
        "sla": {"type": "dict", "required": True},
        "approval": {"type": "dict"},
        "approval_file": {"type": "path"},
        "now": {"type": "str"},
    }


def document_argument_spec(**options):
    """``options`` and the ones of doc fragment twovalue.sla.sla_documents."""
    return {
        **options,
        "sla": {"type": "dict", "required": True},
        "language": {"type": "str", "default": DEFAULT_LANGUAGE, "choices": list(LANGUAGES)},
        "audit_dir": {"type": "path"},
        "key_file": {"type": "path"},
    }


def customer_and_tier(sla):
    """The customer and tier an ``sla`` fact names; SlaInputError when it is not sla_context's."""
    customer, tier = sla.get("customer"), sla.get("tier")
    if not isinstance(customer, str) or not CUSTOMER_NAME.fullmatch(customer):
        raise SlaInputError(f"sla.customer is {customer!r}; run twovalue.sla.sla_context first")
    if tier not in TIERS:
        raise SlaInputError(f"sla.tier is {tier!r}; expected one of {', '.join(TIERS)}")
    return customer, tier


class ActionFailed(Exception):
    """Ends an action with a failed result: ``str(self)`` is the message, ``fields`` the rest."""

    def __init__(self, message, **fields):
        super().__init__(message)
        self.fields = fields


class SlaAction(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True
    _supports_async = False
    ARGUMENT_SPEC: dict = {}

    @masks_known_secrets
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        self.task_vars = task_vars
        self.host = task_vars.get("inventory_hostname")
        try:
            return self.act(args, result)
        except ActionFailed as failure:
            result.update(failed=True, msg=str(failure), **failure.fields)
            return result

    def act(self, args, result):
        raise NotImplementedError

    @property
    def check_mode(self):
        return bool(self._task.check_mode or self._play_context.check_mode)

    @contextlib.contextmanager
    def failing_as(self, message, errors=RECORD_ERRORS, **fields):
        """Inside the block, ``errors`` end the action as failed with ``message: error``."""
        try:
            yield
        except errors as exc:
            raise ActionFailed(f"{message}: {exc}", **fields) from exc


class DecisionAction(SlaAction):
    @contextlib.contextmanager
    def failing_as(self, message, errors=RECORD_ERRORS, **fields):
        with super().failing_as(f"host {self.host}: {message}", errors, **fields):
            yield

    def planning(self, what, errors=SlaInputError):
        """Inside the block, input the user can fix ends the action as ``host: cannot <what>``."""
        return self.failing_as(f"cannot {what}", errors)

    @staticmethod
    def decision_time(args):
        return parse_now(args["now"])

    @staticmethod
    def approval(args):
        """The customer's approval: from ``approval_file`` when given, else ``approval``."""
        if args["approval_file"]:
            return load_approval(args["approval_file"])
        return args["approval"]

    def scope(self, sla):
        """What an approval must name to count here: the customer, and this host."""
        return {"customer": sla["customer"], "host": self.host}

    def decision_writer(self, sla):
        return DecisionWriter(
            self.task_vars, self._templar.template, customer=sla["customer"], tier=sla["tier"]
        )

    def record(self, writer, activity, decision, **fields):
        return writer.record(activity, decision, self._task.action, self.check_mode, **fields)

    def record_before_acting(self, sla, records_of, refusal):
        """Open the customer's trail and append ``records_of(writer)``: (writer, appended).

        A trail that cannot take the records ends the action with ``refusal``:
        what the trail does not hold is not done.
        """
        with self.failing_as(refusal):
            writer = self.decision_writer(sla)
            appended = writer.append(records_of(writer))
        return writer, appended


class DocumentAction(SlaAction):
    _requires_connection = False

    @contextlib.contextmanager
    def documenting(self, what, sla):
        """Yields ``sla``'s customer and tier; inside the block DOCUMENT_ERRORS end the action."""
        with self.failing_as(f"{what} for {sla.get('customer')}", DOCUMENT_ERRORS):
            yield customer_and_tier(sla)

    def trail_and_key(self, args, customer):
        """``customer``'s trail and the key that verifies it; both default to the callback's."""
        settings = audit_writer.callback_settings()
        trail = audit_writer.customer_trail(
            self.task_vars, self._templar.template, customer, args["audit_dir"], settings
        )
        return trail, load_key(args["key_file"] or settings["key_file"])
