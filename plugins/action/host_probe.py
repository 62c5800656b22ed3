# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of twovalue.sla.host_probe: one plain Python run on the host.

Over a pipelining connection the probe goes to the host's interpreter on
stdin as one program (see plugin_utils.probe_program): one SSH exchange, no
temporary files, and none of the module runtime's start-up. Without
pipelining the module runs the ordinary way.
"""

from __future__ import annotations

import json

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.executor.interpreter_discovery import discover_interpreter
from ansible.plugins.action import ActionBase
from ansible_collections.twovalue.sla.plugins.module_utils.host_state import PROBE_ARGUMENT_SPEC
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import masks_known_secrets
from ansible_collections.twovalue.sla.plugins.plugin_utils.probe_program import probe_program

_DISCOVERY_MODES = ("auto", "auto_legacy", "auto_silent", "auto_legacy_silent")
_DISCOVERED_FACT = "discovered_interpreter_python"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    @masks_known_secrets
    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, params = self.validate_argument_spec(argument_spec=PROBE_ARGUMENT_SPEC)
        if not self._connection.is_pipelining_enabled():
            result.update(
                self._execute_module(
                    module_name="twovalue.sla.host_probe", module_args=params, task_vars=task_vars
                )
            )
            return result

        interpreter, discovered = self._python_interpreter(task_vars)
        # Built as a pipelined module's command is: the task's environment, then the interpreter.
        command = self._connection._shell.build_module_command(
            self._compute_environment_string(), f"#!{interpreter}", "-"
        )
        answer = self._low_level_execute_command(
            command,
            in_data=probe_program(params, self._task.check_mode).encode("utf-8"),
            sudoable=True,
        )
        try:
            probed = json.loads(answer.get("stdout") or "")
        except ValueError:
            stderr = (answer.get("stderr") or "").strip()
            raise AnsibleActionFail(
                f"the probe gave no result with {interpreter} (exit {answer.get('rc')}): "
                f"{stderr[-500:] or 'no output'}"
            ) from None
        result.update(probed)
        if discovered:
            result.setdefault("ansible_facts", {})[_DISCOVERED_FACT] = discovered
        return result

    def _python_interpreter(self, task_vars):
        """The interpreter a module would use here, and the discovered one if discovery ran."""
        configured = C.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars)
        interpreter = self._templar.template(configured) if configured else ""
        if interpreter and interpreter not in _DISCOVERY_MODES:
            return interpreter, None
        known = task_vars.get("ansible_facts", {}).get(_DISCOVERED_FACT)
        if known:
            return known, None
        found = discover_interpreter(
            action=self,
            interpreter_name="python",
            discovery_mode=interpreter or "auto",
            task_vars=task_vars,
        )
        return found, found
