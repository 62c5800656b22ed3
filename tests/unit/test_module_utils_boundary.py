# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/ holds only what runs on a managed host.

A host gets a module and the module_utils it imports, packed by AnsiballZ with
a stub ``ansible`` package: it has ``ansible.module_utils`` but none of
ansible-core's controller packages, none of the collection's other plugin
folders, and none of the controller's Python requirements (python-debian
above all). Each module_utils file is imported in a fresh interpreter where
those raise ImportError, so a file that needs the controller fails here
instead of on a customer's server. Controller-side code lives in plugin_utils.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULE_UTILS = ROOT / "plugins" / "module_utils"
MODULES = ROOT / "plugins" / "modules"
# tests/conftest.py links the checkout here as ansible_collections.twovalue.sla.
COLLECTIONS = ROOT / ".cache" / "collections"
PACKAGE = "ansible_collections.twovalue.sla.plugins.module_utils"

HOST_FILES = sorted(MODULE_UTILS.glob("*.py"))

# Runs in the child interpreter: argv is the collections path, then either
# "import <module>" or "run <script> <args...>".
ON_A_HOST = r"""
import importlib, importlib.abc, importlib.util, re, runpy, sys, types

collections_path, how, target, *script_args = sys.argv[1:]
# The controller's own requirements; a managed host has none of them.
CONTROLLER_REQUIREMENTS = {"debian", "yaml", "jinja2", "matplotlib", "psycopg"}
OTHER_PLUGIN_FOLDERS = re.compile(r"ansible_collections\.[^.]+\.[^.]+\.plugins\.(?!module_utils(\.|$))")
# A module_utils file may use ansible.module_utils and its own folder; the audit
# command line (run) may use the collection but no ansible at all.
ansible_allowed = folders_blocked = how == "import"


class ControllerOnly(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top == "ansible":
            needs_controller = not ansible_allowed or not (
                name == "ansible.module_utils" or name.startswith("ansible.module_utils.")
            )
        else:
            needs_controller = top in CONTROLLER_REQUIREMENTS or (
                folders_blocked and bool(OTHER_PLUGIN_FOLDERS.match(name))
            )
        if needs_controller:
            raise ImportError(f"{name} is not on a managed host")
        return None


loaded = sorted(
    name for name in sys.modules
    if name.partition(".")[0] in CONTROLLER_REQUIREMENTS | {"ansible"}
)
if loaded:
    sys.exit(f"already imported before the check could block them: {loaded}")
if ansible_allowed:
    # AnsiballZ's stub: the package's folders, without the controller's __init__.
    spec = importlib.util.find_spec("ansible")
    stub = types.ModuleType("ansible")
    stub.__path__ = list(spec.submodule_search_locations)
    stub.__file__ = spec.origin
    sys.modules["ansible"] = stub
sys.meta_path.insert(0, ControllerOnly())
if how == "import":
    sys.path.insert(0, collections_path)
    importlib.import_module(target)
else:
    sys.argv = [target, *script_args]
    runpy.run_path(target, run_name="__main__")
"""


def on_a_host(how, target, *args):
    return subprocess.run(
        [sys.executable, "-c", ON_A_HOST, str(COLLECTIONS), how, str(target), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_module_utils_has_files_to_check():
    assert {"host_ops.py", "host_state.py", "apt_apply.py"} <= {path.name for path in HOST_FILES}


@pytest.mark.parametrize("path", HOST_FILES, ids=lambda path: path.name)
def test_each_module_utils_file_imports_without_the_controller(path):
    result = on_a_host("import", f"{PACKAGE}.{path.stem}")
    assert result.returncode == 0, (
        f"plugins/module_utils/{path.name} needs what a managed host does not have; "
        f"move it to plugins/plugin_utils/ or drop the import:\n{result.stderr[-2000:]}"
    )


def test_the_check_refuses_what_a_host_lacks():
    """The blocker itself: controller packages and python-debian do not import."""
    for module in ("ansible.errors", "ansible.plugins.action", "debian.debian_support"):
        result = on_a_host("import", module)
        assert result.returncode != 0 and "is not on a managed host" in result.stderr, module
    result = on_a_host("import", "ansible.module_utils.basic")
    assert result.returncode == 0, result.stderr[-2000:]


def _collection_imports(path):
    """module_utils names a file imports from this collection."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == PACKAGE:
                names.update(alias.name for alias in node.names)
            elif node.module.startswith(PACKAGE + "."):
                names.add(node.module.rpartition(".")[2])
    return names


def _host_modules():
    return [path for path in MODULES.glob("*.py") if "AnsibleModule(" in path.read_text()]


def test_every_module_utils_file_is_used_by_a_host_module():
    """What no host module imports, directly or through module_utils, is controller code."""
    assert len(_host_modules()) >= 5
    reached = set()
    pending = [name for path in _host_modules() for name in _collection_imports(path)]
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending.extend(_collection_imports(MODULE_UTILS / f"{name}.py"))
    unused = sorted(path.name for path in HOST_FILES if path.stem not in reached)
    assert not unused, f"no host module imports {unused}; controller code belongs in plugin_utils"


def test_the_audit_command_line_needs_no_ansible(tmp_path):
    """bin/sla_audit.py verifies a trail where neither ansible nor its requirements exist."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.path.insert(0, sys.argv[1]);"
            "from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_file import AuditTrail;"
            "AuditTrail(sys.argv[2]).append({'kind': 'run_start', 'customer': 'acme'})",
            str(COLLECTIONS),
            str(tmp_path / "acme.jsonl"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    result = on_a_host("run", ROOT / "bin" / "sla_audit.py", "verify", str(tmp_path / "acme.jsonl"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith(f"OK {tmp_path / 'acme.jsonl'}: 1 records"), result.stdout
