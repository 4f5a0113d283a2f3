"""Property tests: each session guarantee's verdict against a search over server orders.

`server_order_exists` is written from Terry et al.'s definitions and shares no code with
the checkers: it tries every order of the writes that happened and, for every operation
that reads, every set of writes as the state of its server, and asks whether one choice
keeps the chosen guarantees in every session:

- a read returns, for each key, the latest write to it in its state (nil if none);
- read your writes: an operation's state holds the writes of the session's earlier
  operations;
- monotonic reads: it holds what the session's earlier operations read;
- monotonic writes: a session's writes are ordered as it made them, and a state holding
  one of them holds the session's earlier ones;
- writes follow reads: what an operation read is ordered before the writes it and the
  session's later operations make, and a state holding such a write holds what was read;
- always: an operation's reads read one state, before its own writes; its write to a
  key it read comes after what it read, and its later write to a key after its earlier
  one; a read of a key it already wrote returns its own latest write.

An ``info`` operation may or may not have happened (both are tried) and ends its
session; a ``fail`` operation never happened. Judged per key, the same search runs on
each key's operations alone.

Indeterminate operations are generated with at most one write: the checkers keep only
the writes of an indeterminate operation that some read observed, which is exact when
it has one write (an unobserved write never needs to be in any state), and which the
causal checker shares.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings, target
from hypothesis import strategies as st

from labrys.checkers import CheckOptions
from labrys.checkers._causal import check_causal
from labrys.checkers._session import (
    MR,
    MW,
    RYW,
    WFR,
    check_monotonic_reads,
    check_monotonic_writes,
    check_read_your_writes,
    check_session,
    check_writes_follow_reads,
)
from labrys.history import History
from tests.unit.op_rows import interleaved

ALL = "session"
CHECKS = {RYW: check_read_your_writes, MR: check_monotonic_reads,
          MW: check_monotonic_writes, WFR: check_writes_follow_reads, ALL: check_session}
GUARANTEES_OF = {RYW: {RYW}, MR: {MR}, MW: {MW}, WFR: {WFR}, ALL: {RYW, MR, MW, WFR}}
THIN_AIR = 99


@dataclass(frozen=True)
class Mop:
    kind: str  # "r" or "w"
    key: str
    value: Any


@dataclass(frozen=True)
class Op:
    f: str  # read, write, cas or txn
    type: str  # ok, info or fail
    mops: tuple[Mop, ...]


Programs = tuple[tuple[Op, ...], ...]


# -- generating histories ------------------------------------------------------------


@st.composite
def programs(draw: st.DrawFn, shape: str) -> Programs:
    """Up to three processes of up to four ops, at most five writes; values unique."""
    keys = ["x"] if shape == "register" else ["x", "y"]
    plans: list[list[tuple[str, str, list[tuple[str, str]]]]] = []
    n_writes = 0
    for _ in range(draw(st.integers(1, 3))):
        plan = []
        for _ in range(draw(st.integers(0, 4))):
            if shape == "txn":
                f = "txn"
                mops = [(draw(st.sampled_from("rw")), draw(st.sampled_from(keys)))
                        for _ in range(draw(st.integers(1, 3)))]
            else:
                f = draw(st.sampled_from(["read", "read", "write", "cas"]))
                key = draw(st.sampled_from(keys))
                mops = {"read": [("r", key)], "write": [("w", key)],
                        "cas": [("r", key), ("w", key)]}[f]
            writes = sum(1 for kind, _ in mops if kind == "w")
            if n_writes + writes > 5:
                continue
            n_writes += writes
            types = ["ok", "ok", "ok", "fail"] + (["info"] if writes <= 1 else [])
            plan.append((f, draw(st.sampled_from(types)), mops))
        plans.append(plan)
    fresh = iter(range(1, n_writes + 1))
    readable: dict[str, list[int]] = {k: [] for k in keys}  # by ops that may have happened
    failed: dict[str, list[int]] = {k: [] for k in keys}
    drafts = []
    for plan in plans:
        draft = []
        for f, t, mops in plan:
            ms = []
            for kind, key in mops:
                value = next(fresh) if kind == "w" else None
                if kind == "w":
                    (failed if t == "fail" else readable)[key].append(value)
                ms.append([kind, key, value])
            draft.append((f, t, ms))
        drafts.append(draft)
    # Mostly values some write that may have happened wrote: reads of nil, of failed
    # writes or of nothing at all (thin air) fail every guarantee alike, and the point
    # is the guarantees' differences.
    odd = draw(st.integers(0, 7)) == 0
    out = []
    for draft in drafts:
        prog = []
        for f, t, ms in draft:
            own: dict[str, int] = {}
            for m in ms:
                if m[0] == "w":
                    own[m[1]] = m[2]
                    continue
                mine = {v for kind, _, v in ms if kind == "w"}
                choices: list[Any] = ([v for v in readable[m[1]] if v not in mine]
                                      if draw(st.integers(0, 3)) else [None])
                if m[1] in own and draw(st.integers(0, 7)):
                    choices = [own[m[1]]]  # a transaction reading back its own write
                if odd:
                    choices = [*choices, THIN_AIR, *failed[m[1]]]
                m[2] = draw(st.sampled_from(choices or [None]))
            prog.append(Op(f, t, tuple(Mop(*m) for m in ms)))
        out.append(tuple(prog))
    return tuple(out)


def to_history(progs: Programs, rnd: random.Random, *, shape: str) -> History:
    """The programs as a history, invocations and completions interleaved at random."""
    records = []
    for p, op, completed in interleaved(progs, rnd):
        done = completed and op.type == "ok"
        if op.f == "txn":
            value: Any = [[m.kind, m.key, m.value if (m.kind == "w" or done) else None]
                          for m in op.mops]
        else:
            key = op.mops[0].key
            if op.f == "read":
                v: Any = op.mops[0].value if done else None
            elif op.f == "write":
                v = op.mops[0].value
            else:
                v = [op.mops[0].value, op.mops[1].value]
            value = v if shape == "register" else [key, v]
        records.append({"process": p, "type": op.type if completed else "invoke",
                        "f": op.f, "value": value})
    return History.from_records((None, r) for r in records)


# -- the search ------------------------------------------------------------------------

Write = tuple[str, Any]  # (key, value)


@dataclass
class ModelOp:
    reads: dict[str, Any]  # key -> value read from the state
    writes: list[Write]  # in the order made


def _sessions(progs: Programs) -> list[list[tuple[Op, bool]]]:
    """Each process's ops split into sessions at its info ops (which end them), with
    whether each op may be left out (info ops)."""
    out = []
    for prog in progs:
        current: list[tuple[Op, bool]] = []
        for op in prog:
            if op.type == "fail":
                continue
            current.append((op, op.type == "info"))
            if op.type == "info":
                out.append(current)
                current = []
        out.append(current)
    return out


def _model(op: Op, *, happened: bool) -> ModelOp | None:
    """The op as the model sees it, or None when no state can explain it."""
    if op.type == "info" and (not happened or op.f == "read"):
        return ModelOp({}, [])
    reads: dict[str, Any] = {}
    own: dict[str, Any] = {}
    writes: list[Write] = []
    for m in op.mops:
        if m.kind == "w":
            own[m.key] = m.value
            writes.append((m.key, m.value))
        elif op.type == "info" and op.f == "txn":
            continue  # an indeterminate transaction's reads returned nothing
        elif m.key in own:
            if m.value != own[m.key]:
                return None  # a read of a key it wrote returns its own write
        elif m.key in reads:
            if m.value != reads[m.key]:
                return None  # one state has one value per key
        else:
            reads[m.key] = m.value
    return ModelOp(reads, writes)


def _exists(sessions: list[list[ModelOp]], guarantees: set[str]) -> bool:
    writes: list[Write] = [w for s in sessions for o in s for w in o.writes]
    bit = {w: 1 << i for i, w in enumerate(writes)}
    if len(bit) != len(writes):
        raise AssertionError("the generator writes unique values")
    for s in sessions:
        for o in s:
            for key, value in o.reads.items():
                if value is not None and (key, value) not in bit:
                    return False  # read a value no write that happened wrote

    def rel(o: ModelOp) -> int:
        return sum(bit[(k, v)] for k, v in o.reads.items() if v is not None)

    # Pairs "a before b" that the order must keep (strictly).
    before: list[tuple[Write, Write]] = []
    implies: list[tuple[int, int]] = []  # (w2, w1): a state holding w2 holds w1
    for s in sessions:
        made: list[Write] = []
        relevant = 0
        for o in s:
            relevant |= rel(o)
            own: dict[str, Write] = {}
            for w in o.writes:
                k = w[0]
                if k in o.reads and o.reads[k] is not None:
                    before.append(((k, o.reads[k]), w))
                if k in own:
                    before.append((own[k], w))
                own[k] = w
                if MW in guarantees:
                    before += [(w1, w) for w1 in made]
                    implies += [(bit[w], bit[w1]) for w1 in made]
                if WFR in guarantees:
                    for w1 in (x for x in writes if bit[x] & relevant):
                        before.append((w1, w))
                        implies.append((bit[w], bit[w1]))
                made.append(w)

    def closed(state: int) -> bool:
        return all(not (state & w2) or state & w1 for w2, w1 in implies)

    # Each reading op's candidate states: closed sets holding what RYW and MR require.
    candidates: list[tuple[ModelOp, list[int]]] = []
    for s in sessions:
        earlier_writes = earlier_reads = 0
        for o in s:
            if o.reads:
                need = rel(o)
                if RYW in guarantees:
                    need |= earlier_writes
                if MR in guarantees:
                    need |= earlier_reads
                states = [d for d in range(1 << len(writes)) if d & need == need and closed(d)]
                candidates.append((o, states))
            earlier_reads |= rel(o)
            earlier_writes |= sum(bit[w] for w in o.writes)

    for order in itertools.permutations(writes):
        rank = {w: i for i, w in enumerate(order)}
        if any(rank[a] >= rank[b] for a, b in before):
            continue
        if all(any(_reads_from(o, d, writes, rank) for d in states)
               for o, states in candidates):
            return True
    return False


def _reads_from(o: ModelOp, state: int, writes: list[Write], rank: dict[Write, int]) -> bool:
    """Does the state give each of o's reads the value it returned?"""
    for key, value in o.reads.items():
        held = [w for i, w in enumerate(writes) if state >> i & 1 and w[0] == key]
        latest = max(held, key=rank.__getitem__, default=None)
        if (latest[1] if latest else None) != value:
            return False
    return True


