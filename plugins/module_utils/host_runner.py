"""How a change module runs commands on its host, records what it did, and fails.

Standard library only (runs on managed hosts). Commands go through the injected
``run(argv, environ_update=..., data=..., cwd=...) -> (rc, out, err)``
(``AnsibleModule.run_command``), so tests hand in a fake host.
"""

from __future__ import annotations

import re

from ansible_collections.twovalue.sla.plugins.module_utils.host_ops import (
    protect_url_credentials,
    tail,
)

# A run_id names a directory on the host: one path component, never "." or "..".
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}$")


def run_id_errors(params):
    if RUN_ID.match(params["run_id"] or ""):
        return []
    return [f"run_id {params['run_id']!r} may hold only letters, digits and ._:+-"]


class HostError(Exception):
    """Something on the host went wrong; ``result`` is the partial result the task reports."""

    def __init__(self, msg, result=None):
        super().__init__(msg)
        self.msg = msg
        self.result = result or {}


class HostRunner:
    """Base of the classes that change a host: commands, check mode, steps, warnings.

    ``environ`` is the environment every command gets unless it names its own
    (``None``: the module's environment unchanged). ``error`` is the ``HostError``
    subclass a failed command raises; ``failure_note`` follows its "what failed".
    """

    error = HostError
    failure_note = ""

    def __init__(self, run, check_mode=False, environ=None):
        self._command = run
        self._check_mode = check_mode
        self._environ = environ
        self.steps = []
        self.warnings = []

    def _call(self, argv, env=None, **kwargs):
        if env is None and self._environ is None:
            return self._command(argv, **kwargs)
        return self._command(argv, environ_update=dict(env or self._environ), **kwargs)

    def _must(self, argv, what, env=None, **kwargs):
        """Run a command that has to succeed; return its output."""
        rc, out, err = self._call(argv, env, **kwargs)
        if rc != 0:
            raise self.error(
                f"{what} failed{self.failure_note}: {argv[0]} exited {rc}: {tail(err)}"
            )
        return out

    def _step(self, text):
        self.steps.append(text)

    def _would(self, step):
        """In check mode record that ``step`` would be done and answer True: the caller stops."""
        if self._check_mode:
            self._step(f"would {step}")
        return self._check_mode

    def _act(self, argv, what, step, env=None, **kwargs):
        """Run a command that changes the host (``what``, said as "restart apache2") and
        record ``step`` ("apache2 restarted"); in check mode run nothing and record
        "would <what>". Returns the output ("" in check mode)."""
        if self._would(what):
            return ""
        out = self._must(argv, what, env, **kwargs)
        self._step(step)
        return out


def run_on_host(module, runner, work, *args, input_errors=(), report_steps=True, **failure):
    """Return ``work(*args)``'s result, or fail the task with the host error's message and result.

    Passwords in URL parameters are masked first. ``input_errors`` (what the user can
    fix) fail the task before anything runs. Warnings the runner gathered reach the task
    either way. On failure the task also gets ``failure`` and, with ``report_steps``, the
    steps done so far; a file the host refused (``OSError``) fails the task with its name
    rather than a traceback.
    """
    protect_url_credentials(module)
    if input_errors:
        module.fail_json(msg="; ".join(input_errors))
    try:
        result = work(*args)
    except (HostError, OSError) as exc:
        for warning in runner.warnings:
            module.warn(warning)
        if isinstance(exc, HostError):
            msg, details = exc.msg, exc.result
        else:
            msg, details = f"{exc.filename or 'a file'}: {exc.strerror}", {}
        steps = {"steps": runner.steps} if report_steps else {}
        module.fail_json(**{**failure, **steps, **details, "msg": msg})
    for warning in runner.warnings:
        module.warn(warning)
    return result
