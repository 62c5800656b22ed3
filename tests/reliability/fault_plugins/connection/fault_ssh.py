# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ssh connection with a fault at one boundary: what the fault harness drives.

Every command and file transfer the controller sends to a host is a boundary,
counted across the run's worker processes in a shared counter file, so the
steps inside one action (a deploy's extract, schema step and switch) are
boundaries as much as the playbook's tasks are. With ``SLA_FAULT_AT=K``:

- ``kill``: at boundary K the worker running the task (its process group:
  the worker and its ssh clients; ansible-core gives each worker its own
  session) is killed with SIGKILL before the command is sent, so the host
  sees its controller vanish mid-run;
- ``cut``: the command of boundary K is sent, and ``SLA_FAULT_CUT_DELAY``
  seconds later the host's sshd is stopped and its sessions killed; a reply
  that arrived before is dropped as if the cut had come first. Every later
  command to the host then meets a refused connection;
- ``reply``: the same cut, made once the command has finished on the host:
  the host did the work and the controller never hears of it.

With ``SLA_FAULT_AT=0`` nothing is injected and every boundary is listed in
``boundaries.jsonl`` under ``SLA_FAULT_DIR`` with its task and module.
"""

import fcntl
import json
import os
import signal
import subprocess
import sys
import threading

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.plugins.connection import ssh

DOCUMENTATION = ssh.DOCUMENTATION.replace("name: ssh\n", "name: fault_ssh\n", 1)

CUT_SCRIPT = (
    "systemctl stop ssh.socket ssh.service >/dev/null 2>&1; "
    "pkill -9 -f '^sshd: [^/]' >/dev/null 2>&1; true"
)


def _where():
    """The task and the module (or action step) a boundary belongs to."""
    task, module, steps = None, None, []
    frame = sys._getframe(2)
    while frame is not None:
        owner = frame.f_locals.get("self")
        if isinstance(owner, ActionBase):
            task = task or owner._task.get_name()
            if frame.f_code.co_name == "_execute_module" and module is None:
                module = frame.f_locals.get("module_name")
            elif frame.f_code.co_name != "_low_level_execute_command":
                steps.append(frame.f_code.co_name)
        frame = frame.f_back
    return task or "?", module or (steps or ["?"])[0]


class Connection(ssh.Connection):
    transport = "ssh"

    def _boundary(self, operation):
        directory = os.environ.get("SLA_FAULT_DIR")
        if not directory:
            return None
        with open(os.path.join(directory, "counter"), "a+", encoding="utf-8") as counter:
            fcntl.flock(counter, fcntl.LOCK_EX)
            counter.seek(0)
            number = int(counter.read() or 0) + 1
            counter.seek(0)
            counter.truncate()
            counter.write(str(number))
            counter.flush()
            task, step = _where()
            with open(os.path.join(directory, "boundaries.jsonl"), "a", encoding="utf-8") as log:
                entry = {"n": number, "op": operation, "task": task, "step": step}
                log.write(json.dumps(entry) + "\n")
        if number != int(os.environ.get("SLA_FAULT_AT", "0")):
            return None
        kind = os.environ["SLA_FAULT_KIND"]
        with open(os.path.join(directory, "fired"), "w", encoding="utf-8") as fired:
            fired.write(f"{kind} {number}\n")
        if kind == "kill":
            os.killpg(os.getpgrp(), signal.SIGKILL)
        if kind == "reply":
            return self._cut_later(None)
        return self._cut_later(float(os.environ.get("SLA_FAULT_CUT_DELAY", "0.3")))

    def _cut_later(self, delay):
        container = os.environ["SLA_FAULT_CONTAINER"]

        def cut():
            subprocess.run(
                ["podman", "exec", container, "sh", "-c", CUT_SCRIPT],
                capture_output=True, check=False, timeout=60,
            )  # fmt: skip

        # Without a delay the cut waits for the command to finish: only its reply is lost.
        timer = threading.Timer(delay or 0, cut)
        if delay is not None:
            timer.start()
        return timer

    def _faulted(self, operation, run):
        timer = self._boundary(operation)
        try:
            result = run()
        finally:
            if timer is not None:
                if not timer.is_alive() and not timer.finished.is_set():
                    timer.start()
                timer.join()
        if timer is not None:
            raise AnsibleConnectionFailure("the connection to the host was cut (fault injection)")
        return result

    def exec_command(self, cmd, in_data=None, sudoable=True):
        return self._faulted(
            "exec", lambda: super(Connection, self).exec_command(cmd, in_data, sudoable)
        )

    def put_file(self, in_path, out_path):
        return self._faulted("put", lambda: super(Connection, self).put_file(in_path, out_path))

    def fetch_file(self, in_path, out_path):
        return self._faulted("fetch", lambda: super(Connection, self).fetch_file(in_path, out_path))
