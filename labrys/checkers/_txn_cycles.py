"""Cycles in the dependency graph: found, bounded in time, and classified.

Problem. A cycle in the dependency graph is a set of transactions each of which must
precede the next: no serial order exists. What *kind* of cycle decides which isolation
levels it rules out (Adya 1999): only ww edges (G0), ww and wr (G1c), exactly one
anti-dependency rw (G-single), several rw never adjacent (G-nonadjacent), several rw
with two adjacent (G2-item), and each of those with process or realtime edges too
(``G1c-process``, ``G2-item-realtime``…). This module finds, for each strongly
connected component of the graph, the shortest cycle of each kind, as Elle does
(Kingsbury & Alvaro, VLDB 2020).

The search, per component:

1. **Cycle existence** (cheap, never timed out). For each model, the part of the graph
   it needs acyclic (`CYCLE_EXISTS`: ww for read-uncommitted, ww+wr for read-committed,
   ww+wr extended by one rw hop for snapshot isolation…) is projected and its strongly
   connected components computed with networkx. A nontrivial one proves the model
   violated (``PL-2-cycle-exists``…), and where there is none, every anomaly that model
   forbids cannot be in this component, so its search is skipped.
2. **Specific cycles**, weakest kind first (`CYCLE_SPECS`). Each kind is a small state
   machine over edge types: a breadth-first search over (transaction, state) pairs
   from each possible start finds the shortest closed walk the machine accepts. The
   cycle is rotated so that it starts with a characteristic edge (an rw for G-single,
   a wr for G1c), which bounds the starts and makes the search exhaustive: every
   start is tried, each later one only for strictly shorter cycles. A kind implied by
   one already found is not searched.
3. **A time budget** (Elle's ``cycle-search-timeout``, 1 s by default) covers step 2.
   When it runs out, the component reports ``cycle-search-timeout`` (an unknown
   verdict, unless something else already makes it false), with what was and was not
   searched, and a *fallback* cycle: the shortest cycle through one transaction of
   the weakest projection that has one, classified like any other. Step 1's proofs
   stand regardless.

Before all this, transactions that cannot be on a cycle are peeled off in linear time
(repeatedly removing those nothing points to, Kahn's algorithm), so a valid history of
a hundred thousand transactions never reaches networkx at all.

Example:
    T1 ``ax1ry1``, T2 ``ax2ay1``, T3 ``rx12``: T1 -ww→ T2 on x (T3 saw 1 before 2) and
    T2 -wr→ T1 on y. One component {T1, T2}; read-committed's projection (ww+wr) has a
    cycle, and the G1c search finds it: [T1 -ww→ T2, T2 -wr→ T1].

Non-obvious choices:

- The search finds closed walks; when one repeats a transaction it is still a valid
  contradiction (each step is a real dependency), and it is reported as found.
- An edge carrying several relations may be taken as any of those the kind allows; a
  step's relation is the one the accepted walk used, so its explanation is exact.
- Searches and the budget are per component: one enormous component cannot starve
  the small ones beside it of their explanations.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, pairwise

import networkx as nx

from labrys.checkers._txn_graph import (
    DATA,
    PROCESS,
    REALTIME,
    RW,
    WR,
    WW,
    DepGraph,
    Explainer,
    Step,
)
from labrys.checkers._txn_models import (
    CYCLE_EXISTS,
    CycleExistsSpec,
    Projection,
    implied_anomalies,
    impossible_models,
    prohibited_anomalies,
    stronger_models,
)

# -- what a cycle is -------------------------------------------------------------------

_ANY, _NONADJACENT, _ADJACENT = 0, 1, 2


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleSpec:
    """One kind of cycle, as a constraint on the sequence of its edges' relations.

    Attributes:
        kind: the anomaly's name.
        allowed: relations its edges may use.
        anchor: the relation of its first edge (every such cycle has one, so it can be
            rotated to start there).
        rw_min, rw_max: how many rw edges it has (rw_max 2 meaning "two or more").
        adjacency: whether two rw edges may (`_ANY`), must not (`_NONADJACENT`) or must
            somewhere (`_ADJACENT`) follow each other, counting the last and first.
        required: a relation (process or realtime) it must use at least once.
        min_length: no cycle of this kind is shorter, so a search can stop there.
    """

    kind: str
    allowed: int
    anchor: int
    rw_min: int
    rw_max: int
    adjacency: int
    required: int
    min_length: int


def _specs() -> tuple[CycleSpec, ...]:
    bases = (
        ("G0", WW, WW, 0, 0, _ANY, 2),
        ("G1c", WW | WR, WR, 0, 0, _ANY, 2),
        ("G-single-item", DATA, RW, 1, 1, _ANY, 2),
        ("G-nonadjacent-item", DATA, RW, 2, 2, _NONADJACENT, 4),
        ("G2-item", DATA, RW, 2, 2, _ADJACENT, 2),
    )
    out = []
    for suffix, extra in (("", 0), ("-process", PROCESS), ("-realtime", REALTIME)):
        for name, allowed, anchor, lo, hi, adjacency, length in bases:
            out.append(CycleSpec(
                kind=name + suffix, allowed=allowed | extra, anchor=anchor, rw_min=lo,
                rw_max=hi, adjacency=adjacency, required=extra,
                min_length=length + (1 if extra and adjacency == _ADJACENT else 0)))
    return tuple(out)


CYCLE_SPECS: tuple[CycleSpec, ...] = _specs()
"""Every cycle kind, in the order searched: data-only kinds, then process variants,
then realtime (Elle's severity order: the later ones matter only when the earlier are
absent)."""

CYCLE_KINDS = frozenset(s.kind for s in CYCLE_SPECS)

_PREFERENCE = (WW, WR, RW, PROCESS, REALTIME)
"""Which relation names a multi-relation edge in a fallback cycle: data first."""


def classify(kinds: Sequence[int]) -> str:
    """The anomaly a cycle with these edge relations (in order) is, as Elle names it."""
    counts = Counter(kinds)
    rw = counts[RW]
    if rw == 1:
        base = "G-single-item"
    elif rw > 1:
        adjacent = any(a == RW and b == RW for a, b in zip(kinds, [*kinds[1:], kinds[0]],
                                                              strict=True))
        base = "G2-item" if adjacent else "G-nonadjacent-item"
    elif counts[WR]:
        base = "G1c"
    elif counts[WW]:
        base = "G0"
    else:
        raise ValueError(f"a cycle of only process and realtime edges: {kinds}")
    if counts[REALTIME]:
        return base + "-realtime"
    if counts[PROCESS]:
        return base + "-process"
    return base


# -- findings --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleAnomaly:
    """A cycle of dependencies: ``steps[i].b == steps[i + 1].a``, and the last step
    returns to the first transaction."""

    kind: str
    steps: tuple[Step, ...]

    @property
    def txns(self) -> tuple[int, ...]:
        return tuple(s.a for s in self.steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleExists:
    """Proof that a model is violated: a strongly connected component in the part of
    the graph the model needs acyclic.

    Attributes:
        kind: ``<model>-cycle-exists``, in Elle's (Adya's) spelling.
        model: the model ruled out.
        projection: the relations projected.
        txns: the ids in the smallest such component.
    """

    kind: str
    model: str
    projection: Projection
    txns: tuple[int, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchTimeout:
    """The budget ran out while searching a component.

    Attributes:
        searching: the cycle kind being searched when it did.
        not_found: kinds searched completely, and absent.
        size: how many transactions the component has.
        budget_s: the budget.
    """

    kind: str
    searching: str
    not_found: tuple[str, ...]
    size: int
    budget_s: float


CycleFinding = CycleAnomaly | CycleExists | SearchTimeout


# -- components ------------------------------------------------------------------------


def cyclic_components(graph: DepGraph) -> list[list[int]]:
    """The strongly connected components of ``graph`` that contain a cycle, each
    sorted, ordered by their first transaction."""
    succ = graph.succ
    n = len(succ)
    indegree = Counter(chain.from_iterable(succ))
    waiting = [indegree.get(v, 0) for v in range(n)]
    ready = [v for v in range(n) if not waiting[v]]
    while ready:
        v = ready.pop()
        for w in succ[v]:
            waiting[w] -= 1
            if not waiting[w]:
                ready.append(w)
    residual = [v for v in range(n) if waiting[v]]
    if not residual:
        return []
    inside = set(residual)
    g = nx.DiGraph()
    g.add_edges_from((v, w) for v in residual for w in succ[v] if w in inside)
    components = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    return sorted(components)


def _sub_components(local: Mapping[int, Mapping[int, int]], mask: int,
                    extension: int = 0) -> list[list[int]]:
    """Nontrivial strongly connected components of a component's projection (a single
    transaction with a self-loop counts: the sequential extension makes them)."""
    g = nx.DiGraph()
    for v, out in local.items():
        for w, m in out.items():
            if m & mask:
                g.add_edge(v, w)
                if extension:
                    for x, m2 in local[w].items():
                        if m2 & extension:
                            g.add_edge(v, x)
    found = [sorted(c) for c in nx.strongly_connected_components(g)
             if len(c) > 1 or g.has_edge(next(iter(c)), next(iter(c)))]
    return sorted(found, key=lambda c: (len(c), c))


# -- the search ------------------------------------------------------------------------


class _OutOfTime(Exception):
    pass


_STATES = 32  # rw count (2 bits), last edge rw, rw adjacency seen, required seen


def _machine(spec: CycleSpec) -> tuple[dict[int, list[int]], list[bool], int]:
    """The spec as tables: transition[relation][state] (-1: rejected), accepting[state]
    (on returning to the start), and the state after the anchor edge."""
    transition: dict[int, list[int]] = {}
    for t in (WW, WR, RW, PROCESS, REALTIME):
        row = []
        for st in range(_STATES):
            rw, last, adjacent, required = st & 3, st & 4, st & 8, st & 16
            if t == RW:
                if last:
                    if spec.adjacency == _NONADJACENT:
                        row.append(-1)
                        continue
                    adjacent = 8
                rw = min(rw + 1, 2)
                if rw > spec.rw_max:
                    row.append(-1)
                    continue
                last = 4
            else:
                last = 0
                if t & spec.required:
                    required = 16
            row.append(rw | last | adjacent | required)
        transition[t] = row
    accepting = []
    for st in range(_STATES):
        wraps = bool(st & 4) and spec.anchor == RW
        ok = (st & 3) >= spec.rw_min and (not spec.required or bool(st & 16))
        if spec.adjacency == _NONADJACENT:
            ok = ok and not wraps
        elif spec.adjacency == _ADJACENT:
            ok = ok and (bool(st & 8) or wraps)
        accepting.append(ok)
    return transition, accepting, transition[spec.anchor][0]


def _shortest_cycle(spec: CycleSpec, adjacency: Mapping[int, list[tuple[int, int]]],
                    starts: Iterable[int], tick: Callable[[], None]) -> list[Step] | None:
    """The shortest cycle of kind ``spec`` through any of ``starts``, or None."""
    transition, accepting, first = _machine(spec)
    best: list[tuple[int, int, int]] | None = None
    for s in starts:
        if best is not None and len(best) <= spec.min_length:
            break
        tick()
        found = _bfs(s, spec, adjacency, transition, accepting, first,
                     None if best is None else len(best) - 1, tick)
        if found is not None:
            best = found
    if best is None:
        return None
    return [Step(kind=t, a=a, b=b) for a, b, t in best]


def _bfs(s: int, spec: CycleSpec, adjacency: Mapping[int, list[tuple[int, int]]],
         transition: dict[int, list[int]], accepting: list[bool], first: int,
         max_edges: int | None, tick: Callable[[], None]) -> list[tuple[int, int, int]] | None:
    """Breadth-first over (transaction, state), from s's anchor edges back to s."""
    parent: dict[int, tuple[int, int]] = {}
    frontier = []
    if first < 0:
        return None
    for w, m in adjacency.get(s, ()):
        if m & spec.anchor:
            key = (w << 5) | first
            if key not in parent:
                parent[key] = (-1, spec.anchor)
                frontier.append(key)
    edges = 1
    while frontier and (max_edges is None or edges < max_edges):
        tick()
        nxt = []
        for key in frontier:
            v, st = key >> 5, key & 31
            for w, m in adjacency[v]:
                while m:
                    t = m & -m
                    m ^= t
                    st2 = transition[t][st]
                    if st2 < 0:
                        continue
                    if w == s:
                        if accepting[st2]:
                            return _walk(s, key, t, parent)
                        continue
                    k2 = (w << 5) | st2
                    if k2 not in parent:
                        parent[k2] = (key, t)
                        nxt.append(k2)
        frontier = nxt
        edges += 1
    return None


