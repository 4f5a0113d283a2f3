"""The register workload: its ops, and how its verdicts name keys and ops."""

from __future__ import annotations

import random

import pytest

from labrys.checkers import CheckOptions, run_checker
from labrys.generator import Context, clients, limit
from labrys.history import History, op_from_dict
from labrys.workloads import WORKLOADS, get_workload


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


def test_without_cas_there_are_only_reads_and_writes():
    g = limit(60, clients(workload(cas=False).generator()))
    ctx = Context.initial(concurrency=1, rng=random.Random(3), nemesis=False)
    fs = set()
    while (step := g.op(ctx)) is not None:
        inv, g = step
        fs.add(inv.f)
    assert fs == {"read", "write"}


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


def test_with_unique_values_every_write_of_a_key_writes_a_new_value():
    g = limit(60, clients(workload(ops_per_key=30, values="unique").generator()))
    ctx = Context.initial(concurrency=1, rng=random.Random(3), nemesis=False)
    written: dict[int, list[int]] = {}
    for _ in range(60):
        inv, g = g.op(ctx)
        key, v = inv.value
        if inv.f == "write":
            written.setdefault(key, []).append(v)
        elif inv.f == "cas":
            old, new = v
            assert old in written.get(key, [])[-3:]  # one of the last values written
            written.setdefault(key, []).append(new)
    assert sorted(written) == [0, 1]
    for values in written.values():
        assert values == list(range(1, len(values) + 1))


def test_values_is_a_number_or_unique():
    parse = get_workload("register").options["values"].parse
    assert (parse("7"), parse("unique")) == (7, "unique")
    with pytest.raises(ValueError):  # parse_options turns it into the user's error
        parse("many")


def test_a_stale_read_on_one_key_makes_the_history_invalid_and_names_that_key():
    history = h(("invoke", 0, "write", [1, 5]), ("ok", 0, "write", [1, 5]),
                ("invoke", 0, "write", [0, 3]), ("ok", 0, "write", [0, 3]),
                ("invoke", 1, "read", [0, None]), ("ok", 1, "read", [0, None]),
                ("invoke", 1, "read", [1, None]), ("ok", 1, "read", [1, 5]))
    verdict = workload().check(history)
    linear = next(v for v in verdict.children if v.checker == "linearizable")
    assert linear.valid is False and verdict.valid is False
    assert linear.details["invalid_keys"] == [0] and linear.details["parts"] == 2
    assert linear.explanation.startswith(
        "Not linearizable. Key 0: op 4 (process 1: read → nil) cannot be linearized")
    # Ops are named by their index in the whole history, not a position within key 0.
    [anomaly] = linear.anomalies
    assert set(anomaly.ops) <= {2, 3, 4, 5} and anomaly.data["op"] == 4
    assert [s["op"] for s in anomaly.data["linearization"]] == [2]
    assert [c["op"] for c in anomaly.data["candidates"]] == [4]


def test_the_workload_is_judged_by_the_register_checker_itself():
    history = h(("invoke", 0, "write", [1, 5]), ("ok", 0, "write", [1, 5]),
                ("invoke", 1, "read", [1, None]), ("ok", 1, "read", [1, 4]))
    assert workload().check(history) == run_checker("register", history, CheckOptions(
        timeout_s=workload().check_timeout_s))


def test_a_history_where_every_key_is_linearizable_is_valid_for_that_checker():
    history = h(("invoke", 0, "write", [0, 3]), ("ok", 0, "write", [0, 3]),
                ("invoke", 1, "cas", [0, [3, 4]]), ("ok", 1, "cas", [0, [3, 4]]),
                ("invoke", 0, "read", [0, None]), ("ok", 0, "read", [0, 4]))
    linear = next(v for v in workload().check(history).children
                  if v.checker == "linearizable")
    assert linear.valid is True
    assert linear.explanation == (
        "Linearizable: the 3 operations checked fit one order consistent with real time "
        "and the independent cas-register model, key by key over 1 key. Decided from the "
        "read-mapping: every written value is unique, so each read names the write it saw, "
        "and real time alone decides (Gibbons and Korach 1997).")
