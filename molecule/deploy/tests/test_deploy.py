"""Deploy and promotion on a real staging and production: what serves, what is refused, kills.

The tests run in file order: each builds on what the one before left.
"""

import glob
import json
import os
import pathlib
import signal
import subprocess
import threading
import time

import pytest
import testinfra
from playbook_runner import (
    run_audit_cli,
    scenario_args,
    scenario_env,
    scenario_output,
    start_playbook,
)
from polling import poll_until

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
AUDIT = os.path.join(EPHEMERAL, "audit")
RUNS = os.path.join(EPHEMERAL, "runs")
STAGING, PRODUCTION = "twovalue-sla-deploy-staging", "twovalue-sla-deploy-production"
PLANTED = "PLANTED-deploy-db-secret-7070"
MARKER = "http://localhost/site/sla-version.txt"
API = "http://localhost/site/api.php?action=query&meta=siteinfo&format=json"


def _host(name):
    return testinfra.get_host(f"podman://{name}")


def _serves(name):
    """The version marker the site serves and the HTTP status, e.g. ["2.0", "200"]."""
    return _host(name).check_output(f"curl -s -o - -w ' %{{http_code}}' {MARKER}").split()


def _assert_serves(name, version):
    poll_until(
        f"{name} serving {version}",
        lambda: _serves(name),
        done=lambda seen: seen == [version, "200"],
    )


def _assert_api_answers(host):
    poll_until(
        f"the wiki's API on {host.backend.get_hostname()}",
        lambda: host.check_output(f"curl -s '{API}'"),
        done=lambda answer: "MediaWiki 1.39" in answer,
    )


