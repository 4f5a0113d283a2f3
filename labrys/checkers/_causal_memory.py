"""Causal memory (CM): can each process explain all of its own reads by one order?

Part of the causal checker (`labrys.checkers._causal`, whose docstring is the design
note and cites the paper): once CC holds, `check_cm_session` looks for CM's two bad
patterns in one session p, WriteHBInitRead and CyclicHB, over the happened-before
``hb`` that p must see.

Central abstraction: `_Memory`, the saturation of ``hb`` as *levels*: ``b(e)`` is the
first of p's reads that e happened before. Levels start from the causal order alone
(clocks), and a read number j of x that observed a write already at level t < j
forces every other write to x at a level in (t, j] down to t, with its causal past.
Example: a write w2 of x=2 is in the causal past of p's first read, and p's second
read returns 2 while a write w1 of x=1 is in its causal past but not in the first's.
To explain the second read, w1 must come before w2, so before p's first read: w1 moves
from level 2 down to level 1, and its causal past with it. If that brings in a write
that p's first read should then have seen (WriteHBInitRead), or one of p's own later
ops (CyclicHB), no one order explains p's reads.
"""

from __future__ import annotations

import bisect
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

from labrys.checkers._causal_order import (
    CM,
    PO,
    RF,
    CausalOrder,
    Found,
    anomaly,
    chain_text,
    initial_read,
    who,
    write_noun,
)
from labrys.checkers._rw_ops import ABORTED, INIT, READ, THIN_AIR, WRITE, find_cycle


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

    order: CausalOrder
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
                stack.append((self.order.pred[e], t, (PO, e, -1)))
            if rw.kind[e] == READ and rw.source[e] >= 0:
                stack.append((rw.source[e], t, (RF, e, -1)))
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
        if kind in (PO, RF):
            causal.append(a)
            e = a
            continue
        if a < 0:
            break
        if causal:
            out.append("causally " + chain_text(rw, [start, *causal]))
            events.extend(causal)
        r = m.reads[a - 1]
        events.extend([r, rw.source[r]])
        out.append(f"{who(rw, r)} {rw.event_text(r)} when {write_noun(rw, e)} already "
                   f"preceded that read, so op {rw.op[e]} precedes op {rw.op[rw.source[r]]}, "
                   "the write it read")
        e = rw.source[r]
        start, causal = e, []
    if causal:
        out.append("causally " + chain_text(rw, [start, *causal]))
        events.extend(causal)
    return out, events


def check_cm_session(order: CausalOrder, p: int, found: Found, *, convergent: bool) -> None:
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
            found.add(anomaly(
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
            found.add(anomaly(
                rw, "WriteHBInitRead", CM, [*events, r],
                f"{name} {initial_read(rw, r)}, the initial value, although {write_noun(rw, w)} "
                f"must precede that read in any one order that explains {name}'s reads: "
                + "; ".join(reasons) + "."))
        break
    # Unless some event moved, every derived edge is a cf edge, so an hb cycle would be
    # a cycle of co ∪ cf, which the CCv search has ruled out.
    if m.moved or not convergent:
        _check_hb_cycles(m, found)


def _check_hb_cycles(m: _Memory, found: Found) -> None:
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
                found.add(anomaly(
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
                steps.append(f"{write_noun(rw, sa)} causally precedes {write_noun(rw, w)} "
                             f"({chain_text(rw, chain)})")
            steps.append(f"{name} {rw.event_text(r)}, yet {write_noun(rw, w)} must precede "
                         f"that read ({'; '.join(reasons)}), so it precedes op {rw.op[sb]}, "
                         "the write that read returned")
        found.add(anomaly(rw, "CyclicHB", CM, events,
                          f"{name} cannot explain its reads by any one order: "
                          + "; ".join(steps) + "; a cycle."))

