"""The report page, rendered without a browser: what it says and what it carries.

The page's behaviour in a browser (clicks, zoom, no network) is tested in
``tests/browser`` and, on real runs, in ``tests/system``.
"""

from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from labrys.checkers import CheckOptions, run_checker
from labrys.history import History, read_history
from labrys.report import REPORT_NAME, for_check, load_run, render_report, write_run_report
from labrys.report._ops import choose_rows, operations, show_value, time_axis
from tests.conformance.corpus import ABSENT, CONFORMANCE
from tests.stored_runs import EXAMPLES, example_store

STALE = EXAMPLES / "register-stale-read.jsonl"


def _check_page(path: Path, checker: str, options: CheckOptions, tmp_path: Path) -> str:
    history = read_history(path)
    verdict = run_checker(checker, history, options).to_json()
    return render_report(for_check(path, history, verdict, out=tmp_path / "r.html",
                                   command=["labrys", "check", str(path)]))


def _external_references(html: str) -> list[str]:
    """Anything that would make the page fetch: script or style sources, link hrefs."""
    return re.findall(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="[^"#]', html)


def test_an_invalid_history_s_page_says_invalid_explains_and_lists_the_named_ops(tmp_path):
    html = _check_page(STALE, "linearizable",
                       CheckOptions(model="cas-register", minimize=True), tmp_path)
    assert '<div class="big" id="verdict">INVALID</div>' in html
    assert "cannot be linearized: read returned 1, but the register held 2" in html
    assert "Minimal counterexample (--minimize)" in html
    # The minimal set and the anomaly's ops are buttons that select them in the timeline.
    assert 'data-ops="[4, 6, 10]"' in html
    assert 'data-label="op-10"' in html
    assert "Longest order found" in html
    assert _external_references(html) == []


def test_a_run_report_shows_the_test_the_replay_command_and_links_the_raw_files(tmp_path):
    run = example_store(tmp_path)["serializable"]
    (run / "nodes" / "n1").mkdir(parents=True)
    (run / "nodes" / "n1" / "etcd.log").write_text("started\n")
    page = write_run_report(run)
    assert page == run / REPORT_NAME
    html = page.read_text()
    assert "read_mode=serializable" in html
    assert f"labrys run --replay {run.resolve() / 'test.json'}" in html
    for name in ("history.jsonl", "results.json", "test.json", "nodes/n1/etcd.log"):
        assert f'href="{name}"' in html


def test_a_run_that_stopped_before_its_checks_still_gets_a_page_saying_so(tmp_path):
    run = tmp_path / "etcd-register" / "20260101T120000"
    run.mkdir(parents=True)
    (run / "test.json").write_text(json.dumps({"spec": {"target": "etcd"}, "seed": 1}))
    (run / "history.jsonl").write_text("")
    html = render_report(load_run(run))
    assert '<div class="big" id="verdict">UNKNOWN</div>' in html
    assert "no results.json" in html
    assert "This run recorded" not in html  # the history is there, only empty


def test_a_folder_that_is_no_run_is_refused_with_what_to_give(tmp_path):
    from labrys.errors import UsageError

    with pytest.raises(UsageError, match="is not a run folder"):
        load_run(tmp_path)


@pytest.mark.skipif(not (CONFORMANCE / "elle").is_dir(), reason=ABSENT)
def test_an_elle_cycle_is_drawn_as_a_graph_with_labelled_edges(tmp_path):
    html = _check_page(CONFORMANCE / "elle" / "paper-example.edn", "list-append",
                       CheckOptions(), tmp_path)
    picture = html.index('<div class="picture graph">')
    svg = unescape(html[picture:html.index("</svg>", picture)])
    for text in ("T1 = op 7", "T2 = op 3", "T3 = op 5", "rw key 255: 5 → 8", "wr key 255: 8",
                 "ww key 256: 4 → 3"):
        assert text in svg


def test_a_history_without_times_is_drawn_along_its_positions(tmp_path):
    h = History.from_records((None, {"process": p, "type": t, "f": "write", "value": 1})
                             for p, t in ((0, "invoke"), (0, "ok"), (1, "invoke"), (1, "ok")))
    axis = time_axis(h)
    assert not axis.real and axis.at(h[3]) == 3.0
    assert np.isnan(operations(h, axis).latency_ms).all()


def test_every_op_an_anomaly_names_is_drawn_however_few_rows_are_allowed():
    h = read_history(STALE)
    ops = operations(h, time_axis(h))
    rows, stride = choose_rows(ops, keep={6, 10}, limit=3)
    drawn = {ops.ops[i].index for i in rows}
    assert {6, 10} <= drawn and stride > 1 and len(rows) <= 5
    assert choose_rows(ops, keep=(), limit=100)[1] == 1


def test_a_long_value_is_cut_and_says_how_many_elements_it_had():
    text = show_value(list(range(1000)), limit=40)
    assert len(text) <= 40 and text.endswith("(1000 elements)")
    assert show_value({"x": [1, None]}) == '{"x":[1,null]}'


def test_a_session_guarantee_shows_the_version_cycle_and_the_read_that_broke_it(tmp_path):
    path = tmp_path / "h.jsonl"
    rows = [(3, "invoke", "write", 5), (3, "ok", "write", 5), (3, "invoke", "write", 7),
            (3, "ok", "write", 7), (3, "invoke", "read", None), (3, "ok", "read", 5)]
    path.write_text("".join(json.dumps({"time": i * 10**6, "type": t, "process": p, "f": f,
                                        "value": v}) + "\n"
                            for i, (p, t, f, v) in enumerate(rows)))
    html = _check_page(path, "session", CheckOptions(), tmp_path)
    picture = html.index('<div class="picture graph">')
    svg = unescape(html[picture:html.index("</svg>", picture)])  # dot writes - as &#45;
    # The cycle of issue 18's first example: each guarantee holds alone, the pair does not.
    assert "monotonic-writes" in svg and "state" in svg
    broke = re.search(r'<tr class="op-row[^"]*mark-broke-it"[^>]*data-ops="\[(\d+)\]"', html)
    assert broke is not None and broke.group(1) == "4"