def server_order_exists(progs: Programs, guarantees: set[str], *, per_key: bool) -> bool:
    """Is there a server order (and a state for each read) keeping ``guarantees``?"""
    sessions = _sessions(progs)
    optional = [op for s in sessions for op, maybe in s if maybe]
    for choice in itertools.product([False, True], repeat=len(optional)):
        happened = dict(zip(map(id, optional), choice, strict=True))
        model = [[_model(op, happened=happened.get(id(op), True)) for op, _ in s]
                 for s in sessions]
        if any(o is None for s in model for o in s):
            continue
        views = [model]
        if per_key:
            keys = {m.key for prog in progs for op in prog for m in op.mops}
            views = [[[ModelOp({k: v for k, v in o.reads.items() if k == key},
                               [w for w in o.writes if w[0] == key]) for o in s]
                      for s in model] for key in keys]
        if all(_exists(v, guarantees) for v in views):  # type: ignore[arg-type]
            return True
    return False


def has_premise(progs: Programs, name: str, *, per_key: bool) -> bool:
    """Does some session do what the guarantee is about, with the ops the checkers keep
    (ok ops; an info op's writes once some read observed them)?"""
    observed = {(m.key, m.value) for prog in progs for op in prog if op.type == "ok"
                for m in op.mops if m.kind == "r"}
    for _ in range(3):  # an observed info cas also read its old value
        observed |= {(op.mops[0].key, op.mops[0].value) for prog in progs for op in prog
                     if op.type == "info" and op.f == "cas"
                     and (op.mops[1].key, op.mops[1].value) in observed}
    names = {RYW, MR, MW, WFR} if name == ALL else {name}
    for s in _sessions(progs):
        ops = []
        for op, maybe in s:
            if maybe and op.f != "cas" and not any(
                    m.kind == "w" and (m.key, m.value) in observed for m in op.mops):
                continue
            if maybe and op.f == "cas" and (op.mops[1].key, op.mops[1].value) not in observed:
                continue
            o = _model(op, happened=True)
            if o is not None:
                ops.append(o)
        keys = {k for o in ops for k in o.reads} | {w[0] for o in ops for w in o.writes}
        for key in (sorted(keys) if per_key else [None]):
            view = [ModelOp({k: v for k, v in o.reads.items() if key in (None, k)},
                            [w for w in o.writes if key in (None, w[0])]) for o in ops]
            for i, a in enumerate(view):
                later = view[i + 1:]
                if RYW in names and any(w[0] in b.reads for w in a.writes for b in later):
                    return True
                if MR in names and any(set(a.reads) & set(b.reads) for b in later):
                    return True
                if MW in names and len(a.writes) + sum(len(b.writes) for b in later) >= 2 \
                        and a.writes:
                    return True
                if WFR in names and any(v is not None for v in a.reads.values()) and (
                        a.writes or any(b.writes for b in later)):
                    return True
    return False


