"""Make the checkout importable as ansible_collections.twovalue.sla.

Tests import the collection by its full name so they exercise exactly what
ships. The link lives under .cache/ and is rebuilt when missing.

The recorded quarter (``sla_report_trail``) and the recorded customer
(``system_docs_fixture``) beside the renderers' unit tests also feed the
actions' tests and the browser and playbook runs; their folder is put on the
path so every test imports them by the same name.
"""

import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_COLLECTIONS = os.path.join(_ROOT, ".cache", "collections")
_LINK = os.path.join(_COLLECTIONS, "ansible_collections", "twovalue", "sla")

if not os.path.islink(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(_ROOT, _LINK)
if _COLLECTIONS not in sys.path:
    sys.path.insert(0, _COLLECTIONS)
_RECORDED = os.path.join(_ROOT, "tests", "unit", "plugins", "plugin_utils")
if _RECORDED not in sys.path:
    sys.path.append(_RECORDED)
