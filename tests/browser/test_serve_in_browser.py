"""``labrys serve`` in a real browser: filter the runs, compare two, open a report.

A real ``labrys serve`` process on a free port, over a store of runs made from recorded
example histories (`tests.stored_runs`); the same on real runs of etcd and Redis is in
``tests/system/test_report_browser.py``.
"""

from __future__ import annotations

import pytest

from tests.chromium import needs_chromium
from tests.serve_process import labrys_serve
from tests.stored_runs import example_store

pytestmark = [*needs_chromium, pytest.mark.slow]


def _visible_runs(page) -> list[str]:
    return page.eval_on_selector_all(
        "#runs tbody tr.run", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.path)")


def test_filter_to_invalid_runs_compare_two_and_open_a_report(browser, tmp_path):
    runs = example_store(tmp_path / "results")
    with labrys_serve(tmp_path / "results") as url:
        page = browser.open(url + "/", wait_ready=False).page
        assert len(_visible_runs(page)) == 3
        page.select_option("select[data-filter=verdict]", "invalid")
        assert _visible_runs(page) == ["etcd-register-serializable/20260103T120000",
                                       "etcd-register/20260101T120000"]
        assert "verdict=invalid" in page.url  # the filter is in the address, to share
        page.fill("input[data-filter=test]", "serializable")
        assert _visible_runs(page) == ["etcd-register-serializable/20260103T120000"]
        page.fill("input[data-filter=test]", "")

        page.check("input.pick[value='etcd-register/20260101T120000']")
        assert page.is_disabled("#compare")
        page.check("input.pick[value='etcd-register-serializable/20260103T120000']")
        page.click("#compare")
        page.wait_for_selector("#comparison")
        differs = page.eval_on_selector_all("#comparison tr.differs th",
                                            "cells => cells.map(c => c.textContent)")
        assert "options.read_mode" in differs and "seed" not in differs

        page.goto(url + "/?verdict=invalid")
        assert len(_visible_runs(page)) == 2
        page.click("tr[data-path='etcd-register/20260101T120000'] a.report")
        page.wait_for_function("document.documentElement.dataset.ready === 'true'")
        assert page.text_content("#verdict") == "INVALID"
        assert not (runs["invalid"] / "report.html").exists()  # drawn in memory: read-only
