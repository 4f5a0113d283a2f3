"""The constraints each session guarantee puts on a server order, as one graph.

Part of the session-guarantee checkers (`labrys.checkers._session`, whose docstring is
the design note and states the model). A server order exists for a set of guarantees
exactly when the graph of that set's constraints has no cycle; this module builds the
constraints of all five sets (each guarantee alone, and all four together) into one
edge list, each edge tagged with the sets it belongs to, and finds the cycles of each.

Nodes are versions: a write (numbered by its event in the parsed history), the initial
value of each key, and *hub* nodes. An edge ``a → b`` says a precedes b in the server
order (or is b). A hub stands for "every version in this set" when a constraint has
many sources: a write must follow *everything* its session read before, which without
monotonic reads is one edge per earlier read; a chain of hubs (``v₁ → h₁ → h₂ ← v₂``,
``h₂ → write``) says the same with one edge per read. Read your writes needs "every
earlier write of the session to the key *but the one the read returned*" (a version
does not precede itself), so its hubs form a segment tree, where any range of writes is
a few hubs. A path through hubs is read as the constraint the hubs stand for.

Kinds of edge, and the sets that hold them:

    initial    a key's initial value → each write to it                    all
    rmw        what an operation read of a key → its write to that key    all
    own        an operation's write to a key → its later write to it      all
    RYW        a session's earlier writes to a key → what it then read     RYW
    MR         what a session read of a key → what it next read of it      MR, session
    MW         a session's write → its next write (any key)                MW, session
    WFR        what a session read → each write it made afterwards        WFR, session
    MW-state   for an operation reading x and y in one state, where x's
               writer wrote y before: that write of y → the y it read      MW
    WFR-state  the same with what x's writer had read (directly or through
               other sessions' writes) of y                               WFR
    state      all four at once: every write to y in the state the
               operation read (its causal past) → the y it read          session

The three *state* kinds are where a Terry state's closure shows: a state holding a
write holds what monotonic writes and writes-follow-reads drag in with it. They are
found with the vector clocks of `labrys.checkers._causal_order.CausalOrder`: with all
four guarantees, an operation's state is the causal past of its reads (which is why
``session`` needs neither RYW's edges nor the two single state kinds: its own state
edges imply them); with writes follow reads alone, the reads in a write's closure are
exactly the reads in its causal past (a causal path from a read can always be taken
through reads), so only the sessions where one read's clock is ahead of another's need
edges.

Cost: O(n log n) edges and hubs for n events, plus, for ``session``, one edge per read
per session its clock is ahead in (as the causal checker's ``cf`` edges). The largest
set's graph gets a strongly-connected-components pass; the others, being subgraphs,
only within its cyclic components.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from labrys.checkers._causal_order import CausalOrder
from labrys.checkers._rw_ops import Adjacency, shortest_path, strongly_connected
from labrys.checkers._session_view import View

RYW = "read-your-writes"
MR = "monotonic-reads"
MW = "monotonic-writes"
WFR = "writes-follow-reads"
SESSION = "session"
GUARANTEES = (RYW, MR, MW, WFR)

BIT = {RYW: 1, MR: 2, MW: 4, WFR: 8, SESSION: 16}
_BASE_BIT = 32
_BASE = 63  # every set holds the base edges, and so does the base graph

INITIAL, RMW, OWN = "initial", "rmw", "own"
MW_STATE, WFR_STATE, STATE = "monotonic-writes-state", "writes-follow-reads-state", "state"
_HUB = "hub"
# A hub run begins with an *_IN edge into a hub and ends with an *_OUT edge out of one.
_RYW_IN, _RYW_OUT = "ryw-in", "ryw-out"
_WFR_IN, _WFR_OUT = "wfr-in", "wfr-out"
_RUN_KIND = {_RYW_IN: RYW, _WFR_IN: WFR}
_HEADLINE_KINDS = frozenset({_RYW_OUT, MR, MW, _WFR_OUT, MW_STATE, WFR_STATE, STATE})
"""Edges a contradiction is named by: one per constraint (a hub run by its last edge)."""

_STRIDE = 4
"""Event slots per edge in `Graph.evidence` (unused ones hold -1)."""


@dataclass(slots=True)
class Graph:
    """Versions and hubs as nodes, constraints as edge columns.

    Edges are columns of integers and shared strings rather than an object each: a
    large history has hundreds of thousands of them.
    """

    n_events: int
    node_key: dict[int, Hashable] = field(default_factory=dict)  # initial node -> key
    init_node: dict[Hashable, int] = field(default_factory=dict)
    n_nodes: int = 0
    src: list[int] = field(default_factory=list)
    dst: list[int] = field(default_factory=list)
    kind: list[str] = field(default_factory=list)
    mask: list[int] = field(default_factory=list)
    evidence: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.n_nodes = self.n_events

    def initial(self, key: Hashable) -> int:
        node = self.init_node.get(key)
        if node is None:
            node = self.init_node[key] = self.n_nodes
            self.node_key[node] = key
            self.n_nodes += 1
        return node

    def hub(self) -> int:
        self.n_nodes += 1
        return self.n_nodes - 1

    def is_initial(self, node: int) -> bool:
        return node in self.node_key

    def is_version(self, node: int) -> bool:
        """A write or an initial value (not a hub)."""
        return node < self.n_events or node in self.node_key

    def add(self, src: int, dst: int, kind: str, mask: int, events: tuple[int, ...]) -> None:
        self.src.append(src)
        self.dst.append(dst)
        self.kind.append(kind)
        self.mask.append(mask)
        self.evidence.extend(events)
        self.evidence.extend([-1] * (_STRIDE - len(events)))

    def events(self, i: int) -> tuple[int, ...]:
        return tuple(e for e in self.evidence[i * _STRIDE:(i + 1) * _STRIDE] if e >= 0)


@dataclass(slots=True)
class Premises:
    """How often each guarantee's premise occurs (a write then a read of its key in one
    session, two reads of a key, two writes, a read then a write): a guarantee whose
    premise never occurs has nothing to judge."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(GUARANTEES, 0))


