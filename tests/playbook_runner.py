# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ansible-playbook with the collection's environment, for tests, benchmarks and the harness.

Every run uses the checkout through .cache/collections, writes its audit trail
where the caller says, and sees no SLA_* setting of the shell that started it:
an operator's SLA_AUDIT_KEY_FILE or a molecule scenario's SLA_ADVICE_DIR would
otherwise leak into a run that did not ask for it. Output carries no colour
codes, so assertions read plain text.

Import this module with the directory ``tests`` on ``sys.path``, like
``polling`` (pytest's conftest puts it there; scripts and molecule verifiers
add it themselves).
"""

import configparser
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")
CONFIG = os.path.join(ROOT, "ansible.cfg")
AUDIT_CALLBACK = "twovalue.sla.audit"
# The venv's ansible-playbook, whether or not the venv is activated.
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
# The audit trail's command-line tool, run by module name as the README shows it.
AUDIT_CLI = "ansible_collections.twovalue.sla.plugins.plugin_utils.audit_cli"


def link_collection():
    """Make the checkout the collection twovalue.sla under .cache/collections, for
    ansible and for Python imports, as scripts/setup.sh does (when it has not run yet)."""
    link = os.path.join(COLLECTIONS, "ansible_collections", "twovalue", "sla")
    if not os.path.lexists(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    if COLLECTIONS not in sys.path:
        sys.path.insert(0, COLLECTIONS)


def collection_env(audit_dir, *, config=CONFIG, audit_callback=True, **settings):
    """The environment of a run that records into ``audit_dir``.

    ``config`` is the ansible.cfg to use (None: whatever ansible finds from the
    working directory). ``settings`` are further variables (ANSIBLE_*, SLA_*);
    one set to None is left unset.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("SLA_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=COLLECTIONS,
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        SLA_AUDIT_DIR=str(audit_dir),
    )
    if config is None:
        env.pop("ANSIBLE_CONFIG", None)
    else:
        env["ANSIBLE_CONFIG"] = str(config)
    if audit_callback:
        env["ANSIBLE_CALLBACKS_ENABLED"] = AUDIT_CALLBACK
    else:
        if config == CONFIG:
            raise ValueError("the project's ansible.cfg enables the audit callback: pass config")
        env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    for name, value in settings.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = str(value)
    return env


def project_config(directory, audit_callback=True):
    """The project's ansible.cfg written into ``directory``, usable from any working
    directory, with or without the audit callback; returns its path."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(CONFIG)
    parser["defaults"]["collections_path"] = COLLECTIONS
    if not audit_callback:
        parser.remove_option("defaults", "callbacks_enabled")
    path = os.path.join(directory, f"ansible-{'audit' if audit_callback else 'plain'}.cfg")
    with open(path, "w", encoding="utf-8") as handle:
        parser.write(handle)
    return path


def playbook_args(playbook, *options, inventory=None, extra_vars=None, verbosity=0):
    """ansible-playbook's arguments: ``extra_vars`` a dict passed as JSON, ``verbosity`` a count."""
    args = [] if inventory is None else ["-i", str(inventory)]
    args += [str(playbook), *(str(option) for option in options)]
    if extra_vars:
        args += ["-e", json.dumps(extra_vars)]
    if verbosity:
        args.append("-" + "v" * verbosity)
    return args


def run_playbook(args, env, *, cwd=ROOT, timeout=None, keep=None):
    """Run ansible-playbook to its end; its output captured as text, and also written to
    ``keep`` when given, so a failed test leaves what the run printed."""
    completed = subprocess.run(
        [ANSIBLE_PLAYBOOK, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if keep is not None:
        with open(keep, "w", encoding="utf-8") as handle:
            handle.write(completed.stdout + completed.stderr)
    return completed


def start_playbook(args, env, *, cwd=ROOT, **popen):
    """Start ansible-playbook and return the process, for runs that are killed or run side by
    side; ``popen`` says where its output goes (subprocess.Popen's arguments)."""
    return subprocess.Popen([ANSIBLE_PLAYBOOK, *args], cwd=cwd, env=env, **popen)


def run_audit_cli(*args):
    """The audit trail's command-line tool (``verify PATH``, ...) with the collection on the
    path and the caller's environment, whose SLA_AUDIT_* settings it may need."""
    return subprocess.run(
        [sys.executable, "-m", AUDIT_CLI, *(str(arg) for arg in args)],
        env=dict(os.environ, PYTHONPATH=COLLECTIONS),
        capture_output=True,
        text=True,
        check=False,
    )


# --- inside a molecule scenario's verifier ---------------------------------------------------


def scenario_path(*parts):
    """A path in the running scenario's ephemeral directory."""
    return os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], *parts)


def scenario_env(**settings):
    """The environment molecule gives the scenario's own runs: its ansible.cfg, and the
    trail under the ephemeral directory, where converge wrote it."""
    return collection_env(scenario_path("audit"), config=scenario_path("ansible.cfg"), **settings)


def scenario_args(name, *options, **kwargs):
    """The arguments that run the collection's playbook ``name`` on the scenario's hosts."""
    return playbook_args(
        f"twovalue.sla.{name}", *options, inventory=scenario_path("inventory"), **kwargs
    )


def scenario_output(label):
    """Where a verifier keeps what its run ``label`` printed."""
    os.makedirs(scenario_path("runs"), exist_ok=True)
    return scenario_path("runs", f"{label}.out")
