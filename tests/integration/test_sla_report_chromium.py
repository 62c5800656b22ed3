"""The SLA report's HTML as a customer sees it: Debian's Chromium, headless.

The browser is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe), so the test needs no port and no extra package,
and it hears every console message and uncaught error of the page. One
browser serves every check; each step has a generous deadline so a busy
two-core machine makes the test slow, never flaky.
"""

import base64
import contextlib
import json
import os
import re
import select
import shutil
import subprocess
import time

import pytest
import sla_report_trail as recorded
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report import load_period
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_report_render import (
    build_report,
    period_bounds,
    render_html,
)
from ansible_collections.twovalue.sla.plugins.plugin_utils.sla_tiers import resolve_targets

STEP_TIMEOUT = 90
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}


class DevTools:
    """Chromium with the DevTools protocol on file descriptors 3 (in) and 4 (out)."""

    def __init__(self, executable, profile, log):
        to_browser_read, self._to_browser = os.pipe()
        self._from_browser, from_browser_write = os.pipe()
        # bash (dash takes single-digit descriptors only) puts the pipe ends where
        # Chromium expects them, then becomes Chromium.
        command = [
            "/bin/bash",
            "-c",
            f'exec "$@" 3<&{to_browser_read} 4>&{from_browser_write}',
            "bash",
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--remote-debugging-pipe",
            f"--user-data-dir={profile}",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            command,
            pass_fds=(to_browser_read, from_browser_write),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        os.close(to_browser_read)
        os.close(from_browser_write)
        self._buffer = b""
        self._next_id = 0
        self.events = []

    def _message(self, deadline):
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if ready:
                chunk = os.read(self._from_browser, 1 << 20)
                if not chunk:
                    raise ConnectionError(f"Chromium closed the pipe (exit {self.process.poll()})")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, session=None, **params):
        self._next_id += 1
        request = {"id": self._next_id, "method": method, "params": params}
        if session:
            request["sessionId"] = session
        os.write(self._to_browser, json.dumps(request).encode() + b"\0")
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            message = self._message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method, session):
        deadline = time.monotonic() + STEP_TIMEOUT
        for index, event in enumerate(self.events):
            if event.get("method") == method and event.get("sessionId") == session:
                return self.events.pop(index)
        while True:
            message = self._message(deadline)
            if message.get("method") == method and message.get("sessionId") == session:
                return message
            self.events.append(message)

    def evaluate(self, session, expression):
        answer = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        assert "exceptionDetails" not in answer, answer
        return answer["result"]["value"]

    def close(self):
        # A browser that is already gone is closed enough; the wait below reaps it.
        with contextlib.suppress(OSError, TimeoutError, ConnectionError, RuntimeError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
        os.close(self._to_browser)
        os.close(self._from_browser)


def _problems(events):
    """Console errors and warnings, uncaught exceptions and browser log errors of the page."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            found.append(params["exceptionDetails"].get("text"))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
            found.append([arg.get("value") for arg in params.get("args", [])])
        elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
            found.append(params["entry"].get("text"))
    return found


PAGE_FACTS = """
(() => {
  const visible = (element) => {
    if (!element) return false;
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(element).visibility !== "hidden";
  };
  const kpis = document.querySelector("table.kpis");
  const charts = [...document.querySelectorAll("figure svg.chart")];
  return {
    title: document.title,
    kpiRows: kpis ? kpis.querySelectorAll("tbody tr").length : 0,
    kpiVisible: visible(kpis),
    kpiText: kpis ? kpis.innerText : "",
    charts: charts.length,
    chartsVisible: charts.filter(visible).length,
    chartWidths: charts.map((svg) => Math.round(svg.getBoundingClientRect().width)),
    chartPaths: charts.map((svg) => svg.querySelectorAll("path").length),
    viewportWidth: window.innerWidth,
    pageWidth: document.documentElement.scrollWidth,
    resources: performance.getEntriesByType("resource").length,
    headHash: (document.querySelector("pre.hash") || {}).textContent,
  };
})()
"""


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    directory = tmp_path_factory.mktemp("chromium-report")
    trail = directory / "acme.jsonl"
    recorded.write_trail(trail)
    targets = resolve_targets(recorded.TIER)
    start, end = period_bounds(*recorded.PERIOD, targets["timezone"])
    data = build_report(load_period(str(trail), start, end), targets, "acme", "pro")
    page = directory / "sla-report-2026-Q1.html"
    page.write_text(render_html(data, "nl"), encoding="utf-8")
    return page, data


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is not installed; scripts/setup.sh installs it"
    directory = tmp_path_factory.mktemp("chromium-profile")
    with open(directory / "chromium.log", "wb") as log:
        devtools = DevTools(executable, directory / "profile", log)
        try:
            yield devtools
        finally:
            devtools.close()


def _open(browser, page, media=None):
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Runtime", "Log", "Page"):
        browser.call(f"{domain}.enable", session)
    browser.call("Emulation.setDeviceMetricsOverride", session, **PHONE)
    if media:
        browser.call("Emulation.setEmulatedMedia", session, media=media)
    browser.events.clear()
    browser.call("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired", session)
    return target, session


def test_the_report_on_a_phone_shows_the_kpi_table_and_the_charts(browser, report_page, tmp_path):
    page, data = report_page
    target, session = _open(browser, page)
    facts = browser.evaluate(session, PAGE_FACTS)
    screenshot = base64.b64decode(
        browser.call("Page.captureScreenshot", session, format="png")["data"]
    )
    problems = _problems(browser.events)
    browser.call("Target.closeTarget", targetId=target)

    shot = tmp_path / "phone.png"
    shot.write_bytes(screenshot)
    assert screenshot.startswith(b"\x89PNG\r\n\x1a\n")
    # A blank 780x1688 page compresses to a few kilobytes; text and a chart do not.
    assert shot.stat().st_size > 30_000
    assert problems == []

    assert facts["title"] == "SLA-rapportage: acme 2026-Q1"
    assert facts["kpiVisible"] is True
    assert facts["kpiRows"] == len(data["kpis"])
    assert "traagste 12 u 15 min 30,5 s" in facts["kpiText"]
    assert facts["charts"] == facts["chartsVisible"] == 2
    assert all(width > 300 for width in facts["chartWidths"]), facts["chartWidths"]
    assert all(paths > 10 for paths in facts["chartPaths"]), facts["chartPaths"]
    # Nothing wider than the phone, and nothing fetched from anywhere.
    assert facts["viewportWidth"] == PHONE["width"]
    assert facts["pageWidth"] <= PHONE["width"]
    assert facts["resources"] == 0
    assert facts["headHash"] == data["trail"]["head"]


def test_the_report_prints(browser, report_page, tmp_path):
    page, _data = report_page
    target, session = _open(browser, page, media="print")
    facts = browser.evaluate(session, PAGE_FACTS)
    pdf = base64.b64decode(
        browser.call("Page.printToPDF", session, printBackground=True, preferCSSPageSize=True)[
            "data"
        ]
    )
    problems = _problems(browser.events)
    browser.call("Target.closeTarget", targetId=target)

    (tmp_path / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 30_000
    # The quarter's tables run over more than one A4 page.
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) >= 2
    assert problems == []
    assert facts["kpiVisible"] is True
    assert facts["charts"] == facts["chartsVisible"] == 2


def test_console_errors_would_be_caught(browser, tmp_path):
    # Without this, "no problems" above could mean "not listening".
    broken = tmp_path / "broken.html"
    broken.write_text(
        "<!DOCTYPE html><html><body><p>x</p>"
        "<script>console.error('planted error'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    target, _session = _open(browser, broken)
    problems = _problems(browser.events)
    browser.call("Target.closeTarget", targetId=target)
    assert ["planted error"] in problems
    assert any(
        "undefinedFunction" in str(problem) or "Uncaught" in str(problem) for problem in problems
    )