def _walk(s: int, key: int, last_kind: int,
          parent: Mapping[int, tuple[int, int]]) -> list[tuple[int, int, int]]:
    steps = [(key >> 5, s, last_kind)]
    while key >= 0:
        prev, t = parent[key]
        a = s if prev < 0 else prev >> 5
        steps.append((a, key >> 5, t))
        key = prev
    steps.reverse()
    return steps


@dataclass(frozen=True, slots=True, kw_only=True)
class Search:
    """What to look for, and for how long.

    Attributes:
        specs: the cycle kinds to try, in order (kinds needing relations the graph
            lacks are dropped by the caller).
        budget_s: time allowed for step 2 in each component.
        clock: seconds, monotonic (injectable for tests).
    """

    specs: tuple[CycleSpec, ...]
    budget_s: float
    clock: Callable[[], float] = time.monotonic


def search_component(graph: DepGraph, component: Sequence[int], explainer: Explainer,
                     search: Search) -> list[CycleFinding]:
    """Every cycle finding for one strongly connected component (see module notes)."""
    inside = set(component)
    local = {v: {w: m for w, m in graph.succ[v].items() if w in inside} for v in component}
    projections = _Projections(local)
    exists = _cycle_exists(projections)
    findings: list[CycleFinding] = []
    skip = _impossible_kinds(exists)
    searched: list[str] = []
    deadline = search.clock() + search.budget_s

    def tick() -> None:
        if search.clock() > deadline:
            raise _OutOfTime

    current = ""
    try:
        for spec in search.specs:
            if spec.kind in skip:
                continue
            current = spec.kind
            tick()
            found = None
            for sub in projections.components(spec.allowed):
                members = set(sub)
                adjacency = {v: [(w, m & spec.allowed) for w, m in local[v].items()
                                 if w in members and m & spec.allowed] for v in sub}
                starts = [v for v in sub if any(m & spec.anchor for _, m in adjacency[v])]
                steps = _shortest_cycle(spec, adjacency, starts, tick)
                if steps is not None and (found is None or len(steps) < len(found)):
                    found = steps
            searched.append(spec.kind)
            if found is not None:
                findings.append(_explained(spec.kind, found, explainer))
                skip |= implied_anomalies([spec.kind])
    except _OutOfTime:
        found_kinds = {f.kind for f in findings}
        findings.append(SearchTimeout(
            kind="cycle-search-timeout", searching=current,
            not_found=tuple(k for k in searched if k not in found_kinds),
            size=len(component), budget_s=search.budget_s))
        fallback = _fallback_cycle(local, projections)
        findings.append(_explained(classify([s.kind for s in fallback]), fallback, explainer))
    ruled_out = impossible_models(f.kind for f in findings if isinstance(f, CycleAnomaly))
    return [e for e in exists if e.model not in ruled_out] + findings


