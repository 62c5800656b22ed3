# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Advice documents on the controller: one Markdown and one JSON file per host and activity."""

from __future__ import annotations

import json
import os

from ansible_collections.twovalue.sla.plugins.module_utils.atomic_write import atomic_write
from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import (
    Table,
    markdown_block,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.output_masking import mask_document


def advice_paths(advice_dir, customer, host, activity, has_advice):
    """The host's advice files for an activity; stale ones are removed when nothing is advised.

    Advice that no longer holds is withdrawn, not left to mislead.
    """
    base = os.path.join(advice_dir, customer, f"{host}-{activity}")
    paths = [f"{base}.md", f"{base}.json"]
    if has_advice:
        return paths
    for stale in paths:
        if os.path.exists(stale):
            os.remove(stale)
    return []


def advice_document(plan, customer, host, tier, activity, **fields):
    """A planner's JSON advice: who and what it is for, when it was decided, then ``fields``."""
    document = {
        "customer": customer,
        "host": host,
        "tier": tier,
        "activity": activity,
        "change_set": plan["change_set"],
        "decided_at": plan["now"],
        "next_window": plan["next_window"],
        **fields,
    }
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def markdown_table(headers, rows):
    """An advice table, escaped like every document: a ``|`` in a reason stays in its cell."""
    return markdown_block(Table(tuple(headers), tuple(tuple(row) for row in rows), "advice"))


def write_text(path, text):
    """Replace ``path`` atomically: a reader never sees half an advice document.

    Whatever secret the running action knows is masked first.
    """
    text = mask_document(text)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write(path, text)


def holds(path, text):
    """Whether ``path`` already holds exactly ``text``: an unchanged document is not rewritten."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read() == mask_document(text)
    except OSError:
        return False


def write_changed(documents, check_mode):
    """Write each ``(path, text)`` whose file does not hold it yet; in check mode none.

    Returns whether any differed, which is the task's ``changed``.
    """
    stale = [(path, text) for path, text in documents if not holds(path, text)]
    if not check_mode:
        for path, text in stale:
            write_text(path, text)
    return bool(stale)
