#!/usr/bin/env python3
"""Fleet benchmark: the no-change maintenance run against N SSH hosts.

Starts N LAMP container hosts running sshd, reaches them over SSH with
pipelining and ControlPersist (as production servers are reached), runs
playbooks/maintenance.yml in its no-change steady state and prints, per N:

- wall time and controller CPU time of the run (median of --runs runs);
- module invocations per host, counted on the hosts themselves: the hosts'
  Python interpreter is a wrapper that logs every start;
- R = wall / (ansible start-up + raw probe time), where ansible start-up is
  an empty playbook's wall time and raw probe time is the wall time of the
  commands the probe runs in this steady state (apt's inputs unchanged, so
  its cached simulation stands) run directly over the same SSH connections,
  with the same parallelism as the playbook (one connection per host, all at
  once); "R uncached" uses the full command set, apt's simulation included;
- the audit callback's overhead: runs with and without it, alternated; per N
  from the medians, and pooled over every run of the benchmark (sum of wall
  times with the callback over the sum without), which a single slow run
  sways less.

Then a linear fit of wall time over N gives the marginal cost per host.
Everything is torn down at the end. The last line is one JSON object.

usage: benchmarks/fleet.py [--hosts 1,5,10,20] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from playbook_runner import (  # noqa: E402
    ANSIBLE_PLAYBOOK,
    collection_env,
    playbook_args,
    project_config,
    run_playbook,
)
from polling import systemd_settled  # noqa: E402

IMAGE = "localhost/twovalue-sla/lamp:current"
NETWORK = "twovalue-sla-bench"
PREFIX = "twovalue-sla-bench-"
CUSTOMERS = (("acme", "pro"), ("globex", "basic"), ("initech", "medium"))
COUNTING_PYTHON = "/usr/local/bin/python3-counted"
INVOCATION_LOG = "/var/log/twovalue-sla-bench-invocations"

# The commands host_probe runs when it must simulate apt (the state changed
# since its last run), as a shell script: the raw cost of learning the state.
RAW_PROBE = (
    "cat /etc/os-release /etc/debian_version >/dev/null; "
    "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' >/dev/null; "
    "LC_ALL=C apt-get -s -q -o Debug::NoLocking=1 dist-upgrade >/dev/null; "
    "apt-mark showhold >/dev/null; "
    "ls /usr/share/mediawiki/includes/Defines.php /var/lib/dpkg/updates >/dev/null; "
    "df / /var >/dev/null; "
    "/usr/sbin/needrestart -b -r l >/dev/null"
)
# What it runs in the steady state: apt's inputs unchanged, so the cached
# simulation stands and only its fingerprint is read.
RAW_PROBE_STEADY = (
    "cat /etc/os-release /etc/debian_version >/dev/null; "
    "dpkg-query -W -f='${Package}\\t${Version}\\t${db:Status-Abbrev}\\n' >/dev/null; "
    "stat -c '%n %Y %s' /var/lib/dpkg/status /var/lib/apt/lists /var/lib/apt/lists/* "
    "/etc/apt/sources.list.d/* /etc/apt/apt.conf.d/* >/dev/null 2>&1; "
    "cat /var/cache/twovalue-sla/apt-simulation.json >/dev/null; "
    "ls /usr/share/mediawiki/includes/Defines.php /var/lib/dpkg/updates >/dev/null; "
    "df / /var >/dev/null; "
    "/usr/sbin/needrestart -b -r l >/dev/null"
)


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def _log(message):
    print(f"-- {message}", file=sys.stderr, flush=True)


class Fleet:
    """N sshd container hosts on one podman network."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.key = os.path.join(workdir, "id_ed25519")
        self.control_dir = os.path.join(workdir, "cp")
        os.makedirs(self.control_dir)
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.key])
        self.hosts = {}

    def ensure_network(self):
        if subprocess.run(["podman", "network", "exists", NETWORK], check=False).returncode:
            _run(["podman", "network", "create", NETWORK])

    def grow_to(self, count):
        self.ensure_network()
        new = [f"{PREFIX}{i:02d}" for i in range(len(self.hosts) + 1, count + 1)]
        for name in new:
            _run(
                [
                    "podman",
                    "run",
                    "-d",
                    "--name",
                    name,
                    "--hostname",
                    name,
                    "--network",
                    NETWORK,
                    "--systemd=always",
                    IMAGE,
                ]
            )
        with open(self.key + ".pub", encoding="utf-8") as handle:
            public_key = handle.read()
        for name in new:
            systemd_settled(name, timeout=60)
            setup = (
                "install -d -m 700 /root/.ssh && cat > /root/.ssh/authorized_keys && "
                f"printf '#!/bin/sh\\necho $$ >> {INVOCATION_LOG}\\nexec /usr/bin/python3 \"$@\"\\n'"
                f" > {COUNTING_PYTHON} && chmod 755 {COUNTING_PYTHON}"
            )
            subprocess.run(
                ["podman", "exec", "-i", name, "sh", "-c", setup],
                input=public_key,
                text=True,
                check=True,
            )
            address = _run(
                [
                    "podman",
                    "inspect",
                    "-f",
                    '{{(index .NetworkSettings.Networks "' + NETWORK + '").IPAddress}}',
                    name,
                ]
            ).stdout.strip()
            self.hosts[name] = address

    def ssh_args(self):
        return [
            "-i",
            self.key,
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ControlMaster=auto",
            "-o",
            "ControlPersist=300s",
            "-o",
            f"ControlPath={self.control_dir}/%C",
            "-o",
            "PreferredAuthentications=publickey",
        ]

    def inventory(self, names):
        path = os.path.join(self.workdir, f"inventory-{len(names)}.json")
        hosts = {}
        for index, name in enumerate(names):
            customer, tier = CUSTOMERS[index % len(CUSTOMERS)]
            hosts[name] = {
                "ansible_host": self.hosts[name],
                "sla_customer": customer,
                "sla_tier": tier,
                "sla_environment": "production",
            }
        inventory = {
            "all": {
                "hosts": hosts,
                "vars": {
                    "ansible_connection": "ssh",
                    "ansible_user": "root",
                    "ansible_python_interpreter": COUNTING_PYTHON,
                    "ansible_ssh_private_key_file": self.key,
                    "ansible_ssh_common_args": " ".join(self.ssh_args()[2:]),
                },
            }
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(inventory, handle)
        return path

    def reset_invocations(self, names):
        for name in names:
            _run(["podman", "exec", name, "sh", "-c", f": > {INVOCATION_LOG}"])

    def invocations(self, names):
        counts = []
        for name in names:
            out = _run(["podman", "exec", name, "sh", "-c", f"wc -l < {INVOCATION_LOG}"]).stdout
            counts.append(int(out.strip()))
        return counts

    def raw_probe_wall(self, names, script):
        """Wall time of ``script`` over SSH on every host, all hosts at once."""

        def probe(name):
            subprocess.run(
                ["ssh", *self.ssh_args(), f"root@{self.hosts[name]}", script],
                check=True,
                capture_output=True,
            )

        for name in names:  # open the persistent connections first
            subprocess.run(
                ["ssh", *self.ssh_args(), f"root@{self.hosts[name]}", "true"],
                check=True,
                capture_output=True,
            )
        start = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
            list(pool.map(probe, names))
        return time.perf_counter() - start

    def destroy(self):
        for name in list(self.hosts):
            subprocess.run(
                ["podman", "rm", "-f", "-t", "2", name], capture_output=True, check=False
            )
        subprocess.run(["podman", "network", "rm", NETWORK], capture_output=True, check=False)
        self.hosts.clear()


def _ansible_env(workdir, audit):
    return collection_env(
        os.path.join(workdir, "audit"),
        config=project_config(workdir, audit_callback=audit),
        audit_callback=audit,
        ANSIBLE_FORKS="20",
    )


def _timed_playbook(args, env):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = run_playbook(args, env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise RuntimeError(
            f"ansible-playbook {' '.join(args[:2])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-2000:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, result.stdout


def _startup_wall(workdir, runs):
    playbook = os.path.join(workdir, "empty.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write("- hosts: localhost\n  gather_facts: false\n  tasks: []\n")
    env = _ansible_env(workdir, audit=False)
    walls = [
        _timed_playbook(playbook_args(playbook, inventory="localhost,"), env)[0]
        for _ in range(runs)
    ]
    return statistics.median(walls)


def _changed_hosts(recap_output):
    """Hosts whose PLAY RECAP line reports changed, failed or unreachable tasks."""
    bad = []
    for match in re.finditer(
        r"^(\S+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
        recap_output,
        re.MULTILINE,
    ):
        if any(int(n) for n in match.groups()[1:]):
            bad.append(match.group(1))
    return bad


def _fit(points):
    xs, ys = zip(*points, strict=True)
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx if sxx else 0.0
    intercept = mean_y - slope * mean_x
    residual = sum((y - (intercept + slope * x)) ** 2 for x, y in points)
    total = sum((y - mean_y) ** 2 for y in ys)
    r2 = 1 - residual / total if total else 1.0
    return slope, intercept, r2


def measure(fleet, count, runs, workdir, startup):
    fleet.grow_to(count)
    names = sorted(fleet.hosts)[:count]
    inventory = fleet.inventory(names)
    argv = playbook_args("playbooks/maintenance.yml", inventory=inventory)
    # Warm-up: refreshes package lists once and opens the persistent connections.
    _timed_playbook(argv, _ansible_env(workdir, audit=True))
    with_audit, without_audit, cpus, invocations = [], [], [], []
    for _ in range(runs):
        fleet.reset_invocations(names)
        wall, cpu, out = _timed_playbook(argv, _ansible_env(workdir, audit=True))
        changed = _changed_hosts(out)
        if changed:
            raise RuntimeError(f"the steady-state run changed {', '.join(changed)}:\n{out[-2000:]}")
        with_audit.append(wall)
        cpus.append(cpu)
        invocations.append(max(fleet.invocations(names)))
        without_audit.append(_timed_playbook(argv, _ansible_env(workdir, audit=False))[0])
    raw = statistics.median(fleet.raw_probe_wall(names, RAW_PROBE_STEADY) for _ in range(runs))
    raw_full = statistics.median(fleet.raw_probe_wall(names, RAW_PROBE) for _ in range(runs))
    wall = statistics.median(with_audit)
    return {
        "hosts": count,
        "wall_s": round(wall, 3),
        "controller_cpu_s": round(statistics.median(cpus), 3),
        "module_invocations_per_host": max(invocations),
        "ansible_startup_s": round(startup, 3),
        "raw_probe_s": round(raw, 3),
        "R": round(wall / (startup + raw), 2),
        "raw_probe_uncached_s": round(raw_full, 3),
        "R_vs_uncached": round(wall / (startup + raw_full), 2),
        "wall_without_audit_s": round(statistics.median(without_audit), 3),
        "audit_overhead_pct": round(100 * (wall / statistics.median(without_audit) - 1), 1),
        "walls_with_audit_s": [round(w, 3) for w in with_audit],
        "walls_without_audit_s": [round(w, 3) for w in without_audit],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", default="1,5,10,20", help="comma-separated host counts")
    parser.add_argument("--runs", type=int, default=3, help="measured runs per host count")
    parser.add_argument("--keep", action="store_true", help="leave the hosts running")
    args = parser.parse_args(argv)
    counts = sorted({int(n) for n in args.hosts.split(",")})
    if not os.path.exists(ANSIBLE_PLAYBOOK):
        parser.error(f"{ANSIBLE_PLAYBOOK} not found: run with the project venv's python")

    workdir = tempfile.mkdtemp(prefix="twovalue-sla-bench-")
    fleet = Fleet(workdir)
    rows = []
    try:
        startup = _startup_wall(workdir, args.runs)
        for count in counts:
            _log(f"measuring N={count}")
            rows.append(measure(fleet, count, args.runs, workdir, startup))
    finally:
        if not args.keep:
            fleet.destroy()
            shutil.rmtree(workdir, ignore_errors=True)

    header = (
        "N",
        "wall s",
        "ctl CPU s",
        "modules/host",
        "startup s",
        "raw probe s",
        "R",
        "raw uncached s",
        "R uncached",
        "wall no-audit s",
        "audit +%",
    )
    keys = (
        "hosts",
        "wall_s",
        "controller_cpu_s",
        "module_invocations_per_host",
        "ansible_startup_s",
        "raw_probe_s",
        "R",
        "raw_probe_uncached_s",
        "R_vs_uncached",
        "wall_without_audit_s",
        "audit_overhead_pct",
    )
    print(" | ".join(f"{h:>14}" for h in header))
    for row in rows:
        print(" | ".join(f"{row[k]!s:>14}" for k in keys))
    summary = {"rows": rows}
    if len(rows) > 1:
        slope, intercept, r2 = _fit([(r["hosts"], r["wall_s"]) for r in rows])
        summary.update(
            slope_s_per_host=round(slope, 3), intercept_s=round(intercept, 3), r2=round(r2, 3)
        )
        print(f"linear fit: wall = {intercept:.2f} s + {slope:.3f} s x N  (r^2 = {r2:.3f})")
    pooled = 100 * (
        sum(sum(r["walls_with_audit_s"]) for r in rows)
        / sum(sum(r["walls_without_audit_s"]) for r in rows)
        - 1
    )
    summary["audit_overhead_pooled_pct"] = round(pooled, 1)
    print(
        f"audit callback overhead, pooled over all {sum(len(r['walls_with_audit_s']) for r in rows)} pairs of runs: {pooled:+.1f} %"
    )
    print(json.dumps(summary, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