@dataclass(slots=True)
class Built:
    """The graph of every wanted set, with what judging it needed."""

    graph: Graph
    premises: Premises
    views: list[View]
    orders: list[CausalOrder | None]  # per view, when its clocks were computed
    _where: dict[int, tuple[int, int]] | None = None
    _last_read: dict[int, int] | None = None

    def chain(self, a: int, b: int) -> list[int]:
        """The events of a causal chain from event a to event b (a in b's causal past,
        both events of the parsed history), as `CausalOrder.path` finds it."""
        if self._where is None:
            self._where = {e: (vi, d) for vi, view in enumerate(self.views)
                           for d, e in enumerate(view.orig)}
        vi, da = self._where[a]
        view, order = self.views[vi], self.orders[vi]
        assert order is not None  # a chain is asked for only where clocks were computed
        return [view.orig[d] for d in order.path(da, self._where[b][1])]

    def last_state_read(self, read: int) -> int:
        """The last read of ``read``'s operation, whose clock holds the operation's state."""
        if self._last_read is None:
            self._last_read = {view.orig[r]: view.orig[reads[-1]] for view in self.views
                               for ops in view.ops for reads, _ in ops for r in reads}
        return self._last_read[read]


# -- building ------------------------------------------------------------------------


class _Builder:
    def __init__(self, n_events: int, wanted: int) -> None:
        self.graph = Graph(n_events)
        self.premises = Premises()
        self.wanted = wanted | _BASE_BIT

    def want(self, mask: int) -> bool:
        return bool(self.wanted & mask)

    def add(self, src: int, dst: int, kind: str, mask: int, events: tuple[int, ...]) -> None:
        if self.wanted & mask:
            self.graph.add(src, dst, kind, mask, events)

    def observed(self, view: View, r: int) -> int:
        """The version read ``r`` (a derived event) observed, as a node."""
        src = view.rw.source[r]
        return view.orig[src] if src >= 0 else self.graph.initial(view.rw.key[r])

    def sessions(self, view: View) -> None:
        """Base, RYW, MR, MW and WFR edges: each session's operations in order."""
        for ops in view.ops:
            self._session(view, ops)

    def _session(self, view: View, ops: Sequence[tuple[list[int], list[int]]]) -> None:
        rw, orig, g = view.rw, view.orig, self.graph
        written: set[Hashable] = set()
        last_read: dict[Hashable, int] = {}
        wfr_hub: int | None = None
        seen_a_write = False  # whether the session has read a write yet
        last_write: int | None = None
        mr, mw, wfr = BIT[MR] | BIT[SESSION], BIT[MW] | BIT[SESSION], BIT[WFR] | BIT[SESSION]
        counts = self.premises.counts
        for reads, writes in ops:
            state: dict[Hashable, int] = {}
            for r in reads:
                key = rw.key[r]
                state[key] = r
                version = self.observed(view, r)
                if key in written:
                    counts[RYW] += 1
                if key in last_read:
                    counts[MR] += 1
                    before = self.observed(view, last_read[key])
                    if before != version:
                        self.add(before, version, MR, mr, (orig[last_read[key]], orig[r]))
                last_read[key] = r
            relevant = [r for r in reads if rw.source[r] >= 0]
            seen_a_write = seen_a_write or bool(relevant)
            if relevant and self.want(wfr):
                hub = g.hub()
                if wfr_hub is not None:
                    self.add(wfr_hub, hub, _HUB, wfr, ())
                for r in relevant:
                    self.add(self.observed(view, r), hub, _WFR_IN, wfr, (orig[r],))
                wfr_hub = hub
            own: dict[Hashable, int] = {}
            for w in writes:
                key, node = rw.key[w], orig[w]
                self.add(g.initial(key), node, INITIAL, _BASE, (node,))
                if key in state and rw.source[state[key]] >= 0:
                    self.add(self.observed(view, state[key]), node, RMW, _BASE,
                             (orig[state[key]], node))
                if key in own:
                    self.add(orig[own[key]], node, OWN, _BASE, (orig[own[key]], node))
                own[key] = w
                if last_write is not None:
                    counts[MW] += 1
                    self.add(orig[last_write], node, MW, mw, (orig[last_write], node))
                last_write = w
                if seen_a_write:
                    counts[WFR] += 1
                if wfr_hub is not None:
                    self.add(wfr_hub, node, _WFR_OUT, wfr, (node,))
                written.add(key)

    def ryw(self, view: View) -> None:
        """Every earlier write of a session to a key precedes what it then read of the
        key (other than that read's own version: a version does not precede itself)."""
        rw, orig, mask = view.rw, view.orig, BIT[RYW]
        for ops in view.ops:
            writes: dict[Hashable, list[int]] = {}  # key -> the session's writes to it
            position: dict[int, int] = {}  # write -> its place in writes[key]
            for _, op_writes in ops:
                for w in op_writes:
                    position[w] = len(writes.setdefault(rw.key[w], []))
                    writes[rw.key[w]].append(w)
            hubs: dict[Hashable, _RangeHubs] = {}
            seen = dict.fromkeys(writes, 0)  # key -> how many of them precede this op
            for reads, op_writes in ops:
                for r in reads:
                    key = rw.key[r]
                    m = seen.get(key, 0)
                    if not m:
                        continue
                    if key not in hubs:
                        hubs[key] = _RangeHubs(self, [(orig[w], orig[w]) for w in writes[key]],
                                               _RYW_IN, mask)
                    own = position.get(rw.source[r], m)
                    own = own if own < m else m
                    for hub in (*hubs[key].cover(0, own), *hubs[key].cover(own + 1, m)):
                        self.add(hub, self.observed(view, r), _RYW_OUT, mask, (orig[r],))
                for w in op_writes:
                    seen[rw.key[w]] += 1

    def mw_state(self, view: View, order: CausalOrder) -> None:
        """For a state read of x and y: the write of y that x's writer made before x."""
        rw, orig = view.rw, view.orig
        mask = BIT[MW]  # session's state edges hold these
        for rx, wx, ry in _read_pairs(view):
            found = order.writes.get((rw.session[wx], rw.key[ry]))
            if found is None:
                continue
            i = bisect.bisect_left(found[0], rw.seq[wx]) - 1
            if i >= 0 and found[1][i] != rw.source[ry]:
                w1 = found[1][i]
                self.add(orig[w1], self.observed(view, ry), MW_STATE, mask,
                         (orig[w1], orig[wx], orig[rx], orig[ry]))

    def wfr_state(self, view: View, order: CausalOrder) -> None:
        """For a state read of x and y: what x's closure under writes-follow-reads read
        of y (the reads of y in x's causal past that y's own past does not hold)."""
        rw, orig = view.rw, view.orig
        mask = BIT[WFR]  # session's state edges hold these
        reads_of: dict[tuple[int, Hashable], tuple[list[int], list[int]]] = {}
        readers: dict[Hashable, list[int]] = {}  # key -> sessions that read it
        for s, ops in enumerate(view.ops):
            for reads, _ in ops:
                for r in reads:
                    seqs, events = reads_of.setdefault((s, rw.key[r]), ([], []))
                    if not seqs:
                        readers.setdefault(rw.key[r], []).append(s)
                    seqs.append(rw.seq[r])
                    events.append(r)
        for rx, wx, ry in _read_pairs(view):
            y, target = rw.key[ry], rw.source[ry]
            sessions = (order.ahead(wx, target) if target >= 0 else readers.get(y, ()))
            for s in sessions:
                found = reads_of.get((s, y))
                if found is None:
                    continue
                seqs, events = found
                # Reads target's past holds are ordered before it already.
                lo = 0 if target < 0 else bisect.bisect_left(seqs, order.known(target, s))
                hi = bisect.bisect_left(seqs, order.known(wx, s))
                for r in events[lo:hi]:
                    w = rw.source[r]
                    if w >= 0 and w != target:
                        self.add(orig[w], self.observed(view, ry), WFR_STATE, mask,
                                 (orig[r], orig[rx], orig[ry]))
                        if target < 0:  # one write in a state read as initial
                            break  # suffices to show the contradiction

    def all_state(self, view: View, order: CausalOrder) -> None:
        """With all four guarantees, an operation's state is the causal past of its
        reads: every write to a key in it precedes what the operation read of the key."""
        rw, orig, mask = view.rw, view.orig, BIT[SESSION]
        for ops in view.ops:
            for reads, _ in ops:
                if not reads:
                    continue
                last = reads[-1]  # its clock holds the whole state
                for ry in reads:
                    y, w = rw.key[ry], rw.source[ry]
                    if w >= 0:
                        for w2 in order.newer_writes(last, w, y):
                            self.add(orig[w2], orig[w], STATE, mask, (orig[w2], orig[ry]))
                        continue
                    w2 = order.any_write_known(last, y)
                    if w2 is not None:
                        self.add(orig[w2], self.graph.initial(y), STATE, mask,
                                 (orig[w2], orig[ry]))


