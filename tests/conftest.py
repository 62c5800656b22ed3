"""Make the checkout importable as ansible_collections.twovalue.sla.

Tests import the collection by its full name so they exercise exactly what
ships. The link lives under .cache/ and is rebuilt when missing.
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