class _Projections:
    """A component's projections and their nontrivial components, each computed once.
    Relations the component lacks are dropped from a projection first, so that, say,
    ww+process is not recomputed where there are no process edges."""

    def __init__(self, local: Mapping[int, Mapping[int, int]]) -> None:
        self.local = local
        self.present = 0
        for out in local.values():
            for m in out.values():
                self.present |= m
        self._cache: dict[tuple[int, int], list[list[int]]] = {}

    def components(self, edges: int, extension: int = 0) -> list[list[int]]:
        key = (edges & self.present, extension & self.present)
        if key not in self._cache:
            self._cache[key] = _sub_components(self.local, *key)
        return self._cache[key]


def _cycle_exists(projections: _Projections) -> list[CycleExists]:
    found: list[CycleExists] = []
    redundant: set[str] = set()
    for spec in CYCLE_EXISTS:
        if spec.model in redundant:
            continue
        subs = projections.components(spec.projection.edges, spec.projection.extension)
        if subs:
            found.append(_exists(spec, subs[0]))
            redundant |= stronger_models([spec.model])
    return found


def _exists(spec: CycleExistsSpec, txns: list[int]) -> CycleExists:
    return CycleExists(kind=spec.kind, model=spec.model, projection=spec.projection,
                       txns=tuple(txns))


