# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The outline's two layouts: whatever the text, it stays text."""

from __future__ import annotations

import html.parser

from ansible_collections.twovalue.sla.plugins.plugin_utils.document_outline import (
    Cell,
    Code,
    Facts,
    Heading,
    Paragraph,
    Table,
    html_page,
    markdown_document,
)

HOSTILE = 'web"1 <b>&</b> | `x` *y* _z_ [l](u) \\'


class _Texts(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts, self.attributes, self.tags = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [value for _name, value in attrs]

    def handle_data(self, data):
        self.texts.append(data)


def test_html_keeps_every_text_and_attribute_as_given():
    blocks = [
        Heading(2, HOSTILE, f"host-{HOSTILE}"),
        Paragraph(HOSTILE),
        Facts(((HOSTILE, HOSTILE),)),
        Table((HOSTILE,), ((Cell(HOSTILE, "warn"),),), HOSTILE),
        Code(HOSTILE),
    ]
    parser = _Texts()
    parser.feed(html_page(HOSTILE, "en", blocks))
    assert "b" not in parser.tags
    # Title, heading, paragraph, fact name and value, header, cell, code.
    assert parser.texts.count(HOSTILE) == 8
    assert f"host-{HOSTILE}" in parser.attributes
    assert HOSTILE in parser.attributes  # the table's class and the cell's label


def test_markdown_escapes_what_would_format_or_split_a_table():
    document = markdown_document(
        [Heading(1, HOSTILE), Table(("a", "b"), ((HOSTILE, Cell("x|y", "met")),), "t")]
    )
    row = document.splitlines()[-1]
    # Only the three cell borders stay unescaped pipes.
    assert row.replace("\\|", "").count("|") == 3
    assert "\\<b>" in row and "\\`x\\`" in row and "\\*y\\*" in row and "\\_z\\_" in row
    assert document.startswith('# web"1 \\<b>&\\</b> \\| ')


def test_a_code_block_cannot_be_closed_by_its_own_text():
    text = "before\n```\nafter ````"
    document = markdown_document([Code(text)])
    assert document == f"`````\n{text}\n`````\n"
    assert markdown_document([Code("plain")]) == "```\nplain\n```\n"
