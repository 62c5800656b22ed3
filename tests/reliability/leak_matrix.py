# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The secret-leak matrix: every playbook of the collection, at verbosity 0 to 4, on its
success, failure, loop, check and diff paths, against real container hosts holding planted
secrets; every output of every run is searched for every secret.

Two LAMP container hosts (``twovalue-sla-leak-production`` and ``-staging``, one customer
on SLA Pro) on their own podman network get distinctive secrets (``LEAKCANARY-<what>-...``):
database, wiki and CMS admin passwords on the hosts, the vault password and the audit HMAC
key in files, secret inventory variables and the AWX controller password; the passwords
the rotation writes into the vault join the list as they appear. Each cell's stdout and
stderr, its ANSIBLE_LOG_PATH log, the audit trail, every advice, evidence, document,
report and vault file written, the hosts' journals (and /var/log/syslog where present) and
the hosts' process lists sampled every 0.2 s during the run are searched for each secret
as written, base64-encoded (three alignments), JSON-escaped and URL-quoted.

    python tests/reliability/leak_matrix.py              # the full matrix
    python tests/reliability/leak_matrix.py --reduced    # the subset `make test` runs
    python tests/reliability/leak_matrix.py CELL_ID ...  # chosen cells (see --list)

It ends with "secret-leak matrix: N cells (P playbooks x V verbosities x paths), F outputs
grepped, H hits" and one line per hit (output, secret name; never the secret itself), and
exits non-zero on a hit or on a cell that did not end as expected.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import contextlib
import fcntl
import json
import os
import secrets as _random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "tests") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests"))

from playbook_runner import collection_env, link_collection, run_playbook  # noqa: E402
from polling import systemd_settled  # noqa: E402

link_collection()

IMAGE = "localhost/twovalue-sla/lamp:current"
PREFIX = "twovalue-sla-leak-"
NETWORK = "twovalue-sla-leak"
HEAVY_LOCK = "/tmp/twovalue-heavy.lock"
SOURCES = "/etc/apt/sources.list.d/debian.sources"
PRODUCTION = PREFIX + "production"
STAGING = PREFIX + "staging"
HOSTS = (PRODUCTION, STAGING)
# In the inventory, never started: the failure path of the host playbooks reaches for it.
GONE = PREFIX + "gone"
VERBOSITIES = (0, 1, 2, 3, 4)
PATHS = ("success", "failure", "loop", "check", "diff", "vaulted", "vaulted-failure")
# Monday 06:30 in Amsterdam: inside Pro's window.
NOW = "2026-11-30T06:30:00+01:00"
# Fixed in molecule/deploy/prepare-site.sh (the production-only person's wiki password).
PERSON_PASSWORD = "PLANTED-person-password-7070"
SECRET_VARS = "sla_smtp_password,sla_approval_token,vault_db_admin_password,awx_controller_password"
ROTATE_ONE = ["db_user/backup@localhost"]
ROTATE_TWO = ["db_user/backup@localhost", "cms_account//usr/share/mediawiki/SLA-Admin"]


def make_secrets() -> dict[str, str]:
    """name -> value. A '/' and a '+' make the JSON-escaped (PHP's json_encode writes '\\/')
    and URL-quoted forms differ from the plain one."""
    names = (
        "wikidb-password",
        "backup-db-password",
        "bob-wiki-password",
        "dave-wiki-password",
        "carol-wiki-password",
        "cms-admin-password",
        "vault-password",
        "audit-hmac-key",
        "smtp-password",
        "approval-token",
        "db-admin-password",
        "awx-controller-password",
        "health-password",
    )
    planted = {n: f"LEAKCANARY-{n}-{_random.token_hex(6)}/{_random.token_hex(2)}+q" for n in names}
    planted["person-wiki-password"] = PERSON_PASSWORD
    return planted


def forms(value: str) -> dict[str, str]:
    """The forms a secret is searched in: kind -> text."""
    found = {"plain": value}
    escaped = json.dumps(value)[1:-1]
    found["json"] = escaped
    found["json-slash"] = escaped.replace("/", "\\/")
    found["url"] = urllib.parse.quote(value, safe="")
    found["url-plus"] = urllib.parse.quote_plus(value)
    # What a URL parser quotes of an unencoded password in a URL: the part before its '/'.
    found["head"] = value.partition("/")[0]
    raw = value.encode()
    for shift in range(3):
        # The secret inside a longer base64 text: encode it behind 0, 1 or 2 bytes and keep
        # only the characters that depend on the secret alone.
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        start = {0: 0, 1: 2, 2: 3}[shift]
        tail = (len(raw) + shift) % 3
        end = len(encoded) - {0: 0, 1: 4, 2: 4}[tail]
        found[f"base64-{shift}"] = encoded[start:end]
    return {kind: text for kind, text in found.items() if len(text) >= 12}


def search(text: str, planted: dict[str, str]) -> list[tuple[str, str]]:
    """(secret name, form) for every secret form the text holds."""
    hits = []
    for name, value in planted.items():
        seen = set()
        for kind, needle in forms(value).items():
            if needle in seen:
                continue
            seen.add(needle)
            if needle in text:
                hits.append((name, kind))
                break
    return hits


