"""``compare.html`` in a real browser: cells coloured by kind, a violated claim linked to
its finding, the finding to the run that shows it, and no network at all.

The runs are stored by the real store code with verdicts made in the test (the same
five configurations as ``tests/unit/test_compare.py``), so no cluster is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labrys.claims import default_registry, find_runs, observe_run
from labrys.compare import build_matrix, write_outputs
from tests.chromium import needs_chromium
from tests.unit.stored_runs import comparison_store

pytestmark = [*needs_chromium, pytest.mark.slow]


def test_a_violated_claim_leads_to_its_finding_and_its_run(browser, tmp_path: Path):
    stored = comparison_store(tmp_path)
    matrix = build_matrix([observe_run(p) for p in find_runs(stored)], default_registry())
    write_outputs(matrix, stored)
    opened = browser.open((stored / "compare.html").as_uri(), wait_ready=False)
    page = opened.page

    assert page.get_attribute("body", "data-findings") == "3"
    violated = page.locator("#matrix td.k-claimed-violated")
    assert violated.count() == 1
    assert "VIOLATED 1/2" in violated.inner_text()
    assert "13.2 Transaction Isolation" in violated.get_attribute("title")
    assert page.locator("#matrix td.k-claimed-held").count() >= 2
    assert page.locator("#matrix td.k-not-claimed-violated").count() >= 2
    assert page.locator("#matrix td.k-undecided").count() == 1

    violated.locator("a").click()
    assert page.url.endswith("#finding-1")
    finding = page.locator("#finding-1")
    assert "serializable" in finding.inner_text() and "G2-item" in finding.inner_text()
    href = finding.locator("a.run").first.get_attribute("href")
    assert (stored / href / "results.json").exists()

    hermitage = page.locator("section.anomaly-table[data-source=hermitage] th")
    assert [hermitage.nth(i).inner_text() for i in range(4, 12)] == [
        "G0", "G1a", "G1b", "G1c", "G-single", "G2-item", "G2", "lost-update"]
    page_uri = (stored / "compare.html").as_uri()
    assert opened.requests and all(r.startswith(page_uri) for r in opened.requests)
    assert opened.errors == []
