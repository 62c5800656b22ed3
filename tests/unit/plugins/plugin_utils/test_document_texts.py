# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The texts files: every key in every language, with the same placeholders, and none unused."""

from __future__ import annotations

import ast
import pathlib
import string

import pytest
import yaml
from ansible_collections.twovalue.sla.plugins.plugin_utils import (
    document_texts,
    sla_report_charts,
    sla_report_render,
    system_docs,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.document_texts import (
    COMMON,
    LANGUAGES,
    decimal,
    texts_file,
    texts_of,
)

# The modules that look up each table's keys.
READERS = {
    "system_docs": (system_docs,),
    "sla_report": (sla_report_render, sla_report_charts),
}
READERS[COMMON] = (document_texts, *(module for table in READERS.values() for module in table))


def _tables(language):
    return yaml.safe_load(pathlib.Path(texts_file(language)).read_text(encoding="utf-8"))


def _shape(table):
    """Each key with its placeholders, or with the shape of its nested table."""
    return {
        key: _shape(value)
        if isinstance(value, dict)
        else sorted(field for _, field, _, _ in string.Formatter().parse(value) if field)
        for key, value in table.items()
    }


def _literals(modules):
    found = set()
    for module in modules:
        tree = ast.parse(pathlib.Path(module.__file__).read_text(encoding="utf-8"))
        found.update(
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        )
    return found


def test_every_language_has_every_key_with_the_same_placeholders():
    english = _shape(_tables("en"))
    assert set(english) == set(READERS)
    for language in LANGUAGES:
        assert _shape(_tables(language)) == english, language


def test_no_language_file_is_left_out():
    directory = pathlib.Path(texts_file("en")).parent
    assert sorted(path.stem for path in directory.glob("*.yml")) == sorted(LANGUAGES)


def test_a_document_does_not_shadow_a_shared_text():
    tables = _tables("en")
    for document in set(tables) - {COMMON}:
        assert not set(tables[document]) & set(tables[COMMON]), document


@pytest.mark.parametrize("table", sorted(READERS))
def test_every_key_is_looked_up(table):
    # A nested table is looked up by a value from the data (a state, a
    # decision), so its own keys are held only to being in every language.
    used = _literals(READERS[table])
    unused = sorted(key for key in _tables("en")[table] if key not in used)
    assert not unused, f"{table} keys no module looks up: {unused}"


def test_a_document_gets_the_shared_texts_and_its_own():
    report = texts_of("sla_report", "nl")
    assert report["customer"] == "Klant"
    assert report["status"]["pending"] == "open"
    assert "docs_title" not in report


def test_numbers_take_the_language_decimal_separator():
    assert decimal(2.25, texts_of("sla_report", "en")) == "2.2"
    assert decimal(2.75, texts_of("system_docs", "nl"), digits=2) == "2,75"