# --- the cells -------------------------------------------------------------------------------


@dataclass
class Cell:
    playbook: str
    path: str
    verbosity: int
    args: list = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    expect_ok: bool = True
    # Before the run: "tamper" copies the audit trail with one record altered (verify_audit).
    setup: str = ""
    runner: bool = False

    @property
    def id(self):
        return f"{self.playbook}-{self.path}-v{self.verbosity}" + ("-runner" if self.runner else "")


FAILING_HEALTH = [{"type": "http", "url": "http://localhost/sla-leak-injected-failure"}]

# The vaulted cells: `leak_health_pw` is an inline-vaulted variable (in a file passed as
# `-e @file`) that reaches every credential option of a health check, and URL options, only
# through templates. The URL keeps the password unencoded, as a template fills it in.
VAULTED_PW = "{{ leak_health_pw }}"
VAULTED_URL = "http://monitor:" + VAULTED_PW + "@localhost"


def _vaulted_checks(path, failing=False):
    checks = [
        {"type": "http", "url": VAULTED_URL + path},
        {
            "type": "http",
            "url": "http://localhost" + path,
            "url_username": "monitor",
            "url_password": VAULTED_PW,
            "headers": {"X-Monitor-Token": VAULTED_PW},
        },
        # The `health` database user is made by World.prepare with this password.
        {
            "type": "sql",
            "query": "SELECT 1",
            "database": "wikidb",
            "login_user": "health",
            "login_password": VAULTED_PW,
            "expect": "1",
        },
    ]
    if failing:
        checks.append({"type": "http", "url": VAULTED_URL + "/sla-leak-injected-failure"})
    return checks


def _vaulted_maintenance(failing):
    return {
        "sla_hosts": "acme_production",
        "updates_health_checks": _vaulted_checks("/mediawiki/index.php/Main_Page", failing),
        "updates_health_retries": 1,
    }


def _vaulted_rotation(failing):
    return {
        "sla_hosts": "acme_production",
        "access_rotate_force": True,
        "access_rotate_only": ["db_user/wikiuser@localhost"],
        "access_site_urls": {"/usr/share/mediawiki": VAULTED_URL + "/mediawiki"},
        "access_rotation_health_checks": _vaulted_checks("/mediawiki/index.php/Main_Page", failing),
    }


def _vaulted_deploy(version):
    return {
        "sla_hosts": "acme_staging",
        "deploy_version": version,
        # A release that failed here is otherwise refused before the host is asked; a
        # release already served is health-checked again, so both paths run the checks.
        "deploy_retry_failed": True,
        "deploy_site_url": VAULTED_URL + "/site",
        "deploy_health_checks": [
            dict(check, contains='"generator":"MediaWiki') if check["type"] == "http" else check
            for check in _vaulted_checks("/site/api.php?action=query&meta=siteinfo&format=json")
        ],
    }


def _host_playbook(**extra):
    """The paths of a playbook run on acme's hosts; the failure adds `gone`, which does not exist."""
    hosts = {"sla_hosts": "acme", **extra}
    return {
        "success": ([], hosts, True),
        "failure": ([], dict(hosts, sla_hosts="acme:gone"), False),
        "check": (["--check"], hosts, True),
        "diff": (["--diff"], hosts, True),
    }


