"""The session checkers' view of a history: each operation as one state read, then writes.

Part of the session-guarantee checkers (`labrys.checkers._session`, whose docstring is
the design note). Terry et al.'s model has a Read performed at one server, against
that server's state, and Writes; a labrys operation can be both (a compare-and-set
reads and writes, a transaction reads and writes several keys). `terry_views` turns the
events of `labrys.checkers._rw_ops.RwHistory` into that shape:

- an operation's *state reads* are its reads of keys it has not yet written itself:
  all of them read one state (the operation ran at one server), so each key is read
  once; they come first, then the operation's writes, in the order it made them;
- a read of a key the operation already wrote is *internal*: it shows the operation's
  own latest write to that key, and anything else is an ``internal`` anomaly, as is a
  second state read of a key returning a different value (one state has one value per
  key); Elle calls both internal inconsistencies;
- reads of values no write wrote (thin air, or only a failed write) are left out: no
  state explains them, and every checker reports them as they are.

The result is again an `RwHistory` (so that `labrys.checkers._causal_order.CausalOrder`
can order it), with a map back to the parsed history's events. Judging across the whole
database gives one view; judging per key gives one view per key, each holding only the
events of that key.

Example: a transaction ``[w x 1] [r y 2] [r x 1] [r y 2]`` becomes the state read
``r y 2`` followed by the write ``w x 1``; ``r x 1`` is internal and agrees with the
write, and the second ``r y 2`` repeats the state read.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from labrys.checkers._rw_ops import ABORTED, THIN_AIR, WRITE, RwHistory, Session


@dataclass(frozen=True, slots=True)
class Internal:
    """An internal read that disagrees: ``read`` (an event of the parsed history) should
    have returned what event ``expected`` wrote (or read, for a repeated state read)."""

    read: int
    expected: int


@dataclass(frozen=True, slots=True)
class View:
    """Events in the model's order, as an `RwHistory` of their own.

    Attributes:
        rw: the derived history (event ids are its own).
        orig: ``orig[d]`` is the parsed history's event for derived event ``d``.
        ops: the derived events of each operation, per session, as
            ``(state reads, writes)`` pairs in session order.
    """

    rw: RwHistory
    orig: list[int]
    ops: list[list[tuple[list[int], list[int]]]]


def _op_groups(rw: RwHistory, session: Session) -> list[list[int]]:
    groups: list[list[int]] = []
    for e in session.events:
        if groups and rw.op[groups[-1][0]] == rw.op[e]:
            groups[-1].append(e)
        else:
            groups.append([e])
    return groups


def _model_order(rw: RwHistory) -> tuple[list[list[tuple[list[int], list[int]]]],
                                         list[Internal]]:
    """Each session's operations as (state reads, writes), and the internal anomalies."""
    sessions: list[list[tuple[list[int], list[int]]]] = []
    internal: list[Internal] = []
    for session in rw.sessions:
        ops = []
        for group in _op_groups(rw, session):
            written: dict[Hashable, int] = {}
            state: dict[Hashable, int] = {}
            writes: list[int] = []
            for e in group:
                key = rw.key[e]
                if rw.kind[e] == WRITE:
                    written[key] = e
                    writes.append(e)
                    continue
                if rw.source[e] in (THIN_AIR, ABORTED):
                    continue
                if key in written:
                    if rw.source[e] != written[key]:
                        internal.append(Internal(e, written[key]))
                elif key in state:
                    if rw.source[e] != rw.source[state[key]]:
                        internal.append(Internal(e, state[key]))
                else:
                    state[key] = e
            ops.append((list(state.values()), writes))
        sessions.append(ops)
    return sessions, internal


def _derive(rw: RwHistory, sessions: Sequence[Sequence[tuple[list[int], list[int]]]]) -> View:
    """The derived history of the given operations of each session."""
    orig: list[int] = []
    new_of: dict[int, int] = {}
    seq: list[int] = []
    ops: list[list[tuple[list[int], list[int]]]] = []
    derived_sessions: list[Session] = []
    for s, session_ops in zip(rw.sessions, sessions, strict=True):
        events: list[int] = []
        mine: list[tuple[list[int], list[int]]] = []
        for reads, writes in session_ops:
            pair: tuple[list[int], list[int]] = ([], [])
            for part, chosen in zip(pair, (reads, writes), strict=True):
                for e in chosen:
                    new_of[e] = len(orig)
                    part.append(len(orig))
                    seq.append(len(events))
                    events.append(len(orig))
                    orig.append(e)
            mine.append(pair)
        ops.append(mine)
        derived_sessions.append(Session(id=s.id, process=s.process, after=s.after,
                                        events=tuple(events)))

    def pick(column: Sequence[Any]) -> list[Any]:
        return [column[e] for e in orig]

    source = [rw.source[e] if rw.source[e] < 0 else new_of[rw.source[e]] for e in orig]
    derived = RwHistory(
        kind=pick(rw.kind), key=pick(rw.key), value=pick(rw.value),
        raw_key=pick(rw.raw_key), raw_value=pick(rw.raw_value), op=pick(rw.op),
        session=pick(rw.session), seq=seq, op_seq=pick(rw.op_seq),
        indefinite=pick(rw.indefinite), source=source, sessions=derived_sessions,
        writer={kv: new_of[w] for kv, w in rw.writer.items() if w in new_of},
        failed_writes=rw.failed_writes, ambiguous=rw.ambiguous, raw_keys=rw.raw_keys,
        register=rw.register, init_raw=rw.init_raw, init=rw.init)
    return View(rw=derived, orig=orig, ops=ops)


def terry_views(rw: RwHistory, *, per_key: bool) -> tuple[list[View], list[Internal]]:
    """The views to judge (one for the whole database, or one per key), and the
    internal reads that no view can explain."""
    sessions, internal = _model_order(rw)
    if not per_key:
        return [_derive(rw, sessions)], internal
    by_key: dict[Hashable, list[list[tuple[list[int], list[int]]]]] = {}
    for s, session_ops in enumerate(sessions):
        for reads, writes in session_ops:
            split: dict[Hashable, tuple[list[int], list[int]]] = {}
            for part, events in enumerate((reads, writes)):
                for e in events:
                    split.setdefault(rw.key[e], ([], []))[part].append(e)
            for key, pair in split.items():
                by_key.setdefault(key, [[] for _ in sessions])[s].append(pair)
    return [_derive(rw, key_sessions) for key_sessions in by_key.values()], internal