# -- the properties ------------------------------------------------------------------

SHAPES = st.sampled_from(["register", "kv", "txn", "txn"])
"""Transactions twice as often: reads of several keys in one state are where the
closure of a state shows."""


def _expected(progs: Programs, names: Sequence[str]) -> dict[tuple[str, bool], bool]:
    """The search's answer for each set and reading, steering Hypothesis towards
    histories where the answers differ (where the checkers have most to get right)."""
    found = {(name, per_key): server_order_exists(progs, GUARANTEES_OF[name], per_key=per_key)
             for name in names for per_key in (False, True)}
    target(float(sum(found[(n, False)] != found[(n, True)] for n in names)
                 + len(set(found.values()))), label="answers that differ")
    return found


def _check(progs: Programs, rnd: random.Random, shape: str, name: str, per_key: bool,
           expected: bool) -> None:
    h = to_history(progs, rnd, shape=shape)
    options = CheckOptions(model="kv" if shape == "kv" else None,
                           extra={"per_key": per_key})
    verdict = CHECKS[name](h, options)
    if not expected:
        assert verdict.valid is False, (name, per_key, verdict.explanation)
    elif has_premise(progs, name, per_key=per_key) or verdict.valid is False:
        assert verdict.valid is True, (name, per_key, verdict.explanation)
    else:
        assert verdict.valid == "unknown", (name, per_key, verdict.explanation)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), SHAPES, st.randoms(use_true_random=False))