def _playbook(name, *extra, label, wait=True):
    """Run a collection playbook against the scenario's hosts; keep what it printed."""
    env = scenario_env(SLA_ADVICE_DIR=os.path.join(EPHEMERAL, "advice"))
    out = open(scenario_output(label), "w", encoding="utf-8")  # noqa: SIM115
    process = start_playbook(
        scenario_args(name, *extra),
        env,
        stdout=out,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    if not wait:
        return process, out
    process.wait(timeout=900)
    out.close()
    with open(out.name, encoding="utf-8") as handle:
        return process.returncode, " ".join(handle.read().split())


def _deploy(group, version, *extra, label=None, wait=True):
    label = label or f"deploy-{group}-{version}"
    return _playbook(
        "deploy", "-e", f"sla_hosts={group}", "-e", f"deploy_version={version}", *extra,
        label=label, wait=wait,
    )  # fmt: skip


def _sql(host, query):
    return host.check_output(f'mariadb -N -e "{query}"')


def _all_decisions():
    with open(os.path.join(AUDIT, "acme.jsonl"), encoding="utf-8") as handle:
        return [r for r in map(json.loads, handle) if r["kind"] == "decision"]


def _decisions():
    with open(os.path.join(AUDIT, "acme.jsonl"), encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle]
    return [r for r in records if r["kind"] == "decision" and r["activity"] == "deploy"]


def test_staging_and_production_serve_the_promoted_release_from_a_real_wiki():
    for name in (STAGING, PRODUCTION):
        _assert_serves(name, "1.0")
        host = _host(name)
        _assert_api_answers(host)
        assert host.file("/var/www/site/current").linked_to == "/var/www/site/releases/1.0"
        assert host.file("/var/www/site/current/LocalSettings.php").linked_to == (
            "/var/www/site/shared/LocalSettings.php"
        )
    promoted = [d for d in _decisions() if d["host"] == "twovalue-sla-deploy-production"]
    assert promoted[0]["decision"] == "approved" and "promoted" in promoted[0]["reason"]


def test_an_artifact_staging_never_ran_is_refused_by_production():
    rc, output = _deploy("acme_production", "2.0", label="refused-2.0")
    assert rc != 0
    assert "was never deployed healthy to this customer's staging" in output
    _assert_serves(PRODUCTION, "1.0")
    assert _decisions()[-1]["decision"] == "refused"


def test_promoting_what_staging_passed_moves_both_to_the_new_release():
    assert _deploy("acme_staging", "2.0")[0] == 0
    assert _deploy("acme_production", "2.0")[0] == 0
    _assert_serves(STAGING, "2.0")
    _assert_serves(PRODUCTION, "2.0")


def test_a_release_failing_its_health_check_rolls_back_and_production_keeps_serving():
    override = json.dumps({"deploy_override": {"reason": "test of the rollback"}})
    rc, output = _deploy("acme_production", "3.0", "-e", override, label="broken-3.0")
    assert rc != 0 and "failed and was rolled back" in output
    _assert_serves(PRODUCTION, "2.0")
    host = _host(PRODUCTION)
    assert host.run("ls -d /var/www/site/releases/3.0.failed-*").rc == 0
    _assert_api_answers(host)
    failed = _decisions()[-1]
    assert failed["decision"] == "failed" and failed["result"]["healthy"] is False


def test_a_staging_refresh_brings_production_content_without_its_personal_data():
    production, staging = _host(PRODUCTION), _host(STAGING)
    person = "SELECT {} FROM wikidb.user WHERE user_name = 'Planted Person'"
    planted_hash = _sql(production, person.format("user_password"))
    assert planted_hash.startswith(":pbkdf2:")
    rc, output = _playbook(
        "refresh_staging", "-e", "sla_hosts=acme_staging", "-e", f"staging_source={PRODUCTION}",
        label="refresh",
    )  # fmt: skip
    assert rc == 0, output[-3000:]
    page = staging.check_output(
        "curl -s 'http://localhost/site/api.php?action=query&titles=Production_Only_Page"
        "&prop=revisions&rvprop=content&rvslots=main&format=json'"
    )
    assert "Only production has this page" in page
    assert "http://staging.acme.example/site/" in page and "production.acme.example" not in page
    dump = staging.check_output("mariadb-dump --single-transaction wikidb")
    for personal in ("planted.person@customer.example", "Planted Realname", planted_hash):
        assert personal not in dump
    assert _sql(staging, person.format("user_email")).endswith("@example.invalid")
    for host in (production, staging):
        assert host.run("ls -A /var/backups/twovalue-sla/refresh").stdout.strip() == ""
    poll_until("staging answering", lambda: _serves(STAGING), done=lambda seen: seen[-1] == "200")
    # Production is what it was.
    assert _sql(production, person.format("user_email")) == "planted.person@customer.example"


def test_a_refresh_aimed_at_production_is_refused_whatever_the_inventory_says():
    rc, output = _playbook(
        "refresh_staging", "-e", f"sla_hosts={PRODUCTION}", "-e", f"staging_source={STAGING}",
        "-e", "sla_environment=staging", label="refresh-refused",
    )  # fmt: skip
    assert rc != 0
    assert "refused: /etc/twovalue-sla/environment on this host says production" in output
    person = "SELECT user_email FROM wikidb.user WHERE user_name = 'Planted Person'"
    assert _sql(_host(PRODUCTION), person) == "planted.person@customer.example"


def test_the_drift_report_lists_what_staging_changed():
    rc, output = _playbook("drift", "-e", "sla_hosts=acme", label="drift-none")
    assert rc == 0, output[-2000:]
    report = pathlib.Path(EPHEMERAL, "advice", "acme", "staging-drift.md")
    assert "No drift: staging rehearses production faithfully." in report.read_text()
    _host(STAGING).run("echo '; changed on staging only' >> /etc/php/8.2/apache2/php.ini")
    rc, output = _playbook("drift", "-e", "sla_hosts=acme", label="drift-php-ini")
    assert rc == 0, output[-2000:]
    text = report.read_text()
    assert "1 differences" in text and "| /etc/php/8.2/apache2/php.ini |" in text
    drift = [d for d in _all_decisions() if d["item"] == "staging drift"]
    assert drift[-1]["decision"] == "advised" and drift[-1]["host"] == STAGING


def test_check_mode_deploys_and_refreshes_nothing():
    staging = _host(STAGING)
    releases = staging.check_output("ls /var/www/site/releases")
    rc, output = _deploy("acme_staging", "5.0", "--check", label="check-5.0")
    assert rc == 0, output[-2000:]
    _assert_serves(STAGING, "2.0")
    assert staging.check_output("ls /var/www/site/releases") == releases
    pages = _sql(staging, "SELECT COUNT(*) FROM wikidb.page")
    _sql(staging, "CREATE TABLE wikidb.sla_check_marker (id INT)")
    rc, output = _playbook(
        "refresh_staging", "--check", "-e", "sla_hosts=acme_staging",
        "-e", f"staging_source={PRODUCTION}", label="refresh-check",
    )  # fmt: skip
    assert rc == 0, output[-2000:]
    assert _sql(staging, "SHOW TABLES FROM wikidb LIKE 'sla_check_marker'") == "sla_check_marker"
    assert _sql(staging, "SELECT COUNT(*) FROM wikidb.page") == pages
    _sql(staging, "DROP TABLE wikidb.sla_check_marker")
    check_records = [d for d in _all_decisions() if d["check_mode"]]
    assert check_records and all(d["decision"] != "applied" for d in check_records)


def test_a_second_deploy_while_one_runs_fails_clearly():
    holder = subprocess.Popen(
        ["podman", "exec", STAGING, "flock", "/var/www/site/.sla-deploy.lock", "sleep", "60"]
    )
    try:
        poll_until(
            "the deploy lock held on staging",
            lambda: _host(STAGING).run("fuser /var/www/site/.sla-deploy.lock").rc,
            done=lambda rc: rc == 0,
        )
        rc, output = _deploy("acme_staging", "4.0", label="locked-4.0")
    finally:
        holder.kill()
        subprocess.run(["podman", "exec", STAGING, "pkill", "-f", "sleep 60"], check=False)
    assert rc != 0 and "another deploy of /var/www/site is running" in output
    _assert_serves(STAGING, "2.0")


class HostLoop(threading.Thread):
    """Collects what a loop inside the container prints, line by line, until stopped.

    The loop outlives a killed podman exec, so each carries its own tag in its
    command line and is ended by it.
    """

    def __init__(self, name, argv, stdin=None):
        super().__init__(daemon=True)
        self.name_ = name
        self.tag = f"sla-watch-{os.getpid()}-{time.monotonic_ns()}"
        self.argv = [part.replace("{tag}", self.tag) for part in argv]
        self.stdin = stdin
        self.lines = []
        self.process = None

    def run(self):
        self.process = subprocess.Popen(
            ["podman", "exec", "-i", self.name_, *self.argv],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.process.stdin.write(self.stdin or "")
        self.process.stdin.close()
        for line in self.process.stdout:
            if line.strip():
                self.lines.append(line.split())

    def stop(self):
        if self.process is not None:
            self.process.kill()
        subprocess.run(
            ["podman", "exec", self.name_, "pkill", "-f", self.tag],
            check=False, capture_output=True,
        )  # fmt: skip
        self.join(timeout=10)


def _site_watcher(name):
    """Asks the site for its version marker as fast as it answers: lines "<marker> <status>"."""
    script = (
        f"out=/tmp/{{tag}}; while true; do code=$(curl -s -o $out -w '%{{http_code}}' "
        f"{MARKER}); echo \"$(tr -d '\\n' <$out) $code\"; rm -f $out; sleep 0.2; done"
    )
    return HostLoop(name, ["sh", "-c", script])


# Which step of site_deploy a deploy of RELEASE is in, read from the host every 20 ms and
# printed when it changes. Given on stdin, so the kill's pkill patterns miss this loop.
_STEP_PROBE = r"""
import json, os, sys, time
root, release = "/var/www/site", sys.argv[1]
last = None
while True:
    commands = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                commands.append(handle.read().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            pass
    running = " | ".join(commands)
    try:
        current = os.path.basename(os.readlink(root + "/current"))
    except OSError:
        current = None
    try:
        with open(root + "/.sla-deploy.json", encoding="utf-8") as handle:
            state = json.load(handle)
    except (OSError, ValueError):
        state = {}
    pending = (state.get("schema_pending") or {}).get("release")
    if current == release:
        step = "verified" if state.get("verified") == release else "switch"
    elif "maintenance/update.php" in running or pending == release:
        step = "schema"
    elif "mariadb-dump" in running:
        step = "dump"
    elif "tar -xf" in running or any(
        name.startswith(".partial-" + release) for name in os.listdir(root + "/releases")
    ):
        step = "unpack"
    elif "deploy_release" in running:
        step = "module"
    else:
        step = "controller"
    if step != last:
        print(step, flush=True)
        last = step
    time.sleep(0.02)
"""


def _step_watcher(name, release):
    return HostLoop(name, ["python3", "-", release, "{tag}"], stdin=_STEP_PROBE)


def _current_step(watcher):
    return watcher.lines[-1][0] if watcher.lines else None


KILLED_STEPS = os.path.join(RUNS, "killed-steps.jsonl")
# Seconds after the start, where the deploy happens to be, and the two steps a kill must
# hit: inside the schema step (half-migrated database) and inside the switch (new code
# current, not yet verified).
KILL_MOMENTS = [1.5, 4.0, 8.0, 13.0, "schema", "switch"]


@pytest.mark.parametrize("moment", KILL_MOMENTS, ids=str)
def test_a_deploy_killed_at_any_moment_leaves_a_serving_site_and_a_rerun_converges(moment):
    before = poll_until(
        "staging serving", lambda: _serves(STAGING), done=lambda seen: seen[-1] == "200"
    )[0]
    version = "5.0" if before == "4.0" else "4.0"
    site, steps = _site_watcher(STAGING), _step_watcher(STAGING, version)
    site.start()
    steps.start()
    process = None
    try:
        poll_until("the step watcher on staging", lambda: _current_step(steps), done=bool)
        process, out = _deploy(
            "acme_staging", version, label=f"killed-{version}-{moment}", wait=False
        )
        if isinstance(moment, str):
            poll_until(
                f"the deploy of {version} reaching its {moment} step",
                lambda: _current_step(steps), done=lambda step: step == moment,
                timeout=300, interval=0.01,
            )  # fmt: skip
        else:
            time.sleep(moment)
        landed = _current_step(steps)
        # The controller with its connection processes, then everything it started on the
        # host, as a power cut would: for a few seconds, so a module just starting dies too.
        os.killpg(process.pid, signal.SIGKILL)
        for _ in range(8):
            for pattern in (
                "/usr/bin/python3",
                "tar -xf",
                "maintenance/update.php",
                "mariadb-dump",
            ):
                subprocess.run(
                    ["podman", "exec", STAGING, "pkill", "-9", "-f", pattern],
                    check=False, capture_output=True,
                )  # fmt: skip
            time.sleep(0.5)
        process.wait()
        out.close()
        with open(KILLED_STEPS, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"moment": moment, "version": version, "step": landed}) + "\n")
        poll_until(
            "the killed deploy's processes gone from staging",
            lambda: (
                _host(STAGING)
                .run("pgrep -af '[A]nsiballZ|[t]ar -xf|maintenance/[u]pdate.php|[m]ariadb-dump'")
                .stdout.strip()
            ),
            done=lambda running: running == "",
        )
        rerun_rc, rerun_output = _deploy("acme_staging", version, label=f"rerun-{version}-{moment}")
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        site.stop()
        steps.stop()
    assert rerun_rc == 0, rerun_output[-2000:]
    _assert_serves(STAGING, version)
    assert site.lines, "the watcher saw no answer at all"
    bad = [a for a in site.lines if a[-1] != "200" or a[0] not in (before, version)]
    assert bad == []


def test_the_kills_landed_inside_the_schema_step_and_the_switch():
    with open(KILLED_STEPS, encoding="utf-8") as handle:
        kills = [json.loads(line) for line in handle]
    assert [kill["moment"] for kill in kills] == KILL_MOMENTS, kills
    landed = {kill["step"] for kill in kills}
    assert {"schema", "switch"} <= landed, kills


def test_every_trail_verifies_and_no_secret_is_shown():
    result = run_audit_cli("verify", os.path.join(AUDIT, "acme.jsonl"))
    assert result.returncode == 0, result.stdout + result.stderr
    files = glob.glob(os.path.join(RUNS, "*.out")) + glob.glob(os.path.join(AUDIT, "*"))
    assert len(files) > 10
    leaks = [
        f for f in files if PLANTED in pathlib.Path(f).read_text(encoding="utf-8", errors="replace")
    ]
    assert leaks == []
