"""Bad SLA settings stop the maintenance run before any host is touched.

The hosts point at containers that do not exist: any attempt to reach one
would show up as UNREACHABLE, so the absence of that proves nothing was
touched.
"""

import textwrap

import pytest
from playbook_runner import collection_env, playbook_args, run_playbook


def _run_playbook(tmp_path, hosts_yaml, playbook="playbooks/maintenance.yml"):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(textwrap.dedent(hosts_yaml))
    return run_playbook(
        playbook_args(playbook, inventory=inventory),
        collection_env(tmp_path / "audit"),
        timeout=120,
    )


FLEET = """
all:
  vars:
    ansible_connection: containers.podman.podman
  hosts:
    good-host:
      ansible_host: twovalue-sla-no-such-container-1
      sla_customer: acme
      sla_tier: pro
    bad-host:
      ansible_host: twovalue-sla-no-such-container-2
      sla_customer: globex
{bad_lines}
"""

BROKEN_APPROVAL = "reference: SR-1\nchange_set: [unclosed\n"
INCOMPLETE_APPROVAL = "reference: SR-1\nchange_set: abc\n"


@pytest.mark.parametrize(
    ("bad_lines", "expected"),
    [
        ("      sla_tier: gold", "host bad-host: sla_tier is 'gold'"),
        ("", "host bad-host: sla_tier is not set"),
        (
            "      sla_tier: medium\n"
            "      sla_overrides:\n"
            "        maintenance_windows:\n"
            "          - {days: [mon], start: '25:00', end: '07:00'}",
            "maintenance_windows[0].start is '25:00'",
        ),
        (
            "      sla_tier: basic\n      updates_approval_file: {approval}",
            "is not valid YAML or JSON",
        ),
        (
            "      sla_tier: basic\n      updates_approval_file: {incomplete}",
            "approval.approved_by is None",
        ),
        (
            "      sla_tier: basic\n      updates_approval_file: /nonexistent/SR-2.yml",
            "approval file /nonexistent/SR-2.yml cannot be read",
        ),
        (
            "      sla_tier: pro\n      cms_keep_releases: several",
            "host bad-host: argument 'cms_keep_releases' is of type str and we were unable to "
            "convert to int",
        ),
    ],
    ids=[
        "unknown-tier",
        "missing-tier",
        "malformed-window",
        "unparsable-approval",
        "incomplete-approval",
        "missing-approval",
        "mistyped-role-variable",
    ],
)
def test_bad_input_stops_the_run_before_any_host(tmp_path, bad_lines, expected):
    (tmp_path / "approval.yml").write_text(BROKEN_APPROVAL)
    (tmp_path / "incomplete.yml").write_text(INCOMPLETE_APPROVAL)
    bad_lines = bad_lines.replace("{approval}", str(tmp_path / "approval.yml")).replace(
        "{incomplete}", str(tmp_path / "incomplete.yml")
    )
    result = _run_playbook(tmp_path, FLEET.format(bad_lines=bad_lines))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in output
    assert "UNREACHABLE" not in output
    assert "Read the host's maintenance state" not in output


ACCESS_FLEET = """
all:
  vars:
    ansible_connection: containers.podman.podman
    sla_customer: acme
    sla_tier: pro
    access_people:
      alice: {{name: Alice, organisation: agency}}
  hosts:
    good-host:
      ansible_host: twovalue-sla-no-such-container-1
    bad-host:
      ansible_host: twovalue-sla-no-such-container-2
      access_grants:
{grants}
"""


@pytest.mark.parametrize(
    ("grants", "expected"),
    [
        (
            "        - {kind: os_account, account: eve, person: eve, controlled_by: agency}",
            "host bad-host: access register: access_grants[0].person is 'eve', who is not in "
            "access_people",
        ),
        (
            "        - {kind: os_account, account: alice, person: alice}",
            "host bad-host: access register: access_grants[0].controlled_by is None",
        ),
        (
            "        - {kind: os_account, account: a, person: alice, controlled_by: agency}\n"
            "        - {kind: os_account, account: a, person: alice, controlled_by: agency}",
            "access_grants[1] is the same os_account 'a' as access_grants[0]",
        ),
        ("        - just a string", "access_grants"),
    ],
)
def test_a_bad_access_register_stops_the_run_before_any_host(tmp_path, grants, expected):
    result = _run_playbook(tmp_path, ACCESS_FLEET.format(grants=grants), "playbooks/access.yml")
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert expected in output
    assert "UNREACHABLE" not in output
