"""The causal order of a register or key-value history, and how causal checks tell it.

The causal checker (`labrys.checkers._causal`, whose docstring is the design note)
judges CC and CCv there and CM in `labrys.checkers._causal_memory`; both read the
same causal order ``co = (po ∪ rf)+`` and report in the same words, which live here:

- `CausalOrder`: po ∪ rf over the events of an `RwHistory`, its topological order,
  and vector clocks whose columns come in shared chunks, so that asking whether one
  event is in another's causal past, or which sessions one knows more of, is cheap;
- the sentences that name events and causal chains (``process 2 read x = 1 (op 7)``);
- `Found`: every instance of a bad pattern counted, the first few kept as anomalies,
  each naming the model (`CC`, `CM` or `CCV`) it breaks.

Example::

    order = CausalOrder(rw)
    if order.sort():            # False: po ∪ rf has a cycle (CyclicCO)
        order.compute_clocks()
        order.before(w, r)      # w co r, or w is r
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from labrys.checkers._rw_ops import READ, WRITE, Adjacency, RwHistory, render_key
from labrys.checkers._verdict import Anomaly

CC = "CC"
CM = "CM"
CCV = "CCv"
_REPORT_LIMIT = 10
"""How many instances of one bad pattern become anomalies; details count them all."""

PO, RF, CF = "po", "rf", "cf"
"""The kinds of edge a causal explanation follows: session order, reads-from, and the
arbitration a read forces between two writes to its key."""


# -- the causal order ----------------------------------------------------------------


_CHUNK = 32
"""Clock columns per shared chunk: a join copies only the chunks that change."""

Clock = tuple[list[int], ...]


def _join(a: Clock, b: Clock) -> Clock:
    """The element-wise maximum, sharing every chunk that either side already has."""
    out = list(a)
    for i, (ca, cb) in enumerate(zip(a, b, strict=True)):
        if ca is cb:
            continue
        merged = [x if x > y else y for x, y in zip(ca, cb, strict=True)]
        if merged != ca:
            out[i] = cb if merged == cb else merged
    return tuple(out)


def _raised(clock: Clock, column: int, value: int) -> Clock:
    i, k = divmod(column, _CHUNK)
    if clock[i][k] >= value:
        return clock
    chunk = list(clock[i])
    chunk[k] = value
    return (*clock[:i], chunk, *clock[i + 1:])


@dataclass(slots=True)
class CausalOrder:
    """po ∪ rf over the events, its topological order and its vector clocks.

    Clocks have a column for each session whose writes another session read (no other
    path leads out of a session), grouped in chunks that clocks share until they
    differ. Sessions are numbered in order of their first op, so the sessions still
    running at any point are neighbours, and the chunks holding finished sessions stop
    changing: a join costs the number of chunks plus the chunks of sessions it learns
    about, and two clocks are compared chunk by chunk, skipping shared chunks. That
    keeps histories in which crashed processes leave thousands of sessions cheap.
    """

    rw: RwHistory
    pred: list[int] = field(default_factory=list)  # po predecessor, or -1
    topo: list[int] = field(default_factory=list)
    column: list[int] = field(default_factory=list)  # session -> clock column, or -1
    column_session: list[int] = field(default_factory=list)
    clock: list[Clock] = field(default_factory=list)
    # (session, key) -> sequence numbers and events of its writes to the key
    writes: dict[tuple[int, Hashable], tuple[list[int], list[int]]] = field(default_factory=dict)
    writers: dict[Hashable, list[int]] = field(default_factory=dict)  # key -> sessions
    session_reads: list[list[int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        rw = self.rw
        self.pred = [-1] * len(rw)
        self.session_reads = [[] for _ in rw.sessions]
        for s in rw.sessions:
            prev = -1
            for e in s.events:
                self.pred[e] = prev
                prev = e
                if rw.kind[e] == WRITE:
                    seqs, evs = self.writes.setdefault((s.id, rw.key[e]), ([], []))
                    if not seqs:
                        self.writers.setdefault(rw.key[e], []).append(s.id)
                    seqs.append(rw.seq[e])
                    evs.append(e)
                else:
                    self.session_reads[s.id].append(e)

    def sort(self) -> bool:
        """Topologically sort po ∪ rf (Kahn); False when it has a cycle."""
        rw = self.rw
        n = len(rw)
        indegree = [0] * n
        reads = [e for e in range(n) if rw.kind[e] == READ and rw.source[e] >= 0]
        readers = Adjacency(n, [rw.source[e] for e in reads])
        for e in range(n):
            if self.pred[e] >= 0:
                indegree[e] += 1
        for e in reads:
            indegree[e] += 1
        nxt = [-1] * n
        for e in range(n):
            if self.pred[e] >= 0:
                nxt[self.pred[e]] = e
        ready = [e for e in range(n) if indegree[e] == 0]
        order: list[int] = []
        while ready:
            e = ready.pop()
            order.append(e)
            targets = [reads[i] for i in readers[e]]
            if nxt[e] >= 0:
                targets.append(nxt[e])
            for f in targets:
                indegree[f] -= 1
                if indegree[f] == 0:
                    ready.append(f)
        self.topo = order
        return len(order) == n

    def compute_clocks(self) -> None:
        """Vector clocks along the topological order.

        An event's own column is left stale and answered from its sequence number
        instead, so that events learning nothing new share their predecessor's clock.
        """
        rw = self.rw
        self.column = [-1] * len(rw.sessions)
        needed = {rw.session[w] for e, w in enumerate(rw.source)
                  if rw.kind[e] == READ and w >= 0 and rw.session[w] != rw.session[e]}
        for s in sorted(needed):
            self.column[s] = len(self.column_session)
            self.column_session.append(s)
        chunks = max(1, -(-len(self.column_session) // _CHUNK))
        self.column_session.extend([-1] * (chunks * _CHUNK - len(self.column_session)))
        zero = tuple([[0] * _CHUNK] * chunks)
        clock: list[Clock] = [zero] * len(rw)
        for e in self.topo:
            p = self.pred[e]
            base = clock[p] if p >= 0 else zero
            w = rw.source[e]
            if rw.kind[e] == READ and w >= 0 and rw.session[w] != rw.session[e]:
                c = self.column[rw.session[w]]
                if base[c // _CHUNK][c % _CHUNK] <= rw.seq[w]:
                    base = _raised(_join(base, clock[w]), c, rw.seq[w] + 1)
            clock[e] = base
        self.clock = clock

    def known(self, e: int, session: int) -> int:
        """How many of ``session``'s first events are in e's causal past (e excluded)."""
        if self.rw.session[e] == session:
            return self.rw.seq[e]
        c = self.column[session]
        return 0 if c < 0 else self.clock[e][c // _CHUNK][c % _CHUNK]

    def knows(self, e: int, session: int, seq: int) -> bool:
        """Whether the event at ``seq`` of ``session`` is in e's causal past (or is e)."""
        if self.rw.session[e] == session:
            return seq <= self.rw.seq[e]
        return self.known(e, session) > seq

    def before(self, a: int, b: int) -> bool:
        """a co b, or a is b."""
        return self.knows(b, self.rw.session[a], self.rw.seq[a])

    def ahead(self, a: int, b: int) -> set[int]:
        """The sessions with events in a's causal past but not in b's, and both events'
        own sessions (whose columns are stale), found chunk by chunk."""
        out = {self.rw.session[a], self.rw.session[b]}
        for i, (x, y) in enumerate(zip(self.clock[a], self.clock[b], strict=True)):
            if x is y:
                continue
            base = i * _CHUNK
            out.update(self.column_session[base + k] for k in range(_CHUNK) if x[k] > y[k])
        return out

    def last_write_known(self, e: int, session: int, key: Hashable) -> int | None:
        """The last write to ``key`` by ``session`` strictly in e's causal past."""
        found = self.writes.get((session, key))
        if found is None:
            return None
        i = bisect.bisect_left(found[0], self.known(e, session)) - 1
        return found[1][i] if i >= 0 else None

    def newer_writes(self, e: int, than: int, key: Hashable) -> Iterator[int]:
        """Writes to ``key`` in e's causal past and not in ``than``'s (nor ``than``
        itself): per session, the last one, the rest being po-before it."""
        for s in self.ahead(e, than):
            w = self.last_write_known(e, s, key)
            if w is not None and w != than and not self.before(w, than):
                yield w

    def any_write_known(self, e: int, key: Hashable) -> int | None:
        """Some write to ``key`` in e's causal past, or None."""
        for s in self.writers.get(key, ()):
            w = self.last_write_known(e, s, key)
            if w is not None:
                return w
        return None

    def path(self, a: int, b: int) -> list[int]:
        """Events of a causal chain from a to b (a co b): a, then each read that brought
        a's knowledge into another session and the write it read, then b."""
        rw = self.rw
        target_session, target_seq = rw.session[a], rw.seq[a]
        chain = [b]
        e = b
        while rw.session[e] != target_session:
            reads = self.session_reads[rw.session[e]]
            hi = bisect.bisect_right([rw.seq[r] for r in reads], rw.seq[e])
            lo = 0
            while lo < hi:  # the first read of the session that knows a
                mid = (lo + hi) // 2
                if self.knows(reads[mid], target_session, target_seq):
                    hi = mid
                else:
                    lo = mid + 1
            r = reads[lo]
            if r != e:
                chain.append(r)
            e = rw.source[r]
            chain.append(e)
        if e != a:
            chain.append(a)
        return chain[::-1]