# playbook -> path -> (arguments, extra vars, expect success); a path absent: no such cell.
# The host playbooks' failure path adds GONE, a host that does not exist: the run goes
# through on the real hosts and fails on that one.
DESIGN = {
    "maintenance": dict(
        _host_playbook(),
        # Pending security updates are switched on for these cells (setup "pending-updates"),
        # so apt_apply runs its health checks before it would install. --check keeps them
        # pending for the next cell; the failing check stops the update before any change.
        vaulted=(["--check"], _vaulted_maintenance(failing=False), True),
        **{"vaulted-failure": ([], _vaulted_maintenance(failing=True), False)},
    ),
    "access": _host_playbook(),
    "offboard": _host_playbook(person="dave"),
    "rotate_credentials": {
        # wikiuser: its rotation runs the site's checks. The failure's extra check fails
        # and the old password is put back.
        "vaulted": ([], _vaulted_rotation(failing=False), True),
        "vaulted-failure": ([], _vaulted_rotation(failing=True), False),
        "success": (
            [],
            {
                "sla_hosts": "acme_production",
                "access_rotate_force": True,
                "access_rotate_only": ROTATE_ONE,
            },
            True,
        ),
        # The new password is set, then the site's health check fails and the old one is
        # restored (health checks run for a credential a site uses: the wiki's).
        "failure": (
            [],
            {
                "sla_hosts": "acme_production",
                "access_rotate_force": True,
                "access_rotate_only": ["db_user/wikiuser@localhost"],
                "access_rotation_health_checks": FAILING_HEALTH,
            },
            False,
        ),
        # Two credentials rotated in one run: the rotation's loops over credentials.
        "loop": (
            [],
            {
                "sla_hosts": "acme_production",
                "access_rotate_force": True,
                "access_rotate_only": ROTATE_TWO,
            },
            True,
        ),
        "check": (
            ["--check"],
            {
                "sla_hosts": "acme_production",
                "access_rotate_force": True,
                "access_rotate_only": ROTATE_ONE,
            },
            True,
        ),
        "diff": (
            ["--diff"],
            {
                "sla_hosts": "acme_production",
                "access_rotate_force": True,
                "access_rotate_only": ROTATE_ONE,
            },
            True,
        ),
    },  # fmt: skip
    "deploy": {
        "success": ([], {"sla_hosts": "acme_staging", "deploy_version": "1.0"}, True),
        # Release 3.0 has no api.php: the health check fails and the deploy rolls back.
        "failure": ([], {"sla_hosts": "acme_staging", "deploy_version": "3.0"}, False),
        "check": (["--check"], {"sla_hosts": "acme_staging", "deploy_version": "2.0"}, True),
        "diff": (["--diff"], {"sla_hosts": "acme_staging", "deploy_version": "1.0"}, True),
        "vaulted": ([], _vaulted_deploy("1.0"), True),
        # 3.0 has no api.php: the templated checks fail and the deploy rolls back.
        "vaulted-failure": ([], _vaulted_deploy("3.0"), False),
    },
    "refresh_staging": {
        "success": ([], {"sla_hosts": "acme_staging", "staging_source": PRODUCTION}, True),
        "failure": ([], {"sla_hosts": "acme_staging", "staging_source": GONE}, False),
        "check": (
            ["--check"],
            {"sla_hosts": "acme_staging", "staging_source": PRODUCTION},
            True,
        ),
        "diff": (["--diff"], {"sla_hosts": "acme_staging", "staging_source": PRODUCTION}, True),
    },
    "drift": _host_playbook(),
    "docs": _host_playbook(),
    # Forced: every cell takes, verifies and prunes real backups instead of finding them recent.
    "backup": _host_playbook(backup_force=True),
    "sla_report": {
        "success": (
            [],
            {
                "sla_hosts": "acme",
                "sla_report_period_start": "2026-10-01",
                "sla_report_period_end": "2026-11-28",
            },
            True,
        ),
        # An end before the start: refused before any host is read.
        "failure": (
            [],
            {
                "sla_hosts": "acme",
                "sla_report_period_start": "2026-11-28",
                "sla_report_period_end": "2026-10-01",
            },
            False,
        ),
        "check": (
            ["--check"],
            {
                "sla_hosts": "acme",
                "sla_report_period_start": "2026-10-01",
                "sla_report_period_end": "2026-11-28",
            },
            True,
        ),
        "diff": (
            ["--diff"],
            {
                "sla_hosts": "acme",
                "sla_report_period_start": "2026-10-01",
                "sla_report_period_end": "2026-11-28",
            },
            True,
        ),
    },  # fmt: skip
    "verify_audit": {
        "success": ([], {}, True),
        # A copy of the trail with one record altered: verification fails.
        "failure": ([], {"verify_audit_dir": "{tampered}"}, False),
        "check": (["--check"], {}, True),
        "diff": (["--diff"], {}, True),
    },
    # No AWX here: every run builds the objects and fails on the closed port (as
    # tests/integration/test_awx_configure.py runs it), so it has no success path.
    "awx_configure": {
        "failure": ([], {}, False),
        "check": (["--check"], {}, False),
        "diff": (["--diff"], {}, False),
    },
}
AWX_EXTRA = {
    "awx_organization": "Agency",
    "awx_project": "SLA",
    "awx_controller_host": "https://127.0.0.1:9",
    "awx_controller_username": "admin",
}
# Order: what later playbooks read (the trail, the deployed site) comes first.
ORDER = (
    "maintenance",
    "access",
    "offboard",
    "rotate_credentials",
    "deploy",
    "refresh_staging",
    "drift",
    "docs",
    "backup",
    "sla_report",
    "verify_audit",
    "awx_configure",
)
# The subset `make test` runs: every playbook's first path at -vvvv (where most is shown),
# rotate_credentials at -v0, and one failure, loop, check and diff cell on the playbooks
# that carry secrets the furthest.
REDUCED = {(p, "success", 4) for p in ORDER} | {
    ("awx_configure", "failure", 4),
    ("rotate_credentials", "success", 0),
    ("rotate_credentials", "failure", 4),
    ("rotate_credentials", "loop", 2),
    ("refresh_staging", "check", 3),
    ("access", "diff", 4),
}
# The vaulted cells at the verbosities where a leak showed first: -v0 and -vvvv.
REDUCED |= {
    (playbook, path, verbosity)
    for playbook in ORDER
    for path in ("vaulted", "vaulted-failure")
    if path in DESIGN[playbook]
    for verbosity in (0, 4)
}
# Run through ansible-runner as well, its artifacts searched too.
RUNNER_CELLS = (
    ("rotate_credentials", "success", 4),
    ("maintenance", "vaulted", 4),
    ("maintenance", "vaulted-failure", 0),
)


def _cell(playbook, path, verbosity, runner=False):
    args, extra, ok = DESIGN[playbook][path]
    if playbook == "awx_configure":
        extra = dict(AWX_EXTRA, **extra)
    setup = "tamper" if extra.get("verify_audit_dir") == "{tampered}" else ""
    if playbook == "maintenance" and path.startswith("vaulted"):
        setup = "pending-updates"
    return Cell(playbook, path, verbosity, list(args), dict(extra), ok, setup, runner=runner)


