"""The system documentation's HTML in Debian's headless Chromium, on a phone and in print.

Uses the SLA report test's browser over the DevTools pipe; the page is the
recorded customer of the unit tests.
"""

import base64
import re

import pytest
import system_docs_fixture as recorded
from ansible_collections.twovalue.sla.plugins.action.system_docs import (
    CMS_CATALOGUE,
    STACK_CATALOGUE,
    load_catalogue_file,
    trail_records,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.cms_plan import KINDS as CMS_KINDS
from ansible_collections.twovalue.sla.plugins.plugin_utils.system_docs import (
    STACK_PRODUCTS,
    build_docs,
    render_documents,
)
from test_sla_report_chromium import PHONE, _open, _problems, browser  # noqa: F401

DOC_FACTS = """
(() => {
  const visible = (element) => {
    if (!element) return false;
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const stacks = [...document.querySelectorAll("table.stack")];
  return {
    title: document.title,
    stacks: stacks.length,
    stacksVisible: stacks.filter(visible).length,
    stackText: stacks.map((table) => table.innerText).join("\\n"),
    endOfLife: [...document.querySelectorAll(".badge.not_met")].map((b) => b.innerText),
    pageWidth: document.documentElement.scrollWidth,
    resources: performance.getEntriesByType("resource").length,
  };
})()
"""


@pytest.fixture(scope="module")
def docs_page(tmp_path_factory):
    directory = tmp_path_factory.mktemp("chromium-docs")
    trail = directory / "acme.jsonl"
    recorded.write_trail(trail)
    records, trail_file = trail_records(str(trail), None)
    data = build_docs(
        recorded.CUSTOMER,
        recorded.TIER,
        recorded.HOSTS,
        load_catalogue_file(STACK_CATALOGUE, STACK_PRODUCTS),
        load_catalogue_file(CMS_CATALOGUE, CMS_KINDS),
        recorded.TODAY,
        records=records,
        people=recorded.PEOPLE,
        trail_file=trail_file,
    )
    page = directory / "system-documentation.html"
    page.write_text(render_documents(data)["system-documentation"]["html"], encoding="utf-8")
    return page


def test_the_documentation_reads_on_a_phone(browser, docs_page, tmp_path):  # noqa: F811
    target, session = _open(browser, docs_page)
    facts = browser.evaluate(session, DOC_FACTS)
    screenshot = base64.b64decode(
        browser.call("Page.captureScreenshot", session, format="png")["data"]
    )
    problems = _problems(browser.events)
    browser.call("Target.closeTarget", targetId=target)

    (tmp_path / "phone.png").write_bytes(screenshot)
    assert screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    assert problems == []
    assert facts["title"] == "System documentation: acme"
    assert facts["stacks"] == facts["stacksVisible"] == 2
    assert "8.2.32" in facts["stackText"] and "10.11.18" in facts["stackText"]
    assert "END OF LIFE since 2025-12-31" in facts["endOfLife"]
    assert facts["pageWidth"] <= PHONE["width"]
    assert facts["resources"] == 0


def test_the_documentation_prints(browser, docs_page, tmp_path):  # noqa: F811
    target, session = _open(browser, docs_page, media="print")
    pdf = base64.b64decode(
        browser.call("Page.printToPDF", session, printBackground=True, preferCSSPageSize=True)[
            "data"
        ]
    )
    problems = _problems(browser.events)
    browser.call("Target.closeTarget", targetId=target)
    (tmp_path / "docs.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) >= 2
    assert problems == []
