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

from playbook_runner import ROOT, link_collection

link_collection()
_RECORDED = os.path.join(ROOT, "tests", "unit", "plugins", "plugin_utils")
if _RECORDED not in sys.path:
    sys.path.append(_RECORDED)
