"""Causal consistency of register and key-value histories: CC, CM and CCv.

Problem. Deciding whether one history is causally consistent is NP-complete in general;
Bouajjani, Enea, Guerraoui and Hamza ("On Verifying Causal Consistency", POPL 2017)
show that when written values are unique per key (a *differentiated* history, which
data-independent stores and labrys's generators give), three variants are decided in
polynomial time by looking for a few *bad patterns*:

- CC, weak causal consistency: every read can be explained by some order of its own
  causal past;
- CM, causal memory: every process can explain all of its own reads by one order of
  what it has seen;
- CCv, causal convergence: one total arbitration order of writes, respected by every
  read.

CM and CCv each imply CC; neither implies the other.

Central abstraction: the *causal order* ``co = (po ∪ rf)+``, where ``po`` orders a
session's events and ``rf`` leads from each write to the reads that returned its value
(known exactly, since values are unique). It is represented by vector clocks over the
sessions whose writes other sessions read: an event's clock says how long a prefix of
each such session lies in its causal past. The bad patterns (Table 2 of the paper) are:

    CC   CyclicCO          po ∪ rf has a cycle
         ThinAirRead       a read of a value no write wrote (or only a failed one)
         WriteCOInitRead   a read of the initial value with a write to its key in its past
         WriteCORead       w co w' co r where r reads from w and w' writes r's key
    CCv  CyclicCF          co ∪ cf has a cycle, where w' cf w when some read of w has w'
                           (another write to its key) in its causal past
    CM   WriteHBInitRead   as WriteCOInitRead, with the happened-before of a process
         CyclicHB          that happened-before has a cycle

where the happened-before ``hb_o`` of an operation o of process p is the smallest
transitive relation containing co over o's causal past such that, whenever p itself
read key x from w (at or before o) and another write w' to x is hb-before that read,
w' is hb-before w: the order p must see to explain its own reads.

Example (a CCv violation that is CC and CM)::

    process 0: write x=1 (op 0)           process 2: read x=1 (op 4), read x=2 (op 6)
    process 1: write x=2 (op 2)           process 3: read x=2 (op 8), read x=1 (op 10)

Process 2's second read has both writes in its causal past and returns 2, so 1 must be
arbitrated before 2; process 3's says the opposite: ``CyclicCF``. Each process alone can
explain its reads (it simply saw the writes arrive in different orders), so CC and CM
hold.

Algorithms and their cost (n events, S sessions whose writes another session read, d
the number of sessions a read knows more of than the write it returned, about the
number of clients running at once):

- Clocks: a topological sort of po ∪ rf (CyclicCO if there is none), then a vector clock
  per event with a column per such session. Columns come in chunks of 32 that clocks
  share until they differ, so a join costs O(S/32) plus the chunks that change, and
  crashed processes, each a new session, stay cheap.
- CC: a write that breaks a read r of w (WriteCORead), or that CCv must arbitrate
  against w (cf), is in r's causal past and not in w's; only the d sessions where r's
  clock is ahead of w's can hold one, found chunk by chunk, and of each such session
  only the last write to the key matters (binary search): O(n·(S/32 + d·log n)). A read
  of the initial value looks for any write to its key in its past, session by session.
- CCv: those cf edges plus po ∪ rf, and one strongly-connected-components pass.
- CM: the saturation the paper describes, once per session p (``hb_o`` only grows along
  po, so p's last op has every bad pattern its earlier ops have) and without building
  hb: each event e has a level ``b(e)``, the first of p's reads that e happened before.
  Clocks give the initial levels (co alone). A read number j of x observing a write
  already at level t < j forces every write to x at a level in (t, j] down to t, and
  their causal pasts with them; a worklist applies these moves, with a Fenwick tree per
  key for the tightest bound at each level. Writes stay at their initial level
  implicitly and a key's writes of one level are listed only when some rule moves
  them, so a session whose reads force nothing costs O(m log m) for its m reads. Cycles
  of hb stay within a level, where every derived edge leads into the write p's reads at
  that level observed: a small graph per level.

Non-obvious choices:

- Events, sessions and unique values are as in `labrys.checkers._rw_ops`: ok reads
  only, info writes only when a read shows they happened (they can then be read but are
  never required to be visible), sessions cut at info ops, a cas is a read then a write
  in po, a transaction its micro-ops in order. Splitting an op into events only removes
  constraints, so no causally consistent history is flagged; keys with repeated values
  are left out, which is sound for the same reason, and a verdict that would be true is
  then ``unknown``.
- The claimed model is CC unless ``options.extra["causal_model"]`` names another (``cc``,
  ``cm`` or ``ccv``, or ``causal-memory``/``causal-convergence``); the verdict is the
  claimed model's. All three results are always in ``details["models"]``, and every bad
  pattern found is an anomaly whose ``data["model"]`` names the model it breaks.
- When CC fails, CM and CCv fail with it (both imply CC) and are not searched.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._rw_ops import (
    ABORTED,
    INIT,
    READ,
    THIN_AIR,
    WRITE,
    Adjacency,
    RwHistory,
    find_cycle,
    parse_rw,
    render_key,
    shortest_path,
    strongly_connected,
)
from labrys.checkers._verdict import UNKNOWN, Anomaly, Validity, Verdict
from labrys.errors import UsageError
from labrys.history import History

CC = "CC"
CM = "CM"
CCV = "CCv"
MODELS = (CC, CM, CCV)
_CLAIMS = {"cc": CC, "causal": CC, "causal-consistency": CC, "cm": CM,
           "causal-memory": CM, "ccv": CCV, "causal-convergence": CCV}
_REPORT_LIMIT = 10
"""How many instances of one bad pattern become anomalies; details count them all."""

_PO, _RF, _CF = "po", "rf", "cf"


def claimed_model(options: CheckOptions) -> str:
    """The model the verdict is about: ``options.extra["causal_model"]``, CC by default.

    Raises:
        UsageError: the option names no causal model.
    """
    raw = options.extra.get("causal_model", "cc")
    model = _CLAIMS.get(str(raw).lower())
    if model is None:
        raise UsageError(f"causal_model={raw!r} is not a causal model; use cc, cm or ccv")
    return model


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
class _Order:
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


def _who(rw: RwHistory, e: int) -> str:
    return rw.sessions[rw.session[e]].name


def _did(rw: RwHistory, e: int) -> str:
    """``process 2 read x = 1 (op 7)``."""
    return f"{_who(rw, e)} {rw.event_text(e)}"


def _chain_text(rw: RwHistory, events: Sequence[int]) -> str:
    parts: list[str] = []
    for e in events:
        text = _did(rw, e)
        if not parts or parts[-1] != text:
            parts.append(text)
    return " → ".join(parts)


def _write_noun(rw: RwHistory, w: int) -> str:
    """``the write of 5 to x (op 2)``."""
    to = "" if rw.register else f" to {render_key(rw.raw_key[w])}"
    return f"the write of {rw.value_text(w)}{to} (op {rw.op[w]})"


def _initial(rw: RwHistory, e: int) -> str:
    return f"{rw.read_text(rw.raw_key[e], rw.version_text(None))} (op {rw.op[e]})"


def _ops(rw: RwHistory, events: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted({rw.op[e] for e in events}))


def _anomaly(rw: RwHistory, kind: str, model: str, events: Sequence[int], text: str,
             **data: Any) -> Anomaly:
    events = list(dict.fromkeys(events))
    return Anomaly(kind=kind, ops=_ops(rw, events), explanation=text,
                   data={"model": model, "events": [rw.event_json(e) for e in events],
                         **data})


# -- CC ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Found:
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


def _thin_air(rw: RwHistory, found: _Found) -> None:
    for e, src in enumerate(rw.source):
        if src in (THIN_AIR, ABORTED) and found.wants("ThinAirRead"):
            why = "which no write wrote"
            if src == ABORTED:
                why = (f"which only op {rw.failed_writes[(rw.key[e], rw.value[e])]} wrote, "
                       "and that op failed")
            found.add(_anomaly(rw, "ThinAirRead", CC, [e], f"{_did(rw, e)}, {why}."))


def _cyclic_co(order: _Order, found: _Found) -> None:
    """Report one cycle of po ∪ rf (the sort found there is one)."""
    rw = order.rw
    sources, target = [], []
    for e in range(len(rw)):
        if order.pred[e] >= 0:
            sources.append(order.pred[e])
            target.append(e)
        if rw.kind[e] == READ and rw.source[e] >= 0:
            sources.append(rw.source[e])
            target.append(e)
    adjacency = Adjacency(len(rw), sources)
    component = strongly_connected(len(rw), adjacency, target)
    sizes: dict[int, int] = {}
    for c in component:
        sizes[c] = sizes.get(c, 0) + 1
    start = next(e for e in range(len(rw)) if sizes[component[e]] > 1)
    back = next(v for v in (target[i] for i in adjacency[start])
                if component[v] == component[start])
    path = [target[i] for i in shortest_path(adjacency, target, back, start,
                                             within=component) or []]
    cycle = [start, back, *path]
    cycle = cycle[:-1] if cycle[-1] == start else cycle
    found.wants("CyclicCO")
    found.add(_anomaly(
        rw, "CyclicCO", CC, cycle,
        "Causality runs in a circle (session order and reads-from): "
        f"{_chain_text(rw, [*cycle, start])}, so some read returned a value written "
        "causally after it."))


def _check_cc(order: _Order, found: _Found) -> list[tuple[int, int, int]]:
    """WriteCOInitRead and WriteCORead; returns the cf edges ``(w', w, read)`` that co
    does not already imply, for CCv."""
    rw = order.rw
    conflicts: list[tuple[int, int, int]] = []
    for r, src in enumerate(rw.source):
        if rw.kind[r] != READ or src in (THIN_AIR, ABORTED):
            continue
        key = rw.key[r]
        if src == INIT:
            w = order.any_write_known(r, key)
            if w is not None and found.wants("WriteCOInitRead"):
                chain = order.path(w, r)
                found.add(_anomaly(
                    rw, "WriteCOInitRead", CC, chain,
                    f"{_who(rw, r)} {_initial(rw, r)}, the initial value, although "
                    f"{_did(rw, w)} is in its causal past: {_chain_text(rw, chain)}."))
            continue
        for w2 in order.newer_writes(r, src, key):
            if not order.before(src, w2):
                conflicts.append((w2, src, r))
            elif found.wants("WriteCORead"):
                first, second = order.path(src, w2), order.path(w2, r)
                found.add(_anomaly(
                    rw, "WriteCORead", CC, [*first, *second[1:]],
                    f"{_did(rw, r)}, the value op {rw.op[src]} wrote, although op "
                    f"{rw.op[w2]} overwrote it causally in between: "
                    f"{_chain_text(rw, [*first, *second[1:]])}.",
                    overwritten_by=rw.op[w2]))
                break
            else:
                break
    return conflicts


# -- CCv -----------------------------------------------------------------------------


def _check_ccv(order: _Order, conflicts: Sequence[tuple[int, int, int]], found: _Found) -> None:
    """CyclicCF: a cycle in co ∪ cf."""
    if not conflicts:
        return
    rw = order.rw
    n = len(rw)
    edges: list[tuple[str, int, int, int]] = []  # kind, from, to, witnessing read

    def add(kind: str, a: int, b: int, witness: int) -> None:
        edges.append((kind, a, b, witness))

    for e in range(n):
        if order.pred[e] >= 0:
            add(_PO, order.pred[e], e, -1)
        if rw.kind[e] == READ and rw.source[e] >= 0:
            add(_RF, rw.source[e], e, e)
    for other, w, r in conflicts:
        add(_CF, other, w, r)
    target = [b for _, _, b, _ in edges]
    adjacency = Adjacency(n, [a for _, a, _, _ in edges])
    component = strongly_connected(n, adjacency, target)
    cycles_seen: set[int] = set()
    for i, (kind, a, b, _) in enumerate(edges):
        if kind != _CF or component[a] != component[b] or component[a] in cycles_seen:
            continue
        cycles_seen.add(component[a])
        if not found.wants("CyclicCF"):
            continue
        cycle = [i, *(shortest_path(adjacency, target, b, a, within=component) or [])]
        steps = [_cf_step(rw, edges[j]) for j in cycle]
        events = [x for j in cycle for x in edges[j][1:4] if x >= 0]
        found.add(_anomaly(
            rw, "CyclicCF", CCV, events,
            "No single arbitration order of writes explains every read: "
            + "; ".join(steps) + "; a cycle.",
            cycle=[{"kind": edges[j][0], "from": rw.op[edges[j][1]], "to": rw.op[edges[j][2]]}
                   for j in cycle]))


def _cf_step(rw: RwHistory, edge: tuple[str, int, int, int]) -> str:
    kind, a, b, r = edge
    if kind == _PO:
        return f"{_who(rw, a)} did op {rw.op[a]} before op {rw.op[b]}"
    if kind == _RF:
        return f"op {rw.op[b]} ({_who(rw, b)}) read what op {rw.op[a]} wrote"
    return (f"{_did(rw, r)} with {_write_noun(rw, a)} in its causal past, so op {rw.op[a]} "
            f"is arbitrated before op {rw.op[b]}")


# -- CM ------------------------------------------------------------------------------


class _SuffixMin:
    """Minimum of ``(value, tag)`` over positions ≥ i, with values that only decrease."""

    __slots__ = ("_n", "_tree")

    def __init__(self, values: Sequence[tuple[int, int]]) -> None:
        self._n = len(values)
        self._tree: list[tuple[int, int]] = [(1 << 60, -1)] * (self._n + 1)
        for i, v in enumerate(values):
            self.lower(i, v)

    def lower(self, i: int, value: tuple[int, int]) -> None:
        k = self._n - i  # position i from the end, 1-based
        while k <= self._n:
            if value < self._tree[k]:
                self._tree[k] = value
            k += k & -k

    def query(self, i: int) -> tuple[int, int]:
        k = self._n - i
        best = (1 << 60, -1)
        while k > 0:
            if self._tree[k] < best:
                best = self._tree[k]
            k -= k & -k
        return best


@dataclass(slots=True)
class _Memory:
    """The saturation of ``hb`` for one session p, as levels ``b(e)``: e happened before
    p's read number ``b(e)`` (1-based), and before no earlier one of p's reads."""

    order: _Order
    p: int
    reads: list[int]
    inf: int = 0
    read_seqs: list[int] = field(default_factory=list)
    level: dict[int, int] = field(default_factory=dict)
    why: dict[int, tuple[str, int, int]] = field(default_factory=dict)
    buckets: dict[Hashable, dict[int, set[int]]] = field(default_factory=dict)
    levels: dict[Hashable, list[int]] = field(default_factory=dict)
    rules: dict[Hashable, list[int]] = field(default_factory=dict)  # key -> read numbers
    trees: dict[Hashable, _SuffixMin] = field(default_factory=dict)
    sourced: dict[int, list[tuple[Hashable, int]]] = field(default_factory=dict)
    # key -> listed level -> a later level that may not be listed yet (a union-find)
    listed: dict[Hashable, dict[int, int]] = field(default_factory=dict)
    broken: tuple[int, int] | None = None  # a p-event forced before an earlier p-read
    moved: bool = False  # whether any event left its initial level
    _lowering: bool = False

    def __post_init__(self) -> None:
        rw = self.order.rw
        self.inf = len(self.reads) + 1
        self.read_seqs = [rw.seq[r] for r in self.reads]

    def initial(self, e: int) -> int:
        """b from co alone: the first of p's reads that has e in its causal past."""
        rw = self.order.rw
        s = rw.session[e]
        if s == self.p:
            return bisect.bisect_left(self.read_seqs, rw.seq[e]) + 1
        if self.order.column[s] < 0:
            return self.inf
        # What p's reads know of s only grows along p: binary search, reading clocks.
        known, reads = self.order.known, self.reads
        return bisect.bisect_right(range(len(reads)), rw.seq[e],
                                   key=lambda j: known(reads[j], s)) + 1

    def b(self, e: int) -> int:
        found = self.level.get(e)
        return self.initial(e) if found is None else found

    def run(self) -> None:
        """Saturate, starting from each rule whose read observed a write that was
        already at an earlier level.

        Writes sit at their initial level implicitly; a key's writes of one level are
        listed (`_materialize`) only when a rule has to move them, so a session whose
        reads never force anything costs O(m log m), whatever it learnt in between.
        """
        rw = self.order.rw
        for r in self.reads:
            if rw.source[r] not in (THIN_AIR, ABORTED):
                self.buckets.setdefault(rw.key[r], {})
                self.levels.setdefault(rw.key[r], [])
        for j, r in enumerate(self.reads, start=1):
            w = rw.source[r]
            if w >= 0:
                key = rw.key[r]
                self.sourced.setdefault(w, []).append((key, len(self.rules.setdefault(key,
                                                                                      []))))
                self.rules[key].append(j)
        for key, js in self.rules.items():
            sources = [rw.source[self.reads[j - 1]] for j in js]
            self.trees[key] = _SuffixMin([(self.b(w), j) for w, j in
                                          zip(sources, js, strict=True)])
        for key, js in self.rules.items():
            for j in js:
                w = rw.source[self.reads[j - 1]]
                t = self.b(w)
                if t < j and self.broken is None:
                    self._lower_range(key, t, j, ("rule", j, w), [])

    def _materialize(self, key: Hashable, lo: int, hi: int) -> None:
        """List, in their buckets, the writes to ``key`` whose initial level is in
        [lo, hi] and that have not moved: per level ℓ, those in the causal past of p's
        read number ℓ and not of read ℓ-1. Each level is listed once per key."""
        order = self.order
        done = self.listed.setdefault(key, {})

        def next_unlisted(lvl: int) -> int:
            root = lvl
            while root in done:
                root = done[root]
            while lvl != root:  # path compression
                done[lvl], lvl = root, done[lvl]
            return root

        lvl = next_unlisted(max(lo, 2))  # level 1 never moves: nothing is below it
        while lvl <= hi:
            now, before = self.reads[lvl - 1], self.reads[lvl - 2]
            for s in order.ahead(now, before):
                found = order.writes.get((s, key))
                if found is None:
                    continue
                a = bisect.bisect_left(found[0], order.known(before, s))
                b = bisect.bisect_left(found[0], order.known(now, s))
                for w in found[1][a:b]:
                    if w not in self.level:
                        self.level[w] = lvl
                        self._put(key, w, lvl)
            done[lvl] = lvl + 1
            lvl = next_unlisted(lvl + 1)

    def _lower_range(self, key: Hashable, t: int, j: int, why: tuple[str, int, int],
                     stack: list[tuple[int, int, tuple[str, int, int]]]) -> None:
        """Lower every write to ``key`` at a level in (t, j] to t (a rule's demand)."""
        self._materialize(key, t + 1, j)
        levels = self.levels[key]
        for lvl in levels[bisect.bisect_right(levels, t):bisect.bisect_right(levels, j)]:
            for w in self.buckets[key].get(lvl, ()):
                stack.append((w, t, ("rule", why[1], w)))
        if stack and not self._lowering:
            self._lower_all(stack)

    def _put(self, key: Hashable, w: int, lvl: int) -> None:
        bucket = self.buckets[key].get(lvl)
        if bucket is None:
            bucket = self.buckets[key][lvl] = set()
            bisect.insort(self.levels[key], lvl)
        bucket.add(w)

    def _lower_all(self, stack: list[tuple[int, int, tuple[str, int, int]]]) -> None:
        """Make b(e) ≤ t for each ``(e, t, why)`` on the stack, and all that forces."""
        rw = self.order.rw
        self._lowering = True
        while stack and self.broken is None:
            e, t, why = stack.pop()
            cur = self.b(e)
            key = rw.key[e]
            tree = self.trees.get(key) if rw.kind[e] == WRITE else None
            if tree is not None:
                js = self.rules[key]
                while True:  # every rule of a read numbered ≥ t bounds this write
                    bound, j = tree.query(bisect.bisect_left(js, t))
                    if bound >= t:
                        break
                    t, why = bound, ("rule", j, e)
            if cur <= t:
                continue
            if rw.session[e] == self.p:
                self.why[e] = why
                self.broken = (e, t)
                break
            self.level[e] = t
            self.why[e] = why
            self.moved = True
            if key in self.buckets and rw.kind[e] == WRITE:
                self.buckets[key].get(cur, set()).discard(e)
                self._put(key, e, t)
            for rkey, pos in self.sourced.get(e, ()):
                j = self.rules[rkey][pos]
                self.trees[rkey].lower(pos, (t, j))
                self._lower_range(rkey, t, j, ("rule", j, e), stack)
            if self.order.pred[e] >= 0:
                stack.append((self.order.pred[e], t, (_PO, e, -1)))
            if rw.kind[e] == READ and rw.source[e] >= 0:
                stack.append((rw.source[e], t, (_RF, e, -1)))
        self._lowering = False


def _memory_reasons(m: _Memory, e: int, limit: int = 6) -> tuple[list[str], list[int]]:
    """Why e happened before p's read number b(e): the lowering steps, in words, and
    the events they name."""
    rw = m.order.rw
    out: list[str] = []
    events = [e]
    start, causal = e, []
    seen: set[int] = set()
    while len(out) < limit and e not in seen:
        seen.add(e)
        why = m.why.get(e)
        if why is None:  # e is in the causal past of that read
            j = m.initial(e)
            if j < m.inf and m.reads[j - 1] != e:
                causal.extend(m.order.path(e, m.reads[j - 1])[1:])
            break
        kind, a, _ = why
        if kind in (_PO, _RF):
            causal.append(a)
            e = a
            continue
        if a < 0:
            break
        if causal:
            out.append("causally " + _chain_text(rw, [start, *causal]))
            events.extend(causal)
        r = m.reads[a - 1]
        events.extend([r, rw.source[r]])
        out.append(f"{_who(rw, r)} {rw.event_text(r)} when {_write_noun(rw, e)} already "
                   f"preceded that read, so op {rw.op[e]} precedes op {rw.op[rw.source[r]]}, "
                   "the write it read")
        e = rw.source[r]
        start, causal = e, []
    if causal:
        out.append("causally " + _chain_text(rw, [start, *causal]))
        events.extend(causal)
    return out, events


def _check_cm_session(order: _Order, p: int, found: _Found, *, convergent: bool) -> None:
    """CM's bad patterns for session p (``convergent``: whether CyclicCF was absent)."""
    rw = order.rw
    reads = [r for r in rw.sessions[p].events if rw.kind[r] == READ]
    if len(reads) < 2:
        return  # with one read, CM asks exactly what CC asks
    m = _Memory(order=order, p=p, reads=reads)
    m.run()
    name = rw.sessions[p].name
    if m.broken is not None:
        e, t = m.broken
        if found.wants("CyclicHB"):
            r = reads[t - 1]
            reasons, events = _memory_reasons(m, e)
            found.add(_anomaly(
                rw, "CyclicHB", CM, [r, *events],
                f"{name} cannot explain its reads by any one order: its own later op "
                f"{rw.op[e]} would have to precede its earlier read at op {rw.op[r]}, "
                f"because " + "; ".join(reasons) + "."))
        return
    for j, r in enumerate(reads, start=1):
        if rw.source[r] != INIT or rw.key[r] not in m.buckets:
            continue
        lows = [lvl for lvl in m.levels[rw.key[r]] if m.buckets[rw.key[r]].get(lvl)]
        if not lows or lows[0] > j:
            continue
        w = min(m.buckets[rw.key[r]][lows[0]])
        if found.wants("WriteHBInitRead"):
            reasons, events = _memory_reasons(m, w)
            found.add(_anomaly(
                rw, "WriteHBInitRead", CM, [*events, r],
                f"{name} {_initial(rw, r)}, the initial value, although {_write_noun(rw, w)} "
                f"must precede that read in any one order that explains {name}'s reads: "
                + "; ".join(reasons) + "."))
        break
    # Unless some event moved, every derived edge is a cf edge, so an hb cycle would be
    # a cycle of co ∪ cf, which the CCv search has ruled out.
    if m.moved or not convergent:
        _check_hb_cycles(m, found)


def _check_hb_cycles(m: _Memory, found: _Found) -> None:
    """hb cycles lie within one level, where derived edges all lead into the writes that
    p's reads at that level observed: a small graph per level."""
    order, rw = m.order, m.order.rw
    name = rw.sessions[m.p].name
    observed: dict[tuple[int, Hashable], dict[int, int]] = {}  # (level, key) -> write -> read
    for j, r in enumerate(m.reads, start=1):
        w = rw.source[r]
        if w >= 0:
            observed.setdefault((m.b(w), rw.key[r]), {})[w] = j  # p's last read of w
    by_level: dict[int, list[tuple[Hashable, int]]] = {}
    for (lvl, key), ws in observed.items():
        if len(ws) > 1:
            (a, ja), (b, jb) = sorted(ws.items(), key=lambda kv: kv[1])[:2]
            if found.wants("CyclicHB"):
                ra, rb = m.reads[ja - 1], m.reads[jb - 1]
                first = m.reads[lvl - 1]
                found.add(_anomaly(
                    rw, "CyclicHB", CM, [a, b, ra, rb],
                    f"{name} {rw.event_text(ra)} and later {rw.event_text(rb)}, but both "
                    f"writes preceded its read at op {rw.op[first]} in the order it must "
                    f"see, so whichever comes last, one of the two reads missed it."))
            return
        by_level.setdefault(lvl, []).append((key, next(iter(ws))))
    for lvl, sources in by_level.items():
        # The writes with an hb edge into each observed write: those listed at this
        # level, and of the others (which p's read of it saw), per session the last.
        into: dict[int, list[int]] = {}
        for key_b, sb in sources:
            r = m.reads[observed[(lvl, key_b)][sb] - 1]
            into[sb] = [w for w in m.buckets[key_b].get(lvl, ()) if w != sb]
            into[sb].extend(u for u in order.newer_writes(r, sb, key_b) if m.b(u) == lvl)
        graph: dict[int, list[tuple[int, int]]] = {}
        for _, sa in sources:
            for _, sb in sources:
                for w in into[sb]:
                    if order.before(sa, w):
                        graph.setdefault(sa, []).append((sb, w))
                        break
        cycle = find_cycle(graph)
        if cycle is None or not found.wants("CyclicHB"):
            continue
        steps = []
        events: list[int] = []
        for sa, (sb, w) in cycle:
            r = m.reads[observed[(lvl, rw.key[sb])][sb] - 1]
            reasons, because = _memory_reasons(m, w)
            chain = order.path(sa, w)
            events.extend([*chain, *because, r, sb])
            if sa != w:
                steps.append(f"{_write_noun(rw, sa)} causally precedes {_write_noun(rw, w)} "
                             f"({_chain_text(rw, chain)})")
            steps.append(f"{name} {rw.event_text(r)}, yet {_write_noun(rw, w)} must precede "
                         f"that read ({'; '.join(reasons)}), so it precedes op {rw.op[sb]}, "
                         "the write that read returned")
        found.add(_anomaly(rw, "CyclicHB", CM, events,
                           f"{name} cannot explain its reads by any one order: "
                           + "; ".join(steps) + "; a cycle."))


# -- the checker ---------------------------------------------------------------------


def check_causal(history: History, options: CheckOptions) -> Verdict:
    """Causal consistency (CC, CM, CCv) of a register or key-value history.

    Returns:
        The claimed model's verdict (see `claimed_model`): false when it fails, unknown
        when it holds on the keys that could be judged but some keys could not (repeated
        values), true otherwise. ``details["models"]`` has all three results; each bad
        pattern found is an anomaly named as in the paper, with its events.

    Raises:
        HistoryError: a client op is not a register, key-value or rw-register op.
        UsageError: ``causal_model`` names no causal model.
    """
    claimed = claimed_model(options)
    rw = parse_rw(history, options, checker="causal")
    order = _Order(rw)
    found = _Found()
    _thin_air(rw, found)
    if not order.sort():
        _cyclic_co(order, found)
    else:
        order.compute_clocks()
        conflicts = _check_cc(order, found)
        if not found.has(CC):
            _check_ccv(order, conflicts, found)
            for s in range(len(rw.sessions)):
                _check_cm_session(order, s, found, convergent=not found.has(CCV))
    holds = {CC: not found.has(CC)}
    holds[CM] = holds[CC] and not found.has(CM)
    holds[CCV] = holds[CC] and not found.has(CCV)
    models: dict[str, Validity] = {
        m: (UNKNOWN if ok and rw.ambiguous else ok) for m, ok in holds.items()}
    details: dict[str, Any] = {
        "claimed": claimed, "models": models, "bad-patterns": dict(found.counts),
        "events": len(rw), "sessions": len(rw.sessions),
        "clock-columns": sum(1 for c in order.column if c >= 0),
    }
    if rw.ambiguous:
        details["unjudged-keys"] = [info["key"] for info in rw.ambiguous.values()]
    return Verdict(checker="causal", valid=models[claimed],
                   explanation=_summary(rw, claimed, models, found),
                   anomalies=tuple(found.anomalies), details=details)


def _summary(rw: RwHistory, claimed: str, models: dict[str, Validity], found: _Found) -> str:
    said = {True: "holds", False: "fails", UNKNOWN: "holds on the keys that could be judged"}
    head = f"{claimed} (claimed) {said[models[claimed]]}"
    others = [f"{m} {said[models[m]]}" for m in MODELS if m != claimed]
    text = f"{head}; {', '.join(others)}."
    failing = [a for a in found.anomalies if a.data["model"] == claimed] or found.anomalies
    if failing:
        counts = ", ".join(f"{k} ×{n}" for k, n in found.counts.items())
        text += f" Bad patterns: {counts}. {failing[0].kind}: {failing[0].explanation}"
    if rw.ambiguous:
        text += " " + rw.ambiguity_text()
    return text

