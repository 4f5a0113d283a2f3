"""Property tests: the session and causal checkers against brute-force definitions.

Three oracles, each written from the definition and sharing no code with the checkers:

- `sequentially_consistent`: a search for a total order of a small register history
  that respects each process's order and register semantics (an ``info`` op may happen
  or not; ``fail`` never happens). Sequential consistency implies every session
  guarantee and all three causal models, so on such histories every checker must hold.
- `version_order_exists`: a search over every order of a register's writes for one that
  satisfies all four session guarantees pair by pair; on one register the ``session``
  checker must agree exactly (``tests/unit/test_session_properties.py`` searches over
  server states too, for each guarantee, several keys and transactions).
- `causal_models`: CC, CM and CCv from the axioms of Bouajjani et al. (POPL 2017) with
  causal order (po ∪ rf)+, by exhaustive search over serializations; the ``causal``
  checker's bad-pattern algorithms must agree on every model.

When the sequential and linearizable checkers exist, the chain linearizable ⇒
sequential ⇒ each session guarantee is checked too, and ``sequential`` against the
search.
"""

from __future__ import annotations

import importlib
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labrys.checkers import CheckOptions
from labrys.checkers._causal import check_causal
from labrys.checkers._session import (
    check_monotonic_reads,
    check_monotonic_writes,
    check_read_your_writes,
    check_session,
    check_writes_follow_reads,
)
from labrys.history import History
from tests.unit.op_rows import interleaved

SESSION_CHECKS = (check_read_your_writes, check_monotonic_reads, check_monotonic_writes,
                  check_writes_follow_reads)
THIN_AIR = 99


@dataclass(frozen=True)
class Op:
    """One register op of a process: f is r, w or cas; value is [old, new] for cas."""

    f: str
    type: str
    value: Any
    key: str | None = None


Programs = tuple[tuple[Op, ...], ...]


# -- generating histories ------------------------------------------------------------


@st.composite
def register_programs(draw: st.DrawFn) -> Programs:
    """Up to three processes of up to three ops; an info op ends its process."""
    shapes: list[list[tuple[str, str]]] = []
    for _ in range(draw(st.integers(1, 3))):
        ops = []
        for _ in range(draw(st.integers(0, 3))):
            f = draw(st.sampled_from(["r", "r", "w", "cas"]))
            t = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail"]))
            ops.append((f, t))
            if t == "info":
                break
        shapes.append(ops)
    n_writes = sum(1 for ops in shapes for f, _ in ops if f != "r")
    written = list(range(1, n_writes + 1))
    readable = st.sampled_from([None, *written, *([THIN_AIR] if draw(st.booleans()) else [])])
    fresh = iter(written)
    programs = []
    for ops in shapes:
        prog = []
        for f, t in ops:
            if f == "r":
                prog.append(Op("r", t, draw(readable)))
            elif f == "w":
                prog.append(Op("w", t, next(fresh)))
            else:
                prog.append(Op("cas", t, [draw(readable), next(fresh)]))
        programs.append(tuple(prog))
    return tuple(programs)


def to_history(programs: Programs, rnd: random.Random, *, keyed: bool = False) -> History:
    """The programs as a history, invocations and completions interleaved at random."""
    records = []
    for p, op, completed in interleaved(programs, rnd):
        f = {"r": "read", "w": "write", "cas": "cas"}[op.f]
        if not completed:
            value = None if op.f == "r" else op.value
            type_ = "invoke"
        else:
            type_ = op.type
            value = op.value if (op.f != "r" or op.type == "ok") else None
        if keyed:
            value = [op.key, value]
        records.append({"process": p, "type": type_, "f": f, "value": value,
                        "time": len(records)})
    return History.from_records((None, r) for r in records)


# -- oracle 1: sequential consistency --------------------------------------------------


def sequentially_consistent(programs: Programs) -> bool:
    """Is there a total order of the ops, each process's in its order, that a register
    starting at nil would produce? Failed ops never happen; info ops may or may not,
    and unfinished reads returned nothing to check."""
    progs = [[op for op in prog if op.type != "fail" and not (op.f == "r" and op.type != "ok")]
             for prog in programs]

    @cache
    def search(positions: tuple[int, ...], value: Any) -> bool:
        if all(k == len(prog) for k, prog in zip(positions, progs, strict=True)):
            return True
        for i, prog in enumerate(progs):
            k = positions[i]
            if k == len(prog):
                continue
            op = prog[k]
            after = (*positions[:i], k + 1, *positions[i + 1:])
            if op.type == "info" and search(after, value):  # it never happened
                return True
            if op.f == "r":
                legal, new = value == op.value, value
            elif op.f == "w":
                legal, new = True, op.value
            else:
                legal, new = value == op.value[0], op.value[1]
            if legal and search(after, new):
                return True
        return False

    return search(tuple(0 for _ in progs), None)


# -- oracle 2: a version order for all four session guarantees -------------------------


