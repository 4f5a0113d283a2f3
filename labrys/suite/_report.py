"""What a suite run says: a terminal table, ``summary.json``, ``summary.md``, JUnit XML.

JUnit XML is what every CI system reads (Jenkins, GitLab, GitHub Actions through a
reporter action). Its shape here: one ``<testsuite>`` per suite run inside
``<testsuites>``; one ``<testcase>`` per test and seed, class ``labrys.suite.<suite>``,
named ``<test> [seed N]``; an expectation not met is a ``<failure>`` whose message is
the reason (with the verdict's explanation) and the path of the run's report; an
unknown verdict and a run that failed are ``<error>``\\ s of type ``unknown`` and
``run-failed``; runs an interrupted suite never started are ``<skipped>``. Each
testcase's ``<system-out>`` has the run folder and the command that replays it. The
file validates against the Jenkins xUnit plugin's JUnit schema (``junit-10.xsd``),
which a test checks.

``summary.json`` is the machine-readable record `labrys suite --trend` reads back;
``summary.md`` is the same table for people, with relative links to each run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shlex
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from labrys.checkers import UNKNOWN
from labrys.suite._judge import Outcome
from labrys.suite._run import Result, SuiteRun

SUMMARY_JSON = "summary.json"
SUMMARY_MD = "summary.md"
JUNIT_XML = "junit.xml"

_VERDICT = {True: "valid", False: "invalid", UNKNOWN: "unknown"}
_STYLE = {Outcome.MET: "green", Outcome.NOT_MET: "bold red", Outcome.UNKNOWN: "yellow",
          Outcome.FAILED: "bold red"}
# Characters XML 1.0 cannot carry at all (a database log line may hold any byte).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def verdict_text(result: Result) -> str:
    if result.observation is None:
        return "none"
    return _VERDICT[result.observation.valid]


def anomalies_text(result: Result) -> str:
    kinds = result.observation.kinds if result.observation else {}
    return ", ".join(f"{k} ({n})" for k, n in sorted(kinds.items())) or "none"


def _run_path(result: Result) -> Path | None:
    return None if result.observation is None else result.observation.path


def _report_path(result: Result) -> Path | None:
    """The run's HTML report when it has one, else its results.json."""
    run = _run_path(result)
    if run is None:
        return None
    page = run / "report.html"
    return page if page.exists() else run / "results.json"


def _status_line(run: SuiteRun) -> str:
    words = {0: "every expectation met", 1: "an expectation was not met",
             2: "a verdict was unknown", 255: "a run failed or the suite was stopped"}
    return f"exit status {run.exit_status}: {words[run.exit_status]}"


def _duration(run: SuiteRun) -> float:
    """Seconds from the suite's start to its end (to now, while it runs)."""
    return ((run.ended or dt.datetime.now()) - run.started).total_seconds()


def print_summary(console: Console, run: SuiteRun) -> None:
    """The summary table and the exit status, on the terminal."""
    table = Table(title=f"suite {run.suite.name}", title_justify="left")
    for heading in ("test", "seed", "expects", "verdict", "anomalies", "outcome", "time"):
        table.add_column(heading, overflow="fold")
    for r in run.results:
        style = _STYLE[r.outcome]
        table.add_row(escape(r.test.name), str(r.seed), escape(r.test.expectation.describe()),
                      verdict_text(r), escape(anomalies_text(r)),
                      f"[{style}]{escape(str(r.outcome))}[/{style}]", f"{r.duration_s:.0f} s")
    console.print(table)
    for r in run.results:
        if r.outcome is not Outcome.MET:
            console.print(f"[bold]{escape(r.label)}[/bold]: {escape(r.reason)}")
            if (path := _report_path(r)) is not None:
                console.print(f"  report: {escape(str(path))}")
    console.print(f"{_status_line(run)}; summary in {escape(str(run.folder / SUMMARY_MD))}")


def summary_data(run: SuiteRun) -> dict[str, Any]:
    """``summary.json``: the suite run and every result, paths relative to its folder."""
    return {
        "suite": run.suite.name,
        "file": str(run.suite.path),
        "started": run.started.isoformat(timespec="seconds"),
        "ended": None if run.ended is None else run.ended.isoformat(timespec="seconds"),
        "duration_s": round(_duration(run), 1),
        "settings": run.settings,
        "planned": len(run.plan),
        "interrupted": run.interrupted,
        "exit_status": run.exit_status,
        "results": [_result_data(run, r) for r in run.results],
    }


def _result_data(run: SuiteRun, r: Result) -> dict[str, Any]:
    path, report = _run_path(r), _report_path(r)
    obs = r.observation
    return {
        "test": r.test.name, "seed": r.seed,
        "expect": r.test.expectation.describe(), "why": r.test.expectation.why,
        "outcome": str(r.outcome), "reason": r.reason,
        "valid": None if obs is None else obs.valid,
        "anomalies": {} if obs is None else dict(sorted(obs.kinds.items())),
        "notes": {} if obs is None else dict(obs.notes),
        "run": None if path is None else str(path.relative_to(run.folder)),
        "report": None if report is None else str(report.relative_to(run.folder)),
        "duration_s": round(r.duration_s, 1),
    }


