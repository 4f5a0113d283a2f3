"""The set, counter, bank, list-append and rw-register workloads: generators and checks."""

from __future__ import annotations

import random
from typing import Any

from labrys.generator import Context, clients, limit
from labrys.history import History, op_from_dict
from labrys.workloads import WORKLOADS, get_workload


def h(*rows: tuple) -> History:
    """Ops from ``(type, process, f, value)`` rows."""
    return History(op_from_dict({"type": t, "process": p, "f": f, "value": v}, index=i)
                   for i, (t, p, f, v) in enumerate(rows))


def workload(name: str, **options: Any):
    entry = get_workload(name)
    return entry.make({**{n: o.default for n, o in entry.options.items()}, **options})


def drain(g, n: int, *, concurrency: int = 1, seed: int = 2) -> list[tuple[str, Any]]:
    g = limit(n, clients(g))
    ctx = Context.initial(concurrency=concurrency, rng=random.Random(seed), nemesis=False)
    out = []
    while (step := g.op(ctx)) is not None:
        inv, g = step
        out.append((inv.f, inv.value))
    return out


def test_every_new_workload_is_registered_with_its_client_kind():
    kinds = {name: WORKLOADS[name].make({n: o.default for n, o in WORKLOADS[name]
                                         .options.items()}).client_kind
             for name in ("set", "counter", "bank", "list-append", "rw-register")}
    assert kinds == {"set": "set", "counter": "counter", "bank": "bank",
                     "list-append": "list-append", "rw-register": "rw-register"}


def test_set_adds_are_unique_and_the_same_for_a_seed():
    ops = drain(workload("set").generator(), 5)
    assert ops == [("add", 0), ("add", 1), ("add", 2), ("add", 3), ("add", 4)]


def test_final_reads_wait_then_read_on_every_worker_twice():
    g = clients(workload("set", final_wait_s=2.0).final_generator())
    ctx = Context.initial(concurrency=2, rng=random.Random(1), nemesis=False)
    step = g.op(ctx)
    assert step is not None and step[0].sleep_ns == 2_000_000_000


def test_set_check_names_a_lost_acknowledged_add():
    history = h(("invoke", 0, "add", 0), ("ok", 0, "add", 0),
                ("invoke", 1, "add", 1), ("ok", 1, "add", 1),
                ("invoke", 0, "read", None), ("ok", 0, "read", [0]))
    verdict = workload("set").check(history)
    assert verdict.valid is False
    # The lost add's invocation, then the final read that lacks it.
    assert [(a.kind, a.ops) for a in verdict.anomalies] == [("lost", (2, 4))]


def test_counter_check_finds_a_read_missing_an_acknowledged_increment():
    history = h(("invoke", 0, "add", 1), ("ok", 0, "add", 1),
                ("invoke", 1, "read", None), ("ok", 1, "read", 0))
    verdict = workload("counter").check(history)
    assert verdict.valid is False
    assert [a.kind for a in verdict.anomalies] == ["read-too-low"]


def test_bank_starts_with_an_init_then_transfers_between_distinct_accounts():
    ops = drain(workload("bank", accounts=3, total=30).generator(), 40)
    assert ops[0] == ("init", {"accounts": [0, 1, 2], "total": 30})
    transfers = [v for f, v in ops[1:] if f == "transfer"]
    assert transfers and all(t["from"] != t["to"] and 1 <= t["amount"] <= 5 for t in transfers)
    assert {f for f, _ in ops[1:]} == {"transfer", "read"}


def test_bank_check_uses_the_configured_total():
    history = h(("invoke", 0, "read", None), ("ok", 0, "read", {"0": 10, "1": 10, "2": 9}))
    verdict = workload("bank", accounts=3, total=30).check(history)
    assert verdict.valid is False
    assert [a.kind for a in verdict.anomalies] == ["wrong-total"]


def test_txn_values_are_unique_and_keys_retire_after_their_writes():
    ops = drain(workload("list-append", key_count=2, max_writes_per_key=3).generator(), 60)
    writes = [(k, v) for f, txn in ops for (m, k, v) in txn if m == "append"]
    assert len({v for _, v in writes}) == len(writes)
    per_key: dict[int, int] = {}
    for k, _ in writes:
        per_key[k] = per_key.get(k, 0) + 1
    assert max(per_key.values()) <= 3 and len(per_key) > 2
    assert all(f == "txn" and 1 <= len(txn) <= 4 for f, txn in ops)


def test_rw_register_writes_with_w():
    ops = drain(workload("rw-register").generator(), 20)
    assert {m for _, txn in ops for m, _, _ in txn} == {"r", "w"}


WRITE_SKEW = (
    ("invoke", 0, "txn", [["append", "x", 1], ["r", "y", None]]),
    ("invoke", 1, "txn", [["append", "y", 1], ["r", "x", None]]),
    ("ok", 0, "txn", [["append", "x", 1], ["r", "y", []]]),
    ("ok", 1, "txn", [["append", "y", 1], ["r", "x", []]]),
)


def test_the_claim_comes_from_the_isolation_option():
    repeatable = workload("list-append", isolation="repeatable-read").check(h(*WRITE_SKEW))
    snapshot = workload("list-append", isolation="snapshot-isolation").check(h(*WRITE_SKEW))
    assert repeatable.valid is False
    assert [a.kind for a in repeatable.anomalies] == ["G2-item"]
    assert snapshot.valid is True