# -- words ---------------------------------------------------------------------------


def who(rw: RwHistory, e: int) -> str:
    """The name of e's session (``process 2``)."""
    return rw.sessions[rw.session[e]].name


def did(rw: RwHistory, e: int) -> str:
    """``process 2 read x = 1 (op 7)``."""
    return f"{who(rw, e)} {rw.event_text(e)}"


def chain_text(rw: RwHistory, events: Sequence[int]) -> str:
    """A causal chain in words, ``did → did → …``, each step said once."""
    parts: list[str] = []
    for e in events:
        text = did(rw, e)
        if not parts or parts[-1] != text:
            parts.append(text)
    return " → ".join(parts)


def write_noun(rw: RwHistory, w: int) -> str:
    """``the write of 5 to x (op 2)``."""
    to = "" if rw.register else f" to {render_key(rw.raw_key[w])}"
    return f"the write of {rw.value_text(w)}{to} (op {rw.op[w]})"


def initial_read(rw: RwHistory, e: int) -> str:
    """Read e of the initial value, without its session (``read x = nil (op 7)``)."""
    return f"{rw.read_text(rw.raw_key[e], rw.version_text(None))} (op {rw.op[e]})"


def _ops(rw: RwHistory, events: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted({rw.op[e] for e in events}))


def anomaly(rw: RwHistory, kind: str, model: str, events: Sequence[int], text: str,
            **data: Any) -> Anomaly:
    """A bad pattern of `model` over `events` (duplicates dropped), with their ops."""
    events = list(dict.fromkeys(events))
    return Anomaly(kind=kind, ops=_ops(rw, events), explanation=text,
                   data={"model": model, "events": [rw.event_json(e) for e in events],
                         **data})


# -- bad patterns found --------------------------------------------------------------


@dataclass(slots=True)
class Found:
    """Instances of bad patterns: all counted, the first few kept as anomalies."""

    counts: dict[str, int] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    _kept: dict[str, int] = field(default_factory=dict)

    def wants(self, kind: str) -> bool:
        """Count one more instance of ``kind``; True if it should be spelled out."""
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return self._kept.get(kind, 0) < _REPORT_LIMIT

    def add(self, anomaly: Anomaly) -> None:
        self._kept[anomaly.kind] = self._kept.get(anomaly.kind, 0) + 1
        self.anomalies.append(anomaly)

    def has(self, model: str) -> bool:
        return any(a.data["model"] == model for a in self.anomalies)