def _impossible_kinds(exists: Sequence[CycleExists]) -> set[str]:
    """Cycle kinds this component cannot have: those forbidden by a model whose
    projection here is acyclic (Elle's ``cycle-exists-cases->impossible-…``)."""
    violated = stronger_models(e.model for e in exists)
    possible = {spec.model for spec in CYCLE_EXISTS} - violated
    return set(CYCLE_KINDS & prohibited_anomalies(possible))


def _fallback_cycle(local: Mapping[int, Mapping[int, int]],
                    projections: _Projections) -> list[Step]:
    """Some short cycle, in the weakest projection that has one; no budget (linear)."""
    for mask in (WW, WW | PROCESS | REALTIME, WW | WR, WW | WR | PROCESS | REALTIME, DATA,
                 DATA | PROCESS | REALTIME):
        subs = projections.components(mask)
        if not subs:
            continue
        members = set(subs[0])
        s = subs[0][0]
        parent: dict[int, int] = {}
        frontier = [s]
        while frontier:
            nxt = []
            for v in frontier:
                for w, m in local[v].items():
                    if not m & mask or w not in members:
                        continue
                    if w == s:
                        path = [v]
                        while path[-1] != s:
                            path.append(parent[path[-1]])
                        path.reverse()
                        path.append(s)
                        return [Step(kind=_preferred(local[a][b] & mask), a=a, b=b)
                                for a, b in pairwise(path)]
                    if w not in parent:
                        parent[w] = v
                        nxt.append(w)
            frontier = nxt
    raise ValueError("a strongly connected component without a cycle")


def _preferred(mask: int) -> int:
    return next(t for t in _PREFERENCE if mask & t)


def _explained(kind: str, steps: Sequence[Step], explainer: Explainer) -> CycleAnomaly:
    return CycleAnomaly(kind=kind, steps=tuple(explainer.step(s.a, s.b, s.kind)
                                               for s in steps))
