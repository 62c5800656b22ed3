# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input catalogue runs reduced by default; `-m full` (or any marker
expression naming `full`) selects the whole catalogue, reduced cases included."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def pytest_collection_modifyitems(config, items):
    if "full" in (config.option.markexpr or ""):
        return
    kept, dropped = [], []
    for item in items:
        only_full = item.get_closest_marker("full") and not item.get_closest_marker("reduced")
        (dropped if only_full else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
