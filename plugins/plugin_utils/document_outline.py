# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A document as an outline of blocks, laid out as one HTML page or as Markdown.

The SLA report and the system documentation are both written this way: a
document builds its outline once (headings, paragraphs, fact lists, tables,
charts) in the reader's language, and the two layouts only place it. The HTML
and the Markdown of one document therefore never say different things.

The HTML page is self-contained (inline styles, no script, font or image
fetched), reads on a phone (a table row becomes a card below 40 rem) and
prints on A4 without breaking a row. Both layouts are pure functions of the
outline, so the same outline gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import html
import re


@dataclasses.dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclasses.dataclass(frozen=True)
class Paragraph:
    text: str


@dataclasses.dataclass(frozen=True)
class Code:
    text: str
    wrap: bool = True


@dataclasses.dataclass(frozen=True)
class Cell:
    text: str
    # met, warn, not_met or unknown: shown as a badge in HTML, as the word in Markdown.
    status: str = ""


@dataclasses.dataclass(frozen=True)
class Table:
    headers: tuple
    rows: tuple
    name: str


def table(words, header_keys, rows, name):
    """A table whose headers are the reader's words for ``header_keys``."""
    return Table(tuple(words[key] for key in header_keys), tuple(rows), name)


@dataclasses.dataclass(frozen=True)
class Facts:
    pairs: tuple


@dataclasses.dataclass(frozen=True)
class Chart:
    svg: str
    caption: str


# --------------------------------------------------------------------------- HTML

CSS = """
:root { color-scheme: light; --ink: #1c1c1c; --muted: #555; --line: #d0d0d0;
  --met: #1b5e20; --met-bg: #e3f2e5; --not-met: #b71c1c; --not-met-bg: #fde7e7;
  --warn: #7a4f00; --warn-bg: #fff3d6; --unknown: #555; --unknown-bg: #eee; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
main { max-width: 64rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.75rem; padding-top: 0.5rem;
  border-top: 1px solid var(--line); }
h3 { font-size: 1.05rem; margin: 1.5rem 0 0.5rem; }
p { margin: 0.5rem 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.25rem 1rem;
  margin: 0 0 1rem; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: 0.5rem 0 1rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.875rem; }
th, td { text-align: left; vertical-align: top; padding: 0.375rem 0.5rem;
  border-bottom: 1px solid var(--line); }
th { background: #f4f4f4; font-weight: 600; }
table.advised td:last-child, table.migration td:last-child, table.rollbacks td:last-child
  { min-width: 12rem; }
.badge { display: inline-block; padding: 0 0.5rem; border-radius: 0.75rem; font-weight: 600;
  white-space: nowrap; }
.badge.met { color: var(--met); background: var(--met-bg); }
.badge.met::before { content: "\\2714\\00a0"; }
.badge.not_met { color: var(--not-met); background: var(--not-met-bg); }
.badge.not_met::before { content: "\\2718\\00a0"; }
.badge.warn { color: var(--warn); background: var(--warn-bg); }
.badge.warn::before { content: "\\26a0\\00a0"; }
.badge.unknown { color: var(--unknown); background: var(--unknown-bg); }
figure { margin: 1rem 0; }
figure svg.chart { display: block; width: 100%; height: auto; max-width: 40rem; }
figcaption { color: var(--muted); font-size: 0.875rem; margin-top: 0.25rem; }
code { font-family: "DejaVu Sans Mono", ui-monospace, monospace; font-size: 0.875rem; }
pre { background: #f4f4f4; padding: 0.5rem 0.75rem; overflow-x: auto; margin: 0.5rem 0; }
pre.hash { white-space: pre-wrap; word-break: break-all; }
@media (max-width: 40rem) {
  body { font-size: 15px; }
  main { padding: 0.75rem; }
  /* A row becomes a card of label: value lines; no sideways scrolling on a phone. */
  .table-wrap table, .table-wrap tbody, .table-wrap tr, .table-wrap td { display: block; }
  .table-wrap thead { display: none; }
  .table-wrap tr { border-bottom: 1px solid var(--line); padding: 0.375rem 0; }
  .table-wrap td { border: 0; padding: 0.125rem 0; min-width: 0 !important; }
  .table-wrap td:empty { display: none; }
  .table-wrap td::before { content: attr(data-label) ": "; font-weight: 600; }
  /* Fingerprints, package versions and addresses are long words: break them, not the page. */
  dl.facts { grid-template-columns: minmax(0, 40%) minmax(0, 1fr); }
  dl.facts dt, dl.facts dd, .table-wrap td { overflow-wrap: anywhere; }
}
@media print {
  @page { size: A4; margin: 15mm 12mm; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; page-break-after: avoid; }
  .table-wrap { overflow: visible; }
  table { font-size: 8.5pt; }
  thead { display: table-header-group; }
  tr, figure, pre { break-inside: avoid; page-break-inside: avoid; }
  figure svg.chart { max-width: 14cm; }
  .badge { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  pre { white-space: pre-wrap; word-break: break-all; }
}
""".strip()


