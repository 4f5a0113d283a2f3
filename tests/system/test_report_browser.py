"""The report and ``labrys serve`` of real runs, in a real browser.

Three short runs are recorded once for the module, into one store: etcd with
serializable reads under partitions (stale reads: not linearizable), Redis losing
acknowledged adds when a partition isolates its primary, and a short etcd run without
faults (valid). About a minute in all. Their pages are then opened in Debian's headless
chromium. Skipped without root (network namespaces), the database binaries or chromium.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from tests.chromium import bokeh_models, needs_chromium, selected_ops
from tests.serve_process import labrys_serve
from tests.system._netns import ETCD, needs_etcd, needs_root

pytestmark = [
    pytest.mark.slow,
    *needs_root,
    needs_etcd,
    pytest.mark.skipif(not (Path("/usr/bin/redis-server").exists()
                            and Path("/usr/bin/redis-sentinel").exists()),
                       reason="redis-server/redis-sentinel are not installed"),
    *needs_chromium,
]


def _run(store: Path, **spec: object) -> Path:
    outcome = run_test(TestSpec(store=str(store), **spec),  # type: ignore[arg-type]
                       console=Console(file=io.StringIO()), command=["pytest"])
    assert outcome.error is None, outcome.error
    return outcome.run.path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    store = tmp_path_factory.mktemp("results")
    return {
        # One node cut off at a time: its serializable reads miss every write the other
        # two commit. Its clients' writes time out after 1 s (not 5), so they go on
        # reading through each 5 s partition instead of waiting out most of it (a
        # bridge partition, or clients stuck in writes, left a short run valid).
        "stale": _run(store, nemesis=("partition",), topologies=("one",),
                      nemesis_interval_s=5.0, time_limit_s=20.0, concurrency=10, rate=150.0,
                      seed=11, options={"etcd_binary": ETCD, "read_mode": "serializable",
                                        "client_timeout_s": "1"}),
        "lost": _run(store, target="redis", workload="set", nemesis=("partition",),
                     topologies=("primaries",), nemesis_interval_s=8.0, time_limit_s=18.0,
                     concurrency=5, rate=200.0, seed=3),
        "valid": _run(store, nemesis=(), time_limit_s=4.0, concurrency=3, rate=50.0, seed=5,
                      options={"etcd_binary": ETCD}),
    }


def _verdict(run: Path) -> object:
    return json.loads((run / "results.json").read_text())["valid"]


def test_every_run_wrote_its_page(runs):
    assert [_verdict(runs[k]) for k in ("stale", "lost", "valid")] == [False, False, True]
    for run in runs.values():
        assert (run / "report.html").stat().st_size < 2_000_000


def _open_report(browser, run: Path):
    opened = browser.open((run / "report.html").as_uri())
    assert opened.requests == [(run / "report.html").as_uri()]  # nothing else, ever
    assert opened.errors == []
    return opened.page


def _faults(run: Path) -> int:
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    return sum(1 for op in history if op["process"] == "nemesis"
               and op["f"] == "start-partition" and op["type"] == "info"
               and isinstance(op["value"], dict))


def test_the_stale_read_report_shades_the_partitions_and_shows_the_anomaly(browser, runs):
    page = _open_report(browser, runs["stale"])
    assert page.text_content("#verdict") == "INVALID"
    assert "not linearizable" in page.text_content("#verdict-explanation").lower()
    faults = _faults(runs["stale"])
    assert faults >= 1
    # Each partition is a band on the latency, quantile, throughput and timeline plots.
    assert bokeh_models(page, "fault-band") == 4 * faults
    assert page.locator("#fault-list li").count() == faults
    assert "partition" in page.text_content("#fault-list")
    anomaly = page.locator("article.anomaly").first
    ops = json.loads(anomaly.locator("button.show-ops").get_attribute("data-ops"))
    anomaly.locator("button.show-ops").click()
    assert selected_ops(page) == ops
    assert "cannot be linearized" in anomaly.text_content()


def test_the_lost_writes_report_shows_the_lost_adds_over_the_partition(browser, runs):
    page = _open_report(browser, runs["lost"])
    assert page.text_content("#verdict") == "INVALID"
    assert "missing from the final read" in page.text_content("#verdict-explanation")
    assert bokeh_models(page, "fault-band") >= 4
    lost = page.locator("article.anomaly").first
    assert "lost" in lost.locator("h3").text_content()
    assert lost.locator(".picture").count() == 1  # acknowledged and lost adds over time
    lost.locator("button.show-ops").click()
    assert len(selected_ops(page)) > 50


def test_serve_filters_the_store_to_the_invalid_runs_and_opens_one(browser, runs):
    store = runs["stale"].parents[1]
    with labrys_serve(store) as url:
        page = browser.open(url + "/", wait_ready=False).page
        page.select_option("select[data-filter=verdict]", "invalid")
        visible = page.eval_on_selector_all(
            "#runs tbody tr.run", "rows => rows.filter(r => !r.hidden).map(r => r.dataset.path)")
        assert sorted(visible) == sorted(runs[k].relative_to(store).as_posix()
                                         for k in ("stale", "lost"))
        page.click(f"tr[data-path='{runs['lost'].relative_to(store).as_posix()}'] a.report")
        page.wait_for_function("document.documentElement.dataset.ready === 'true'")
        assert page.text_content("#verdict") == "INVALID"