def matrix() -> list[Cell]:
    """Every cell, verbosity by verbosity (-vvvv and -v0 first): a run stopped part-way
    has still covered every playbook and path at the verbosities it reached."""
    cells = []
    for verbosity in (4, 0, 3, 2, 1):
        for playbook in ORDER:
            for path in PATHS:
                if path in DESIGN[playbook]:
                    cells.append(_cell(playbook, path, verbosity))
        for playbook, path, runner_verbosity in RUNNER_CELLS:
            if runner_verbosity == verbosity:
                cells.append(_cell(playbook, path, verbosity, runner=True))
    return cells


def reduced(cell: Cell) -> bool:
    return cell.runner or (cell.playbook, cell.path, cell.verbosity) in REDUCED


# --- podman ----------------------------------------------------------------------------------


def podman(*args, check=True, timeout=300, **kwargs):
    return subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=check, **kwargs
    )


@contextlib.contextmanager
def heavy_lock(take=True):
    if not take:
        yield
        return
    with open(HEAVY_LOCK, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def remove_hosts():
    for name in HOSTS:
        podman("rm", "-f", "-t", "0", name, check=False)
    podman("network", "rm", "-f", NETWORK, check=False)


class ProcessSampler:
    """The target's process list (`ps -eo args`), sampled every 0.2 s while a run lasts."""

    def __init__(self, name, path):
        self.name, self.path = name, path
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        with open(self.path, "w", encoding="utf-8") as out:
            while True:
                done = self._stop.is_set()
                result = podman("exec", self.name, "ps", "-eo", "args", check=False, timeout=30)
                if result.returncode == 0 and result.stdout.strip():
                    out.write(result.stdout)
                    self.samples += 1
                if done:
                    return
                self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


# --- the world: hosts, inventory, files ------------------------------------------------------


class World:
    """The container hosts, the controller's files and the planted secrets of one matrix run."""

    def __init__(self, directory, verbose=False):
        self.dir = directory
        self.verbose = verbose
        self.planted = make_secrets()
        self.rotated: dict[str, str] = {}
        for sub in ("audit", "advice", "evidence", "docs", "reports", "vault", "runs", "keys"):
            os.makedirs(os.path.join(directory, sub), exist_ok=True)
        self.vault_password_file = os.path.join(directory, "vault-password")
        self.key_file = os.path.join(directory, "audit-hmac-key")
        self.inventory = os.path.join(directory, "hosts.yml")
        self.artifacts = os.path.join(directory, "artifacts")
        self.outputs = 0
        self.hits: list[tuple[str, str, str, str]] = []  # (cell, output, secret name, form)
        self.seen_files: dict[str, float] = {}
        self.syslog = {}
        self.reported: set[tuple[str, str]] = set()

    def secrets(self):
        return dict(self.planted, **{f"rotated {k}": v for k, v in self.rotated.items()})

    # -- setup --

    def start(self):
        remove_hosts()
        podman("network", "create", NETWORK)
        for name in HOSTS:
            podman(
                "run", "-d", "--name", name, "--hostname", name, "--network", NETWORK,
                "--systemd", "always", IMAGE, "/sbin/init",
            )  # fmt: skip
        for name in HOSTS:
            systemd_settled(name)

    def prepare(self):
        p = self.planted
        for path, value in (
            (self.vault_password_file, "vault-password"),
            (self.key_file, "audit-hmac-key"),
        ):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(p[value] + "\n")
            os.chmod(path, 0o600)
        for person in ("alice", "bob", "dave", "dave-laptop"):
            key = os.path.join(self.dir, "keys", person)
            if not os.path.exists(key):
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", person, "-f", key],
                    check=True,
                )
        env = {
            "WIKI_DB_PASSWORD": p["wikidb-password"],
            "BACKUP_DB_PASSWORD": p["backup-db-password"],
            "BOB_WIKI_PASSWORD": p["bob-wiki-password"],
            "DAVE_WIKI_PASSWORD": p["dave-wiki-password"],
            "CAROL_WIKI_PASSWORD": p["carol-wiki-password"],
            "ADMIN_WIKI_PASSWORD": p["cms-admin-password"],
        }
        env_args = [a for k, v in env.items() for a in ("-e", f"{k}={v}")]

        def prepare_host(name, environment):
            scripts = (
                "molecule/access/prepare-host.sh",
                "scripts/lib/poll.sh",
                "molecule/deploy/prepare-site.sh",
            )
            for script in scripts:
                podman("cp", os.path.join(ROOT, script), f"{name}:/root/")
            podman("exec", *env_args, name, "bash", "/root/prepare-host.sh")
            podman("exec", name, "bash", "/root/prepare-site.sh", p["wikidb-password"], environment)
            podman("exec", name, "rm", *(f"/root/{os.path.basename(script)}" for script in scripts))
            # The vaulted cells' SQL health check logs in as `health`; the statement goes on
            # stdin, so the password is in no process list.
            podman(
                "exec", "-i", name, "mariadb",
                input=(
                    "CREATE USER IF NOT EXISTS 'health'@'localhost' IDENTIFIED BY "
                    f"'{p['health-password']}'; GRANT SELECT ON wikidb.* TO 'health'@'localhost';"
                ),
            )  # fmt: skip
            syslog = podman("exec", name, "test", "-s", "/var/log/syslog", check=False)
            self.syslog[name] = syslog.returncode == 0

        def build_artifacts():
            subprocess.run(
                ["bash", os.path.join(ROOT, "molecule/deploy/build-artifacts.sh"), STAGING,
                 self.artifacts],
                check=True, capture_output=True,
            )  # fmt: skip

        # Both hosts at once, and the release artifacts from the staging host's wiki code.
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            jobs = [
                pool.submit(prepare_host, PRODUCTION, "production"),
                pool.submit(prepare_host, STAGING, "staging"),
                pool.submit(build_artifacts),
            ]
            for job in jobs:
                job.result()
        self.write_inventory()
        self.write_vaulted_vars()
        self.awx_vault = os.path.join(self.dir, "awx-vault.yml")
        with open(self.awx_vault, "w", encoding="utf-8") as handle:
            yaml.safe_dump({"awx_controller_password": p["awx-controller-password"]}, handle)
        subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "ansible-vault"), "encrypt",
                "--vault-password-file", self.vault_password_file, self.awx_vault,
            ],
            check=True, capture_output=True,
        )  # fmt: skip

    def write_vaulted_vars(self):
        """`leak_health_pw` inline-vaulted, as a customer's vault file holds it: the secret
        goes to ansible-vault on stdin, never on a command line."""
        encrypted = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "ansible-vault"), "encrypt_string",
                "--vault-password-file", self.vault_password_file,
                "--stdin-name", "leak_health_pw",
            ],
            input=self.planted["health-password"], capture_output=True, text=True, check=True,
        )  # fmt: skip
        self.vaulted_vars = os.path.join(self.dir, "vaulted-vars.yml")
        with open(self.vaulted_vars, "w", encoding="utf-8") as handle:
            handle.write(encrypted.stdout)

    def pending_updates(self, on):
        """Switch Debian 12's updates and security suites on production on (as
        scripts/demo-fleet.sh does), or back off, and refresh its package lists."""
        saved = SOURCES + ".leak-matrix"
        if on:
            podman("exec", PRODUCTION, "cp", SOURCES, saved)
            podman("exec", PRODUCTION, "sed", "-i", "/^Enabled: no$/d", SOURCES)
        else:
            podman("exec", PRODUCTION, "mv", saved, SOURCES)
        podman("exec", PRODUCTION, "apt-get", "update", "-qq", timeout=600)

    def write_inventory(self):
        p = self.planted
        keys = os.path.join(self.dir, "keys")

        def pub(person):
            with open(os.path.join(keys, person + ".pub"), encoding="utf-8") as handle:
                return handle.read().strip()

        people = {
            "alice": {"name": "Alice Agent", "organisation": "agency", "ssh_keys": [pub("alice")]},
            "bob": {"name": "Bob Before", "organisation": "agency", "ssh_keys": [pub("bob")]},
            "dave": {
                "name": "Dave Deploy",
                "organisation": "agency",
                "ssh_keys": [pub("dave"), pub("dave-laptop")],
            },
            "carol": {"name": "Carol Customer", "organisation": "customer"},
        }
        wiki = "/usr/share/mediawiki"
        grants = [
            {"kind": "os_account", "account": "alice", "person": "alice", "sudo": True, "controlled_by": "agency"},
            {"kind": "os_account", "account": "bob", "person": "bob", "sudo": True, "controlled_by": "agency"},
            {"kind": "os_account", "account": "dave", "person": "dave", "controlled_by": "agency"},
            {"kind": "db_user", "account": "bob", "person": "bob", "privileges": ["SELECT ON wikidb.*"], "controlled_by": "agency"},
            {"kind": "cms_account", "account": "Bob", "person": "bob", "site": wiki, "controlled_by": "agency"},
            {"kind": "cms_account", "account": "Dave", "person": "dave", "site": wiki, "controlled_by": "agency"},
            {"kind": "cms_account", "account": "Carol", "person": "carol", "site": wiki, "controlled_by": "customer"},
            {"kind": "db_user", "account": "wikiuser", "rotate": True, "site": wiki, "controlled_by": "agency"},
            {"kind": "db_user", "account": "backup", "rotate": True, "controlled_by": "agency"},
            {"kind": "cms_account", "account": "SLA-Admin", "rotate": True, "site": wiki, "controlled_by": "agency"},
        ]  # fmt: skip
        host = {"ansible_python_interpreter": "/usr/bin/python3"}
        customer = {
            "sla_customer": "acme",
            "sla_tier": "pro",
            "sla_environment": "production",
            # Secrets a customer's vault file would hold (SLA_AUDIT_SECRET_VARS).
            "sla_smtp_password": p["smtp-password"],
            "sla_approval_token": p["approval-token"],
            "vault_db_admin_password": p["db-admin-password"],
            "access_now": NOW,
            "updates_now": NOW,
            "access_people": people,
            "access_grants": grants,
            "deploy_site_root": "/var/www/site",
            "deploy_site_url": "http://localhost/site",
            "deploy_shared_paths": ["LocalSettings.php", "images"],
            "deploy_schema": "mediawiki",
            "deploy_database": "wikidb",
            "deploy_version": "1.0",
            "deploy_artifact": self.artifacts + "/site-{{ deploy_version }}.tar.gz",
            "deploy_health_checks": [
                {
                    "type": "http",
                    "url": "http://localhost/site/api.php?action=query&meta=siteinfo&format=json",
                    "contains": '"generator":"MediaWiki',
                }
            ],
        }
        inventory = {
            "all": {
                "vars": {"ansible_connection": "containers.podman.podman"},
                "children": {
                    "acme": {
                        "vars": customer,
                        "children": {
                            "acme_production": {"hosts": {PRODUCTION: dict(host)}},
                            "acme_staging": {
                                "hosts": {STAGING: dict(host)},
                                "vars": {"sla_environment": "staging"},
                            },
                        },
                    },
                    # Outside acme, with its settings: only the failure path names it.
                    "gone": {"vars": customer, "hosts": {GONE: dict(host)}},
                },
            }
        }
        with open(self.inventory, "w", encoding="utf-8") as handle:
            yaml.safe_dump(inventory, handle, sort_keys=False)

    def env(self, log_path):
        # ANSIBLE_CONFIG unset: a cell finds ansible.cfg from where it runs, as an
        # operator's run or an AWX job does, never one the calling shell named.
        return collection_env(
            os.path.join(self.dir, "audit"),
            config=None,
            ANSIBLE_LOG_PATH=log_path,
            ANSIBLE_HOST_KEY_CHECKING="false",
            SLA_AUDIT_KEY_FILE=self.key_file,
            SLA_AUDIT_SECRET_VARS=SECRET_VARS,
            SLA_ADVICE_DIR=os.path.join(self.dir, "advice"),
            SLA_EVIDENCE_DIR=os.path.join(self.dir, "evidence"),
            SLA_DOCS_DIR=os.path.join(self.dir, "docs"),
            SLA_REPORT_DIR=os.path.join(self.dir, "reports"),
            SLA_VAULT_DIR=os.path.join(self.dir, "vault"),
            SLA_VAULT_PASSWORD_FILE=self.vault_password_file,
        )

    # -- one cell --

    def tamper(self):
        """A copy of the trail with one record's decision altered; the cell verifies the copy."""
        target = os.path.join(self.dir, "tampered")
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(os.path.join(self.dir, "audit"), target)
        trail = os.path.join(target, "acme.jsonl")
        with open(trail, encoding="utf-8") as handle:
            lines = handle.readlines()
        record = json.loads(lines[len(lines) // 2])
        record["host"] = "tampered-" + str(record.get("host"))
        lines[len(lines) // 2] = json.dumps(record) + "\n"
        with open(trail, "w", encoding="utf-8") as handle:
            handle.writelines(lines)
        return target

    def argv(self, cell, playbook_path=None):
        extra = dict(cell.extra)
        if cell.setup == "tamper":
            extra["verify_audit_dir"] = self.tamper()
        argv = ["-i", self.inventory, playbook_path or f"playbooks/{cell.playbook}.yml"]
        argv += list(cell.args)
        if cell.playbook == "awx_configure":
            # As docs/awx.md has it: the controller's password from an ansible-vault file.
            extra["awx_advice_dir"] = os.path.join(self.dir, "advice")
            argv += ["-e", "@" + self.awx_vault, "--vault-password-file", self.vault_password_file]
        if cell.path.startswith("vaulted"):
            argv += ["-e", "@" + self.vaulted_vars]
            argv += ["--vault-password-file", self.vault_password_file]
        if extra:
            argv += ["-e", json.dumps(extra)]
        if cell.verbosity:
            argv.append("-" + "v" * cell.verbosity)
        return argv

    def run(self, cell, take_lock=True):
        """Run one cell and search everything it could have written; returns problems."""
        runs = os.path.join(self.dir, "runs", cell.id)
        shutil.rmtree(runs, ignore_errors=True)
        os.makedirs(runs)
        log_path = os.path.join(runs, "ansible.log")
        outputs: dict[str, str] = {}
        problems = []
        with heavy_lock(take_lock), contextlib.ExitStack() as pending:
            if cell.setup == "pending-updates":
                self.pending_updates(True)
                pending.callback(self.pending_updates, False)
            started = time.time()
            with contextlib.ExitStack() as stack:
                samplers = [
                    stack.enter_context(ProcessSampler(name, os.path.join(runs, f"ps-{name}.txt")))
                    for name in HOSTS
                ]
                if cell.runner:
                    rc, output, artifacts = self._run_runner(cell, runs, log_path)
                else:
                    completed = run_playbook(self.argv(cell), self.env(log_path), timeout=1800)
                    rc, output, artifacts = (
                        completed.returncode,
                        completed.stdout + completed.stderr,
                        None,
                    )
            seconds = time.time() - started
            with open(os.path.join(runs, "output.txt"), "w", encoding="utf-8") as handle:
                handle.write(output)
            outputs["stdout+stderr"] = output
            outputs["ansible log"] = _read(log_path)
            for sampler in samplers:
                outputs[f"{sampler.name} process list ({sampler.samples} samples)"] = _read(
                    sampler.path
                )
            for name in HOSTS:
                journal = podman("exec", name, "journalctl", "--no-pager", "-o", "cat", check=False)
                outputs[f"{name} journal"] = journal.stdout
                if self.syslog.get(name):
                    outputs[f"{name} /var/log/syslog"] = podman(
                        "exec", name, "cat", "/var/log/syslog", check=False
                    ).stdout
        if artifacts:
            # ansible-runner leaves some files empty (stderr: it merges both streams into
            # stdout); only those that hold something are outputs, and they must include
            # its stdout and job events.
            kept = [path for path in _files(artifacts) if os.path.getsize(path)]
            names = {os.path.basename(path) for path in kept}
            if "stdout" not in names or not any("job_events" in path for path in kept):
                problems.append(f"ansible-runner left no stdout or job events in {artifacts}")
            for path in kept:
                outputs[f"runner artifact {os.path.relpath(path, self.dir)}"] = _read(path)
        # The rotation's new passwords are secrets from now on.
        self.read_vault()
        for path in self.written_files(started):
            outputs[os.path.relpath(path, self.dir)] = _read(path)
        if (rc == 0) != cell.expect_ok:
            problems.append(f"exited {rc}, expected {'0' if cell.expect_ok else 'non-zero'}")
        for label, text in outputs.items():
            if not text.strip():
                problems.append(f"output {label!r} is empty: a grep there could never hit")
            self.outputs += 1
            for name, kind in search(text, self.secrets()):
                # The journals, syslogs and the trail grow over the matrix: a hit there is
                # counted once, at the first cell that shows it.
                if (label, name) in self.reported:
                    continue
                if label.endswith(("journal", "syslog")) or label.startswith("audit"):
                    self.reported.add((label, name))
                self.hits.append((cell.id, label, name, kind))
        if self.verbose or problems:
            print(output[-6000:] if problems else output)
        return problems, seconds, output

    def _run_runner(self, cell, runs, log_path):
        """The cell through ansible-runner, as AWX runs a job; returns its artifacts too."""
        private = os.path.join(runs, "runner")
        os.makedirs(os.path.join(private, "env"))
        with open(os.path.join(private, "env", "envvars"), "w", encoding="utf-8") as handle:
            yaml.safe_dump(self.env(log_path), handle)
        argv = self.argv(
            cell, playbook_path=os.path.join(ROOT, "playbooks", cell.playbook + ".yml")
        )
        playbook = argv[2]
        cmdline = " ".join(_quote(a) for a in argv[3:])
        completed = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "ansible-runner"), "run", private,
                "--playbook", playbook, "--inventory", self.inventory, "--ident", "leak",
                "--cmdline", cmdline,
            ],
            cwd=ROOT,
            env=self.env(log_path),
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )  # fmt: skip
        return (
            completed.returncode,
            completed.stdout + completed.stderr,
            os.path.join(private, "artifacts"),
        )

    def read_vault(self):
        for vault in _files(os.path.join(self.dir, "vault")):
            if vault.endswith(".yml"):
                self._read_vault(vault)

    def _read_vault(self, vault):
        shown = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "ansible-vault"), "view",
                "--vault-password-file", self.vault_password_file, vault,
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        data = yaml.safe_load(shown.stdout) or {}
        for cid, entry in (data.get("credentials") or {}).items():
            if entry.get("secret") and entry["secret"] not in self.rotated.values():
                self.rotated[f"{cid} #{len(self.rotated) + 1}"] = entry["secret"]

    def written_files(self, since):
        """Files under the trail, advice, evidence, docs, reports and vault directories
        written since a cell started (the audit trail always)."""
        written = []
        for sub in ("audit", "advice", "evidence", "docs", "reports", "vault", "tampered"):
            for path in _files(os.path.join(self.dir, sub)):
                if path.endswith(".lock"):
                    continue  # the trail's empty lock file: nothing is ever written to it
                mtime = os.path.getmtime(path)
                if sub == "audit" or mtime >= since - 1 or path not in self.seen_files:
                    written.append(path)
                self.seen_files[path] = mtime
        return written