def write_summary(run: SuiteRun) -> None:
    """Write ``summary.json`` and ``summary.md`` into the suite run's folder."""
    data = summary_data(run)
    _write(run.folder / SUMMARY_JSON, json.dumps(data, indent=2, default=str) + "\n")
    _write(run.folder / SUMMARY_MD, summary_markdown(run, data))


def summary_markdown(run: SuiteRun, data: dict[str, Any]) -> str:
    lines = [f"# Suite {run.suite.name}, {data['started']}", ""]
    if run.suite.description:
        lines += [run.suite.description, ""]
    done = "" if run.ended is not None else " (in progress)"
    lines += [f"{len(run.results)} of {len(run.plan)} runs{done}, {data['duration_s']:.0f} s; "
              f"{_status_line(run)}.", "",
              "| test | seed | expects | verdict | anomalies | outcome | time | run |",
              "|---|---|---|---|---|---|---|---|"]
    for r, row in zip(run.results, data["results"], strict=True):
        links = [] if row["run"] is None else [f"[run]({row['run']}/)"]
        if row["report"] is not None:
            links.append(f"[{Path(row['report']).name}]({row['report']})")
        outcome = row["outcome"] if r.outcome is Outcome.MET else f"**{row['outcome']}**"
        lines.append(f"| {r.test.name} | {r.seed} | {row['expect']} | {verdict_text(r)} | "
                     f"{_cell(anomalies_text(r))} | {outcome} | {r.duration_s:.0f} s | "
                     f"{' · '.join(links)} |")
    problems = [r for r in run.results if r.outcome is not Outcome.MET]
    if problems:
        lines += ["", "## Not met", ""]
        lines += [f"- **{r.label}** ({r.outcome}): {_cell(r.reason)}" for r in problems]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_junit(run: SuiteRun, path: Path) -> None:
    """Write the suite run as JUnit XML (see the module docstring)."""
    failures = sum(r.outcome is Outcome.NOT_MET for r in run.results)
    errors = sum(r.outcome in (Outcome.UNKNOWN, Outcome.FAILED) for r in run.results)
    skipped = len(run.plan) - len(run.results)
    seconds = f"{_duration(run):.3f}"
    counts = {"tests": str(len(run.plan)), "failures": str(failures), "errors": str(errors)}
    root = ET.Element("testsuites", name=f"labrys suite {run.suite.name}", time=seconds, **counts)
    suite = ET.SubElement(root, "testsuite", name=run.suite.name, skipped=str(skipped),
                          time=seconds, timestamp=run.started.isoformat(timespec="seconds"),
                          hostname=socket.gethostname(), **counts)
    properties = ET.SubElement(suite, "properties")
    for name, value in (("file", str(run.suite.path)), ("folder", str(run.folder)),
                        *((k, str(v)) for k, v in run.settings.items() if v is not None)):
        ET.SubElement(properties, "property", name=name, value=_xml(value))
    classname = f"labrys.suite.{run.suite.name}"
    for r in run.results:
        case = ET.SubElement(suite, "testcase", classname=classname, name=r.label,
                             time=f"{r.duration_s:.3f}")
        report = _report_path(r)
        message = r.reason + ("" if report is None else f" Report: {report}")
        if r.outcome is Outcome.NOT_MET:
            failure = ET.SubElement(case, "failure", type="expectation-not-met",
                                    message=_xml(message))
            failure.text = _xml(_details(r))
        elif r.outcome in (Outcome.UNKNOWN, Outcome.FAILED):
            kind = "unknown" if r.outcome is Outcome.UNKNOWN else "run-failed"
            error = ET.SubElement(case, "error", type=kind, message=_xml(message))
            error.text = _xml(_details(r))
        out = ET.SubElement(case, "system-out")
        out.text = _xml(_details(r))
    for test, seed in run.plan[len(run.results):]:
        case = ET.SubElement(suite, "testcase", classname=classname,
                             name=f"{test.name} [seed {seed}]", time="0")
        ET.SubElement(case, "skipped", message="not run: the suite was stopped before it")
    ET.indent(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _details(r: Result) -> str:
    lines = [f"expects: {r.test.expectation.describe()}"]
    if r.test.expectation.why:
        lines.append(f"why: {r.test.expectation.why}")
    lines.append(f"outcome: {r.outcome}: {r.reason}")
    obs = r.observation
    if obs is not None:
        verdict = ": ".join(filter(None, (_VERDICT[obs.valid], obs.explanation)))
        lines += [f"verdict: {verdict}", f"anomalies: {anomalies_text(r)}",
                  *(f"{what}: {value}" for what, value in obs.notes),
                  f"run: {obs.path}",
                  "replay: " + shlex.join(["labrys", "run", "--replay",
                                           str(obs.path / "test.json")])]
    return "\n".join(lines)


def _xml(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
