"""Session guarantees: read-your-writes, monotonic reads, monotonic writes, writes follow reads.

Problem. Terry et al. ("Session Guarantees for Weakly Consistent Replicated Data", PDIS
1994) define four promises a store makes to one client session, against the order in
which servers apply writes (their *WriteOrder*):

- read your writes (RYW): a read reflects every earlier write of its session;
- monotonic reads (MR): a read reflects every write an earlier read of the session saw;
- monotonic writes (MW): a session's writes are applied in the order it made them, and a
  state that holds its later write holds its earlier one;
- writes follow reads (WFR): a session's write is applied after every write its earlier
  reads saw, and a state that holds the write holds those too.

A black-box history has no WriteOrder. What it has is evidence about one: each read of
a register names the write it saw (values are unique), and each guarantee, if kept,
forces an order between two versions of a key. The checkers here infer the version
order from that evidence, as test harnesses do (Elle infers version orders from what
reads observed), and report where the evidence contradicts itself.

Central abstraction: the *version graph* of each key. Its nodes are the key's versions
(its initial value and every write that happened); an edge ``a → b`` says "a precedes or
is b in any order that keeps the guarantee labelling the edge". The edges are:

    initial    the initial value → every write                              (always)
    rmw        what an op read → what the same op then wrote (cas, txn)     (always)
    RYW        the session's latest earlier write to x → what a read of x saw
    MR         what a read of x saw → what the session's next read of x saw
    MW         a session's write to x → its next write to x; and, for a transaction
               that read y = W2 together with x = v (one state), the writer's latest
               earlier write to x → v
    WFR        what a session's read of x saw → its next write to x; and, for such a
               transaction, what the writer read of x before W2 → v

A guarantee G is *violated* when one of its edges lies on a cycle: no order of the key's
versions satisfies that edge together with the rest of the evidence. Every edge on a
cycle is contradicted, so one contradiction can implicate two guarantees, and then both
report it: the history cannot tell which promise the store broke. ``session`` reports
every cycle, which is exactly "no single version order keeps all four guarantees".

Example (a register, initially nil)::

    op 10  process 3  write 5   ok
    op 12  process 3  write 7   ok
    op 15  process 3  read      ok 5

MW puts 5 before 7 (op 10, op 12); RYW demands that op 15 see 7 or a later version, so
7 before 5: a cycle through one RYW and one MW edge. ``read-your-writes`` reports
"process 3 wrote 7 (op 12) and then read 5 (op 15), a value older than its own write:
process 3 wrote 5 (op 10) and then wrote 7 (op 12)", and ``monotonic-writes`` reports the
same cycle from its side. Had process 3 read nil, the cycle would be RYW and the
initial value alone, and only ``read-your-writes`` would report it.

Non-obvious choices:

- The inferred order never uses real time. Real time is evidence for linearizability,
  not for session guarantees; sequential consistency (a total order respecting each
  process's order) keeps all four guarantees, and every edge above holds in the write
  order of every sequentially consistent execution, so these checkers never flag a
  sequentially consistent history.
- On a single register MW and WFR are visible only through other ops' reads, so their
  violations there usually implicate MR or RYW too; alone they show only as causal
  loops (a session reading, directly or through compare-and-set, a value written
  because of its own later write). Reads of one transaction are one state (Terry's Read
  is a query at one server), which is what lets MW and WFR be violated alone in the
  usual way: ``process 1 wrote x=1 then y=2; a transaction read y=2 and x=nil`` breaks
  MW only.
- RYW needs a read to reflect the session's *latest* earlier write to the key; MR, MW
  and WFR chain consecutive ops. With the MW edges in the graph this is the same as
  demanding every earlier write, pair by pair, at a fraction of the edges, and it keeps
  RYW out of contradictions that are really about the order of the session's writes.
- Sessions, which reads count, indeterminate writes and unique values are as in
  `labrys.checkers._rw_ops`. A read of a value no write wrote (``thin-air-read``) or
  that only a failed write wrote (``aborted-read``) fits no version order; every
  session checker reports it. A key whose writes repeat a value is not judged, and a
  verdict that would otherwise be true is then ``unknown``.

Cost: O(n + t²) edges for n events and transactions of t reads, one Tarjan pass for
strongly connected components, and a breadth-first search per reported cycle.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._rw_ops import (
    ABORTED,
    READ,
    THIN_AIR,
    WRITE,
    Adjacency,
    RwHistory,
    parse_rw,
    render_key,
    render_value,
    shortest_path,
    strongly_connected,
)
from labrys.checkers._verdict import UNKNOWN, Anomaly, Verdict, nothing_to_judge, worst
from labrys.history import History

RYW = "read-your-writes"
MR = "monotonic-reads"
MW = "monotonic-writes"
WFR = "writes-follow-reads"
GUARANTEES = (RYW, MR, MW, WFR)

_INITIAL = "initial"
_RMW = "rmw"
_MW_SNAPSHOT = "monotonic-writes-snapshot"
_WFR_SNAPSHOT = "writes-follow-reads-snapshot"
_GUARANTEE_OF = {RYW: RYW, MR: MR, MW: MW, WFR: WFR, _MW_SNAPSHOT: MW, _WFR_SNAPSHOT: WFR}

_REPORT_LIMIT = 10
"""How many contradictions each guarantee spells out; details count them all."""
_EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class _Edge:
    """One edge, as the explanations read it."""

    src: int
    dst: int
    kind: str
    events: tuple[int, ...]  # the events that justify it, in the order the kind names them


_STRIDE = 4
"""Event slots per edge in `_Graph.evidence` (unused ones hold -1)."""


@dataclass(slots=True)
class _Graph:
    """Versions of every key as nodes: write event ``e`` is node ``e``; initial values follow.

    Edges are columns of plain integers and shared strings rather than an object each:
    a large history has hundreds of thousands of them, and the garbage collector's full
    passes over the heap cost in proportion to the objects on it.
    """

    rw: RwHistory
    init_node: dict[Hashable, int] = field(default_factory=dict)
    node_key: list[Hashable] = field(default_factory=list)
    src: list[int] = field(default_factory=list)
    dst: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    evidence: list[int] = field(default_factory=list)
    adjacency: Adjacency | None = None  # node -> ids of its edges, once all are added

    def __post_init__(self) -> None:
        self.node_key = list(self.rw.key)

    def initial(self, key: Hashable) -> int:
        node = self.init_node.get(key)
        if node is None:
            node = len(self.node_key)
            self.init_node[key] = node
            self.node_key.append(key)
        return node

    def is_initial(self, node: int) -> bool:
        return node >= len(self.rw.key)

    def version(self, read: int) -> int:
        """The node a read observed (its source must be a write or the initial value)."""
        src = self.rw.source[read]
        return src if src >= 0 else self.initial(self.rw.key[read])

    def add(self, src: int, dst: int, kind: str, events: tuple[int, ...]) -> None:
        self.src.append(src)
        self.dst.append(dst)
        self.kind.append(kind)
        self.evidence.extend(events)
        self.evidence.extend([-1] * (_STRIDE - len(events)))

    def events(self, i: int) -> tuple[int, ...]:
        return tuple(e for e in self.evidence[i * _STRIDE:(i + 1) * _STRIDE] if e >= 0)

    def edge(self, i: int) -> _Edge:
        return _Edge(self.src[i], self.dst[i], self.kind[i], self.events(i))


def _build(rw: RwHistory) -> _Graph:
    """Every edge of the version graph (see the module docstring)."""
    g = _Graph(rw)
    for e, kind in enumerate(rw.kind):
        if kind == WRITE:
            g.add(g.initial(rw.key[e]), e, _INITIAL, (e,))
    for session in rw.sessions:
        last_write: dict[Hashable, int] = {}
        last_read: dict[Hashable, int] = {}
        since_write: dict[Hashable, dict[int, int]] = {}  # key -> version -> latest read
        for e in session.events:
            key = rw.key[e]
            if rw.kind[e] == WRITE:
                prev = last_write.get(key)
                if prev is not None:
                    g.add(prev, e, MW, (prev, e))
                for node, r in since_write.pop(key, {}).items():
                    g.add(node, e, _RMW if rw.op[r] == rw.op[e] else WFR, (r, e))
                last_write[key] = e
                continue
            if rw.source[e] in (THIN_AIR, ABORTED):
                continue
            v = g.version(e)
            prev = last_write.get(key)
            if prev is not None and prev != v:
                g.add(prev, v, RYW, (prev, e))
            prev = last_read.get(key)
            if prev is not None and g.version(prev) != v:
                g.add(g.version(prev), v, MR, (prev, e))
            last_read[key] = e
            if not g.is_initial(v):
                since_write.setdefault(key, {})[v] = e
    _snapshot_edges(g)
    g.adjacency = Adjacency(len(g.node_key), g.src)
    return g


def _snapshot_edges(g: _Graph) -> None:
    """MW and WFR edges from transactions that read several keys in one state."""
    rw = g.rw
    # (session, key) -> op positions and events of its writes, and of its reads
    writes: dict[tuple[int, Hashable], tuple[list[int], list[int]]] = {}
    reads: dict[tuple[int, Hashable], tuple[list[int], list[int]]] = {}
    by_op: dict[int, list[int]] = {}
    for e, kind in enumerate(rw.kind):
        table = writes if kind == WRITE else reads
        positions, events = table.setdefault((rw.session[e], rw.key[e]), ([], []))
        positions.append(rw.op_seq[e])
        events.append(e)
        by_op.setdefault(rw.op[e], []).append(e)

    def latest_before(table: dict[tuple[int, Hashable], tuple[list[int], list[int]]],
                      session: int, key: Hashable, op_seq: int) -> int | None:
        found = table.get((session, key))
        if found is None:
            return None
        i = bisect.bisect_left(found[0], op_seq) - 1
        return found[1][i] if i >= 0 else None

    for events in by_op.values():
        if len(events) < 2 or rw.indefinite[events[0]]:
            continue
        state: dict[Hashable, int] = {}  # key -> the read that saw the op's starting state
        written: set[Hashable] = set()
        for e in events:
            if rw.kind[e] == WRITE:
                written.add(rw.key[e])
            elif (rw.key[e] not in written and rw.key[e] not in state
                  and rw.source[e] not in (THIN_AIR, ABORTED)):
                state[rw.key[e]] = e
        if len(state) < 2:
            continue
        for y, read_y in state.items():
            w2 = rw.source[read_y]
            if w2 < 0:
                continue
            s2, q2 = rw.session[w2], rw.op_seq[w2]
            for x, read_x in state.items():
                if x == y:
                    continue
                v = g.version(read_x)
                w1 = latest_before(writes, s2, x, q2)
                if w1 is not None and w1 != v:
                    g.add(w1, v, _MW_SNAPSHOT, (w1, w2, read_y, read_x))
                r1 = latest_before(reads, s2, x, q2)
                if r1 is not None and rw.source[r1] >= 0 and rw.source[r1] != v:
                    g.add(rw.source[r1], v, _WFR_SNAPSHOT, (r1, w2, read_y, read_x))


# -- analysis ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class _Analysis:
    rw: RwHistory
    graph: _Graph
    component: list[int]
    violations: dict[str, list[int]]  # guarantee -> edge ids on cycles
    base: tuple[Anomaly, ...]  # thin-air and aborted reads, cycles of rmw alone


def _analyse(history: History, options: CheckOptions, checker: str) -> _Analysis:
    rw = parse_rw(history, options, checker=checker)
    g = _build(rw)
    assert g.adjacency is not None
    component = strongly_connected(len(g.node_key), g.adjacency, g.dst)
    violations: dict[str, list[int]] = {gname: [] for gname in GUARANTEES}
    guarded: set[int] = set()
    rmw_cycles: dict[int, int] = {}
    for i, (src, dst, kind) in enumerate(zip(g.src, g.dst, g.kind, strict=True)):
        if component[src] != component[dst]:
            continue
        guarantee = _GUARANTEE_OF.get(kind)
        if guarantee is None:
            if kind == _RMW:
                rmw_cycles.setdefault(component[src], i)
            continue
        violations[guarantee].append(i)
        guarded.add(component[src])
    # Report the contradictions that became visible first.
    for ids in violations.values():
        ids.sort(key=lambda i: max(rw.op[e] for e in g.events(i)))
    base = [*_unexplained_reads(rw)]
    for comp, i in rmw_cycles.items():
        if comp not in guarded:
            base.append(_rmw_cycle(g, component, i))
    return _Analysis(rw=rw, graph=g, component=component, violations=violations,
                     base=tuple(base))


def _unexplained_reads(rw: RwHistory) -> list[Anomaly]:
    out = []
    for marker, kind, why in ((THIN_AIR, "thin-air-read", "which no write wrote"),
                              (ABORTED, "aborted-read", "which only a failed write wrote")):
        reads = [e for e, src in enumerate(rw.source) if src == marker]
        if not reads:
            continue
        shown = "; ".join(_sentence_read(rw, e, why) for e in reads[:_EXAMPLES])
        more = f" (and {len(reads) - _EXAMPLES} more)" if len(reads) > _EXAMPLES else ""
        data: dict[str, Any] = {"reads": [rw.event_json(e) for e in reads]}
        if marker == ABORTED:
            data["failed-writes"] = [rw.failed_writes[(rw.key[e], rw.value[e])] for e in reads]
        out.append(Anomaly(
            kind=kind, ops=tuple(sorted({rw.op[e] for e in reads})),
            explanation=f"{shown}{more}: no order of versions can explain such a read.",
            data=data))
    return out


def _sentence_read(rw: RwHistory, e: int, why: str) -> str:
    name = rw.sessions[rw.session[e]].name
    text = f"{name} {rw.event_text(e)}, {why}"
    if rw.source[e] == ABORTED:
        text += f" (op {rw.failed_writes[(rw.key[e], rw.value[e])]} failed)"
    return text


def _rmw_cycle(g: _Graph, component: Sequence[int], edge_id: int) -> Anomaly:
    cycle = _cycle(g, component, edge_id)
    rw = g.rw
    reasons = "; ".join(_reason(g, g.edge(i)) for i in cycle)
    return Anomaly(
        kind="cyclic-versions", ops=_ops(g, cycle),
        explanation=f"Read-modify-write operations chain {_key_phrase(g, g.src[edge_id])}'s "
                    f"versions in a circle: {reasons}.",
        data={"key": rw.key_json(g.node_key[g.src[edge_id]]),
              "cycle": [_edge_json(g, i) for i in cycle]})


def _cycle(g: _Graph, component: Sequence[int], edge_id: int) -> list[int]:
    """The edge followed by a shortest way back from its target to its source."""
    edge = g.edge(edge_id)
    assert g.adjacency is not None
    back = shortest_path(g.adjacency, g.dst, edge.dst, edge.src, within=component)
    if back is None:  # unreachable: both ends are in one strongly connected component
        raise AssertionError(f"edge {edge} is on no cycle")
    return [edge_id, *back]


def _ops(g: _Graph, cycle: Sequence[int]) -> tuple[int, ...]:
    return tuple(sorted({g.rw.op[e] for i in cycle for e in g.events(i)}))


# -- words ---------------------------------------------------------------------------


def _key_phrase(g: _Graph, node: int) -> str:
    if g.rw.register:
        return "the register"
    return f"key {render_key(g.rw.key_json(g.node_key[node]))}"


def _version(g: _Graph, node: int) -> str:
    if g.is_initial(node):
        return render_value(g.rw.init_raw)
    return g.rw.value_text(node)


def _who(rw: RwHistory, e: int) -> str:
    return rw.sessions[rw.session[e]].name


def _w(rw: RwHistory, e: int, shown: str | None = None) -> str:
    """``wrote 7 to x (op 12)``, optionally with another value shown."""
    return f"{rw.write_text(rw.raw_key[e], shown or rw.value_text(e))} (op {rw.op[e]})"


def _r(rw: RwHistory, e: int) -> str:
    return f"{rw.read_text(rw.raw_key[e], rw.value_text(e))} (op {rw.op[e]})"


def _reason(g: _Graph, edge: _Edge) -> str:
    """Why ``edge.src`` precedes ``edge.dst``, as a clause."""
    rw = g.rw
    ev = edge.events
    if edge.kind == _INITIAL:
        return f"{_version(g, edge.src)} is the initial value, older than every write"
    if edge.kind == _RMW:
        return (f"op {rw.op[ev[1]]} ({_who(rw, ev[1])}) read {rw.value_text(ev[0])} and "
                f"replaced it with {rw.value_text(ev[1])}")
    if edge.kind == RYW:
        return f"{_who(rw, ev[0])} {_w(rw, ev[0])} and then {_r(rw, ev[1])}"
    if edge.kind == MR:
        return f"{_who(rw, ev[0])} {_r(rw, ev[0])} and then {_r(rw, ev[1])}"
    if edge.kind == MW:
        return f"{_who(rw, ev[0])} {_w(rw, ev[0])} and then {_w(rw, ev[1])}"
    if edge.kind == WFR:
        return f"{_who(rw, ev[0])} {_r(rw, ev[0])} and then {_w(rw, ev[1])}"
    first = _w(rw, ev[0]) if edge.kind == _MW_SNAPSHOT else _r(rw, ev[0])
    return (f"{_who(rw, ev[1])} {first} before it {_w(rw, ev[1])}, and op {rw.op[ev[2]]} "
            f"({_who(rw, ev[2])}) read {_assign(rw, ev[2])} together with "
            f"{_assign(rw, ev[3])}")


def _assign(rw: RwHistory, read: int) -> str:
    if rw.register:
        return rw.value_text(read)
    return f"{render_key(rw.raw_key[read])} = {rw.value_text(read)}"


def _explain(g: _Graph, cycle: Sequence[int]) -> str:
    """The violated edge as a headline, then why its target precedes its source."""
    rw = g.rw
    edge = g.edge(cycle[0])
    back = [g.edge(i) for i in cycle[1:]]
    initial = g.is_initial(edge.dst)
    ev = edge.events
    why = "; ".join(_reason(g, b) for b in back)
    if edge.kind == RYW:
        head = f"{_who(rw, ev[0])} {_w(rw, ev[0])} and then {_r(rw, ev[1])}"
        tail = (", the initial value, as if its write had never happened" if initial else
                f", a value older than its own write: {why}")
    elif edge.kind == MR:
        head = f"{_who(rw, ev[0])} {_r(rw, ev[0])} and then {_r(rw, ev[1])}"
        tail = (", the initial value, after it had already seen a write" if initial else
                f", an older value: {why}")
    elif edge.kind == MW:
        head = f"{_who(rw, ev[0])} {_w(rw, ev[0])} and then {_w(rw, ev[1])}"
        tail = f", yet {rw.value_text(ev[1])} is ordered before {rw.value_text(ev[0])}: {why}"
    elif edge.kind == WFR and edge.src == edge.dst:
        head = f"{_who(rw, ev[0])} {_r(rw, ev[0])} before it {_w(rw, ev[1])} itself"
        tail = ": it read its own future write"
    elif edge.kind == WFR:
        head = f"{_who(rw, ev[0])} {_r(rw, ev[0])} and then {_w(rw, ev[1])}"
        tail = f", yet {rw.value_text(ev[1])} is ordered before {rw.value_text(ev[0])}: {why}"
    else:
        first = _w(rw, ev[0]) if edge.kind == _MW_SNAPSHOT else _r(rw, ev[0])
        head = (f"{_who(rw, ev[1])} {first} and then {_w(rw, ev[1])}, yet op {rw.op[ev[2]]} "
                f"({_who(rw, ev[2])}) read {_assign(rw, ev[2])} together with "
                f"{_assign(rw, ev[3])}")
        if initial:
            seen = "the write before it" if edge.kind == _MW_SNAPSHOT else "what it followed"
            tail = f", the initial value: it saw the later write without {seen}"
        else:
            tail = f", which is older than {rw.value_text(ev[0])}: {why}"
    return f"{head}{tail}."


def _edge_json(g: _Graph, i: int) -> dict[str, Any]:
    edge = g.edge(i)
    out: dict[str, Any] = {"kind": edge.kind, "from": _version_json(g, edge.src),
                           "to": _version_json(g, edge.dst),
                           "ops": [g.rw.op[e] for e in edge.events]}
    if g.is_initial(edge.src):
        out["from-initial"] = True
    return out


def _version_json(g: _Graph, node: int) -> Any:
    return g.rw.init_raw if g.is_initial(node) else g.rw.raw_value[node]


def _anomaly(a: _Analysis, guarantee: str, edge_id: int) -> Anomaly:
    g = a.graph
    cycle = _cycle(g, a.component, edge_id)
    return Anomaly(
        kind=guarantee, ops=_ops(g, cycle), explanation=_explain(g, cycle),
        data={"key": g.rw.key_json(g.node_key[g.src[edge_id]]),
              "process": g.rw.sessions[g.rw.session[g.events(edge_id)[-1]]].process,
              "cycle": [_edge_json(g, i) for i in cycle]})


# -- verdicts ------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _verdict(a: _Analysis, guarantee: str) -> Verdict:
    rw = a.rw
    if not len(rw) and not rw.ambiguous:
        return nothing_to_judge(guarantee, "read or write of a register or key that may "
                                "have taken effect")
    found = a.violations[guarantee]
    anomalies = (*a.base, *(_anomaly(a, guarantee, i) for i in found[:_REPORT_LIMIT]))
    details: dict[str, Any] = {
        "guarantee": guarantee,
        "violations": len(found),
        "sessions": len(rw.sessions),
        "reads": rw.kind.count(READ),
        "writes": rw.kind.count(WRITE),
    }
    if rw.ambiguous:
        details["unjudged-keys"] = [info["key"] for info in rw.ambiguous.values()]
    valid: bool | str
    if found:
        valid = False
        explanation = (f"{_count(len(found), 'contradiction')} in the version order "
                       f"implicate{'s' if len(found) == 1 else ''} {guarantee}. "
                       f"{anomalies[len(a.base)].explanation}")
        if a.base:
            explanation += f" Besides, {a.base[0].explanation}"
    elif a.base:
        valid = False
        explanation = a.base[0].explanation
    elif rw.ambiguous:
        valid = UNKNOWN
        explanation = rw.ambiguity_text()
    else:
        valid = True
        explanation = (f"Checked {_count(details['reads'], 'read')} and "
                       f"{_count(details['writes'], 'write')} in "
                       f"{_count(details['sessions'], 'session')}: the evidence about each "
                       f"key's versions is consistent with {guarantee}.")
    return Verdict(checker=guarantee, valid=valid, explanation=explanation,
                   anomalies=anomalies, details=details)


def check_read_your_writes(history: History, options: CheckOptions) -> Verdict:
    """Read your writes: a read reflects the session's latest earlier write to its key.

    Returns:
        Invalid with one ``read-your-writes`` anomaly per reported contradiction (the
        ops of its cycle, in time order); unknown when keys with repeated values kept
        part of the history from being judged and nothing else was found.

    Raises:
        HistoryError: a client op is not a register, key-value or rw-register op.
    """
    return _verdict(_analyse(history, options, RYW), RYW)


def check_monotonic_reads(history: History, options: CheckOptions) -> Verdict:
    """Monotonic reads: a session's read of a key never sees an older version than its
    previous read of that key. Same contract as `check_read_your_writes`."""
    return _verdict(_analyse(history, options, MR), MR)


def check_monotonic_writes(history: History, options: CheckOptions) -> Verdict:
    """Monotonic writes: a session's writes take effect in its order, and no state holds a
    later write without the earlier ones. Same contract as `check_read_your_writes`."""
    return _verdict(_analyse(history, options, MW), MW)


def check_writes_follow_reads(history: History, options: CheckOptions) -> Verdict:
    """Writes follow reads: a session's write is ordered after what its earlier reads saw,
    and no state holds the write without those. Same contract as
    `check_read_your_writes`."""
    return _verdict(_analyse(history, options, WFR), WFR)


def check_session(history: History, options: CheckOptions) -> Verdict:
    """All four session guarantees, each reported separately.

    Returns:
        A verdict whose children are the four guarantees' verdicts, computed from one
        version graph; its validity is the worst of theirs (false when no single version
        order keeps all four), and its anomalies are theirs, each reported once.

    Raises:
        HistoryError: a client op is not a register, key-value or rw-register op.
    """
    a = _analyse(history, options, "session")
    if not len(a.rw) and not a.rw.ambiguous:
        return nothing_to_judge("session", "read or write of a register or key that may "
                                "have taken effect")
    children = tuple(_verdict(a, g) for g in GUARANTEES)
    anomalies: list[Anomaly] = list(a.base)
    for child in children:
        anomalies.extend(x for x in child.anomalies[len(a.base):])
    valid = worst(c.valid for c in children)
    broken = [c.checker for c in children if c.valid is False]
    if broken:
        first = next(c for c in children if c.valid is False)
        explanation = f"Violated: {', '.join(broken)}. {first.explanation}"
    else:
        explanation = children[0].explanation if valid == UNKNOWN else (
            "All four session guarantees are consistent with the history.")
    details = {"violated": broken,
               "violations": {c.checker: c.details["violations"] for c in children}}
    return Verdict(checker="session", valid=valid, explanation=explanation,
                   anomalies=tuple(anomalies), details=details, children=children)