def _quote(arg):
    return "'" + arg.replace("'", "'\"'\"'") + "'"


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""


def _files(top):
    found = []
    for base, _dirs, names in os.walk(top):
        found += [os.path.join(base, n) for n in names]
    return sorted(found)


# --- the self-check ---------------------------------------------------------------------------

SELF_CHECK = """\
- name: Show a canary on purpose, so the matrix's search must find it
  hosts: acme_production
  gather_facts: false
  tasks:
    - name: Print it, in plain form and base64
      ansible.builtin.debug:
        msg: "{{ selfcheck_canary }} {{ ('xx' ~ selfcheck_canary) | b64encode }}"
    - name: Log it to the journal and hold it in the process list
      ansible.builtin.shell:
        cmd: logger -t leak-selfcheck "{{ selfcheck_canary }}"; sh -c 'sleep 2' "{{ selfcheck_canary }}"
      changed_when: false
"""


def self_check(world, take_lock=True):
    """A throwaway playbook prints, logs and runs a canary: the search must count it in the
    stdout, the log, the journal and the process list, and find its base64 form."""
    canary = f"LEAKCANARY-selfcheck-{_random.token_hex(6)}/{_random.token_hex(2)}+q"
    playbook = os.path.join(world.dir, "selfcheck.yml")
    with open(playbook, "w", encoding="utf-8") as handle:
        handle.write(SELF_CHECK)
    world.planted["selfcheck"] = canary
    cell = Cell("selfcheck", "success", 0, extra={"selfcheck_canary": canary})
    runs = os.path.join(world.dir, "runs", "selfcheck")
    os.makedirs(runs, exist_ok=True)
    log_path = os.path.join(runs, "ansible.log")
    with heavy_lock(take_lock):
        with ProcessSampler(PRODUCTION, os.path.join(runs, "ps.txt")) as sampler:
            completed = run_playbook(world.argv(cell, playbook_path=playbook), world.env(log_path))
        journal = podman("exec", PRODUCTION, "journalctl", "--no-pager", "-o", "cat").stdout
    del world.planted["selfcheck"]
    found = {}
    only = {"selfcheck": canary}
    found["stdout"] = search(completed.stdout, only)
    found["log"] = search(_read(log_path), only)
    found["journal"] = search(journal, only)
    found["process list"] = search(_read(sampler.path), only)
    base64_only = completed.stdout.replace(canary, "")
    found["stdout base64"] = search(base64_only, only)
    missing = [where for where, hits in found.items() if not hits]
    if completed.returncode != 0:
        missing.append(f"the self-check playbook failed: {completed.stdout[-2000:]}")
    return missing