class _RangeHubs:
    """Hubs over a list of versions such that any contiguous range of them is the union
    of at most two per level (a segment tree): a read's "every earlier write but the one
    it read" is two ranges, so O(log n) edges instead of one per write."""

    def __init__(self, builder: _Builder, items: Sequence[tuple[int, int]], kind: str,
                 mask: int) -> None:
        self.size = 1 << max(0, (len(items) - 1).bit_length())
        tree: list[int | None] = [None] * (2 * self.size)
        for i, (node, event) in enumerate(items):
            hub = builder.graph.hub()
            builder.add(node, hub, kind, mask, (event,))
            tree[self.size + i] = hub
        for p in range(self.size - 1, 0, -1):
            children = [c for c in (tree[2 * p], tree[2 * p + 1]) if c is not None]
            if len(children) == 2:
                tree[p] = builder.graph.hub()
                for c in children:
                    builder.add(c, tree[p], _HUB, mask, ())
            elif children:
                tree[p] = children[0]
        self.tree = tree

    def cover(self, lo: int, hi: int) -> list[int]:
        """Hubs whose sets are exactly the items lo … hi-1 together."""
        out = []
        lo += self.size
        hi += self.size
        while lo < hi:
            if lo & 1:
                out.append(self.tree[lo])
                lo += 1
            if hi & 1:
                hi -= 1
                out.append(self.tree[hi])
            lo //= 2
            hi //= 2
        return [h for h in out if h is not None]


