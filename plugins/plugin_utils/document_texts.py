# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The words of every document the customer reads, one file per language.

``texts/<language>.yml`` beside this module holds a ``common`` table, shared
by all documents, and one table per document (``system_docs``,
``sla_report``); a new document, such as the advice, adds its own table.
``texts_of(document, language)`` gives the common table merged with the
document's. Every language file has the same keys with the same
placeholders, and every key is used; a unit test holds the files to that.
"""

from __future__ import annotations

import functools
import os

import yaml

LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"
COMMON = "common"
_DIRECTORY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "texts")


def texts_file(language):
    return os.path.join(_DIRECTORY, f"{language}.yml")


@functools.cache
def _tables(language):
    with open(texts_file(language), encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def texts_of(document, language):
    """The words ``document`` uses in ``language``; the caller checks the language first."""
    tables = _tables(language)
    return {**tables[COMMON], **tables[document]}


def decimal(value, words, digits=1):
    """``value`` with ``digits`` decimals and the language's decimal separator."""
    return f"{value:.{digits}f}".replace(".", words["decimal_separator"])
