"""The dependency graph: which transaction must precede which, and why.

Problem. Isolation levels are defined (Adya 1999) over a *direct serialization graph*:
transactions are vertices, and an edge T1 → T2 says T2 depends on T1: it overwrote
T1's write (ww), read it (wr), or overwrote a version T1 read (rw, an
anti-dependency). A database never tells us its version order, so the edges must be
inferred from what clients saw (Kingsbury & Alvaro, "Elle", VLDB 2020). Two more kinds
of edge come from the history itself: **process** order (a session runs its
transactions one after another) and **realtime** order (T2 began after T1 completed).

Central abstraction: `DepGraph`, vertices are transaction ids (`Txn.id`), each edge a
bitmask of the relations that order its ends (``WW | REALTIME`` when both hold). An
`Explainer` says, for one edge and one relation, exactly which micro-ops justify it (a
`Step`), so that a cycle can be explained in English later; nothing is stored per edge
beyond the mask.

Inference, list-append. Appends are unique, so a read ``[1 2 3]`` of key x shows the
order in which 1, 2 and 3 were appended: every read of x is a prefix of x's *version
order*, and the longest read gives the most of it (Elle's "traceable" objects). Reads
that are not prefixes of one another are an ``incompatible-order`` anomaly; the
longest read is then used anyway. With the order of x known:

    ww  the writer of the element before v  →  the transaction appending v
    wr  the writer of a read's last element  →  the reader
    rw  every reader of the state just before v  →  the transaction appending v

An append nobody read comes after every element anyone read: had it come earlier, the
longest read would contain it (so with no reads at all, every append to x follows x's
initial, empty state). Example: T1 ``ax1``, T2 ``ax2``, T3 ``rx12``: x's order is 1, 2, so
T1 -ww→ T2 and T2 -wr→ T3.

Inference, rw-register (Elle's defaults). Writes are unique, so a read of x = 2 names
its writer (wr). The version order is known only partly: every register starts at
None, before every written value, so a transaction that read x = None anti-depends on
every transaction that wrote x (rw). With ``wfr_keys``, a transaction that read x = 1
and then wrote x = 2 also orders 1 before 2 (Elle's ``:wfr-keys?``, "writes follow
reads"), adding ww and rw edges; version orders that come out cyclic are reported as
``cyclic-versions`` and that inference is dropped, as Elle does. Only a transaction's
*external* micro-ops count: its first read of a key before writing it, its last write.

Process and realtime orders. A session's committed transactions are ordered (process).
Realtime: T1 → T2 when T1 committed before T2 was invoked. Only a transitive reduction
is kept: when T2 is invoked it is linked from the *frontier*, the committed
transactions no other committed transaction is known to follow; when T2 commits it
replaces, in the frontier, those that preceded it. The frontier holds at most one
transaction per process, so edges grow with concurrency, not with history length.
Positions in the history, not timestamps, decide realtime order, as in Jepsen and Elle:
a history lists ops in the order they happened, while clocks may disagree.

Non-obvious choices:

- Vertices are the transactions that may have happened: ``ok`` and ``info``. Failed
  ones have no edges; reading their writes is G1a, found elsewhere. An ``info``
  transaction never completed, so it is never the source of a realtime edge, and its
  reads (unknown) give no wr or rw edge; its writes are used, since anyone who read
  them proves it happened.
- A read of a transaction's own earlier write gives no wr edge (no edge is ever a
  self-loop); a read by T of its own *later* write is a ``future-read``, found
  elsewhere.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Protocol

from labrys.checkers._txn_history import (
    APPEND,
    READ,
    WRITE,
    Txn,
    TxnHistory,
)
from labrys.history import OpType

WW = 1
WR = 2
RW = 4
PROCESS = 8
REALTIME = 16
DATA = WW | WR | RW

EDGE_NAMES = {WW: "ww", WR: "wr", RW: "rw", PROCESS: "process", REALTIME: "realtime"}
"""Each edge bit's name, as in Adya and Elle."""