def test_each_guarantee_alone_holds_exactly_when_a_server_order_keeps_it(
        data: st.DataObject, shape: str, rnd: random.Random) -> None:
    progs = data.draw(programs(shape))
    for (name, per_key), expected in _expected(progs, (RYW, MR, MW, WFR)).items():
        _check(progs, rnd, shape, name, per_key, expected)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), SHAPES, st.randoms(use_true_random=False))
def test_session_holds_exactly_when_one_server_order_keeps_all_four(
        data: st.DataObject, shape: str, rnd: random.Random) -> None:
    progs = data.draw(programs(shape))
    for (name, per_key), expected in _expected(progs, (ALL,)).items():
        _check(progs, rnd, shape, name, per_key, expected)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(["register", "kv"]), st.randoms(use_true_random=False))
def test_all_four_across_the_database_is_causal_convergence_without_transactions(
        data: st.DataObject, shape: str, rnd: random.Random) -> None:
    # Brzeziński, Sobaniec and Wawrzyniak ("From Session Causality to Causal
    # Consistency", 2004) show the four guarantees together give causal consistency; with
    # one server order they give Bouajjani et al.'s CCv, which the causal checker decides.
    h = to_history(data.draw(programs(shape)), rnd, shape=shape)
    options = CheckOptions(model="kv" if shape == "kv" else None)
    session = check_session(h, options).valid
    causal = check_causal(h, options)
    if causal.details.get("nothing_to_judge"):  # no reads or writes: both say unknown
        assert session == "unknown"
        return
    ccv = causal.details["models"]["CCv"]
    assert session == ccv or (session == "unknown" and ccv is True)
