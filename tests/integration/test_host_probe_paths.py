"""The probe's two paths read the same state: the plain program and the module.

Over a pipelining connection the action sends the probe as one plain Python
program; without pipelining it runs the module. Both run here against this
machine (check mode, read-only sections) and must agree on everything but
the time they ran.
"""

import json
import textwrap

from playbook_runner import collection_env, playbook_args, run_playbook

PLAYBOOK = """
- name: Probe this machine
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read the state
      twovalue.sla.host_probe:
        sections: [os, stack, cms]
        cms_roots: [{root}]
      register: probed

    - name: Keep it for the test
      ansible.builtin.copy:
        content: "{{{{ probed | to_json }}}}"
        dest: "{out}"
        mode: "0600"
      check_mode: false
"""


def _run(tmp_path, playbook, pipelining, *options):
    """ansible-playbook against this machine over the local connection."""
    return run_playbook(
        playbook_args(
            playbook,
            "-c",
            "local",
            "-e",
            "ansible_python_interpreter=/usr/bin/python3",
            *options,
            inventory="localhost,",
        ),
        collection_env(tmp_path / "audit", ANSIBLE_PIPELINING=pipelining),
        timeout=120,
    )


def _probe(tmp_path, pipelining):
    out = tmp_path / f"probe-{pipelining}.json"
    playbook = tmp_path / f"probe-{pipelining}.yml"
    playbook.write_text(textwrap.dedent(PLAYBOOK.format(root=tmp_path / "no-cms", out=out)))
    done = _run(tmp_path, playbook, pipelining, "--check", "-vvv")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return json.loads(out.read_text()), done.stdout


def test_plain_program_and_module_read_the_same_state(tmp_path):
    plain, plain_log = _probe(tmp_path, pipelining=True)
    module, module_log = _probe(tmp_path, pipelining=False)

    # Which path ran shows in the verbose log: the module path transfers AnsiballZ.
    assert "AnsiballZ_host_probe" not in plain_log
    assert "AnsiballZ_host_probe" in module_log

    states = []
    for result in (plain, module):
        assert result["changed"] is False
        state = result["ansible_facts"]["sla_state"]
        assert state.pop("probe_time") > 0
        states.append(state)
    assert states[0] == states[1]
    assert states[0]["os"]["id"] == "debian"
    assert states[0]["package_count"] > 100
    assert states[0]["cms"] == []


def test_both_paths_refuse_a_bad_parameter_with_the_same_message(tmp_path):
    """A bad parameter fails with the same message on both paths."""
    messages = []
    for pipelining in (True, False):
        playbook = tmp_path / f"bad-{pipelining}.yml"
        playbook.write_text(
            textwrap.dedent(
                """
                - hosts: localhost
                  gather_facts: false
                  tasks:
                    - twovalue.sla.host_probe:
                        sections: [os]
                        cache_max_age: -1
                """
            )
        )
        done = _run(tmp_path, playbook, pipelining)
        assert done.returncode == 2, done.stdout[-2000:]
        messages.append(done.stdout)
    for output in messages:
        assert "cache_max_age must be 0 (never refresh) or a positive number of seconds" in output