INIT: Any = type("Initial", (), {"__repr__": lambda self: "INIT"})()
"""The version of a key before any write: the empty list, or a register's None."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DepGraph:
    """Transactions and the relations that order them.

    Attributes:
        succ: ``succ[a][b]`` is the bitmask of relations from transaction a to b;
            absent when none holds. Indexed by `Txn.id`.
    """

    succ: Sequence[dict[int, int]]

    def edge_count(self) -> int:
        return sum(len(d) for d in self.succ)


def new_graph(size: int) -> DepGraph:
    return DepGraph(succ=[{} for _ in range(size)])


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """Why transaction a precedes transaction b, by one relation.

    Attributes:
        kind: the relation, one edge bit.
        a, b: the transactions' ids.
        key: the key concerned (ww, wr, rw).
        value: ww: what a wrote; wr: what b read from a (the appended element, or the
            register value); rw: the version a read (`INIT` for the initial state).
        next_value: ww, rw: what b wrote after ``value``.
        a_mop, b_mop: positions of the micro-ops involved in a's and b's values.
    """

    kind: int
    a: int
    b: int
    key: Hashable = None
    value: Any = None
    next_value: Any = None
    a_mop: int | None = None
    b_mop: int | None = None


class Explainer(Protocol):
    def step(self, a: int, b: int, kind: int) -> Step:
        """The micro-ops that justify ``a -kind→ b``, for an edge the graph has."""
        ...


# -- list-append -----------------------------------------------------------------------

AppendReads = dict[Hashable, dict[tuple[Any, ...], list[tuple[int, int]]]]
"""key → each distinct value read → the (transaction id, micro-op position) reading it."""


def index_append_reads(th: TxnHistory) -> AppendReads:
    """Every known read of the transactions that may have happened, grouped by key and
    by value (so that each distinct value is examined once, however often read)."""
    reads: AppendReads = {}
    fail = OpType.FAIL
    for t in th.txns:
        if t.type is fail:
            continue
        tid = t.id
        for i, (f, k, v) in enumerate(t.mops):
            if f == READ and v is not None:
                by_value = reads.get(k)
                if by_value is None:
                    by_value = reads[k] = {}
                who = by_value.get(v)
                if who is None:
                    by_value[v] = [(tid, i)]
                else:
                    who.append((tid, i))
    return reads


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionOrders:
    """Per key, the order in which appends took effect, as far as reads show it.

    Attributes:
        orders: key → elements in version order (duplicates dropped).
        incompatible: (key, shorter, longer) for each key whose reads are not all
            prefixes of one another: the first such pair, in order of length.
    """

    orders: Mapping[Hashable, tuple[Any, ...]]
    incompatible: tuple[tuple[Hashable, tuple[Any, ...], tuple[Any, ...]], ...]


def append_version_orders(reads: AppendReads) -> VersionOrders:
    """The version order of every key read non-empty, from its longest read.

    Reads of one key sorted by length must each be a prefix of the next; the first
    pair that is not is reported, and the longest read is used regardless.
    """
    orders: dict[Hashable, tuple[Any, ...]] = {}
    incompatible = []
    for k, by_value in reads.items():
        values = sorted((v for v in by_value if v), key=len)
        if not values:
            continue
        for shorter, longer in pairwise(values):
            if longer[: len(shorter)] != shorter:
                incompatible.append((k, shorter, longer))
                break
        longest = values[-1]
        orders[k] = longest if len(set(longest)) == len(longest) else tuple(
            dict.fromkeys(longest))
    return VersionOrders(orders=orders, incompatible=tuple(incompatible))


@dataclass(frozen=True, slots=True, kw_only=True)
class AppendExplainer:
    """Explains list-append edges from the same indexes that inferred them."""

    txns: Sequence[Txn]
    writer: Mapping[tuple[Hashable, Any], int]
    orders: Mapping[Hashable, tuple[Any, ...]]
    positions: Mapping[Hashable, Mapping[Any, int]]

    def previous(self, k: Hashable, v: Any) -> Any:
        """The element appended just before v to k (`INIT` if none), as inferred."""
        order = self.orders.get(k, ())
        i = self.positions.get(k, {}).get(v)
        if i is None:
            return order[-1] if order else INIT
        return order[i - 1] if i > 0 else INIT

    def step(self, a: int, b: int, kind: int) -> Step:
        ta, tb = self.txns[a], self.txns[b]
        for j, (f, k, v) in enumerate(tb.mops):
            if kind == WR and f == READ and v:
                if self.writer.get((k, v[-1])) == a:
                    return Step(kind=kind, a=a, b=b, key=k, value=v[-1],
                                a_mop=_mop_index(ta, APPEND, k, v[-1]), b_mop=j)
            elif kind in (WW, RW) and f == APPEND:
                prev = self.previous(k, v)
                if kind == WW and prev is not INIT and self.writer.get((k, prev)) == a:
                    return Step(kind=kind, a=a, b=b, key=k, value=prev, next_value=v,
                                a_mop=_mop_index(ta, APPEND, k, prev), b_mop=j)
                if kind == RW:
                    i = _read_ending(ta, k, prev)
                    if i is not None:
                        return Step(kind=kind, a=a, b=b, key=k, value=prev, next_value=v,
                                    a_mop=i, b_mop=j)
        raise ValueError(f"no {EDGE_NAMES[kind]} dependency from txn {a} to txn {b}")


def _mop_index(t: Txn, f: str, k: Hashable, v: Any) -> int | None:
    for i, mop in enumerate(t.mops):
        if mop[0] == f and mop[1] == k and mop[2] == v:
            return i
    return None


def _read_ending(t: Txn, k: Hashable, last: Any) -> int | None:
    """The position of t's read of k whose value ends in ``last`` (or is empty)."""
    for i, (f, mk, v) in enumerate(t.mops):
        if f == READ and mk == k and v is not None and (
                (not v) if last is INIT else (bool(v) and v[-1] == last)):
            return i
    return None


