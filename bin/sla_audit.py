#!/usr/bin/env python3
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify, export and import twovalue.sla audit trails, with nothing but Python 3.

    python3 bin/sla_audit.py verify out/audit/acme.jsonl [--head HASH] [--key-file FILE]
    python3 bin/sla_audit.py head out/audit/acme.jsonl

Runs from a clone of the repository or from an installed collection; the
command itself is plugin_utils/audit_cli.py (``python3 -m
ansible_collections.twovalue.sla.plugins.plugin_utils.audit_cli`` where the
collection is on the Python path).
"""

import atexit
import os
import shutil
import sys
import tempfile

COLLECTION = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


def _import_root() -> str:
    """A directory under which this collection is ansible_collections.twovalue.sla."""
    parent, name = os.path.split(COLLECTION)
    namespace_parent, namespace = os.path.split(parent)
    if name == "sla" and namespace == "twovalue":
        collections_parent, collections = os.path.split(namespace_parent)
        if collections == "ansible_collections":
            return collections_parent
    # A clone has no ansible_collections/twovalue/ above it: link one for this run.
    root = tempfile.mkdtemp(prefix="sla-audit-")
    atexit.register(shutil.rmtree, root, True)
    os.makedirs(os.path.join(root, "ansible_collections", "twovalue"))
    os.symlink(COLLECTION, os.path.join(root, "ansible_collections", "twovalue", "sla"))
    return root


if __name__ == "__main__":
    sys.path.insert(0, _import_root())
    from ansible_collections.twovalue.sla.plugins.plugin_utils.audit_cli import main

    sys.exit(main())
