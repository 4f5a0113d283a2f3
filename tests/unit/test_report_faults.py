"""Fault intervals read back from nemesis ops: what the report's plots shade."""

from __future__ import annotations

from typing import Any

from labrys.history import History
from labrys.report._fault_intervals import fault_intervals


def _history(*rows: tuple[Any, str, str, Any]) -> History:
    """Ops from ``(process, type, f, value)`` rows; op i at i seconds; clients talk to n1-n3."""
    return History.from_records(
        (None, {"process": p, "type": t, "f": f, "value": v, "time": i * 10**9,
                **({"node": f"n{p % 3 + 1}"} if isinstance(p, int) else {})})
        for i, (p, t, f, v) in enumerate(rows))


def _seconds(h: History) -> list[tuple[str, float, float, str, bool]]:
    return [(i.fault, i.start, i.end, i.label, i.healed)
            for i in fault_intervals(h, lambda op: op.time / 1e9)]


def _nemesis(f: str, asked: Any, done: Any) -> list[tuple[Any, str, str, Any]]:
    return [("nemesis", "info", f, asked), ("nemesis", "info", f, done)]


def test_a_partition_runs_from_its_invocation_to_its_heal_s_completion_and_names_its_sides():
    h = _history(
        (0, "invoke", "read", None), (1, "invoke", "read", None), (2, "invoke", "read", None),
        *_nemesis("start-partition", "primaries",
                  {"topology": "primaries", "partition": {"n1": ["n2", "n3"], "n2": ["n1"],
                                                          "n3": ["n1"]}}),
        *_nemesis("stop-partition", None, {"partition": {}}),
        (0, "ok", "read", 1), (1, "ok", "read", 1), (2, "ok", "read", 1))
    assert _seconds(h) == [("partition", 3.0, 6.0, "partition n1 | n2,n3", True)]
    (interval,) = fault_intervals(h, lambda op: op.time / 1e9)
    assert interval.ops == (3, 5)
    assert interval.detail == "partition (primaries): n1 | n2,n3"


def test_a_bridge_is_not_two_sides_because_n1_still_reaches_both():
    h = _history(
        (0, "invoke", "read", None), (0, "ok", "read", None),
        *_nemesis("start-partition", "bridge",
                  {"topology": "bridge", "partition": {"n2": ["n3"], "n3": ["n2"]}}),
        (1, "invoke", "read", None), (1, "ok", "read", None),
        (2, "invoke", "read", None), (2, "ok", "read", None))
    (interval,) = fault_intervals(h, lambda op: op.time / 1e9)
    assert interval.label == "partition (bridge)"
    assert interval.detail.startswith("partition (bridge): n2 cut from n3; n3 cut from n2")


def test_a_kill_is_healed_by_start_and_names_the_killed_nodes():
    h = _history(*_nemesis("kill", "all", {"killed": ["n1", "n2", "n3"]}),
                 *_nemesis("start", None, {"started": ["n1", "n2", "n3"]}))
    assert _seconds(h) == [("kill", 0.0, 3.0, "kill n1,n2,n3", True)]


def test_a_fault_never_healed_runs_to_the_end_of_the_history_and_says_so():
    h = _history(*_nemesis("pause", "one", {"paused": ["n2"]}),
                 (0, "invoke", "read", None), (0, "ok", "read", 1))
    (interval,) = fault_intervals(h, lambda op: op.time / 1e9)
    assert (interval.start, interval.end, interval.healed) == (0.0, 3.0, False)
    assert interval.detail == "pause: n2 (never healed before the history ends)"


def test_jepsen_s_plain_start_and_stop_make_one_unnamed_fault():
    h = _history(*_nemesis("start", None, ":isolated"), *_nemesis("stop", None, ":network-healed"))
    assert _seconds(h) == [("nemesis", 0.0, 3.0, "nemesis", True)]


def test_an_op_that_neither_starts_nor_heals_a_fault_is_an_instant_marker():
    h = _history(*_nemesis("compact", None, "done"))
    assert _seconds(h) == [("compact", 0.0, 0.0, "compact", True)]


def test_a_history_without_a_nemesis_has_no_fault():
    h = _history((0, "invoke", "read", None), (0, "ok", "read", 1))
    assert fault_intervals(h, lambda op: op.time / 1e9) == []
