"""The register workload: its ops, its per-key split, and how verdicts name ops."""

from __future__ import annotations

import random

from labrys.checkers import Anomaly
from labrys.generator import Context, clients, limit
from labrys.history import History, op_from_dict
from labrys.workloads import WORKLOADS, get_workload
from labrys.workloads.register import _map_anomaly, split_by_key


def h(*rows: tuple) -> History:
    """Ops from ``(type, process, f, value)`` rows."""
    return History(op_from_dict({"type": t, "process": p, "f": f, "value": v}, index=i)
                   for i, (t, p, f, v) in enumerate(rows))


def workload(**options):
    entry = get_workload("register")
    return entry.make({**{n: o.default for n, o in entry.options.items()}, **options})


def test_the_register_workload_is_registered_with_its_options():
    assert WORKLOADS["register"].name == "register"
    assert sorted(WORKLOADS["register"].options) == ["cas", "check_timeout_s", "ops_per_key",
                                                     "values"]


def test_ops_are_read_write_cas_on_key_value_pairs_with_a_bounded_count_per_key():
    g = limit(9, clients(workload(ops_per_key=4, values=3).generator()))
    ctx = Context.initial(concurrency=1, rng=random.Random(2), nemesis=False)
    values = []
    while (step := g.op(ctx)) is not None:
        inv, g = step
        values.append((inv.f, inv.value))
    keys = [v[0] for _, v in values]
    assert keys == [0, 0, 0, 0, 1, 1, 1, 1, 2]
    for f, (_, v) in values:
        assert (f, v) == ("read", None) or (f == "write" and v in range(3)) or (
            f == "cas" and len(v) == 2 and set(v) <= set(range(3)))


def test_without_cas_there_are_only_reads_and_writes():
    g = limit(60, clients(workload(cas=False).generator()))
    ctx = Context.initial(concurrency=1, rng=random.Random(3), nemesis=False)
    fs = set()
    while (step := g.op(ctx)) is not None:
        inv, g = step
        fs.add(inv.f)
    assert fs == {"read", "write"}


def test_split_by_key_unwraps_values_keeps_indices_and_skips_the_nemesis():
    history = h(("invoke", 0, "write", [1, 3]), ("info", "nemesis", "kill", None),
                ("invoke", 1, "read", [2, None]), ("info", "nemesis", "kill", {"killed": []}),
                ("ok", 0, "write", [1, 3]), ("ok", 1, "read", [2, 4]))
    by_key = split_by_key(history)
    assert {k: [(op.index, op.type.value, op.value) for op in ops]
            for k, ops in by_key.items()} == {
        1: [(0, "invoke", 3), (4, "ok", 3)],
        2: [(2, "invoke", None), (5, "ok", 4)]}


def test_anomalies_of_a_key_name_the_ops_of_the_whole_history():
    a = Anomaly(kind="nonlinearizable", ops=(0, 2),
                explanation="Op 2 read 1 after op 0 wrote 2")
    mapped = _map_anomaly(a, 7, [10, 11, 14, 15])
    assert mapped.ops == (10, 14)
    assert mapped.explanation == "key 7: Op 14 read 1 after op 10 wrote 2"
    assert mapped.data == {"key": 7}


def test_a_searchs_longest_order_names_ops_as_the_whole_history_does():
    a = Anomaly(kind="nonlinearizable", ops=(1,), explanation="Op 1 cannot be linearized",
                data={"linearization": [{"op": 0, "process": 3, "description": "write 2",
                                         "state": "2"}],
                      "candidates": [{"op": 1, "process": 4, "description": "read → 1",
                                      "reason": "the register held 2"}]})
    mapped = _map_anomaly(a, 7, [10, 14])
    assert [s["op"] for s in mapped.data["linearization"]] == [10]
    assert [c["op"] for c in mapped.data["candidates"]] == [14]
    assert mapped.data["candidates"][0]["reason"] == "the register held 2"


def test_a_stale_read_on_one_key_makes_the_history_invalid_and_names_that_key():
    history = h(("invoke", 0, "write", [1, 5]), ("ok", 0, "write", [1, 5]),
                ("invoke", 0, "write", [0, 3]), ("ok", 0, "write", [0, 3]),
                ("invoke", 1, "read", [0, None]), ("ok", 1, "read", [0, None]),
                ("invoke", 1, "read", [1, None]), ("ok", 1, "read", [1, 5]))
    verdict = workload().check(history)
    linear = next(v for v in verdict.children if v.checker == "linearizable")
    assert linear.valid is False and verdict.valid is False
    assert linear.details == {"keys": 2, "invalid_keys": [0], "unknown_keys": []}
    assert linear.explanation.startswith("1 of 2 keys are not linearizable (keys 0). Key 0:")
    assert [set(a.ops) <= {2, 3, 4, 5} for a in linear.anomalies] == [True]


def test_a_history_where_every_key_is_linearizable_is_valid_for_that_checker():
    history = h(("invoke", 0, "write", [0, 3]), ("ok", 0, "write", [0, 3]),
                ("invoke", 1, "cas", [0, [3, 4]]), ("ok", 1, "cas", [0, [3, 4]]),
                ("invoke", 0, "read", [0, None]), ("ok", 0, "read", [0, 4]))
    linear = next(v for v in workload().check(history).children
                  if v.checker == "linearizable")
    assert linear.valid is True
    assert linear.explanation == "All 1 keys are linearizable (cas-register, checked per key)."