def _multi_key_ops(view: View) -> list[tuple[list[int], list[int]]]:
    return [op for ops in view.ops for op in ops if len(op[0]) > 1]


def _read_pairs(view: View) -> Iterator[tuple[int, int, int]]:
    """``(rx, wx, ry)`` for every two reads of an operation's state, rx of a write wx."""
    rw = view.rw
    for reads, _ in _multi_key_ops(view):
        for rx in reads:
            wx = rw.source[rx]
            if wx < 0:
                continue
            for ry in reads:
                if ry != rx:
                    yield rx, wx, ry


def build(n_events: int, views: Sequence[View], wanted: Sequence[str]) -> Built:
    """The constraint graph of the wanted sets (guarantee names and/or ``session``).

    Args:
        n_events: the number of events of the parsed history (write nodes are events).
        views: the views to judge (`labrys.checkers._session_view.terry_views`).
        wanted: which sets to build.
    """
    mask = 0
    for name in wanted:
        mask |= BIT[name]
    b = _Builder(n_events, mask)
    orders: list[CausalOrder | None] = []
    for view in views:
        b.sessions(view)
        if b.want(BIT[RYW]):
            b.ryw(view)
        multi = bool(_multi_key_ops(view))
        needs_clocks = b.want(BIT[SESSION]) or (multi and b.want(BIT[WFR]))
        order = CausalOrder(view.rw) if needs_clocks or (multi and b.want(BIT[MW])) else None
        ok = True
        if order is not None and multi and b.want(BIT[MW]):
            b.mw_state(view, order)
        if order is not None and needs_clocks:
            ok = order.sort()
            if ok:
                order.compute_clocks()
                if multi and b.want(BIT[WFR]):
                    b.wfr_state(view, order)
                if b.want(BIT[SESSION]):
                    b.all_state(view, order)
        # Without clocks (po ∪ rf has a cycle) no state edges are needed: the cycle is
        # one of writes follow reads, and of session, already.
        orders.append(order if ok else None)
    return Built(graph=b.graph, premises=b.premises, views=list(views), orders=orders)


