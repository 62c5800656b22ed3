"""The maintenance job runs in the execution environment, as AWX runs it.

Builds the execution environment (scripts/build-ee.sh, cached by a hash of
its inputs), starts the demo fleet, and runs `twovalue.sla.maintenance` with
ansible-runner's process isolation in the image, as AWX's job runs do: a
private data directory with the inventory, an SSH key loaded into ssh-agent
(a machine credential), the project's ansible.cfg, and an audit directory
that outlives the container (AWX's persistent volume). The collection,
ansible-core and every Python package come from the image; the hosts are
reached over SSH on the demo fleet's podman network. Run by `make ee` (part of
`make test`); it needs the images of `make images`.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
NETWORK = "twovalue-sla-demo"
IN_IMAGE_COLLECTION = "/usr/share/ansible/collections/ansible_collections/twovalue/sla/"
IDENT = "maintenance"


def _run(argv, **kwargs):
    kwargs.setdefault("check", True)
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def ee_image():
    started = time.monotonic()
    result = _run(["bash", "scripts/build-ee.sh"], check=False, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    image = result.stdout.strip().splitlines()[-1]
    print(f"\nexecution environment {image} ready in {time.monotonic() - started:.0f} s")
    return image


@pytest.fixture(scope="module")
def demo_fleet():
    """The demo inventory and its hosts, running; torn down afterwards."""
    with open(os.path.join(ROOT, "inventories/demo/hosts.yml"), encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    _run(["bash", "scripts/demo-fleet.sh", "up"], timeout=600)
    try:
        yield inventory
    finally:
        _run(["bash", "scripts/demo-fleet.sh", "down"], check=False, timeout=300)


def _customers(inventory):
    """{host: (customer, container)} of the demo inventory."""
    hosts = {}
    for group in inventory["all"]["children"].values():
        for name, host_vars in group["hosts"].items():
            hosts[name] = (group["vars"]["sla_customer"], host_vars["ansible_host"])
    return hosts


def _private_data_dir(tmp_path, inventory):
    """A job's private data as AWX hands it to ansible-runner."""
    data = tmp_path / "job"
    for sub in ("env", "inventory/group_vars", "project", "audit", "advice"):
        (data / sub).mkdir(parents=True)

    key = tmp_path / "id_ed25519"
    _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
    public_key = (tmp_path / "id_ed25519.pub").read_text()
    for _customer, container in _customers(inventory).values():
        subprocess.run(
            ["podman", "exec", "-i", container, "sh", "-c",
             "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys"],
            input=public_key, text=True, check=True,
        )  # fmt: skip
    # The machine credential: ansible-runner loads it into ssh-agent in the image.
    (data / "env/ssh_key").write_text(key.read_text())

    # The demo inventory as a real fleet: SSH instead of podman exec, the
    # container names resolved by the podman network's DNS.
    inventory = json.loads(json.dumps(inventory))
    inventory["all"]["vars"].update(
        ansible_connection="ssh",
        ansible_user="root",
        ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
    )
    (data / "inventory/hosts.yml").write_text(yaml.safe_dump(inventory))
    with open(os.path.join(ROOT, "inventories/demo/group_vars/all.yml"), encoding="utf-8") as f:
        group_vars = yaml.safe_load(f)
    group_vars["sla_advice_dir"] = "/runner/advice"
    (data / "inventory/group_vars/all.yml").write_text(yaml.safe_dump(group_vars))

    # The project's ansible.cfg, read from the job's working directory.
    (data / "project/ansible.cfg").write_text(
        "[defaults]\n"
        "callbacks_enabled = twovalue.sla.audit\n"
        "gathering = explicit\n"
        "host_key_checking = false\n"
        "[twovalue_sla_audit]\n"
        "dir = /runner/audit\n"
        "[ssh_connection]\n"
        "pipelining = true\n"
    )
    (data / "env/envvars").write_text(yaml.safe_dump({"SLA_OPERATOR": "awx-ee-test"}))
    return data


def _events(data):
    events = []
    for path in glob.glob(str(data / "artifacts" / IDENT / "job_events" / "*.json")):
        with open(path, encoding="utf-8") as handle:
            events.append(json.load(handle))
    return sorted(events, key=lambda event: event["counter"])


def test_maintenance_runs_in_the_execution_environment(tmp_path, ee_image, demo_fleet):
    hosts = _customers(demo_fleet)
    data = _private_data_dir(tmp_path, demo_fleet)
    argv = [
        os.path.join(BIN, "ansible-runner"), "run", str(data),
        "--ident", IDENT,
        "-p", "twovalue.sla.maintenance",
        "--process-isolation",
        "--process-isolation-executable", "podman",
        "--container-image", ee_image,
        f"--container-option=--network={NETWORK}",
        # ansible-runner runs as root here and hands the key over through a
        # root-only pipe: the image's user must match it, as under AWX, where
        # runner and image run as the same user.
        "--container-option=--user=0",
    ]  # fmt: skip
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    print(f"maintenance run in the execution environment: {time.monotonic() - started:.0f} s")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert (data / "artifacts" / IDENT / "status").read_text() == "successful"

    # Every demo host was reached and nothing failed.
    events = _events(data)
    stats = next(e for e in events if e["event"] == "playbook_on_stats")["event_data"]
    assert set(stats["ok"]) == set(hosts), stats
    assert not stats["failures"] and not stats["dark"], stats
    # The roles ran from the collection installed in the image, not from the checkout.
    task_paths = {
        e["event_data"].get("task_path", "").rsplit(":", 1)[0]
        for e in events
        if e["event"] == "playbook_on_task_start"
    }
    assert any(p.startswith(IN_IMAGE_COLLECTION + "roles/probe/") for p in task_paths), task_paths
    assert any(p.startswith(IN_IMAGE_COLLECTION + "roles/updates/") for p in task_paths)
    assert not any(p.startswith(ROOT) for p in task_paths), task_paths

    # Each customer's trail is in the job's audit directory, outside the
    # discarded container: one run, opened and closed, every host's tasks,
    # no failed task, and the chain verifies.
    for customer in {customer for customer, _container in hosts.values()}:
        trail = data / "audit" / f"{customer}.jsonl"
        records = [json.loads(line) for line in trail.read_text().splitlines()]
        assert records[0]["kind"] == "run_start" and records[-1]["kind"] == "run_end"
        assert len({record["run_id"] for record in records}) == 1
        assert records[0]["operator"] == "awx-ee-test"
        assert records[0]["result"]["ansible_version"] == "2.19.14"
        tasks = [record for record in records if record["kind"] == "task"]
        assert {record["host"] for record in tasks} == {
            host for host, (owner, _container) in hosts.items() if owner == customer
        }
        assert all(record["status"] != "failed" for record in tasks)
        verified = _run(
            [sys.executable, "bin/sla_audit.py", "verify", str(trail)],
            check=False,
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_image_carries_the_postgresql_audit_driver(ee_image):
    """Jobs in the image can keep their trail in the shared PostgreSQL store."""
    probe = (
        "import psycopg; "
        "from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_store; "
        "print(psycopg.__version__, audit_store.__name__)"
    )
    result = _run(
        [
            "podman",
            "run",
            "--rm",
            "--user=0",
            "-e",
            "PYTHONPATH=/usr/share/ansible/collections",
            ee_image,
            "python3",
            "-c",
            probe,
        ],
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] == "3.3.9"
