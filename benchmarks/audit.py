# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Measure the audit trail: verifier throughput and callback overhead.

(a) verifier throughput: a trail of --records generated records is verified on
    one core; target >= 200,000 records/s.
(b) callback overhead: a playbook of --tasks tasks on localhost (-c local) runs
    --repeats times with and without twovalue.sla.audit, alternating; the
    ratio of the fastest wall times minus one is the overhead (target < 5 %);
    the ratio of the medians and of the CPU times (median) are reported too.

Run from the repository root:  .venv/bin/python benchmarks/audit.py
Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(_ROOT, "tests"))

import playbook_runner as runner  # noqa: E402


def _import_audit():
    runner.link_collection()
    from ansible_collections.twovalue.sla.plugins.plugin_utils import audit_verify, sla_audit

    return sla_audit, audit_verify


def _generate_trail(sla_audit, path: str, count: int) -> int:
    """Write a realistic trail directly (one writer, no lock) to keep generation short."""
    prev = sla_audit.GENESIS_HASH
    template = sla_audit.build_record(
        kind="task",
        run_id="0f8b7c1e2d3a4b5c6d7e8f9012345678",
        operator="ops",
        customer="acme",
        host="web1.acme.example",
        tier="medium",
        activity="security_updates",
        action="ansible.builtin.apt",
        status="changed",
        result={"changed": True, "failed": False, "msg": "1 package upgraded"},
    )
    batch = []
    with open(path, "wb") as handle:
        for seq in range(1, count + 1):
            record = dict(template, item=f"Install pending security updates ({seq})")
            line, prev = sla_audit.encode_record(record, prev, seq)
            batch.append(line)
            if len(batch) >= 10000:
                handle.write(b"".join(batch))
                batch.clear()
        handle.write(b"".join(batch))
    return os.path.getsize(path)


def _bench_verify(audit_modules, count: int) -> dict:
    sla_audit, audit_verify = audit_modules
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "acme.jsonl")
        size = _generate_trail(sla_audit, path, count)
        best = None
        for _ in range(2):
            start = time.perf_counter()
            report = audit_verify.verify_trail(path)
            elapsed = time.perf_counter() - start
            if not report.valid or report.records != count:
                raise SystemExit(f"benchmark trail did not verify: {report.summary()}")
            best = elapsed if best is None else min(best, elapsed)
    return {
        "verify_records": count,
        "verify_bytes": size,
        "verify_seconds": round(best, 3),
        "verify_records_per_s": int(count / best),
    }


_PLAYBOOK_HEAD = """\
- name: Audit overhead benchmark
  hosts: all
  gather_facts: false
  tasks:
"""
_TASK = """\
    - name: Step {n}
      ansible.builtin.debug:
        msg: "step {n}"
      changed_when: {changed}
"""


def _run_playbook(workdir: str, playbook: str, with_callback: bool) -> tuple[float, float]:
    env = runner.collection_env(
        os.path.join(workdir, "audit"),
        config=runner.CONFIG
        if with_callback
        else runner.project_config(workdir, audit_callback=False),
        audit_callback=with_callback,
        ANSIBLE_STDOUT_CALLBACK="default",
    )
    args = runner.playbook_args(
        playbook, "-c", "local", "-e", "sla_customer=bench", inventory="localhost,"
    )
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    # Its output is not kept: reading it would add to the time measured.
    process = runner.start_playbook(args, env, cwd=workdir, stdout=subprocess.DEVNULL)
    if process.wait() != 0:
        raise subprocess.CalledProcessError(process.returncode, process.args)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return wall, cpu


def _bench_callback(tasks: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        playbook = os.path.join(tmp, "bench.yml")
        with open(playbook, "w", encoding="utf-8") as handle:
            handle.write(_PLAYBOOK_HEAD)
            handle.writelines(
                _TASK.format(n=number, changed="true" if number % 2 else "false")
                for number in range(tasks)
            )
        _run_playbook(tmp, playbook, with_callback=False)  # warm caches
        without, with_audit = [], []
        for _ in range(repeats):
            without.append(_run_playbook(tmp, playbook, with_callback=False))
            with_audit.append(_run_playbook(tmp, playbook, with_callback=True))
        trail = os.path.join(tmp, "audit", "bench.jsonl")
        with open(trail, "rb") as handle:
            records = sum(1 for _ in handle)
    # Other load on the machine only ever adds time, so the fastest of the
    # alternating runs is the fairest comparison; the medians are reported too.
    base = min(wall for wall, _cpu in without)
    audited = min(wall for wall, _cpu in with_audit)
    base_median = statistics.median(wall for wall, _cpu in without)
    audited_median = statistics.median(wall for wall, _cpu in with_audit)
    # CPU time is less disturbed by other load on the machine than wall time.
    base_cpu = statistics.median(cpu for _wall, cpu in without)
    audited_cpu = statistics.median(cpu for _wall, cpu in with_audit)
    return {
        "playbook_cpu_seconds_without": round(base_cpu, 3),
        "playbook_cpu_seconds_with": round(audited_cpu, 3),
        "callback_cpu_overhead_pct": round((audited_cpu / base_cpu - 1) * 100, 2),
        "playbook_median_seconds_without": round(base_median, 3),
        "playbook_median_seconds_with": round(audited_median, 3),
        "callback_median_overhead_pct": round((audited_median / base_median - 1) * 100, 2),
        "playbook_tasks": tasks,
        "playbook_repeats": repeats,
        "playbook_seconds_without": round(base, 3),
        "playbook_seconds_with": round(audited, 3),
        "callback_overhead_pct": round((audited / base - 1) * 100, 2),
        "trail_records_written": records,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-playbook", action="store_true")
    args = parser.parse_args(argv)

    figures = _bench_verify(_import_audit(), args.records)
    if not args.skip_playbook:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        figures.update(_bench_callback(args.tasks, args.repeats))

    rows = [
        (
            "verifier throughput",
            f"{figures['verify_records_per_s']:,} records/s",
            ">= 200,000",
        ),
        (
            "verify time",
            f"{figures['verify_seconds']} s for {figures['verify_records']:,} records",
            "",
        ),
    ]
    if "callback_overhead_pct" in figures:
        rows.append(
            (
                "callback overhead",
                (
                    f"{figures['callback_overhead_pct']} % "
                    f"({figures['playbook_seconds_with']} s vs "
                    f"{figures['playbook_seconds_without']} s, {figures['playbook_tasks']} tasks, "
                    f"fastest of {figures['playbook_repeats']})"
                ),
                "< 5 %",
            )
        )
        rows.append(
            (
                "callback overhead (medians)",
                f"{figures['callback_median_overhead_pct']} % "
                f"({figures['playbook_median_seconds_with']} s vs "
                f"{figures['playbook_median_seconds_without']} s)",
                "",
            )
        )
        rows.append(
            (
                "callback CPU overhead",
                f"{figures['callback_cpu_overhead_pct']} % "
                f"({figures['playbook_cpu_seconds_with']} s vs "
                f"{figures['playbook_cpu_seconds_without']} s CPU)",
                "",
            )
        )
    width = max(len(row[0]) for row in rows)
    print(f"{'measure'.ljust(width)}  value  (target)")
    for name, value, target in rows:
        print(f"{name.ljust(width)}  {value}  {('(' + target + ')') if target else ''}")
    figures["verify_target_met"] = figures["verify_records_per_s"] >= 200_000
    if "callback_overhead_pct" in figures:
        figures["overhead_target_met"] = figures["callback_overhead_pct"] < 5
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