# --- command line ----------------------------------------------------------------------------


def summary_line(cells, outputs, hits):
    playbooks = len({c.playbook for c in cells})
    verbosities = len({c.verbosity for c in cells})
    paths = len({c.path for c in cells})
    return (
        f"secret-leak matrix: {len(cells)} cells ({playbooks} playbooks x {verbosities} "
        f"verbosities x {paths} paths), {outputs} outputs grepped, {hits} hits"
    )


@dataclass
class Result:
    cells: list
    outputs: int
    hits: list
    errors: list
    seconds: float
    line: str
    planted: int = 0
    rotated: int = 0


def run_matrix(cells, take_lock=True, verbose=False, keep=None, echo=print) -> Result:
    start = time.monotonic()
    directory = keep or tempfile.mkdtemp(prefix="sla-leak-")
    world = World(directory, verbose=verbose)
    errors = []
    done = []
    try:
        with heavy_lock(take_lock):
            world.start()
            world.prepare()
        echo(f"hosts ready ({time.monotonic() - start:.0f} s); work directory {directory}")
        missing = self_check(world, take_lock)
        if missing:
            errors.append(f"self-check: the search did not find the canary in {', '.join(missing)}")
        else:
            echo(
                "self-check: a printed canary is found in stdout, log, journal, process list, base64"
            )
        for cell in cells:
            try:
                problems, seconds, _ = world.run(cell, take_lock)
            except KeyboardInterrupt:
                # Stopped (Ctrl-C, SIGTERM): the figures cover the cells that ran.
                errors.append(f"interrupted after {len(done)} of {len(cells)} cells")
                break
            done.append(cell)
            errors += [f"{cell.id}: {p}" for p in problems]
            hits = [h for h in world.hits if h[0] == cell.id]
            verdict = "ERROR" if problems else ("LEAK" if hits else "clean")
            echo(
                f"{cell.id}: {verdict} ({seconds:.0f} s; {len(done)}/{len(cells)} cells, "
                f"{world.outputs} outputs, {len(world.hits)} hits so far)"
            )
            for problem in problems:
                echo(f"    {problem}")
    finally:
        remove_hosts()
        if not keep:
            shutil.rmtree(directory, ignore_errors=True)
    line = summary_line(done, world.outputs, len(world.hits))
    return Result(
        done, world.outputs, world.hits, errors, time.monotonic() - start, line,
        planted=len(world.planted), rotated=len(world.rotated),
    )  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="run only these cells")
    parser.add_argument("--reduced", action="store_true", help="only the cells make test runs")
    parser.add_argument("--list", action="store_true", help="list the cells and stop")
    parser.add_argument("--keep", metavar="DIR", help="keep the work directory here")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each run's output")
    args = parser.parse_args(argv)
    cells = matrix()
    if args.ids:
        unknown = set(args.ids) - {c.id for c in cells}
        if unknown:
            parser.error(f"unknown cell ids: {', '.join(sorted(unknown))}")
        cells = [c for c in cells if c.id in args.ids]
    if args.reduced:
        cells = [c for c in cells if reduced(c)]
    if args.list:
        for cell in cells:
            marks = ("reduced " if reduced(cell) else "") + ("" if cell.expect_ok else "fails")
            print(f"{cell.id:40} {marks}")
        return 0

    def interrupted(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    result = run_matrix(cells, verbose=args.verbose, keep=args.keep)
    print(result.line)
    print(f"  secrets searched: {result.planted} planted, {result.rotated} written by rotations")
    for cell_id, output, name, kind in result.hits:
        print(f"  hit: {cell_id}: {output}: secret {name} ({kind})")
    for error in result.errors:
        print(f"  error: {error}")
    print(f"({result.seconds:.0f} s)")
    return 1 if result.hits or result.errors else 0


if __name__ == "__main__":
    sys.exit(main())