def append_edges(th: TxnHistory, reads: AppendReads, versions: VersionOrders,
                 graph: DepGraph) -> AppendExplainer:
    """Add list-append's ww, wr and rw edges to ``graph``; return their explainer."""
    txns = th.txns
    writer = th.writer
    orders = versions.orders
    fail = OpType.FAIL
    live = [t.type is not fail for t in txns]
    positions = {k: {e: i for i, e in enumerate(order)} for k, order in orders.items()}
    # key -> element -> the element before it (INIT for the first); appends nobody read
    # follow the last element read.
    before = {k: dict(zip(order, (INIT, *order[:-1]), strict=True))
              for k, order in orders.items()}
    tails = {k: order[-1] for k, order in orders.items()}
    # Who read the state ending in each element (INIT: the empty list), per key.
    readers_of: dict[Hashable, dict[Any, list[int]]] = {}
    for k, by_value in reads.items():
        ends: dict[Any, list[int]] = {}
        for v, who in by_value.items():
            last = v[-1] if v else INIT
            ids = ends.get(last)
            if ids is None:
                ends[last] = [tid for tid, _ in who]
            else:
                ids.extend(tid for tid, _ in who)
        readers_of[k] = ends
    succ = graph.succ
    no_readers: dict[Any, list[int]] = {}
    for t in txns:
        if t.type is fail:
            continue
        tid = t.id
        for f, k, v in t.mops:
            if f == APPEND:
                b = before.get(k)
                prev = INIT if b is None else b.get(v, tails[k])
                if prev is not INIT:
                    w = writer.get((k, prev))
                    if w is not None and w != tid and live[w]:
                        d = succ[w]
                        d[tid] = d.get(tid, 0) | WW
                for r in readers_of.get(k, no_readers).get(prev, ()):
                    if r != tid:
                        d = succ[r]
                        d[tid] = d.get(tid, 0) | RW
            elif v:
                w = writer.get((k, v[-1]))
                if w is not None and w != tid and live[w]:
                    d = succ[w]
                    d[tid] = d.get(tid, 0) | WR
    return AppendExplainer(txns=txns, writer=writer, orders=orders, positions=positions)


# -- rw-register -----------------------------------------------------------------------


