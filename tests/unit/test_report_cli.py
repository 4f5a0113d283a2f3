"""``labrys report``, ``labrys check --html`` and ``labrys serve``'s refusals."""

from __future__ import annotations

import pytest

from labrys.cli import main
from labrys.report._cli import without_option
from tests.stored_runs import EXAMPLES, example_store


def _run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_report_rewrites_each_run_s_page_from_its_files_and_prints_a_link(capsys, tmp_path):
    runs = example_store(tmp_path)
    status, out, _ = _run(capsys, "report", str(runs["invalid"]), str(runs["valid"]))
    assert status == 0
    for run in (runs["invalid"], runs["valid"]):
        assert f"report: {(run / 'report.html').resolve().as_uri()}" in out
    assert "INVALID" in (runs["invalid"] / "report.html").read_text()


def test_report_of_a_folder_that_is_no_run_is_one_line_and_255(capsys, tmp_path):
    status, _, err = _run(capsys, "report", str(tmp_path))
    assert status == 255 and "is not a run folder" in err


def test_check_html_writes_the_page_and_keeps_the_verdict_s_exit_status(capsys, tmp_path):
    out = tmp_path / "page.html"
    status, _, err = _run(capsys, "check", "--model", "cas-register", "--html", str(out),
                          str(EXAMPLES / "register-stale-read.jsonl"))
    assert status == 1
    assert f"report: {out.resolve().as_uri()}" in err
    html = out.read_text()
    assert "INVALID" in html
    assert "labrys check --model cas-register" in html and "--html" not in html.split(
        '<pre class="command">')[1].split("</pre>")[0]


def test_check_html_takes_one_history(capsys, tmp_path):
    status, _, err = _run(capsys, "check", "--html", str(tmp_path / "p.html"),
                          str(EXAMPLES / "register-valid.jsonl"),
                          str(EXAMPLES / "register-stale-read.jsonl"))
    assert status == 255 and "give one file" in err


def test_serve_refuses_a_store_that_is_not_a_folder(capsys, tmp_path):
    status, _, err = _run(capsys, "serve", "--store", str(tmp_path / "nope"))
    assert status == 255 and "is not a folder of runs" in err


def test_the_recheck_command_drops_html_and_its_value():
    assert without_option(["check", "--html", "o.html", "h.edn"], "--html") == ["check", "h.edn"]
    assert without_option(["check", "--html=o.html", "h.edn"], "--html") == ["check", "h.edn"]


def test_a_report_through_results_latest_is_titled_by_the_run_it_points_at(capsys, tmp_path):
    run = example_store(tmp_path)["valid"]
    (tmp_path / "latest").symlink_to(run)
    status, _, _ = _run(capsys, "report", str(tmp_path / "latest"))
    assert status == 0
    title = "<title>VALID · etcd-register · 20260102T120000 · labrys</title>"
    assert title in (run / "report.html").read_text()