def html_text(text):
    """``text`` as HTML text or attribute value: every character that HTML gives a meaning escaped."""
    return html.escape(text, quote=True)


def _html_cell(cell, tag, label=None):
    # The label heads the cell when a phone shows the row as a card.
    opening = f'<{tag} data-label="{html_text(label)}">' if label else f"<{tag}>"
    if isinstance(cell, Cell):
        content = html_text(cell.text)
        if cell.status:
            content = f'<span class="badge {html_text(cell.status)}">{content}</span>'
    else:
        content = html_text(str(cell))
    return f"{opening}{content}</{tag}>"


def html_block(block):
    if isinstance(block, Heading):
        anchor = f' id="{html_text(block.anchor)}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{html_text(block.text)}</h{block.level}>"
    if isinstance(block, Paragraph):
        return f"<p>{html_text(block.text)}</p>"
    if isinstance(block, Code):
        css = "hash" if block.wrap else "command"
        return f'<pre class="{css}"><code>{html_text(block.text)}</code></pre>'
    if isinstance(block, Facts):
        pairs = "".join(
            f"<dt>{html_text(name)}</dt><dd>{html_text(value)}</dd>" for name, value in block.pairs
        )
        return f'<dl class="facts">{pairs}</dl>'
    if isinstance(block, Chart):
        return f"<figure>{block.svg}<figcaption>{html_text(block.caption)}</figcaption></figure>"
    if isinstance(block, Table):
        head = "".join(_html_cell(header, "th") for header in block.headers)
        body = "\n".join(
            "<tr>"
            + "".join(
                _html_cell(cell, "td", header)
                for cell, header in zip(row, block.headers, strict=True)
            )
            + "</tr>"
            for row in block.rows
        )
        return (
            f'<div class="table-wrap"><table class="{html_text(block.name)}">'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>"
        )
    raise TypeError(f"no HTML for {block!r}")


# --------------------------------------------------------------------------- Markdown

# ">" and "#" only matter at the start of a line, where no cell or sentence starts with them.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<|])")


def _markdown_text(text):
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ")


def _markdown_cell(cell):
    return _markdown_text(cell.text if isinstance(cell, Cell) else str(cell))


def markdown_block(block):
    if isinstance(block, Heading):
        return f"{'#' * block.level} {_markdown_text(block.text)}"
    if isinstance(block, Paragraph):
        return _markdown_text(block.text)
    if isinstance(block, Code):
        # A fence longer than any run of backticks in the text, so the text cannot close it.
        fence = "`" * max([3, *(len(run) + 1 for run in re.findall("`+", block.text))])
        return f"{fence}\n{block.text}\n{fence}"
    if isinstance(block, Facts):
        return "\n".join(
            f"- **{_markdown_text(name)}**: {_markdown_text(value)}" for name, value in block.pairs
        )
    if isinstance(block, Table):
        lines = [
            "| " + " | ".join(_markdown_cell(header) for header in block.headers) + " |",
            "|" + "---|" * len(block.headers),
        ]
        lines += [
            "| " + " | ".join(_markdown_cell(cell) for cell in row) + " |" for row in block.rows
        ]
        return "\n".join(lines)
    raise TypeError(f"no Markdown for {block!r}")


def html_page(title, language, blocks):
    """One self-contained page: readable on a phone, and printable through its print styles."""
    body = "\n".join(html_block(block) for block in blocks)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html_text(title)}</title>\n<style>\n{CSS}\n</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )


def markdown_document(blocks):
    """The same outline for a docs repository or an e-mail; charts are left to the HTML."""
    return "\n\n".join(markdown_block(block) for block in blocks) + "\n"