def external_reads(t: Txn) -> dict[Hashable, tuple[Any, int]]:
    """key → (value, position) of t's first read of each key it had not yet written."""
    out: dict[Hashable, tuple[Any, int]] = {}
    written = set()
    for i, (f, k, v) in enumerate(t.mops):
        if f == WRITE:
            written.add(k)
        elif k not in written and k not in out:
            out[k] = (v, i)
    return out


def external_writes(t: Txn) -> dict[Hashable, tuple[Any, int]]:
    """key → (value, position) of t's last write of each key."""
    return {k: (v, i) for i, (f, k, v) in enumerate(t.mops) if f == WRITE}


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterVersions:
    """What rw-register knows of each key's version order.

    Attributes:
        after: key → value → the values known to come directly after it (`INIT` is
            the initial None).
        cycles: key → versions on a cycle, when ``wfr_keys`` inference made one (that
            inference is then not used).
    """

    after: Mapping[Hashable, Mapping[Any, frozenset[Any]]]
    cycles: tuple[tuple[Hashable, tuple[Any, ...]], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterExplainer:
    txns: Sequence[Txn]
    ext_reads: Sequence[Mapping[Hashable, tuple[Any, int]]]
    ext_writes: Sequence[Mapping[Hashable, tuple[Any, int]]]
    versions: RegisterVersions

    def step(self, a: int, b: int, kind: int) -> Step:
        source = self.ext_writes[a] if kind in (WW, WR) else self.ext_reads[a]
        target = self.ext_reads[b] if kind == WR else self.ext_writes[b]
        for k, (va, ia) in source.items():
            if k not in target:
                continue
            vb, ib = target[k]
            if kind == WR:
                if va == vb:
                    return Step(kind=kind, a=a, b=b, key=k, value=va, a_mop=ia, b_mop=ib)
                continue
            version = INIT if va is None else va
            if vb in self.versions.after.get(k, {}).get(version, ()):
                return Step(kind=kind, a=a, b=b, key=k, value=version, next_value=vb,
                            a_mop=ia, b_mop=ib)
        raise ValueError(f"no {EDGE_NAMES[kind]} dependency from txn {a} to txn {b}")


def register_edges(th: TxnHistory, graph: DepGraph, *, wfr_keys: bool) -> RegisterExplainer:
    """Add rw-register's ww, wr and rw edges to ``graph``; return their explainer."""
    txns = th.txns
    fail, ok = OpType.FAIL, OpType.OK
    ext_reads = [external_reads(t) if t.type is ok else {} for t in txns]
    ext_writes = [external_writes(t) if t.type is not fail else {} for t in txns]
    final_writer: dict[tuple[Hashable, Any], int] = {}
    readers: dict[tuple[Hashable, Any], list[int]] = {}
    writers_of_key: dict[Hashable, list[int]] = {}
    for t in txns:
        for k, (v, _) in ext_writes[t.id].items():
            final_writer[(k, v)] = t.id
            writers_of_key.setdefault(k, []).append(t.id)
        for k, (v, _) in ext_reads[t.id].items():
            readers.setdefault((k, INIT if v is None else v), []).append(t.id)
    succ = graph.succ

    def link(a: int, b: int, kind: int) -> None:
        if a != b:
            d = succ[a]
            d[b] = d.get(b, 0) | kind

    for (k, v), who in readers.items():
        w = final_writer.get((k, v))
        if w is not None:
            for r in who:
                link(w, r, WR)
    versions = _register_versions(txns, ext_reads, ext_writes, writers_of_key,
                                  wfr_keys=wfr_keys)
    for k, after in versions.after.items():
        for v1, nexts in after.items():
            v1_writer = final_writer.get((k, v1))
            v1_readers = readers.get((k, v1), ())
            for v2 in nexts:
                w2 = final_writer.get((k, v2))
                if w2 is None:
                    continue
                if v1_writer is not None:
                    link(v1_writer, w2, WW)
                for r in v1_readers:
                    link(r, w2, RW)
    return RegisterExplainer(txns=txns, ext_reads=ext_reads, ext_writes=ext_writes,
                             versions=versions)


def _register_versions(txns: Sequence[Txn],
                       ext_reads: Sequence[Mapping[Hashable, tuple[Any, int]]],
                       ext_writes: Sequence[Mapping[Hashable, tuple[Any, int]]],
                       writers_of_key: Mapping[Hashable, list[int]],
                       *, wfr_keys: bool) -> RegisterVersions:
    after: dict[Hashable, dict[Any, set[Any]]] = {}
    # Every register starts at None, before every value written to it.
    for k, ws in writers_of_key.items():
        after[k] = {INIT: {ext_writes[w][k][0] for w in ws}}
    cycles: list[tuple[Hashable, tuple[Any, ...]]] = []
    if wfr_keys:
        extra: dict[Hashable, dict[Any, set[Any]]] = {}
        for t in txns:
            if t.type is not OpType.OK:
                continue
            for k, (v, _) in ext_reads[t.id].items():
                if v is not None and k in ext_writes[t.id]:
                    v2 = ext_writes[t.id][k][0]
                    if v2 != v:
                        extra.setdefault(k, {}).setdefault(v, set()).add(v2)
        for k, edges in extra.items():
            merged = {v: set(vs) for v, vs in after.get(k, {}).items()}
            for v, vs in edges.items():
                merged.setdefault(v, set()).update(vs)
            cycle = _version_cycle(merged)
            if cycle:
                cycles.append((k, cycle))
            else:
                after[k] = merged
    return RegisterVersions(
        after={k: {v: frozenset(vs) for v, vs in a.items()} for k, a in after.items()},
        cycles=tuple(cycles))


def _version_cycle(after: Mapping[Any, Iterable[Any]]) -> tuple[Any, ...]:
    """The versions of one strongly connected component of a version graph, if any."""
    # networkx takes a quarter of a second to import; only a register history with
    # cyclic versions needs it, and `labrys check` of anything else should not wait.
    import networkx as nx

    g = nx.DiGraph()
    g.add_edges_from((a, b) for a, bs in after.items() for b in bs)
    for component in nx.strongly_connected_components(g):
        if len(component) > 1:
            return tuple(sorted(component, key=repr))
    return ()


# -- process and realtime order --------------------------------------------------------


def process_edges(txns: Sequence[Txn], graph: DepGraph) -> None:
    """Link each process's committed transactions in the order it ran them."""
    last: dict[Any, int] = {}
    succ = graph.succ
    ok = OpType.OK
    for t in txns:
        if t.type is not ok:
            continue
        prev = last.get(t.process)
        if prev is not None:
            d = succ[prev]
            d[t.id] = d.get(t.id, 0) | PROCESS
        last[t.process] = t.id


def realtime_edges(th: TxnHistory, graph: DepGraph) -> None:
    """Link T1 → T2 whenever T1 committed before T2 was invoked (transitively reduced;
    see the module notes)."""
    txns = th.txns
    events = [-1] * th.op_count
    ok, fail = OpType.OK, OpType.FAIL
    for t in txns:
        if t.type is fail:
            continue
        events[t.invoke_index] = 2 * t.id
        if t.type is ok and t.complete_index is not None:
            events[t.complete_index] = 2 * t.id + 1
    succ = graph.succ
    frontier: set[int] = set()
    preceded_by: dict[int, tuple[int, ...]] = {}
    for e in events:
        if e < 0:
            continue
        tid = e >> 1
        if e & 1:
            covered = preceded_by.pop(tid)
            if covered:
                frontier.difference_update(covered)
            frontier.add(tid)
        else:
            before = tuple(frontier)
            preceded_by[tid] = before
            for p in before:
                d = succ[p]
                d[tid] = d.get(tid, 0) | REALTIME


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderExplainer:
    """Explains process and realtime edges, deferring data edges to a workload's."""

    txns: Sequence[Txn]
    data: Explainer

    def step(self, a: int, b: int, kind: int) -> Step:
        if kind in (PROCESS, REALTIME):
            return Step(kind=kind, a=a, b=b)
        return self.data.step(a, b, kind)
