"""Headless Chromium for the tests of pages: Debian's chromium, driven by Playwright.

Playwright's own browser download cannot work here (no network), so tests launch the
system's ``/usr/bin/chromium`` with flags that also keep Chromium's own background
connections (updates, sync, field trials) from reaching for the network, each time with
a fresh profile. `Browser.open` records every request a page makes: a report must make
none but the one for the page itself.
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
READY = "document.documentElement.dataset.ready === 'true'"
"""What a report sets once Bokeh has drawn every plot (see static/report.js)."""

needs_chromium = [
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium is not installed (make setup installs it)"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="playwright is not installed (make setup installs it)"),
]


@dataclass
class Page:
    """A page open in Chromium, with every URL it requested."""

    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Browser:
    context: Any

    def open(self, url: str, *, wait_ready: bool = True) -> Page:
        """Open ``url`` in a new tab, recording requests and script errors."""
        tab = self.context.new_page()
        opened = Page(tab)
        tab.on("request", lambda r: opened.requests.append(r.url))
        tab.on("pageerror", lambda e: opened.errors.append(str(e)))
        tab.goto(url)
        if wait_ready:
            tab.wait_for_function(READY, timeout=60_000)
        return opened


@contextmanager
def chromium(width: int = 1400, height: int = 900) -> Iterator[Browser]:
    """Chromium with a fresh profile, closed (and its profile removed) afterwards."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="labrys-chromium-") as profile, \
            sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), args=FLAGS, headless=True,
            viewport={"width": width, "height": height})
        try:
            yield Browser(context)
        finally:
            context.close()


def bokeh_models(page: Any, name: str) -> int:
    """How many models of the page's Bokeh document carry ``name``."""
    return page.evaluate("""(name) => {
        let n = 0;
        for (const m of Bokeh.documents[0].all_models) if (m.name === name) n += 1;
        return n; }""", name)


def selected_ops(page: Any) -> list[int]:
    """History indices of the operations selected in the shared ``ops`` source."""
    return page.evaluate("""() => {
        const s = Bokeh.documents[0].get_model_by_name('ops');
        return s.selected.indices.map(i => Number(s.data.idx[i])).sort((a, b) => a - b); }""")


def click_op_in_timeline(page: Any, op: int) -> None:
    """Click the middle of operation ``op``'s bar in the timeline, as a person would."""
    page.evaluate("document.getElementById('timeline-section').scrollIntoView()")
    x, y = page.evaluate("""(op) => {
        const s = Bokeh.documents[0].get_model_by_name('ops');
        const row = Array.from(s.data.idx).indexOf(op);
        const v = Object.values(Bokeh.index).find(
            v => v.model.title && v.model.title.text.startsWith('Timeline'));
        const box = v.el.getBoundingClientRect();
        const middle = (s.data.start[row] + s.data.end[row]) / 2;
        return [box.x + v.frame.x_scale.compute(middle),
                box.y + v.frame.y_scale.compute(s.data.lane[row])]; }""", op)
    page.mouse.click(x, y)