# -- cycles --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One constraint on a cycle: ``src`` precedes ``dst`` because of ``kind``, which
    the parsed history's ``events`` show (a hub run is one step)."""

    kind: str
    src: int
    dst: int
    events: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Cycles:
    """The contradictions of one set: how many independent ones (strongly connected
    components with a cycle through one of the set's own constraints), the first few
    (the one that became visible first first) as cycles of steps, each starting with
    the constraint that names it; how many of the set's constraints lie on a cycle; and
    every cyclic component (``component`` maps a node to its component)."""

    count: int
    cycles: tuple[tuple[Step, ...], ...]
    component: Mapping[int, int] | Sequence[int]
    cyclic: frozenset[int]
    constraints: int


def _visible(g: Graph, i: int, op: Sequence[int]) -> int:
    """When edge i's evidence was complete: the latest op among its events."""
    return max((op[e] for e in g.events(i)), default=-1)


def cycles(g: Graph, name: str | None, op: Sequence[int], *, limit: int,
           within: Cycles | None = None) -> Cycles:
    """The cycles of one set's graph (``name``: a guarantee or ``session``; None for
    the base edges alone), the contradiction that became visible first first.

    Args:
        g: the graph.
        name: which set.
        op: the parsed history's ``op`` column, to order contradictions in time.
        limit: how many cycles to spell out.
        within: the cycles of a set holding this one: a cycle of a subgraph lies in
            one cyclic component of the graph, so only those are searched (on a history
            that keeps all four guarantees, the single guarantees cost nothing more).
    """
    bit = _BASE_BIT if name is None else BIT[name]
    ids = [i for i, m in enumerate(g.mask) if m & bit]
    n = g.n_nodes
    node_of: Sequence[int] | None = None  # local node -> graph node, when compacted
    if within is not None:
        comp, cyclic = within.component, within.cyclic
        ids = [i for i in ids if comp[g.src[i]] == comp[g.dst[i]] and comp[g.src[i]] in cyclic]
        node_of = sorted({g.src[i] for i in ids} | {g.dst[i] for i in ids})
        local = {node: k for k, node in enumerate(node_of)}
        sources = [local[g.src[i]] for i in ids]
        targets = [local[g.dst[i]] for i in ids]
        n = len(node_of)
    else:
        sources = [g.src[i] for i in ids]
        targets = [g.dst[i] for i in ids]
    adjacency = Adjacency(n, sources)
    component = strongly_connected(n, adjacency, targets)
    inside: dict[int, list[int]] = {}  # cyclic component -> its internal edges (local)
    for j in range(len(ids)):
        c = component[sources[j]]
        if c == component[targets[j]]:
            inside.setdefault(c, []).append(j)

    def headline(j: int) -> bool:
        return name is None or g.kind[ids[j]] in _HEADLINE_KINDS

    def visible(j: int) -> int:
        return _visible(g, ids[j], op)

    named = {c: min(visible(j) for j in edges if headline(j))
             for c, edges in inside.items() if any(headline(j) for j in edges)}
    found = []
    for c in sorted(named, key=named.__getitem__)[:limit]:
        cycle = _earliest_cycle(sorted(inside[c], key=visible), sources, targets,
                                headline)
        found.append(_steps(g, [ids[j] for j in cycle]))
    by_node: Mapping[int, int] | Sequence[int] = (
        component if node_of is None else dict(zip(node_of, component, strict=True)))
    return Cycles(count=len(named), cycles=tuple(found), component=by_node,
                  cyclic=frozenset(inside),
                  constraints=sum(1 for edges in inside.values() for j in edges if headline(j)))


