"""The report in a real browser (Debian's headless chromium): it draws, links the text to
the timeline, and fetches nothing.

On recorded example histories, so it runs wherever chromium is installed; the same
checks on real runs of etcd and Redis under partitions are in
``tests/system/test_report_browser.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labrys.checkers import CheckOptions, run_checker
from labrys.history import read_history
from labrys.report import for_check, write_report
from tests.chromium import (
    bokeh_models,
    click_op_in_timeline,
    needs_chromium,
    selected_ops,
)
from tests.conformance.corpus import ABSENT, CONFORMANCE
from tests.stored_runs import EXAMPLES

pytestmark = [*needs_chromium, pytest.mark.slow]


def _page(history_path: Path, checker: str, options: CheckOptions, out: Path) -> Path:
    history = read_history(history_path)
    verdict = run_checker(checker, history, options).to_json()
    return write_report(for_check(history_path, history, verdict, out=out,
                                  command=["labrys", "check", str(history_path)]), out)


@pytest.fixture(scope="module")
def stale_read_page(tmp_path_factory) -> Path:
    return _page(EXAMPLES / "register-stale-read.jsonl", "linearizable",
                 CheckOptions(model="cas-register", minimize=True),
                 tmp_path_factory.mktemp("report") / "stale.html")


def test_the_page_draws_its_plots_without_a_single_request_or_error(browser, stale_read_page):
    opened = browser.open(stale_read_page.as_uri())
    page = opened.page
    assert page.text_content("#verdict") == "INVALID"
    assert "cannot be linearized" in page.text_content("#anomaly-2")
    # Latency, quantiles, throughput, timeline and the linearization picture.
    assert page.evaluate("Object.keys(Bokeh.index).length") >= 5
    assert page.locator("canvas").count() >= 5
    assert opened.requests == [stale_read_page.as_uri()]
    assert opened.errors == []


def test_clicking_an_anomaly_selects_and_zooms_to_its_operations(browser, stale_read_page):
    page = browser.open(stale_read_page.as_uri()).page
    assert selected_ops(page) == []
    page.click("#anomaly-2 button.show-ops")
    assert selected_ops(page) == [0, 1, 4, 6, 10]
    assert page.evaluate("document.body.dataset.highlighted") == "anomaly-2"
    shown = page.locator("#op-details table.selected-ops tr[data-op]")
    assert [int(r.get_attribute("data-op")) for r in shown.all()] == [0, 1, 4, 6, 10]
    start, end = page.evaluate("""() => {
        const r = Bokeh.documents[0].get_model_by_name('time-range');
        return [r.start, r.end]; }""")
    assert -0.03 < start < 0.0 and 0.04 < end < 0.07  # those ops (0 to 0.04 s), padded
    page.click("#minimal button.show-ops")
    assert selected_ops(page) == [4, 6, 10]
    page.click("#clear-selection")
    assert selected_ops(page) == []


def test_clicking_a_bar_prints_its_operation_and_a_table_row_selects_it(browser, stale_read_page):
    page = browser.open(stale_read_page.as_uri()).page
    click_op_in_timeline(page, 10)
    assert selected_ops(page) == [10]
    details = page.text_content("#op-details")
    assert "The selected operation" in details and "read" in details and "n" in details
    page.click("#anomaly-2 tr[data-label='op-6']")
    assert selected_ops(page) == [6]


def test_the_anomaly_ops_are_outlined_and_the_faults_absent_here(browser, stale_read_page):
    page = browser.open(stale_read_page.as_uri()).page
    assert bokeh_models(page, "anomaly-outlines") == 1
    assert bokeh_models(page, "fault-band") == 0


@pytest.mark.skipif(not (CONFORMANCE / "elle").is_dir(), reason=ABSENT)
def test_an_elle_cycle_is_visible_as_a_graph(browser, tmp_path):
    page_path = _page(CONFORMANCE / "elle" / "paper-example.edn", "list-append",
                      CheckOptions(), tmp_path / "elle.html")
    opened = browser.open(page_path.as_uri())
    graph = opened.page.locator("#anomaly-1 .picture.graph svg")
    box = graph.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 50
    assert "rw key 255" in graph.text_content()
    assert opened.requests == [page_path.as_uri()]
