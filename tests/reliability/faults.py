# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fault injection at every boundary of the update, CMS update, deploy and rotation workflows.

A boundary is every command or file transfer the controller sends to the
host (``fault_plugins/connection/fault_ssh.py``): the playbook's tasks and the
steps inside one action alike. Each workflow runs on a fresh LAMP container
reached over real SSH:

1. a reference run without a fault lists the boundaries and gives the old and
   the new state of the host (site answer and version marker, database
   fingerprint, and what the workflow changes: packages, credentials);
2. then, for each boundary K and each fault (``kill``: the worker running
   K's task is killed with SIGKILL at K; ``cut``: the host's sshd is stopped and its
   sessions killed while K's command runs), a fresh container runs the
   workflow with that fault, waits until nothing the run started is left on
   the host, and checks the invariants: the site answers 200 with the old or
   the new version marker, the database is the old or the new one, every
   credential still has a working secret the agency holds, and the audit
   trail verifies;
3. a plain rerun must succeed and reach the reference run's new state.

    python tests/reliability/faults.py                       # every workflow, every boundary
    python tests/reliability/faults.py deploy rotation       # chosen workflows
    python tests/reliability/faults.py --reduced             # the subset `make test` runs
    python tests/reliability/faults.py deploy --at 3 --kind cut -v

It prints per workflow: boundaries tried, faults of each kind, broken states
found and reruns that converged, and exits non-zero on a broken state or a
rerun that did not converge.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import yaml
from bad_inputs import IMAGE, ROOT, heavy_lock, verify_path
from bad_inputs import _podman as podman
from playbook_runner import collection_env, playbook_args, start_playbook
from polling import http_answers, poll_until, systemd_settled

PREFIX = "twovalue-sla-fault-"
NETWORK = "twovalue-sla-faults"
CACHE = os.path.join(ROOT, ".cache", "faults")
PLUGINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fault_plugins")
PRO_WINDOW = "2026-11-30T06:30:00+01:00"
PRO_PRODUCTION = {"sla_customer": "acme", "sla_tier": "pro", "sla_environment": "production"}
WIKI_DB_PASSWORD = "fault-wikidb-start-3131"
ADMIN_WIKI_PASSWORD = "fault-sla-admin-start-3131"
DEPLOY_DB_PASSWORD = "fault-deploy-db-3131"
CMS_DB_PASSWORD = "fault-cms-db-3131"
VAULT_PASSWORD = "fault-vault-password-3131"
# What a host may still be running after the controller is gone: the harness waits for it.
LEFTOVER = re.compile(
    r"python3|apt-get|/usr/bin/dpkg|maintenance/|mariadb-dump|mariadb-admin|tar -|update\.php"
)


def sh(name, script, check=True, timeout=600, env=None):
    argv = ["exec"]
    for key, value in (env or {}).items():
        argv += ["-e", f"{key}={value}"]
    return podman(*argv, name, "sh", "-c", script, check=check, timeout=timeout)


# --- the host --------------------------------------------------------------------------------


def _controller_key():
    os.makedirs(CACHE, exist_ok=True)
    key = os.path.join(CACHE, "id_ed25519")
    if not os.path.exists(key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sla-faults", "-f", key],
            check=True,
        )
    return key


def _wait_ready(name, url):
    systemd_settled(name, timeout=60)
    http_answers(name, url, timeout=60)


@dataclass
class Host:
    name: str
    address: str


@contextlib.contextmanager
def container(image, label, url):
    """A running container from image, with the controller's key for root, serving url."""
    if podman("network", "exists", NETWORK, check=False).returncode != 0:
        podman("network", "create", NETWORK)
    name = f"{PREFIX}{label}-{os.getpid()}"
    podman("rm", "-f", "-t", "0", name, check=False)
    try:
        podman("run", "-d", "--name", name, "--hostname", "site", "--network", NETWORK,
               "--systemd", "always", image, "/sbin/init")  # fmt: skip
        with open(_controller_key() + ".pub", encoding="utf-8") as handle:
            public = handle.read().strip()
        sh(name, f"install -d -m 700 /root/.ssh && echo '{public}' >/root/.ssh/authorized_keys")
        _wait_ready(name, url)
        address = podman(
            "inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{NETWORK}\").IPAddress}}}}",
            name,
        ).stdout.strip()  # fmt: skip
        yield Host(name, address)
    finally:
        podman("rm", "-f", "-t", "0", name, check=False)


def quiesce(host, timeout=900):
    """Wait until nothing the interrupted run started is left running on the host."""
    deadline = time.monotonic() + timeout
    calm = 0
    while time.monotonic() < deadline:
        rows = sh(host.name, "ps -eo args=", check=False).stdout.splitlines()
        busy = [row for row in rows if LEFTOVER.search(row) and not row.startswith("ps ")]
        calm = calm + 1 if not busy else 0
        if calm >= 3:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{host.name} still runs {busy} after {timeout} s")


def restore_ssh(host):
    poll_until(
        f"sshd on {host.name} listening again",
        lambda: sh(host.name, "systemctl start ssh.service 2>&1; ss -ltn; "
                   "systemctl status --no-pager ssh.service 2>&1 | tail -5", check=False).stdout,
        done=lambda seen: ":22 " in seen,
    )  # fmt: skip


# --- a run -----------------------------------------------------------------------------------


def run(workflow, host, directory, label, fault=None, extra=None, timeout=1800):
    """One ansible-playbook run of the workflow over SSH: (rc, output, boundaries, fault fired)."""
    fault_dir = os.path.join(directory, f"fault-{label}")
    os.makedirs(fault_dir, exist_ok=True)
    inventory = os.path.join(directory, "hosts.yml")
    host_vars = dict(
        workflow.host_vars(directory),
        ansible_host=host.address,
        ansible_user="root",
        ansible_connection="fault_ssh",
        ansible_ssh_private_key_file=_controller_key(),
        ansible_python_interpreter="/usr/bin/python3",
    )
    with open(inventory, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"all": {"hosts": {"site": host_vars}}}, handle)
    env = collection_env(
        os.path.join(directory, "audit"),
        ANSIBLE_CONNECTION_PLUGINS=os.path.join(PLUGINS, "connection"),
        # No ControlPersist master: it would outlive a killed controller.
        ANSIBLE_SSH_ARGS="-o ControlMaster=no -o UserKnownHostsFile=/dev/null "
        "-o StrictHostKeyChecking=no -o ConnectTimeout=10",
        SLA_ADVICE_DIR=os.path.join(directory, "advice"),
        SLA_EVIDENCE_DIR=os.path.join(directory, "evidence"),
        SLA_VAULT_DIR=os.path.join(directory, "vault"),
        SLA_VAULT_PASSWORD_FILE=_vault_password_file(directory),
        SLA_FAULT_DIR=fault_dir,
        SLA_FAULT_AT=str(fault[0] if fault else 0),
        SLA_FAULT_KIND=fault[1] if fault else "",
        SLA_FAULT_CONTAINER=host.name,
    )
    args = playbook_args(
        f"playbooks/{workflow.playbook}.yml",
        inventory=inventory,
        extra_vars=dict(workflow.extra, **(extra or {})),
    )
    with open(os.path.join(directory, f"{label}.out"), "w+", encoding="utf-8") as out:
        process = start_playbook(
            args, env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            rc = process.wait(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        out.seek(0)
        output = out.read()
    boundaries = []
    log = os.path.join(fault_dir, "boundaries.jsonl")
    if os.path.exists(log):
        with open(log, encoding="utf-8") as handle:
            boundaries = [json.loads(line) for line in handle]
    fired = os.path.exists(os.path.join(fault_dir, "fired"))
    return rc, output, boundaries, fired


def _vault_password_file(directory):
    path = os.path.join(directory, "vault-password")
    if not os.path.exists(path):
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(VAULT_PASSWORD + "\n")
        os.chmod(path, 0o600)
    return path


def trail_problems(directory):
    audit = os.path.join(directory, "audit")
    if not os.path.isdir(audit) or not os.listdir(audit):
        return ["no audit trail was written"]
    return [
        f"trail {os.path.basename(r.path)} does not verify: {r.problem} at line {r.line}"
        for r in verify_path(audit)
        if not r.valid
    ]


# --- what is observed on the host ------------------------------------------------------------


def site_answer(host, url, marker_pattern=None):
    """(http code, version marker) of the site; the marker read from the body when a pattern is given."""
    out = sh(host.name, f"curl -s -m 20 -w '\\n%{{http_code}}' '{url}'", check=False).stdout
    body, _, code = out.rpartition("\n")
    if marker_pattern:
        match = re.search(marker_pattern, body)
        body = match.group(1) if match else f"<no marker in {body[:80]!r}>"
    return code.strip(), body.strip()


def db_fingerprint(host, database):
    """The database's schema and row counts, as one hash: "the old one or the new one"."""
    script = (
        f"mariadb-dump --no-data --skip-dump-date --skip-comments {database} "
        "| sed 's/ AUTO_INCREMENT=[0-9]*//'; "
        f'mariadb -N -e "SELECT table_name FROM information_schema.tables '
        f"WHERE table_schema='{database}' ORDER BY 1\" | while read t; do "
        f'echo "$t $(mariadb -N -e "SELECT COUNT(*) FROM {database}.\\`$t\\`")"; done'
    )
    result = sh(host.name, script, check=False)
    if result.returncode != 0:
        return f"<database {database} unreadable: {result.stderr.strip()[:120]}>"
    return hashlib.sha256(result.stdout.encode()).hexdigest()[:16]


def db_login(host, user, password, database=""):
    result = podman(
        "exec", "-e", f"MYSQL_PWD={password}", host.name,
        "mariadb", "--protocol=socket", "-u", user, "-N", "-e", "SELECT 1",
        *( [database] if database else [] ), check=False,
    )  # fmt: skip
    return result.returncode == 0


def wiki_login(host, api, user, password):
    """A MediaWiki clientlogin; the password goes to curl on stdin, never on a command line."""
    script = (
        "set -e; jar=$(mktemp); read -r pw; "
        f"token=$(curl -s -c $jar -b $jar '{api}?action=query&meta=tokens&type=login&format=json'"
        ' | python3 -c \'import json,sys; print(json.load(sys.stdin)["query"]["tokens"]["logintoken"])\'); '
        f"printf 'action=clientlogin&format=json&loginreturnurl=http://localhost/&username={user}&password=%s&logintoken=%s' "
        '"$(python3 -c \'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))\' "$pw")" '
        '"$(python3 -c \'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))\' "$token")" '
        f"| curl -s -c $jar -b $jar --data-binary @- '{api}'; rm -f $jar"
    )
    result = subprocess.run(
        ["podman", "exec", "-i", host.name, "sh", "-c", script],
        input=password + "\n", capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    return '"status":"PASS"' in result.stdout


def packages(host, names):
    script = "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' " + " ".join(names)
    rows = sh(host.name, script, check=False).stdout.split("\n")
    return {row.split()[0]: (row.split()[1], row.split()[2]) for row in rows if row.strip()}


# --- the workflows ---------------------------------------------------------------------------


@dataclass
class Workflow:
    name: str
    playbook: str
    url: str
    marker: str | None
    extra: dict = field(default_factory=dict)

    def host_vars(self, directory):
        raise NotImplementedError

    def prepare(self, name):
        """Bring a container of the LAMP image to the workflow's starting point."""
        raise NotImplementedError

    def observe(self, host, directory):
        code, marker = site_answer(host, self.url, self.marker)
        return {"site": [code, marker]}

    def intact(self, seen, old, new):
        """Ways in which the state after a fault is neither the old nor the new one."""
        problems = []
        if seen["site"][0] != "200":
            problems.append(f"the site answers {seen['site'][0]}")
        if seen["site"][1] not in (old["site"][1], new["site"][1]):
            problems.append(f"the site shows {seen['site'][1]!r}, neither old nor new")
        for key in ("db",):
            if key in seen and seen[key] not in (old[key], new[key]):
                problems.append(f"the database is neither old nor new ({seen[key]})")
        return problems

    def converged(self, seen, new):
        return [
            f"{key}: {seen.get(key)!r} where the reference run reached {value!r}"
            for key, value in new.items()
            if seen.get(key) != value
        ]

    def inputs(self):
        """What the prepared image depends on: its cache key."""
        return ""

    def side_files(self):
        """Files the preparation leaves on the controller: without them the image is made again."""
        return []


class Deploy(Workflow):
    def __init__(self):
        super().__init__(
            "deploy", "deploy", "http://localhost/site/sla-version.txt", None,
            extra={"sla_hosts": "all", "deploy_version": "2.0"},
        )  # fmt: skip

    def artifacts(self):
        return os.path.join(CACHE, "artifacts")

    def host_vars(self, directory):
        return {
            "sla_customer": "acme",
            "sla_tier": "pro",
            "sla_environment": "staging",
            "deploy_site_root": "/var/www/site",
            "deploy_site_url": "http://localhost/site",
            "deploy_shared_paths": ["LocalSettings.php", "images"],
            "deploy_schema": "mediawiki",
            "deploy_database": "wikidb",
            "deploy_artifact": os.path.join(self.artifacts(), "site-{{ deploy_version }}.tar.gz"),
            "deploy_health_checks": [
                {
                    "type": "http",
                    "url": "http://localhost/site/api.php?action=query&meta=siteinfo&format=json",
                    "contains": '"generator":"MediaWiki',
                }
            ],
        }

    def inputs(self):
        return _read("molecule/deploy/prepare-site.sh", "molecule/deploy/build-artifacts.sh")

    def side_files(self):
        return [os.path.join(self.artifacts(), "site-2.0.tar.gz")]

    def prepare(self, name):
        podman("cp", os.path.join(ROOT, "molecule/deploy/prepare-site.sh"), f"{name}:/root/")
        sh(name, f"bash /root/prepare-site.sh {DEPLOY_DB_PASSWORD} staging")
        shutil.rmtree(self.artifacts(), ignore_errors=True)
        subprocess.run(
            ["bash", os.path.join(ROOT, "molecule/deploy/build-artifacts.sh"), name, self.artifacts()],
            check=True, capture_output=True,
        )  # fmt: skip
        # The starting point is release 1.0 live, deployed the way the workflow deploys.
        return {"deploy_version": "1.0"}

    def observe(self, host, directory):
        seen = super().observe(host, directory)
        seen["db"] = db_fingerprint(host, "wikidb")
        api = site_answer(
            host, "http://localhost/site/api.php?action=query&meta=siteinfo&format=json"
        )
        seen["api"] = api[0]
        return seen

    def intact(self, seen, old, new):
        problems = super().intact(seen, old, new)
        if seen["api"] != "200":
            problems.append(f"the wiki's API answers {seen['api']}")
        return problems


class CmsUpdate(Workflow):
    """A tarball-installed wiki switched to its next patch release by the maintenance run."""

    def __init__(self):
        super().__init__(
            "cms", "maintenance",
            "http://localhost/wiki/api.php?action=query&meta=siteinfo&format=json",
            r'"generator":"MediaWiki ([^"]+)"',
        )  # fmt: skip

    def inputs(self):
        return _read("molecule/cms/prepare-site.sh")

    def side_files(self):
        return [os.path.join(CACHE, "cms-offer.json")]

    def prepare(self, name):
        podman("cp", os.path.join(ROOT, "molecule/cms/prepare-site.sh"), f"{name}:/root/")
        sh(name, f"bash /root/prepare-site.sh {CMS_DB_PASSWORD}")
        return None

    def host_vars(self, directory):
        offer = json.loads(_cached("cms-offer.json"))["next"]
        return {
            **PRO_PRODUCTION,
            "updates_now": PRO_WINDOW,
            "cms_now": PRO_WINDOW,
            "cms_release_sources": {
                "mediawiki": [
                    {
                        "version": offer["version"],
                        "path": f"/srv/releases/mediawiki-{offer['version']}.tar.gz",
                        "sha256": offer["sha256"],
                        "security": True,
                    }
                ]
            },
            "cms_health_checks": [
                {"type": "sql", "database": "wikisite", "query": "SELECT COUNT(*) FROM page"}
            ],
        }

    def after_prepare(self, name):
        offer = sh(name, "cat /srv/releases/offer.json").stdout
        _store("cms-offer.json", offer)

    def observe(self, host, directory):
        seen = super().observe(host, directory)
        seen["db"] = db_fingerprint(host, "wikisite")
        return seen


# Held back from the upgrade of the prepared image: the packages that serve the site.
SITE_STACK = [
    "apache2",
    "apache2-bin",
    "apache2-data",
    "apache2-utils",
    "libapache2-mod-php8.2",
    "php8.2",
    "php8.2-cli",
    "php8.2-common",
    "php8.2-curl",
    "php8.2-intl",
    "php8.2-mbstring",
    "php8.2-mysql",
    "php8.2-opcache",
    "php8.2-readline",
    "php8.2-xml",
    "mariadb-server",
    "mariadb-server-core",
    "mariadb-client",
    "mariadb-client-core",
    "mariadb-common",
    "libmariadb3",
]


class Updates(Workflow):
    """Real pending Debian security updates of the web server, PHP and MariaDB."""

    def __init__(self):
        super().__init__(
            "updates", "maintenance", "http://localhost/mediawiki/index.php/Main_Page", None
        )

    def inputs(self):
        # The mirror moves: a new day may bring new pending versions.
        return time.strftime("%Y-%m-%d") + " ".join(SITE_STACK)

    def prepare(self, name):
        held = " ".join(SITE_STACK)
        sh(
            name,
            "set -e; sed -i '/^Enabled: no$/d' /etc/apt/sources.list.d/debian.sources; "
            "apt-get update -qq; "
            f"apt-mark hold {held} >/dev/null; "
            "DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o Dpkg::Options::=--force-confold "
            "dist-upgrade >/dev/null; "
            f"apt-mark unhold {held} >/dev/null; "
            # Downloaded now, so each trial installs without waiting for the mirror.
            "apt-get -y -qq -d dist-upgrade >/dev/null",
            timeout=1800,
        )
        return None

    def host_vars(self, directory):
        return {
            **PRO_PRODUCTION,
            "updates_now": PRO_WINDOW,
            "cms_now": PRO_WINDOW,
            "updates_health_checks": [
                {"type": "http", "url": "http://localhost/mediawiki/index.php/Main_Page"},
                {"type": "sql", "database": "wikidb", "query": "SELECT COUNT(*) FROM page"},
            ],
        }

    def observe(self, host, directory):
        seen = super().observe(host, directory)
        body = sh(host.name, "curl -s -m 20 http://localhost/mediawiki/index.php/Main_Page",
                  check=False).stdout  # fmt: skip
        # "Never an error page": the wiki's own page, not a PHP or database error.
        seen["site"][1] = "wiki page" if 'id="footer"' in body else f"error page {body[:80]!r}"
        seen["db"] = db_fingerprint(host, "wikidb")
        seen["packages"] = packages(host, SITE_STACK)
        seen["dpkg_audit"] = sh(host.name, "dpkg --audit", check=False).stdout.strip()
        return seen

    def intact(self, seen, old, new):
        problems = super().intact(seen, old, new)
        if seen["dpkg_audit"]:
            problems.append(f"dpkg --audit reports: {seen['dpkg_audit'][:200]}")
        for package, (version, status) in seen["packages"].items():
            if status != "ii":
                problems.append(f"{package} is in dpkg state {status}")
            if version not in (old["packages"][package][0], new["packages"][package][0]):
                problems.append(f"{package} is at {version}, neither old nor new")
        return problems


class Rotation(Workflow):
    """The wiki's database password and its admin account rotated with the vault."""

    def __init__(self):
        super().__init__(
            "rotation", "rotate_credentials",
            "http://localhost/mediawiki/api.php?action=query&meta=siteinfo&format=json",
            r'"generator":"(MediaWiki)',
        )  # fmt: skip

    def inputs(self):
        return _read("molecule/access/prepare-host.sh") + _read("scripts/lib/poll.sh")

    def prepare(self, name):
        for script in ("molecule/access/prepare-host.sh", "scripts/lib/poll.sh"):
            podman("cp", os.path.join(ROOT, script), f"{name}:/root/")
        env = {
            "WIKI_DB_PASSWORD": WIKI_DB_PASSWORD,
            "BACKUP_DB_PASSWORD": "fault-backup-3131",
            "BOB_WIKI_PASSWORD": "fault-bob-3131",
            "DAVE_WIKI_PASSWORD": "fault-dave-3131",
            "CAROL_WIKI_PASSWORD": "fault-carol-3131",
            "ADMIN_WIKI_PASSWORD": ADMIN_WIKI_PASSWORD,
        }
        sh(name, "bash /root/prepare-host.sh", env=env)
        return None

    def host_vars(self, directory):
        return {
            **PRO_PRODUCTION,
            "access_now": PRO_WINDOW,
            "access_people": {"alice": {"name": "Alice Agent", "organisation": "agency"}},
            "access_grants": [
                {
                    "kind": "db_user",
                    "account": "wikiuser",
                    "rotate": True,
                    "site": "/usr/share/mediawiki",
                    "controlled_by": "agency",
                },
                {
                    "kind": "cms_account",
                    "account": "SLA-Admin",
                    "rotate": True,
                    "site": "/usr/share/mediawiki",
                    "controlled_by": "agency",
                },
            ],  # fmt: skip
        }

    def vault(self, directory):
        path = os.path.join(directory, "vault", "acme.vault.yml")
        if not os.path.exists(path):
            return {"credentials": {}, "pending": {}}
        from ansible.parsing.vault import VaultLib, VaultSecret

        vault = VaultLib([("twovalue_sla", VaultSecret(VAULT_PASSWORD.encode()))])
        with open(path, "rb") as handle:
            return yaml.safe_load(vault.decrypt(handle.read()))

    def observe(self, host, directory):
        seen = super().observe(host, directory)
        vault = self.vault(directory)
        live = {}
        for credential, login, start in (
            ("db_user/wikiuser@", lambda s: db_login(host, "wikiuser", s, "wikidb"), WIKI_DB_PASSWORD),
            ("cms_account//usr/share/mediawiki/SLA-Admin", lambda s: wiki_login(
                host, "http://localhost/mediawiki/api.php", "SLA-Admin", s), ADMIN_WIKI_PASSWORD),
        ):  # fmt: skip
            ids = [
                k for k in [*vault["credentials"], *vault["pending"]] if k.startswith(credential)
            ]
            held = {"vault": None, "staged": None, "start": start}
            for key in ids:
                if key in vault["credentials"]:
                    held["vault"] = vault["credentials"][key]["secret"]
                if key in vault["pending"]:
                    held["staged"] = vault["pending"][key]["secret"]
                    # Left staged by an interrupted rotation before this one (secret_store).
                    for number, earlier in enumerate(vault["pending"][key].get("earlier", [])):
                        held[f"staged earlier {number + 1}"] = earlier["secret"]
            working = [where for where, secret in held.items() if secret and login(secret)]
            live[credential] = working
        seen["working_secrets"] = live
        seen["pending"] = sorted(vault["pending"])
        return seen

    def intact(self, seen, old, new):
        problems = super().intact(seen, old, new)
        for credential, working in seen["working_secrets"].items():
            if not working:
                problems.append(f"no secret the agency holds opens {credential}")
        return problems

    def converged(self, seen, new):
        problems = [] if seen["site"] == new["site"] else [f"the site shows {seen['site']}"]
        for credential, working in seen["working_secrets"].items():
            if working != ["vault"]:
                problems.append(f"{credential} opens with {working}, not only the vault's secret")
        if seen["pending"]:
            problems.append(f"staged secrets left in the vault: {seen['pending']}")
        return problems


WORKFLOWS = {w.name: w for w in (Updates(), CmsUpdate(), Deploy(), Rotation())}


def _read(*paths):
    return "".join(open(os.path.join(ROOT, p), encoding="utf-8").read() for p in paths)


def _cached(name):
    with open(os.path.join(CACHE, name), encoding="utf-8") as handle:
        return handle.read()


def _store(name, text):
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, name), "w", encoding="utf-8") as handle:
        handle.write(text)


def prepared_image(workflow):
    """The workflow's starting point as an image, built once per change of its inputs."""
    base = podman("image", "inspect", "-f", "{{.Id}}", IMAGE).stdout.strip()
    digest = hashlib.sha256((base + workflow.inputs()).encode()).hexdigest()[:12]
    tag = f"localhost/twovalue-sla/fault-{workflow.name}:{digest}"
    have_files = all(os.path.exists(path) for path in workflow.side_files())
    if have_files and podman("image", "exists", tag, check=False).returncode == 0:
        return tag
    print(f"  preparing the {workflow.name} starting point ({tag})", flush=True)
    with container(
        IMAGE, f"{workflow.name}-prepare", "http://localhost/mediawiki/index.php/Main_Page"
    ) as host:
        start = workflow.prepare(host.name)
        if hasattr(workflow, "after_prepare"):
            workflow.after_prepare(host.name)
        if start is not None:
            with tempfile.TemporaryDirectory(prefix="sla-fault-prepare-") as directory:
                rc, output, _, _ = run(workflow, host, directory, "prepare", extra=start)
                if rc != 0:
                    raise RuntimeError(f"preparing {workflow.name} failed:\n{output[-3000:]}")
        podman("stop", "-t", "30", host.name)
        podman("commit", "-q", host.name, tag)
    # Older starting points of this workflow are of no further use.
    current = podman("image", "inspect", "-f", "{{.Id}}", tag).stdout.strip()
    for old in podman("images", "-q", "--filter", f"reference={tag.split(':')[0]}").stdout.split():
        if not current.startswith(old):
            podman("rmi", "-f", old, check=False)
    return tag


# The controller killed at the boundary; the connection cut while the command runs; cut
# once it has finished, so the host did the work and the controller never hears of it.
KINDS = ("kill", "cut", "reply")
# How a faulted run must end: its exit status and what it says. ansible-core's workers
# run in their own session, so the kill takes the worker (and its ssh) and ansible-playbook
# reports the dead worker; a cut connection makes the host unreachable. A run that ends
# otherwise (0 above all) absorbed the fault or failed for another reason.
FAULTED_EXIT = {"kill": 1, "cut": 4, "reply": 4}
FAULTED_SAYS = {
    "kill": "A worker was found in a dead state",
    "cut": "UNREACHABLE!",
    "reply": "UNREACHABLE!",
}


def ends_as_fault(kind, rc, output):
    return rc == FAULTED_EXIT[kind] and FAULTED_SAYS[kind] in output


# --- trials ----------------------------------------------------------------------------------


@dataclass
class Trial:
    workflow: str
    boundary: int
    kind: str
    where: str
    fired: bool = False
    rc: int | None = None
    ended_as_faulted: bool = False
    broken: list[str] = field(default_factory=list)
    converged: bool = False
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Reference:
    old: dict
    new: dict
    boundaries: list[dict]


def reference(workflow, image, verbose=False):
    with (
        container(image, f"{workflow.name}-ref", workflow.url) as host,
        tempfile.TemporaryDirectory(prefix="sla-fault-") as directory,
    ):
        old = workflow.observe(host, directory)
        rc, output, boundaries, _ = run(workflow, host, directory, "reference")
        if verbose:
            print(output)
        if rc != 0:
            raise RuntimeError(f"the {workflow.name} reference run failed:\n{output[-4000:]}")
        new = workflow.observe(host, directory)
        if old == new:
            raise RuntimeError(f"the {workflow.name} reference run changed nothing: {old}")
        problems = trail_problems(directory)
        if problems:
            raise RuntimeError(f"the {workflow.name} reference trail: {problems}")
    return Reference(old, new, boundaries)


def trial(workflow, image, ref, boundary, kind, verbose=False):
    where = ref.boundaries[boundary - 1]
    result = Trial(
        workflow.name, boundary, kind, f"{where['task']} / {where['step']} ({where['op']})"
    )
    start = time.monotonic()
    with (
        container(image, f"{workflow.name}-{boundary}-{kind}", workflow.url) as host,
        tempfile.TemporaryDirectory(prefix="sla-fault-") as directory,
    ):
        result.rc, output, _, result.fired = run(
            workflow, host, directory, "faulted", fault=(boundary, kind)
        )
        if verbose:
            print(output)
        if not result.fired:
            result.problems.append("the fault did not fire: the run had fewer boundaries")
        elif not ends_as_fault(kind, result.rc, output):
            result.problems.append(
                f"the faulted run exited {result.rc}; a {kind} fault ends it with "
                f"{FAULTED_EXIT[kind]}, saying {FAULTED_SAYS[kind]!r}: {_tail(output)}"
            )
        result.ended_as_faulted = result.fired and ends_as_fault(kind, result.rc, output)
        quiesce(host)
        if kind != "kill":
            restore_ssh(host)
        seen = workflow.observe(host, directory)
        result.broken = workflow.intact(seen, ref.old, ref.new) + trail_problems(directory)
        rc, output, _, _ = run(workflow, host, directory, "rerun")
        if verbose:
            print(output)
        seen = workflow.observe(host, directory)
        not_converged = workflow.converged(seen, ref.new) + trail_problems(directory)
        if rc != 0:
            not_converged.insert(0, f"the rerun exited {rc}: {_tail(output)}")
        result.converged = not not_converged
        result.problems += not_converged
    result.seconds = time.monotonic() - start
    return result


def _tail(output):
    lines = [line for line in output.splitlines() if "fatal:" in line or "FAILED" in line]
    return " | ".join(lines[-3:])[:600] or output[-600:]


# --- command line ----------------------------------------------------------------------------

# The boundaries `make test` runs: one per workflow, the step that changes the host.
REDUCED = {"deploy": "deploy_release", "rotation": "credential_set"}


def reduced_boundaries(workflow, ref):
    wanted = REDUCED.get(workflow.name)
    return [b["n"] for b in ref.boundaries if wanted and wanted in b["step"]][:1]


def run_workflow(workflow, boundaries=None, kinds=KINDS, verbose=False, reduced=False):
    with heavy_lock():
        image = prepared_image(workflow)
        ref = reference(workflow, image, verbose)
    print(f"{workflow.name}: {len(ref.boundaries)} boundaries", flush=True)
    for b in ref.boundaries:
        print(f"    {b['n']:3} {b['op']:5} {b['task']} / {b['step']}")
    if reduced:
        boundaries = reduced_boundaries(workflow, ref)
    chosen = boundaries or [b["n"] for b in ref.boundaries]
    trials = []
    for boundary in chosen:
        for kind in kinds:
            with heavy_lock():
                result = trial(workflow, image, ref, boundary, kind, verbose)
            trials.append(result)
            state = "BROKEN " + "; ".join(result.broken) if result.broken else "intact"
            again = "rerun converged" if result.converged else "RERUN DID NOT CONVERGE"
            print(f"  {kind:4} at {boundary:3} {result.where}: {state}, {again} "
                  f"({result.seconds:.0f} s)", flush=True)  # fmt: skip
            for problem in result.problems:
                print(f"      {problem}")
    return ref, trials


def summary(name, ref, trials):
    kinds = {k: sum(t.kind == k for t in trials) for k in KINDS}
    broken = sum(bool(t.broken) for t in trials)
    converged = sum(t.converged for t in trials)
    tried = len({t.boundary for t in trials})
    return (
        f"fault injection {name}: {tried} of {len(ref.boundaries)} boundaries tried, "
        f"faults {kinds['kill']} kill + {kinds['cut']} cut + {kinds['reply']} reply lost, "
        f"broken states {broken}, "
        f"reruns converged {converged} of {len(trials)}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workflows", nargs="*", help=f"of {', '.join(WORKFLOWS)} (default: all)")
    parser.add_argument(
        "--reduced", action="store_true", help="one boundary of deploy and rotation"
    )
    parser.add_argument("--at", type=int, action="append", help="only this boundary (repeatable)")
    parser.add_argument("--kind", choices=KINDS, action="append", help="only this fault")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every run's output")
    args = parser.parse_args(argv)
    names = args.workflows or (list(REDUCED) if args.reduced else list(WORKFLOWS))
    unknown = set(names) - set(WORKFLOWS)
    if unknown:
        parser.error(f"unknown workflows: {', '.join(sorted(unknown))}")
    lines, failed = [], False
    try:
        for name in names:
            ref, trials = run_workflow(
                WORKFLOWS[name], args.at, tuple(args.kind or KINDS),
                args.verbose, args.reduced,
            )  # fmt: skip
            lines.append(summary(name, ref, trials))
            failed |= any(
                t.broken or not t.converged or not t.fired or not t.ended_as_faulted for t in trials
            )
    finally:
        podman("network", "rm", NETWORK, check=False)
    for line in lines:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
