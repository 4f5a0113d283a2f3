"""The causal checker on tiny literal histories: each bad pattern of Bouajjani et al.
(POPL 2017), and for each of CC, CM and CCv a history that breaks exactly that model
(within what implication allows: CM and CCv both imply CC) and one that keeps it.

Notation as in `tests.unit.test_session`: op k of the literal has index 2k.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from labrys.checkers import CheckOptions, Verdict
from labrys.checkers._causal import check_causal
from labrys.errors import UsageError
from labrys.history import History
from tests.unit.test_session import kv, reg


def check(h: History, **extra: Any) -> Verdict:
    v = check_causal(h, CheckOptions(extra=extra))
    assert json.loads(json.dumps(v.to_json())) == v.to_json()
    return v


def models(v: Verdict) -> tuple[Any, Any, Any]:
    m = v.details["models"]
    return m["CC"], m["CM"], m["CCv"]


def found(v: Verdict) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(a.kind, a.data["model"], a.ops) for a in v.anomalies]


# -- all hold ------------------------------------------------------------------------


def test_a_causally_ordered_history_keeps_all_three_models() -> None:
    v = check(kv("p0 w x 1", "p1 r x 1", "p1 w y 2", "p2 r y 2", "p2 r x 1", "p2 w x 3",
                 "p0 r x 3"))
    assert (v.valid, models(v), v.anomalies) == (True, (True, True, True), ())
    assert v.explanation == "CC (claimed) holds; CM holds, CCv holds."
    assert v.details == {"claimed": "CC", "models": {"CC": True, "CM": True, "CCv": True},
                         "bad-patterns": {}, "events": 7, "sessions": 3, "clock-columns": 3}


def test_concurrent_writes_seen_in_one_order_keep_all_three() -> None:
    v = check(reg("p0 w 1", "p1 w 2", "p2 r 1", "p2 r 2", "p3 r 1", "p3 r 2"))
    assert models(v) == (True, True, True)


# -- CC's bad patterns -----------------------------------------------------------------


def test_thin_air_read() -> None:
    v = check(kv("p0 w x 1", "p1 r x 7"))
    assert (v.valid, models(v), found(v)) == (False, (False, False, False),
                                              [("ThinAirRead", "CC", (2,))])
    assert v.anomalies[0].explanation == "process 1 read x = 7 (op 2), which no write wrote."


def test_a_read_of_a_failed_write_is_thin_air_too() -> None:
    v = check(reg("p0 w 1 fail", "p1 r 1"))
    assert found(v) == [("ThinAirRead", "CC", (2,))]
    assert v.anomalies[0].explanation == (
        "process 1 read 1 (op 2), which only op 0 wrote, and that op failed.")


def test_cyclic_causal_order() -> None:
    v = check(reg("p0 r 2", "p0 w 1", "p1 r 1", "p1 w 2"))
    assert found(v) == [("CyclicCO", "CC", (0, 2, 4, 6))]
    assert v.anomalies[0].explanation == (
        "Causality runs in a circle (session order and reads-from): process 0 read 2 (op 0) "
        "→ process 0 wrote 1 (op 2) → process 1 read 1 (op 4) → process 1 wrote 2 (op 6) → "
        "process 0 read 2 (op 0), so some read returned a value written causally after it.")


def test_write_co_init_read() -> None:
    v = check(kv("p0 w x 1", "p0 w y 2", "p1 r y 2", "p1 r x nil"))
    assert (v.valid, models(v)) == (False, (False, False, False))
    assert found(v) == [("WriteCOInitRead", "CC", (0, 2, 4, 6))]
    assert v.anomalies[0].explanation == (
        "process 1 read x = nil (op 6), the initial value, although process 0 wrote 1 to x "
        "(op 0) is in its causal past: process 0 wrote 1 to x (op 0) → process 0 wrote 2 to "
        "y (op 2) → process 1 read y = 2 (op 4) → process 1 read x = nil (op 6).")


def test_write_co_read() -> None:
    v = check(reg("p0 w 1", "p0 w 2", "p1 r 2", "p1 r 1"))
    assert found(v) == [("WriteCORead", "CC", (0, 2, 4, 6))]
    assert v.anomalies[0].explanation == (
        "process 1 read 1 (op 6), the value op 0 wrote, although op 2 overwrote it causally "
        "in between: process 0 wrote 1 (op 0) → process 0 wrote 2 (op 2) → process 1 read 2 "
        "(op 4) → process 1 read 1 (op 6).")
    assert v.anomalies[0].data["overwritten_by"] == 2


def test_write_co_read_through_a_third_session() -> None:
    v = check(kv("p0 w x 1", "p1 r x 1", "p1 w x 2", "p1 w y 3", "p2 r y 3", "p2 r x 1"))
    assert found(v) == [("WriteCORead", "CC", (0, 2, 4, 6, 8, 10))]


# -- CCv alone -----------------------------------------------------------------------


def test_processes_that_settle_on_different_winners_break_only_causal_convergence() -> None:
    # Each process saw its own write first and then the other's: fine for CC and CM,
    # but no single arbitration order makes both reads return the later write.
    v = check(reg("p0 w 1", "p1 w 2", "p0 r 2", "p1 r 1"))
    assert (v.valid, models(v), found(v)) == (True, (True, True, False),
                                              [("CyclicCF", "CCv", (0, 2, 4, 6))])
    assert v.anomalies[0].explanation == (
        "No single arbitration order of writes explains every read: process 0 read 2 (op 4) "
        "with the write of 1 (op 0) in its causal past, so op 0 is arbitrated before op 2; "
        "process 1 read 1 (op 6) with the write of 2 (op 2) in its causal past, so op 2 is "
        "arbitrated before op 0; a cycle.")
    assert check(reg("p0 w 1", "p1 w 2", "p0 r 2", "p1 r 2"), causal_model="ccv").valid is True


# -- CM alone ------------------------------------------------------------------------

# Process 3 read x = b, then z = nil, then y = 7, then x = b again. Its last read had
# x = a in its causal past, so in process 3's one order a precedes b, and so does
# everything before a, including z = 5; and b precedes its first read. So z = 5
# precedes its read of z = nil. Each read alone has an explanation (CC), and an
# arbitration order z=5, x=a, y=7, x=b serves all reads (CCv).
CM_INIT = ("p0 w x b", "p1 w z 5", "p1 w x a", "p1 w y 7",
           "p3 r x b", "p3 r z nil", "p3 r y 7", "p3 r x b")


def test_a_process_whose_reads_need_one_order_that_hides_a_write_breaks_only_cm() -> None:
    v = check(kv(*CM_INIT))
    assert (v.valid, models(v)) == (True, (True, False, True))
    assert found(v) == [("WriteHBInitRead", "CM", (0, 2, 4, 8, 10, 14))]
    assert v.anomalies[0].explanation == (
        "process 3 read z = nil (op 10), the initial value, although the write of 5 to z "
        "(op 2) must precede that read in any one order that explains process 3's reads: "
        "causally process 1 wrote 5 to z (op 2) → process 1 wrote \"a\" to x (op 4); "
        "process 3 read x = \"b\" (op 14) when the write of \"a\" to x (op 4) already "
        "preceded that read, so op 4 precedes op 0, the write it read; causally process 0 "
        "wrote \"b\" to x (op 0) → process 3 read x = \"b\" (op 8).")
    assert check(kv(*CM_INIT), causal_model="cm").valid is False


def test_the_same_process_keeps_cm_when_it_reads_the_later_write() -> None:
    v = check(kv(*CM_INIT[:-1], "p3 r z 5"), causal_model="cm")
    assert (v.valid, models(v)) == (True, (True, True, True))


# As above, but process 3 reads z = 6, a write that z = 5's writer had itself read:
# z = 6 precedes z = 5 causally, and process 3's reads put z = 5 before z = 6.
CM_CYCLE = ("p0 w x b", "p2 w z 6", "p1 r z 6", "p1 w z 5", "p1 w x a", "p1 w y 7",
            "p3 r x b", "p3 r z 6", "p3 r y 7", "p3 r x b")


def test_a_cycle_in_a_processs_happened_before_breaks_only_cm() -> None:
    v = check(kv(*CM_CYCLE))
    assert (v.valid, models(v)) == (True, (True, False, True))
    assert found(v) == [("CyclicHB", "CM", (0, 2, 4, 6, 8, 12, 14, 18))]
    assert v.anomalies[0].explanation.startswith(
        "process 3 cannot explain its reads by any one order: the write of 6 to z (op 2) "
        "causally precedes the write of 5 to z (op 6) (process 2 wrote 6 to z (op 2) → "
        "process 1 read z = 6 (op 4) → process 1 wrote 5 to z (op 6)); process 3 read z = 6 "
        "(op 14), yet "
        "the write of 5 to z (op 6) must precede that read (")


def test_reading_back_and_forth_between_visible_writes_breaks_cm_and_ccv() -> None:
    v = check(reg("p0 w 1", "p1 w 2", "p2 r 1", "p2 r 2", "p2 r 1"))
    assert (v.valid, models(v)) == (True, (True, False, False))
    assert [kind for kind, _, _ in found(v)] == ["CyclicCF", "CyclicHB"]


# -- options and what counts ---------------------------------------------------------


def test_the_claimed_model_decides_the_verdict() -> None:
    h = reg("p0 w 1", "p1 w 2", "p0 r 2", "p1 r 1")
    assert [check(h, causal_model=m).valid for m in ("cc", "cm", "ccv", "causal-convergence")
            ] == [True, True, False, False]
    assert check(h, causal_model="ccv").explanation.startswith(
        "CCv (claimed) fails; CC holds, CM holds. Bad patterns: CyclicCF ×1.")
    with pytest.raises(UsageError, match="causal_model='sc' is not a causal model"):
        check(h, causal_model="sc")


def test_repeated_values_leave_a_key_unjudged() -> None:
    v = check(kv("p0 w x 1", "p1 w x 1", "p1 r x 1", "p0 w y 2", "p1 r y 2"))
    assert (v.valid, models(v)) == ("unknown", ("unknown",) * 3)
    assert v.details["unjudged-keys"] == ["x"]
    v = check(kv("p0 w x 1", "p1 w x 1", "p0 w y 2", "p0 w z 3", "p1 r z 3", "p1 r y nil"))
    assert (v.valid, found(v)) == (False, [("WriteCOInitRead", "CC", (4, 6, 8, 10))])


def test_an_indeterminate_write_counts_once_read() -> None:
    v = check(kv("p0 w x 1 info", "p1 r x 1", "p2 w y 2", "p2 r x 1", "p2 r x nil"))
    assert found(v) == [("WriteCOInitRead", "CC", (0, 6, 8))]
    unread = check(kv("p0 w x 1 info", "p2 w x 2", "p2 r x 2"))
    assert models(unread) == (True, True, True)


def test_a_crashed_process_starts_a_new_session() -> None:
    # Op 0 may take effect after op 2, so op 2 reading nil is no violation.
    v = check(reg("p0 w 1 info", "p0 r nil", "p1 r 1", "p1 r 1"))
    assert models(v) == (True, True, True)
    assert v.details["sessions"] == 3


def test_counts_cover_every_instance_and_anomalies_the_first_few() -> None:
    lines = [f"p{p} r {v}" for p in range(12) for v in (2, 1)]
    v = check(reg("p99 w 1", "p99 w 2", *lines))
    assert v.details["bad-patterns"] == {"WriteCORead": 12}
    assert len(v.anomalies) == 10


# -- a replicated store, simulated ---------------------------------------------------


def replicated_store(rng: random.Random, n_records: int, *, last_writer_wins: bool,
                     workers: int = 8, keys: int = 4, crash: float = 0.03) -> History:
    """Clients of a store with one replica per worker and causal broadcast of writes.

    Each replica applies remote writes in causal delivery order, either as they arrive
    (causal memory: each process sees one order, replicas disagree) or keeping the
    write with the larger Lamport timestamp (causal convergence). A crashed worker
    carries on as a new process at the same replica.
    """
    state: list[dict[int, tuple[int, int, int]]] = [{} for _ in range(workers)]
    clock = [[0] * workers for _ in range(workers)]
    inbox: list[list[tuple[int, list[int], int, int, int]]] = [[] for _ in range(workers)]
    lamport = [0] * workers
    process = list(range(workers))
    in_flight: dict[int, tuple[str, list[Any]]] = {}
    records: list[dict[str, Any]] = []
    values = iter(range(1, n_records))

    def deliver(r: int) -> None:
        for i, (sender, stamp, k, v, ts) in enumerate(inbox[r]):
            if stamp[sender] == clock[r][sender] + 1 and all(
                    stamp[j] <= clock[r][j] for j in range(workers) if j != sender):
                del inbox[r][i]
                clock[r][sender] += 1
                lamport[r] = max(lamport[r], ts)
                current = state[r].get(k)
                if not last_writer_wins or current is None or (ts, sender) > current[1:]:
                    state[r][k] = (v, ts, sender)
                return

    while len(records) < n_records:
        if rng.random() < 0.5:
            deliver(rng.randrange(workers))
            continue
        w = rng.randrange(workers)
        if w not in in_flight:
            k = rng.randrange(keys)
            in_flight[w] = ("read", [k, None]) if rng.random() < 0.5 else (
                "write", [k, next(values)])
            records.append({"process": process[w], "type": "invoke", "f": in_flight[w][0],
                            "value": in_flight[w][1]})
            continue
        f, (k, v) = in_flight.pop(w)
        crashed = rng.random() < crash
        if f == "read":
            out = [k, None] if crashed else [k, state[w].get(k, (None,))[0]]
        else:
            out = [k, v]
            if not crashed or rng.random() < 0.5:
                lamport[w] += 1
                clock[w][w] += 1
                state[w][k] = (v, lamport[w], w)
                for r in range(workers):
                    if r != w:
                        inbox[r].append((w, list(clock[w]), k, v, lamport[w]))
        records.append({"process": process[w], "type": "info" if crashed else "ok", "f": f,
                        "value": out})
        if crashed:
            process[w] += workers
    return History.from_records((None, r) for r in records)


def test_a_store_applying_writes_in_causal_delivery_order_is_causal_memory() -> None:
    # Replicas apply concurrent writes in different orders and never reconcile, so
    # this run also shows the CCv violation such a store allows.
    v = check(replicated_store(random.Random(7), 3000, last_writer_wins=False))
    assert v.details["clock-columns"] > 32  # several shared clock chunks
    assert (models(v), v.details["bad-patterns"]) == ((True, True, False), {"CyclicCF": 2})


def test_a_last_writer_wins_store_with_causal_delivery_is_causally_convergent() -> None:
    # Timestamps, not what each process has seen, decide which concurrent write wins,
    # so a process can be made to read values in an order no single view of its own
    # explains: in this run that breaks CM, which such a store does not promise.
    v = check(replicated_store(random.Random(1), 3000, last_writer_wins=True))
    assert v.details["clock-columns"] > 32
    assert (models(v), v.details["bad-patterns"]) == ((True, False, True), {"CyclicHB": 1})
