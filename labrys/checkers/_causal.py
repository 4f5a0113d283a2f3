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

- Clocks (`labrys.checkers._causal_order`): a topological sort of po ∪ rf (CyclicCO if
  there is none), then a vector clock per event with a column per such session.
  Columns come in chunks of 32 that clocks share until they differ, so a join costs
  O(S/32) plus the chunks that change, and crashed processes, each a new session, stay
  cheap.
- CC: a write that breaks a read r of w (WriteCORead), or that CCv must arbitrate
  against w (cf), is in r's causal past and not in w's; only the d sessions where r's
  clock is ahead of w's can hold one, found chunk by chunk, and of each such session
  only the last write to the key matters (binary search): O(n·(S/32 + d·log n)). A read
  of the initial value looks for any write to its key in its past, session by session.
- CCv: those cf edges plus po ∪ rf, and one strongly-connected-components pass.
- CM (`labrys.checkers._causal_memory`): the saturation the paper describes, once per
  session p (``hb_o`` only grows along po, so p's last op has every bad pattern its
  earlier ops have) and without building hb: each event e has a level ``b(e)``, the
  first of p's reads that e happened before. Clocks give the initial levels (co alone).
  A read number j of x observing a write already at level t < j forces every write to x
  at a level in (t, j] down to t, and their causal pasts with them; a worklist applies
  these moves, with a Fenwick tree per key for the tightest bound at each level. Writes
  stay at their initial level implicitly and a key's writes of one level are listed only
  when some rule moves them, so a session whose reads force nothing costs O(m log m) for
  its m reads. Cycles of hb stay within a level, where every derived edge leads into the
  write p's reads at that level observed: a small graph per level.

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

from collections.abc import Sequence
from typing import Any

from labrys.checkers._causal_memory import check_cm_session
from labrys.checkers._causal_order import (
    CC,
    CCV,
    CF,
    CM,
    PO,
    RF,
    CausalOrder,
    Found,
    anomaly,
    chain_text,
    did,
    initial_read,
    who,
    write_noun,
)
from labrys.checkers._registry import CheckOptions
from labrys.checkers._rw_ops import (
    ABORTED,
    INIT,
    READ,
    THIN_AIR,
    Adjacency,
    RwHistory,
    parse_rw,
    shortest_path,
    strongly_connected,
)
from labrys.checkers._verdict import UNKNOWN, Validity, Verdict, nothing_to_judge
from labrys.errors import UsageError
from labrys.history import History

MODELS = (CC, CM, CCV)
_CLAIMS = {"cc": CC, "causal": CC, "causal-consistency": CC, "cm": CM,
           "causal-memory": CM, "ccv": CCV, "causal-convergence": CCV}


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


# -- CC ------------------------------------------------------------------------------


def _thin_air(rw: RwHistory, found: Found) -> None:
    for e, src in enumerate(rw.source):
        if src in (THIN_AIR, ABORTED) and found.wants("ThinAirRead"):
            why = "which no write wrote"
            if src == ABORTED:
                why = (f"which only op {rw.failed_writes[(rw.key[e], rw.value[e])]} wrote, "
                       "and that op failed")
            found.add(anomaly(rw, "ThinAirRead", CC, [e], f"{did(rw, e)}, {why}."))


def _cyclic_co(order: CausalOrder, found: Found) -> None:
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
    found.add(anomaly(
        rw, "CyclicCO", CC, cycle,
        "Causality runs in a circle (session order and reads-from): "
        f"{chain_text(rw, [*cycle, start])}, so some read returned a value written "
        "causally after it."))


def _check_cc(order: CausalOrder, found: Found) -> list[tuple[int, int, int]]:
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
                found.add(anomaly(
                    rw, "WriteCOInitRead", CC, chain,
                    f"{who(rw, r)} {initial_read(rw, r)}, the initial value, although "
                    f"{did(rw, w)} is in its causal past: {chain_text(rw, chain)}."))
            continue
        for w2 in order.newer_writes(r, src, key):
            if not order.before(src, w2):
                conflicts.append((w2, src, r))
            elif found.wants("WriteCORead"):
                first, second = order.path(src, w2), order.path(w2, r)
                found.add(anomaly(
                    rw, "WriteCORead", CC, [*first, *second[1:]],
                    f"{did(rw, r)}, the value op {rw.op[src]} wrote, although op "
                    f"{rw.op[w2]} overwrote it causally in between: "
                    f"{chain_text(rw, [*first, *second[1:]])}.",
                    overwritten_by=rw.op[w2]))
                break
            else:
                break
    return conflicts


# -- CCv -----------------------------------------------------------------------------


def _check_ccv(order: CausalOrder, conflicts: Sequence[tuple[int, int, int]], found: Found) -> None:
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
            add(PO, order.pred[e], e, -1)
        if rw.kind[e] == READ and rw.source[e] >= 0:
            add(RF, rw.source[e], e, e)
    for other, w, r in conflicts:
        add(CF, other, w, r)
    target = [b for _, _, b, _ in edges]
    adjacency = Adjacency(n, [a for _, a, _, _ in edges])
    component = strongly_connected(n, adjacency, target)
    cycles_seen: set[int] = set()
    for i, (kind, a, b, _) in enumerate(edges):
        if kind != CF or component[a] != component[b] or component[a] in cycles_seen:
            continue
        cycles_seen.add(component[a])
        if not found.wants("CyclicCF"):
            continue
        cycle = [i, *(shortest_path(adjacency, target, b, a, within=component) or [])]
        steps = [_cf_step(rw, edges[j]) for j in cycle]
        events = [x for j in cycle for x in edges[j][1:4] if x >= 0]
        found.add(anomaly(
            rw, "CyclicCF", CCV, events,
            "No single arbitration order of writes explains every read: "
            + "; ".join(steps) + "; a cycle.",
            cycle=[{"kind": edges[j][0], "from": rw.op[edges[j][1]], "to": rw.op[edges[j][2]]}
                   for j in cycle]))


def _cf_step(rw: RwHistory, edge: tuple[str, int, int, int]) -> str:
    kind, a, b, r = edge
    if kind == PO:
        return f"{who(rw, a)} did op {rw.op[a]} before op {rw.op[b]}"
    if kind == RF:
        return f"op {rw.op[b]} ({who(rw, b)}) read what op {rw.op[a]} wrote"
    return (f"{did(rw, r)} with {write_noun(rw, a)} in its causal past, so op {rw.op[a]} "
            f"is arbitrated before op {rw.op[b]}")



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
    if not len(rw) and not rw.ambiguous:
        return nothing_to_judge("causal", "read or write of a register or key that may have "
                                "taken effect")
    order = CausalOrder(rw)
    found = Found()
    _thin_air(rw, found)
    if not order.sort():
        _cyclic_co(order, found)
    else:
        order.compute_clocks()
        conflicts = _check_cc(order, found)
        if not found.has(CC):
            _check_ccv(order, conflicts, found)
            for s in range(len(rw.sessions)):
                check_cm_session(order, s, found, convergent=not found.has(CCV))
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


def _summary(rw: RwHistory, claimed: str, models: dict[str, Validity], found: Found) -> str:
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