def session_events(programs: Programs) -> tuple[list[list[tuple[str, Any]]], set[Any]] | None:
    """Each session's reads and writes, or None when a read fits no version at all.

    An info write counts only if some read returned its value (then it happened, and an
    info cas also read its old value); an info read returned nothing.
    """
    observed = {op.value for prog in programs for op in prog if op.f == "r" and op.type == "ok"}
    observed |= {op.value[0] for prog in programs for op in prog
                 if op.f == "cas" and op.type == "ok"}
    changed = True
    while changed:
        before = set(observed)
        for prog in programs:
            for op in prog:
                if op.f == "cas" and op.type == "info" and op.value[1] in observed:
                    observed.add(op.value[0])
        changed = observed != before
    sessions = []
    writes: set[Any] = set()
    for prog in programs:
        events: list[tuple[str, Any]] = []
        for op in prog:
            happened = op.type == "ok" or (op.type == "info" and op.f != "r" and (
                (op.value if op.f == "w" else op.value[1]) in observed))
            if not happened:
                continue
            if op.f == "r":
                events.append(("r", op.value))
            elif op.f == "w":
                events.append(("w", op.value))
                writes.add(op.value)
            else:
                events.extend([("r", op.value[0]), ("w", op.value[1])])
                writes.add(op.value[1])
        sessions.append(events)
    for events in sessions:
        if any(kind == "r" and v is not None and v not in writes for kind, v in events):
            return None
    return sessions, writes


def version_order_exists(sessions: list[list[tuple[str, Any]]], writes: set[Any]) -> bool:
    """Is there an order of the writes (after the initial nil) that keeps read your
    writes, monotonic reads, monotonic writes and writes follow reads in every session?"""
    for order in itertools.permutations(sorted(writes)):
        rank = {v: i for i, v in enumerate(order)}
        rank[None] = -1
        if all(_keeps(events, rank) for events in sessions):
            return True
    return False


def _keeps(events: list[tuple[str, Any]], rank: dict[Any, int]) -> bool:
    for i, (kind_a, a) in enumerate(events):
        for kind_b, b in events[i + 1:]:
            if kind_a == "w" and kind_b == "r" and rank[a] > rank[b]:
                return False  # read your writes
            if kind_a == "r" and kind_b == "r" and rank[a] > rank[b]:
                return False  # monotonic reads
            if kind_a == "w" and kind_b == "w" and rank[a] >= rank[b]:
                return False  # monotonic writes
            if kind_a == "r" and kind_b == "w" and rank[a] >= rank[b]:
                return False  # writes follow reads (and a cas's read before its write)
    return True


# -- oracle 3: CC, CM and CCv from the axioms ----------------------------------------


@dataclass(frozen=True)
class Event:
    id: int
    process: int
    kind: str
    key: str
    value: Any


def causal_models(programs: Programs) -> dict[str, bool]:
    """CC, CM and CCv of an all-ok read/write history with unique values, by search.

    With unique values the causal order can be taken to be (po ∪ rf)+: every read must
    have the write it returns in its causal past, and a larger order only constrains
    more (Bouajjani et al., section 5).
    """
    events: list[Event] = []
    for p, prog in enumerate(programs):
        for op in prog:
            events.append(Event(len(events), p, op.f, op.key or "x", op.value))
    n = len(events)
    writer = {(e.key, e.value): e.id for e in events if e.kind == "w"}
    before = [[False] * n for _ in range(n)]
    for a in events:
        for b in events:
            if a.process == b.process and a.id < b.id:
                before[a.id][b.id] = True
            if b.kind == "r" and a.kind == "w" and writer.get((b.key, b.value)) == a.id:
                before[a.id][b.id] = True
    for k in range(n):
        for i in range(n):
            if before[i][k]:
                for j in range(n):
                    if before[k][j]:
                        before[i][j] = True
    if any(before[i][i] for i in range(n)) or any(
            e.kind == "r" and e.value is not None and (e.key, e.value) not in writer
            for e in events):
        return {"CC": False, "CM": False, "CCv": False}

    def past(o: int) -> frozenset[int]:
        return frozenset(i for i in range(n) if before[i][o])

    def serializable(nodes: frozenset[int], check: Callable[[int, dict[str, Any]], bool]) -> bool:
        """A linearization of co over ``nodes`` in which ``check(event, state)`` holds for
        each event as it is placed (state: each key's current value)."""
        @cache
        def go(placed: frozenset[int], state: tuple[tuple[str, Any], ...]) -> bool:
            if placed == nodes:
                return True
            values = dict(state)
            for e in nodes - placed:
                if any(before[d][e] and d not in placed for d in nodes):
                    continue
                if not check(e, values):
                    continue
                new = dict(values)
                if events[e].kind == "w":
                    new[events[e].key] = events[e].value
                if go(placed | {e}, tuple(sorted(new.items()))):
                    return True
            return False
        return go(frozenset(), ())

    def legal(e: int, values: dict[str, Any]) -> bool:
        return events[e].kind == "w" or values.get(events[e].key) == events[e].value

    cc = all(serializable(past(r.id) | {r.id}, lambda e, v, r=r: e != r.id or legal(e, v))
             for r in events if r.kind == "r")
    cm = all(serializable(past(o.id) | {o.id},
                          lambda e, v, o=o: events[e].process != o.process or legal(e, v))
             for o in events)
    return {"CC": cc, "CM": cm, "CCv": cc and _convergent(events, before)}