def _earliest_cycle(edges: Sequence[int], sources: Sequence[int], targets: Sequence[int],
                    headline: Callable[[int], bool]) -> list[int]:
    """A short cycle of a strongly connected component, among its earliest edges.

    A component that a long history closes late can hold cycles through hundreds of
    constraints; the few constraints that first close one make the shortest story. The
    edges (in the order they became visible) are taken in prefixes of doubling length
    until one holds a cycle; of the cycles through its last few edges that name a
    contradiction (the edges that closed it), the shortest is told.

    Returns:
        The cycle's edges (indices into ``sources`` and ``targets``), headline first.
    """
    size = 64
    while True:
        prefix = edges[:size]
        nodes = {v: k for k, v in enumerate({sources[j] for j in prefix}
                                            | {targets[j] for j in prefix})}
        src = [nodes[sources[j]] for j in prefix]
        dst = [nodes[targets[j]] for j in prefix]
        adjacency = Adjacency(len(nodes), src)
        component = strongly_connected(len(nodes), adjacency, dst)
        closing = [k for k in range(len(prefix) - 1, -1, -1)
                   if component[src[k]] == component[dst[k]] and headline(prefix[k])][:16]
        best: list[int] | None = None
        for k in closing:
            back = shortest_path(adjacency, dst, dst[k], src[k], within=component)
            if back is None:  # unreachable: both ends are in one component
                raise AssertionError(f"edge {prefix[k]} is on no cycle")
            if best is None or len(back) + 1 <= len(best):
                best = [prefix[k], *(prefix[m] for m in back)]
        if best is not None:
            return best
        if size >= len(edges):
            raise AssertionError("a strongly connected component without a cycle")
        size *= 2


def _steps(g: Graph, cycle: list[int]) -> tuple[Step, ...]:
    """The cycle's edges as steps, hub runs merged, starting with the first edge's."""
    start = next(k for k, i in enumerate(cycle) if g.is_version(g.src[i]))
    rotated = cycle[start:] + cycle[:start]
    steps: list[Step] = []
    run: list[int] = []
    headline = 0
    for i in rotated:
        run.append(i)
        if not g.is_version(g.dst[i]):
            continue
        first, last = run[0], run[-1]
        kind = g.kind[first] if len(run) == 1 else _RUN_KIND[g.kind[first]]
        if cycle[0] in run:
            headline = len(steps)
        steps.append(Step(kind, g.src[first], g.dst[last], g.events(first) + g.events(last)
                          if len(run) > 1 else g.events(first)))
        run = []
    return tuple(steps[headline:] + steps[:headline])
