# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every action's result and documents are masked with the trail's redactor."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from ansible.errors import AnsibleError
from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_writer
from ansible_collections.twovalue.sla.plugins.plugin_utils.advice_files import holds, write_text
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import (
    masks_known_secrets,
)

NAMED = "Named-Token-5821"
TEMPLATED = "Templated-Password-3340"


class _Action:
    """What the decorator needs of an ActionModule: a templar, and a run to wrap."""

    def __init__(self, document=None):
        self._templar = SimpleNamespace(template=lambda value: value.replace("{{ pw }}", TEMPLATED))
        self.document = document

    @masks_known_secrets
    def run(self, tmp=None, task_vars=None):
        if self.document:
            write_text(self.document, f"# Advice\n\nlogin with {NAMED}\n")
        return {
            "failed": True,
            "msg": f"cannot reach http://monitor:{NAMED}@localhost/",
            "steps": [{"detail": f"tried {TEMPLATED}", "rc": 1}, ("tuple", NAMED)],
            "credentials": ["kept, not a secret"],
            "ansible_facts": {"token": NAMED},
        }


@pytest.fixture
def settings(monkeypatch):
    values = {"secret_var_names": ["api_token", "templated_secret"]}
    monkeypatch.setattr(audit_writer, "callback_settings", lambda: values)
    return values


TASK_VARS = {"api_token": NAMED, "templated_secret": "{{ pw }}", "sla_tier": "pro"}


def test_an_actions_result_shows_no_secret_its_task_knows(settings):
    result = _Action().run(task_vars=TASK_VARS)
    assert result["msg"] == "cannot reach http://monitor:********@localhost/"
    assert result["steps"] == [{"detail": "tried ********", "rc": 1}, ("tuple", "********")]
    # Only values are masked: keys that look secret keep what they hold.
    assert result["credentials"] == ["kept, not a secret"]
    assert result["failed"] is True
    # Facts too: the run's summary is printed from them.
    assert result["ansible_facts"] == {"token": "********"}


def test_documents_written_during_an_action_are_masked(settings, tmp_path):
    document = tmp_path / "advice" / "acme" / "host-updates.md"
    _Action(str(document)).run(task_vars=TASK_VARS)
    assert document.read_text() == "# Advice\n\nlogin with ********\n"


def test_holds_compares_the_masked_document(settings, tmp_path):
    path = tmp_path / "doc.md"
    seen = {}

    class _Comparing(_Action):
        @masks_known_secrets
        def run(self, tmp=None, task_vars=None):
            write_text(str(path), f"uses {NAMED}")
            seen["holds"] = holds(str(path), f"uses {NAMED}")
            return {}

    _Comparing().run(task_vars=TASK_VARS)
    assert seen["holds"] is True


def test_without_the_recorders_settings_vaulted_values_are_still_masked(monkeypatch):
    def missing():
        raise AnsibleError("callback twovalue.sla.audit is not installed")

    monkeypatch.setattr(audit_writer, "callback_settings", missing)
    monkeypatch.setattr(audit_writer, "collect_secret_values", lambda *args: {NAMED})
    result = _Action().run(task_vars=TASK_VARS)
    assert result["msg"] == "cannot reach http://monitor:********@localhost/"