def _convergent(events: list[Event], before: list[list[bool]]) -> bool:
    """A total arbitration order extending co in which each read returns the last write
    to its key, in that order, among the writes in its causal past."""
    n = len(events)

    @cache
    def go(placed: frozenset[int], per_key: tuple[tuple[str, tuple[int, ...]], ...]) -> bool:
        if len(placed) == n:
            return True
        sequences = dict(per_key)
        for e in range(n):
            if e in placed or any(before[d][e] and d not in placed for d in range(n)):
                continue
            ev = events[e]
            if ev.kind == "r":
                seen = [w for w in sequences.get(ev.key, ()) if before[w][e]]
                if (events[seen[-1]].value if seen else None) != ev.value:
                    continue
                nxt = per_key
            else:
                sequences_e = dict(sequences)
                sequences_e[ev.key] = (*sequences.get(ev.key, ()), e)
                nxt = tuple(sorted(sequences_e.items()))
            if go(placed | {e}, nxt):
                return True
        return False

    return go(frozenset(), ())


@st.composite
def causal_programs(draw: st.DrawFn) -> Programs:
    """Up to three processes, up to seven reads and writes of two keys, all ok."""
    n_events = draw(st.integers(2, 7))
    n_proc = draw(st.integers(2, 3))
    owners = [draw(st.integers(0, n_proc - 1)) for _ in range(n_events)]
    kinds = [draw(st.sampled_from(["r", "w"])) for _ in range(n_events)]
    keys = [draw(st.sampled_from(["x", "y"])) for _ in range(n_events)]
    values = {k: [i + 1 for i in range(n_events) if kinds[i] == "w" and keys[i] == k]
              for k in ("x", "y")}
    programs: list[list[Op]] = [[] for _ in range(n_proc)]
    for i in range(n_events):
        if kinds[i] == "w":
            value: Any = i + 1
        else:
            value = draw(st.sampled_from([None, *values[keys[i]]]))
        programs[owners[i]].append(Op(kinds[i], "ok", value, keys[i]))
    return tuple(tuple(p) for p in programs)


# -- the properties ------------------------------------------------------------------


def _holds(v: Any) -> bool:
    """A session guarantee holds: true, or unknown because no session did what it is
    about (nothing contradicts it)."""
    if v.valid == "unknown":
        assert v.details.get("nothing_to_judge"), v.explanation
        return True
    return v.valid is True


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(register_programs(), st.randoms(use_true_random=False))
def test_sequentially_consistent_histories_keep_every_session_guarantee_and_causality(
        programs: Programs, rnd: random.Random) -> None:
    h = to_history(programs, rnd)
    if not sequentially_consistent(programs):
        return
    for check in SESSION_CHECKS:
        v = check(h, CheckOptions())
        assert _holds(v), (check.__name__, v.explanation)
    v = check_causal(h, CheckOptions())
    everything = {"CC": True, "CM": True, "CCv": True}
    # A history without reads or writes has nothing to judge: unknown, and no models.
    assert v.details.get("nothing_to_judge") or v.details["models"] == everything, (
        v.explanation)


@settings(max_examples=300, deadline=None)
@given(register_programs(), st.randoms(use_true_random=False))
def test_session_holds_exactly_when_one_version_order_keeps_all_four(
        programs: Programs, rnd: random.Random) -> None:
    verdict = check_session(to_history(programs, rnd), CheckOptions())
    found = session_events(programs)
    if found is None:  # a read of a value no write (that happened) wrote
        assert verdict.valid is False
        return
    assert _holds(verdict) == version_order_exists(*found), verdict.explanation


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(causal_programs(), st.randoms(use_true_random=False))
def test_causal_models_agree_with_the_axioms(programs: Programs, rnd: random.Random) -> None:
    verdict = check_causal(to_history(programs, rnd, keyed=True), CheckOptions())
    assert verdict.details["models"] == causal_models(programs), verdict.explanation


def _sequential_checkers() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    try:
        module = importlib.import_module("labrys.checkers._linearizable")
        return module.check_linearizable, module.check_sequential
    except (ImportError, AttributeError):
        return None


_SEQUENTIAL = _sequential_checkers()


@pytest.mark.skipif(_SEQUENTIAL is None, reason="the sequential and linearizable checkers "
                    "(labrys/checkers/_linearizable.py) are not there yet")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(register_programs(), st.randoms(use_true_random=False))
def test_linearizable_implies_sequential_implies_each_session_guarantee(
        programs: Programs, rnd: random.Random) -> None:
    assert _SEQUENTIAL is not None
    linearizable, sequential = _SEQUENTIAL
    h = to_history(programs, rnd)
    options = CheckOptions(model="cas-register", init=None)
    seq = sequential(h, options).valid
    assert seq == sequentially_consistent(programs) or seq == "unknown"
    if linearizable(h, options).valid is True:
        assert seq is True
    if seq is True:
        for check in SESSION_CHECKS:
            assert _holds(check(h, CheckOptions()))
