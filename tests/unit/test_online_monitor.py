"""The runner's side of online checking: reading a growing history, the worker process,
what the display and ``results.json`` are told, and which runs check online at all."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labrys.checkers import CheckOptions, make_online_checker, online_check
from labrys.errors import HistoryError
from labrys.harness import TestSpec
from labrys.harness._online import OnlineMonitor, clock_text, resolve_online, stopped_by
from labrys.harness._online_worker import HistoryTail, watch
from labrys.history import dumps_op
from labrys.workloads import get_workload
from tests.unit.test_online_checks import STALE

REGISTER = online_check("register", CheckOptions(), ops_per_key=4)


def lines(ops) -> str:
    return "".join(dumps_op(op) + "\n" for op in ops)


def test_the_tail_reads_whole_lines_as_they_are_written_and_numbers_ops_by_position(tmp_path):
    path = tmp_path / "history.jsonl"
    tail = HistoryTail(path)
    assert tail.read() == []  # not written yet
    text = lines(STALE)
    cut = text.index("\n") + 30
    with path.open("w") as out:
        out.write(text[:cut])  # the first op and part of the second
        out.flush()
        first = tail.read()
        out.write(text[cut:] + "\n")  # the rest, and a blank line, as readers allow
        out.flush()
        rest = tail.read()
    assert [op.index for op in first] == [0]
    assert [op.index for op in rest] == list(range(1, len(STALE)))
    assert [*first, *rest] == list(STALE)
    assert tail.read() == []


def test_the_tail_refuses_a_line_that_is_not_an_op_as_the_offline_reader_does(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(lines(list(STALE)[:2]) + "{oops\n")
    with pytest.raises(HistoryError, match="line 3: not JSON"):
        HistoryTail(path).read()


def test_watch_feeds_the_growing_history_and_reports_the_first_anomaly(tmp_path):
    path = tmp_path / "history.jsonl"
    ops = list(STALE)
    path.write_text(lines(ops[:3]))
    messages: list[dict] = []
    rounds = iter(range(100))

    def stopped(timeout_s: float) -> bool:
        if next(rounds) == 1:  # the writer goes on between two rounds
            with path.open("a") as out:
                out.write(lines(ops[3:]))
        return False

    watch(make_online_checker(REGISTER), HistoryTail(path), stopped=stopped,
          emit=messages.append, clock=lambda: 0.0)
    assert messages[0]["progress"] == "0 keys judged" and messages[0]["ops"] == 3
    assert messages[0]["cpu_s"] > 0
    assert messages[-1]["finding"]["label"] == "key 0: stale read"
    assert messages[-1]["finding"]["time_ns"] == 6 * 10**9
    assert messages[-1]["ops"] == len(ops)


def test_watch_says_what_it_read_and_used_when_told_to_stop(tmp_path):
    path = tmp_path / "history.jsonl"
    ops = list(STALE)[:4]
    path.write_text(lines(ops[:2]))
    messages: list[dict] = []
    answers = iter([False, True])

    def stopped(timeout_s: float) -> bool:
        with path.open("a") as out:
            out.write(lines(ops[2:]) if len(messages) == 1 else "")
        return next(answers)

    watch(make_online_checker(REGISTER), HistoryTail(path), stopped=stopped,
          emit=messages.append, clock=lambda: 0.0)
    # The progress a second old said 2 ops; the last word, what results.json keeps, all 4.
    assert [(m["progress"], m["ops"]) for m in messages] == [("0 keys judged", 2),
                                                             ("0 keys judged", 4)]
    assert messages[-1]["cpu_s"] >= messages[0]["cpu_s"] > 0


@pytest.mark.slow
def test_the_monitor_finds_the_anomaly_in_its_own_process_and_stops_the_workload(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(lines(list(STALE)[:4]))
    stopped = threading.Event()
    logged: list[str] = []
    with OnlineMonitor(REGISTER, history=path, clock_ns=lambda: 7 * 10**9, log=logged.append,
                       stop_workload=stopped.set) as monitor:
        assert monitor.status().startswith("linearizability, key by key: ")
        with path.open("a") as out:
            out.write(lines(list(STALE)[4:]))
        assert stopped.wait(timeout=60), monitor.status()
        assert monitor.status() == "first anomaly at 00:06 (key 0: stale read)"
    process = monitor._process
    assert process is not None and process.poll() is not None  # gone with the context
    summary = monitor.summary()
    assert summary["first_anomaly"]["op"] == 4
    assert summary["first_anomaly"]["found_at_s"] == 7.0
    assert summary["stopped_workload_at_s"] == 7.0
    assert summary["note"] == (
        "The online check (linearizability, key by key) found the first anomaly at 00:06 "
        "(key 0: stale read, op 4), 1.0 s after it happened, and ended the workload there "
        "(--stop-on-anomaly): the history and the verdict cover the run until then.")
    assert stopped_by({"online": summary}) == summary["note"]
    assert "online check: first anomaly at 00:06 (key 0: stale read), found at 00:07" in logged


@pytest.mark.slow
def test_a_monitor_with_nothing_to_find_stops_when_told(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(lines(list(STALE)[:4]))
    with OnlineMonitor(REGISTER, history=path, clock_ns=lambda: 0) as monitor:
        pass
    assert monitor._process is not None and monitor._process.poll() is not None
    assert monitor.finding is None and monitor.summary()["note"] is None
    assert stopped_by({"online": monitor.summary()}) is None


@pytest.mark.slow
def test_a_worker_that_cannot_go_on_says_why_and_the_run_goes_on(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text("not a history\n")
    err = tmp_path / "labrys.log"
    logged: list[str] = []
    with OnlineMonitor(REGISTER, history=path, clock_ns=lambda: 0, log=logged.append,
                       stderr=err) as monitor:
        assert monitor._listener is not None
        monitor._listener.join(timeout=60)
    assert monitor.error == "HistoryError: line 1: not JSON (Expecting value, column 1)"
    assert monitor.status().startswith("gave up (HistoryError")
    assert logged and logged[0].startswith("online check gave up: HistoryError")
    assert "Traceback" in err.read_text()


def register_workload(**options):
    entry = get_workload("register")
    return entry.make({**{n: o.default for n, o in entry.options.items()}, **options})


def txn_workload():
    entry = get_workload("list-append")
    return entry.make({n: o.default for n, o in entry.options.items()})


def test_online_checks_run_where_cheap_unless_switched_off_and_elsewhere_when_asked():
    register, txns = register_workload(ops_per_key=7), txn_workload()
    assert resolve_online(TestSpec(), register).per_key_ops == 7
    assert resolve_online(TestSpec(check_online=False), register) is None
    assert resolve_online(TestSpec(workload="list-append"), txns) is None
    assert resolve_online(TestSpec(workload="list-append", check_online=True),
                          txns).checker == "list-append"
    assert resolve_online(TestSpec(workload="list-append", stop_on_anomaly=True),
                          txns).checker == "list-append"


def test_clock_text_is_minutes_and_seconds():
    assert [clock_text(s) for s in (0, 41.9, 725, -1)] == ["00:00", "00:41", "12:05", "00:00"]


@pytest.mark.slow
def test_without_stop_on_anomaly_the_finding_is_noted_and_the_run_goes_on(tmp_path: Path):
    path = tmp_path / "history.jsonl"
    path.write_text(lines(STALE))
    with OnlineMonitor(REGISTER, history=path, clock_ns=lambda: 10**10) as monitor:
        assert monitor._listener is not None
        monitor._listener.join(timeout=60)  # the worker ends after its first finding
    summary = json.loads(json.dumps(monitor.summary()))
    assert summary["stopped_workload_at_s"] is None
    assert summary["note"] == (
        "The online check (linearizability, key by key) found the first anomaly at 00:06 "
        "(key 0: stale read, op 4), 4.0 s after it happened; the run went on.")


def test_the_live_display_shows_what_the_online_check_has_seen():
    from rich.console import Console

    from labrys.harness._display import RunDisplay
    from labrys.harness._interpreter import Progress

    seen = ["no anomaly in 10 ops (linearizability, key by key: 0 keys judged)"]
    out = io.StringIO()
    display = RunDisplay(Console(file=out, force_terminal=True, width=120), Progress(),
                         time_limit_s=60, clock_ns=lambda: 41 * 10**9, faults=lambda: [],
                         phase=lambda: "workload", online=lambda: seen[0])
    assert display.line().endswith("| online: " + seen[0])
    seen[0] = "first anomaly at 00:41 (key 7: stale read)"
    Console(file=out, width=120).print(display._render())
    assert "online   first anomaly at 00:41 (key 7: stale read)" in out.getvalue()
    no_online = RunDisplay(Console(file=io.StringIO()), Progress(), time_limit_s=60,
                           clock_ns=lambda: 0, faults=lambda: [], phase=lambda: "workload")
    assert "online" not in no_online.line()


@pytest.mark.slow
def test_the_check_process_does_not_outlive_a_runner_killed_outright(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text(lines(list(STALE)[:4]))
    (tmp_path / "check.json").write_text(json.dumps(REGISTER.to_json()))
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    runner = subprocess.Popen([sys.executable, str(script), str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    assert runner.stdout is not None
    child = int(runner.stdout.readline())
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    for _ in range(600):  # the kernel's SIGKILL, or stdin's end: either ends it at once
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        _reap(child)
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        raise AssertionError("the online check's process outlived its runner")


RUNNER = """
import json, sys, time
from pathlib import Path
from labrys.checkers import OnlineCheck
from labrys.harness._online import OnlineMonitor
folder = Path(sys.argv[1])
check = OnlineCheck.from_json(json.loads((folder / "check.json").read_text()))
with OnlineMonitor(check, history=folder / "history.jsonl", clock_ns=lambda: 0) as monitor:
    print(monitor._process.pid, flush=True)
    time.sleep(600)
"""
"""A runner that starts the online check and waits to be killed."""


def _reap(pid: int) -> None:
    """The orphan is re-parented to init (or a subreaper), not to this test: nothing to
    reap here unless this process is that subreaper."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
