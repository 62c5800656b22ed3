# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A vaulted secret that reaches an option only through a template never comes back out.

Real local runs at -v0 and -vvvv: a host module refuses its input (so nothing is
touched) with the secret templated into every credential option of a health check
and into a URL, and a controller action fails on a path holding the secret.
"""

from __future__ import annotations

import pytest
from local_project import write_local_project
from playbook_runner import collection_env, playbook_args, run_playbook

# Unencoded '/' and '+', as a template fills them into a URL.
VAULTED = "Vaulted/Health+Pass-6092"
NAMED = "Named-Monitor-Token-4471"

PLAYBOOK = """\
- name: Credentials that reach options only through templates
  hosts: all
  gather_facts: false
  tasks:
    - name: A host module refuses its input; its arguments carry the secret
      twovalue.sla.deploy_release:
        site_root: /nonexistent/site
        artifact: /nonexistent/site.tar.gz
        sha256: not-a-digest
        release: "1.0"
        version: "1.0"
        site_url: "http://deploy:{{ health_pw }}@localhost/site"
        run_id: masked-messages
        health_checks:
          - type: http
            url: "http://monitor:{{ health_pw }}@localhost/mediawiki/index.php/Main_Page"
          - type: http
            url: http://localhost/
            url_username: monitor
            url_password: "{{ health_pw }}"
            headers:
              X-Monitor-Token: "{{ monitor_token }}"
          - type: sql
            query: SELECT 1
            login_user: health
            login_password: "{{ health_pw }}"
      ignore_errors: true

    - name: A controller action fails on a path that holds the secret
      twovalue.sla.deploy:
        artifact: "/nonexistent/{{ health_pw }}/site-{{ monitor_token }}.tar.gz"
        version: "1.0"
        site_root: /nonexistent/site
        site_url: http://localhost/site
        sla: {customer: acme, tier: pro, targets: {}}
      register: refused
      ignore_errors: true

    - name: The action's message is still there, masked
      ansible.builtin.assert:
        that:
          - refused is failed
          - "'does not exist on the controller' in refused.msg"
          - "'/nonexistent/********/site-********.tar.gz' in refused.msg"
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    base = tmp_path_factory.mktemp("masked")
    write_local_project(
        base,
        {"health_pw": VAULTED},
        plain=f"monitor_token: {NAMED}\n",
        inventory="wiki1 sla_customer=acme sla_tier=pro\n",
    )
    (base / "site.yml").write_text(PLAYBOOK)
    return base


@pytest.mark.parametrize("verbosity", ["-v", "-vvvv"], ids=["v1", "v4"])
def test_no_templated_secret_reaches_stdout_the_log_or_the_trail(project, verbosity):
    log = project / f"ansible{verbosity}.log"
    env = collection_env(
        project / "audit", ANSIBLE_LOG_PATH=log, SLA_AUDIT_SECRET_VARS="monitor_token"
    )
    args = playbook_args(
        project / "site.yml",
        "--vault-password-file",
        project / "vault-pass",
        verbosity,
        inventory=project / "inventory.ini",
    )
    completed = run_playbook(args, env, cwd=project)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output[-4000:]
    # The host module did run and refused: its message is shown, its arguments too at -vvvv.
    assert "is not a SHA-256 hex digest" in output
    if verbosity == "-vvvv":
        assert "http://monitor:********@localhost/mediawiki/index.php/Main_Page" in output
    trail = (project / "audit" / "acme.jsonl").read_text()
    for where, text in (("output", output), ("log", log.read_text()), ("trail", trail)):
        for secret in (VAULTED, NAMED):
            for form in (secret, secret.replace("/", "%2F"), secret.split("/")[0]):
                assert form not in text, f"{form!r} in the {where}"
