"""Every anomaly the transactional checkers name, each from a tiny history that has it.

Histories are written in Elle's notation (`tests.unit.txn_notation`): ``"ax1ry12"``
appends 1 to x and reads y = [1, 2]. Unless a test says otherwise, transactions run
concurrently on distinct processes, so neither process nor realtime order relates them
and only what they read orders them. Where an anomaly cannot occur alone, the test says
what comes with it and why.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labrys.checkers import CheckOptions
from labrys.checkers._txn import check_list_append, check_rw_register
from labrys.checkers._txn_cycles import (
    CYCLE_SPECS,
    Search,
    cyclic_components,
    search_component,
)
from labrys.checkers._txn_graph import (
    OrderExplainer,
    append_edges,
    append_version_orders,
    index_append_reads,
    new_graph,
)
from labrys.checkers._txn_history import LIST_APPEND, parse_txns
from labrys.errors import HistoryError, UsageError
from labrys.history import History, Op, OpType
from tests.unit.txn_notation import SEQUENTIAL, T, history

SERIALIZABLE = CheckOptions(consistency_models=("serializable",))
SESSION = CheckOptions(consistency_models=("strong-session-serializable",))


def check(*txns, layout=None, options=None):
    return check_list_append(history(*txns, layout=layout), options or CheckOptions())


def register(*txns, layout=None, options=None):
    h = history(*txns, layout=layout, workload="rw-register")
    return check_rw_register(h, options or CheckOptions())


def kinds(verdict):
    return [a.kind for a in verdict.anomalies]


def only(verdict, kind):
    """The one anomaly of ``kind`` in the verdict."""
    (a,) = [a for a in verdict.anomalies if a.kind == kind]
    return a


def steps(anomaly):
    return [s["type"] for s in anomaly.data["steps"]]


# -- valid histories -------------------------------------------------------------------


def test_a_serial_history_is_valid_under_strict_serializability():
    v = check("ax1", "rx1ay2", "ax3ry2", "rx13", layout=SEQUENTIAL)
    assert v.valid is True
    assert v.anomalies == ()
    assert v.details["not"] == [] and v.details["also-not"] == []


def test_concurrent_appends_read_in_either_order_are_valid():
    # T0 and T1 overlap; T2 saw T1's append first. Nothing contradicts that.
    v = check("ax1", "ax2", "rx21")
    assert v.valid is True


def test_rw_register_serial_history_is_valid():
    v = register("wx1", "rx1wy2", "ry2wx3", layout=SEQUENTIAL)
    assert v.valid is True


def simulate(rng: random.Random, txns: int, concurrency: int, workload: str) -> History:
    """A strict-serializable store: each transaction is applied atomically at some
    moment between its invocation and its completion, by clients on ``concurrency``
    processes choosing keys from three."""
    store: dict[str, Any] = {}
    ops: list[Op] = []
    pending: dict[int, list[list[Any]]] = {}
    applied: dict[int, list[list[Any]]] = {}
    counter = itertools.count(1)
    write = "append" if workload == "list-append" else "w"

    def emit(p: int, op_type: OpType, value: list[list[Any]]) -> None:
        ops.append(Op(index=len(ops), time=len(ops), type=op_type, process=p, f="txn",
                      value=value))

    invoked = 0
    while invoked < txns or pending or applied:
        p = rng.randrange(concurrency)
        if p in applied:
            emit(p, OpType(rng.choice(["ok", "ok", "ok", "info"])), applied.pop(p))
        elif p in pending:
            done = []
            for f, k, v in pending.pop(p):
                if f == "r":
                    v = list(store.get(k, [])) if workload == "list-append" else store.get(k)
                elif workload == "list-append":
                    store.setdefault(k, []).append(v)
                else:
                    store[k] = v
                done.append([f, k, v])
            applied[p] = done
        elif invoked < txns:
            invoked += 1
            txn = [[rng.choice(["r", write]), rng.choice("xyz"), None]
                   for _ in range(rng.randint(1, 3))]
            txn = [[f, k, next(counter) if f == write else None] for f, k, _ in txn]
            pending[p] = txn
            emit(p, OpType.INVOKE, txn)
    # An info completion carries the invocation's value: its reads are unknown.
    fixed = []
    for op in ops:
        if op.type is OpType.INFO:
            op = Op(index=op.index, time=op.time, type=op.type, process=op.process,
                    f="txn", value=[[f, k, None if f == "r" else v] for f, k, v in op.value])
        fixed.append(op)
    return History(fixed)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), txns=st.integers(1, 25), concurrency=st.integers(1, 4),
       workload=st.sampled_from(["list-append", "rw-register"]))
def test_histories_of_a_strict_serializable_store_are_never_invalid(seed, txns, concurrency,
                                                                     workload):
    h = simulate(random.Random(seed), txns, concurrency, workload)
    check_fn = check_list_append if workload == "list-append" else check_rw_register
    v = check_fn(h, CheckOptions())
    assert v.valid is not False, v.explanation
    assert kinds(v) in ([], ["empty-transaction-graph"])


# -- cycles over data dependencies -----------------------------------------------------


def test_G0_write_cycle():
    # x: T0 before T1 (T2 read [1 2]); y: T1 before T0 (T2 read [2 1]).
    v = check("ax1ay1", "ax2ay2", "rx12ry21")
    assert v.valid is False
    assert kinds(v) == ["G0"]
    g0 = only(v, "G0")
    assert g0.ops == (3, 4)
    assert steps(g0) == ["ww", "ww"]
    assert v.details["not"] == ["read-uncommitted"]
    assert "T2 appended 2 after T1 appended 1 to key x" in g0.explanation
    assert g0.explanation.rstrip().endswith("a contradiction!")


def test_G1c_circular_information_flow():
    # T0 -ww-> T1 on x (T2 saw [1 2]); T1 -wr-> T0 on y.
    v = check("ax1ry1", "ax2ay1", "rx12")
    assert kinds(v) == ["G1c"]
    assert only(v, "G1c").ops == (3, 4)
    assert sorted(steps(only(v, "G1c"))) == ["wr", "ww"]
    assert v.details["not"] == ["read-committed"]


def test_G_single_item_read_skew():
    # T1 read y empty, but T0 appended to y and T1 overwrote T0 on x.
    v = check("ax1ay1", "ax2ry", "rx12")
    assert kinds(v) == ["G-single-item"]
    a = only(v, "G-single-item")
    assert a.ops == (3, 4)
    assert sorted(steps(a)) == ["rw", "ww"]
    assert v.details["not"] == ["consistent-view", "repeatable-read"]
    assert "read key y empty, missing T" in a.explanation


def test_G_nonadjacent_item():
    # rw, wr, rw, wr: two anti-dependencies, never adjacent.
    v = check("ax1", "rx1ry", "ay1", "ry1rx")
    assert kinds(v) == ["G-nonadjacent-item"]
    assert only(v, "G-nonadjacent-item").ops == (4, 5, 6, 7)
    assert steps(only(v, "G-nonadjacent-item")).count("rw") == 2
    assert v.details["not"] == ["repeatable-read", "snapshot-isolation"]


def test_G2_item_write_skew():
    # Each read the other's key empty, then appended to its own.
    v = check("ax1ry", "ay1rx")
    assert kinds(v) == ["G2-item"]
    assert only(v, "G2-item").ops == (2, 3)
    assert steps(only(v, "G2-item")) == ["rw", "rw"]
    assert v.details["not"] == ["repeatable-read"]


def test_G2_item_is_allowed_by_read_committed():
    v = check("ax1ry", "ay1rx", options=CheckOptions(consistency_models=("read-committed",)))
    assert v.valid is True
    assert v.anomalies == ()
    assert v.details["allowed-anomalies"] == ["G2-item"]
    assert v.details["not"] == ["repeatable-read"]


def test_snapshot_isolation_allows_G2_item_but_not_G_single():
    si = CheckOptions(consistency_models=("snapshot-isolation",))
    assert check("ax1ry", "ay1rx", options=si).valid is True
    assert check("ax1ay1", "ax2ry", "rx12", options=si).valid is False


# -- process variants (claims of strong session models) --------------------------------


def test_G0_process():
    # Process 0 ran T0 (appending 2) before T1 (appending 1), yet x reads [1 2].
    v = check(T("ax2", process=0), T("ax1", process=0), T("rx12", process=1),
              layout=SEQUENTIAL, options=SESSION)
    assert kinds(v) == ["G0-process"]
    assert only(v, "G0-process").ops == (1, 3)
    assert sorted(steps(only(v, "G0-process"))) == ["process", "ww"]
    assert "process 0 ran T2 before T1" in only(v, "G0-process").explanation


def test_G1c_process():
    # Elle's issue 21: T0 -wr-> T1 on y, T1 -process-> T2, T2 -wr-> T0 on x.
    v = check(T("rx1ay1", process=1), T("ry1", process=2), T("ax1", process=2),
              layout=SEQUENTIAL, options=SESSION)
    assert kinds(v) == ["G1c-process"]
    assert only(v, "G1c-process").ops == (1, 3, 5)
    assert v.details["not"] == ["strong-session-read-committed"]


def test_G_single_item_process():
    # Process 1 appended 2 to x, then read x = [1]: it missed its own write.
    v = check(T("ax1", process=0), T("ax2", process=1), T("rx1", process=1),
              T("rx12", process=2), layout=SEQUENTIAL, options=SESSION)
    assert kinds(v) == ["G-single-item-process"]
    assert only(v, "G-single-item-process").ops == (3, 5)
    assert v.details["not"] == ["strong-session-snapshot-isolation"]


def test_G_nonadjacent_item_process():
    # Elle's issue 17 (Tsunaou): rw, wr, rw, then process order closes the cycle.
    v = check(T("rxrz1", process=0), T("ax1", process=1), T("rz", process=1),
              T("az1", process=2), layout=SEQUENTIAL, options=SESSION)
    assert kinds(v) == ["G-nonadjacent-item-process"]
    assert only(v, "G-nonadjacent-item-process").ops == (1, 3, 5, 7)


def test_G2_item_process():
    # T1 -process-> T2 -rw-> T3 -rw-> T1.
    v = check(T("ay1", process=0), T("rx", process=0), T("ax1ry", process=1),
              layout="2 0 0 1 1 2", options=SESSION)
    assert kinds(v) == ["G2-item-process"]
    assert sorted(steps(only(v, "G2-item-process"))) == ["process", "rw", "rw"]


# -- realtime variants (the default claim, strict serializability) ---------------------


def test_G0_realtime():
    # T0 completed before T1 began, yet T1's append to x precedes T0's.
    v = check("ax2", "ax1", "rx12", layout=SEQUENTIAL)
    assert kinds(v) == ["G0-realtime"]
    a = only(v, "G0-realtime")
    assert a.ops == (1, 3)
    assert sorted(steps(a)) == ["realtime", "ww"]
    assert "completed (op 1)" in a.explanation and "was invoked (op 2)" in a.explanation


def test_G1c_realtime():
    v = check("rx1ay1", "ry1", "ax1", layout=SEQUENTIAL)
    assert kinds(v) == ["G1c-realtime"]
    # Realtime edges are transitively reduced: T0 -rt-> T1 -rt-> T2, no T0 -rt-> T2.
    assert sorted(steps(only(v, "G1c-realtime"))) == ["realtime", "wr", "wr"]
    assert v.details["not"] == ["strong-read-committed"]


def test_G_single_item_realtime_is_a_stale_read():
    # Elle's "Strong SI violation": T2 began after T1 appended 2, yet read x = [1].
    v = check("ax1", "ax2", "rx1", "rx12", layout=SEQUENTIAL)
    assert kinds(v) == ["G-single-item-realtime"]
    assert only(v, "G-single-item-realtime").ops == (3, 5)
    assert v.details["not"] == ["strong-snapshot-isolation"]
    # Serializability alone does not order transactions in real time.
    assert check("ax1", "ax2", "rx1", "rx12", layout=SEQUENTIAL,
                 options=SERIALIZABLE).valid is True


def test_G_nonadjacent_item_realtime():
    # As for the process variant, but only T1 -> T2 is ordered, in real time.
    v = check("rxrz1", "ax1", "rz", "az1", layout="0 3 1 1 2 2 0 3")
    assert kinds(v) == ["G-nonadjacent-item-realtime"]
    assert steps(only(v, "G-nonadjacent-item-realtime")).count("realtime") == 1


def test_G2_item_realtime():
    v = check("ay1", "rx", "ax1ry", layout="2 0 0 1 1 2")
    assert kinds(v) == ["G2-item-realtime"]
    assert v.details["not"] == ["strict-serializable"]


# -- anomalies without cycles ----------------------------------------------------------

UNRELATED = ("ay1", "ry1")
UNRELATED_RW = ("wy1", "ry1")
"""Two transactions with one dependency, so that the graph is not empty (an empty one
makes the verdict unknown: the history says nothing about order)."""


def test_G1a_aborted_read():
    v = check(T("ax1", type="fail"), "rx1", *UNRELATED)
    assert kinds(v) == ["G1a"]
    a = only(v, "G1a")
    assert a.ops == (4, 5)
    assert a.data["elements"] == [1] and a.data["writers"] == [4]
    assert "which failed: an aborted read" in a.explanation
    assert v.details["not"] == ["read-committed"]


def test_G1b_intermediate_read_comes_with_G_single():
    # T1 saw x = [1], T0's first append but not its second, so T1 also anti-depends on
    # T0 while depending on it: G-single-item, as in Elle.
    v = check("ax1ax2", "rx1")
    assert kinds(v) == ["G-single-item", "G1b"]
    assert only(v, "G1b").ops == (2, 3)
    rc = check("ax1ax2", "rx1", options=CheckOptions(consistency_models=("read-committed",)))
    assert kinds(rc) == ["G1b"]
    assert rc.details["allowed-anomalies"] == ["G-single-item"]


def test_G1b_intermediate_read_rw_register():
    v = register("wx1wx2", "rx1", *UNRELATED_RW)
    assert kinds(v) == ["G1b"]
    assert only(v, "G1b").ops == (4, 5)


def test_internal_inconsistency():
    # T1 appended 2 to x, then read x = [1]: its own append is missing.
    v = check("ax1", "ax2rx1")
    assert kinds(v) == ["internal"]
    a = only(v, "internal")
    assert a.ops == (3,)
    assert a.data["expected"] == [2] and a.data["prefix-known"] is False
    assert "imply [... 2]" in a.explanation


def test_internal_inconsistency_after_a_read():
    # A non-repeatable read inside T2. Its first, shorter read also missed T1's append
    # that its second read saw, so T2 anti-depends on T1 too (G-single-item).
    v = check("ax1", "ax2", "rx1rx12")
    assert kinds(v) == ["G-single-item", "internal"]
    assert only(v, "internal").data["expected"] == [1]


def test_future_read():
    # T0 read its own append of 1 before making it.
    v = check("rx1ax1", *UNRELATED)
    assert kinds(v) == ["future-read"]
    assert only(v, "future-read").ops == (3,)
    assert only(v, "future-read").data["elements"] == [1]


def test_duplicate_elements():
    v = check("ax1", "rx11")
    assert kinds(v) == ["duplicate-elements"]
    assert only(v, "duplicate-elements").ops == (3,)
    assert v.details["not"] == ["read-uncommitted"]


def test_incompatible_order():
    v = check("ax1", "ax2", "ax3", "rx13", "rx123")
    assert kinds(v) == ["incompatible-order"]
    a = only(v, "incompatible-order")
    assert a.data["values"] == [[1, 3], [1, 2, 3]]
    assert a.ops == (8, 9)


def test_dirty_update():
    # A committed append built on a failed one. Its evidence is a read showing the
    # failed element, which is also an aborted read (G1a).
    h = (T("ax1", type="fail"), "ax2", "rx12")
    assert kinds(check(*h)) == ["G1a", "dirty-update"]
    v = check(*h, options=CheckOptions(consistency_models=(),
                                       extra={"anomalies": ["dirty-update"]}))
    assert kinds(v) == ["dirty-update"]
    a = only(v, "dirty-update")
    assert a.data["values"] == [1, 2]
    assert a.ops == (3, 4)


def test_lost_update():
    # T1 and T2 both read x = [0] and appended; each missed the other, so the cycle
    # is also G2-item, which update-atomic allows.
    h = ("ax0", "rx0ax1", "rx0ax2")
    assert kinds(check(*h)) == ["G2-item", "lost-update"]
    v = check(*h, options=CheckOptions(consistency_models=("update-atomic",)))
    assert kinds(v) == ["lost-update"]
    assert only(v, "lost-update").ops == (4, 5)
    assert v.details["not"] == ["cursor-stability", "update-atomic"]


def test_lost_update_rw_register():
    v = register("rxwx1", "rxwx2", options=CheckOptions(consistency_models=("update-atomic",)))
    assert kinds(v) == ["lost-update"]


def test_one_transaction_writing_twice_is_no_lost_update():
    v = check("rxax1ax2", "rx12")
    assert v.valid is True


def test_garbage_read():
    v = check("rx5", *UNRELATED)
    assert kinds(v) == ["garbage-read"]
    assert only(v, "garbage-read").ops == (3,)
    assert v.details["not"] == ["read-uncommitted"]


def test_rw_register_tolerates_one_unwritten_value_but_not_two():
    # One value nobody wrote may be the key's initial state (Elle reads it so).
    assert register("rx5", *UNRELATED_RW).valid is True
    v = register("rx5", "rx6", *UNRELATED_RW)
    assert kinds(v) == ["garbage-read"]
    assert only(v, "garbage-read").data["values"] == [5, 6]


def test_G1a_rw_register():
    v = register(T("wx1", type="fail"), "rx1", *UNRELATED_RW)
    assert kinds(v) == ["G1a"]


def test_internal_rw_register():
    v = register("wx1", "wx2rx1", *UNRELATED_RW)
    assert kinds(v) == ["internal"]
    assert only(v, "internal").data["expected"] == 2


def test_G_single_item_rw_register_read_skew():
    # T0 read x initial (nil) but y as T1 wrote it, and T1 wrote both.
    v = register("rxry1", "wx1wy1")
    assert kinds(v) == ["G-single-item"]
    assert "read key x's initial value nil, which T2 overwrote with 1" in \
        only(v, "G-single-item").explanation


def test_writes_follow_reads_infers_more_of_the_version_order():
    txns = ("wx1", "rx1wx2wy1", "ry1rx1")
    assert register(*txns).valid is True
    v = register(*txns, options=CheckOptions(extra={"wfr_keys": True}))
    assert kinds(v) == ["G-single-item"]
    text = only(v, "G-single-item").explanation
    assert "T1 read key x = 1, and T2 set it to 2, which came later in the version order" in text
    assert "T1 read key y = 1, which T2 wrote: a contradiction!" in text


def test_cyclic_versions_with_writes_follow_reads():
    # Each read the other's write then overwrote it: 1 < 2 and 2 < 1. The two reads
    # are also a wr cycle (G1c).
    v = register("rx1wx2", "rx2wx1", options=CheckOptions(extra={"wfr_keys": True}))
    assert kinds(v) == ["G1c", "cyclic-versions"]


# -- unknown verdicts ------------------------------------------------------------------


def test_no_dependencies_at_all_is_unknown():
    v = check("ax1")
    assert v.valid == "unknown"
    assert kinds(v) == ["empty-transaction-graph"]


def test_a_component_out_of_time_reports_the_timeout_and_a_fallback_cycle():
    th = parse_txns(history("ax1ry", "ay1rx"), workload=LIST_APPEND)
    graph = new_graph(len(th.txns))
    reads = index_append_reads(th)
    data = append_edges(th, reads, append_version_orders(reads), graph)
    (component,) = cyclic_components(graph)
    clock = itertools.count(0.0, 5.0)   # every reading is 5 s after the last
    search = Search(specs=CYCLE_SPECS, budget_s=1.0, clock=lambda: next(clock))
    found = search_component(graph, component, OrderExplainer(txns=th.txns, data=data),
                             search)
    # The budget is gone before the first kind this component can have (G2-item) is
    # searched; the fallback cycle is that G2-item all the same.
    assert [f.kind for f in found] == ["cycle-search-timeout", "G2-item"]
    assert found[0].searching == "G2-item" and found[0].not_found == ()
    assert found[0].size == 2


def test_a_tiny_budget_still_proves_a_violation():
    v = check("ax1ry", "ay1rx", options=CheckOptions(timeout_s=1e-9))
    assert v.valid is False
    assert "G2-item" in kinds(v)


def test_budget_must_be_positive():
    with pytest.raises(UsageError, match="timeout_s must be a positive"):
        check("ax1", options=CheckOptions(timeout_s=0))


# -- bad input -------------------------------------------------------------------------


def test_duplicate_appends_are_a_malformed_history():
    with pytest.raises(HistoryError,
                       match="op 1: this transaction appends 1 to key 'x', which op 0 already"):
        check("ax1", "ax1")


def test_duplicate_writes_within_one_transaction_are_malformed():
    with pytest.raises(HistoryError, match="writes 1 to key 'x'"):
        register("wx1wx1")


def test_a_micro_op_the_workload_does_not_know_is_malformed():
    with pytest.raises(HistoryError, match="is not one list-append knows"):
        check("wx1")


def test_unknown_consistency_model_lists_the_known_ones():
    with pytest.raises(UsageError, match=r"unknown consistency model 'snapshot'.*serializable"):
        check("ax1", options=CheckOptions(consistency_models=("snapshot",)))


def test_unknown_anomaly_name_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown anomaly 'G9'"):
        check("ax1", options=CheckOptions(extra={"anomalies": "G0,G9"}))


def test_adya_names_are_accepted():
    v = check("ax1ry", "ay1rx", options=CheckOptions(consistency_models=("PL-2",)))
    assert v.valid is True
    assert v.details["consistency-models"] == ["read-committed"]
