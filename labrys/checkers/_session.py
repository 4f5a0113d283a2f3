"""Session guarantees as Terry et al. defined them: one verdict per guarantee, and all four.

Problem. Terry, Demers, Petersen, Spreitzer, Theimer and Welch ("Session Guarantees for
Weakly Consistent Replicated Data", PDIS 1994) define four promises a replicated store
makes to one client session. Servers hold *states* (DB(S, t), the writes server S has
received by time t) and apply writes in one global order (their WriteOrder); a read
returns, for each key it reads, the latest write to that key in its server's state.
With RelevantWrites(R) the writes a read R returned:

- read your writes (RYW): a read's state holds every earlier write of its session;
- monotonic reads (MR): a read's state holds RelevantWrites of every earlier read of
  its session;
- monotonic writes (MW): if W1 precedes W2 in a session, W1 precedes W2 in the order,
  and every state holding W2 holds W1;
- writes follow reads (WFR): if read R1 precedes W2 in a session, every write of
  RelevantWrites(R1) precedes W2 in the order, and every state holding W2 holds it.

A black-box history shows neither the servers nor the order. Each checker asks the
question the definitions pose: *does a server order exist* (an order of the writes, and
a state for every read) that keeps the guarantee, for every session at once? The
named guarantees answer it for that guarantee alone; ``session`` for all four at once,
which can fail when each holds alone. Example (the register starts at nil)::

    op 0  process 0  write 1   ok
    op 2  process 0  write 2   ok
    op 4  process 0  read      ok 1

Read your writes alone holds: the order may put 2 before 1, and the read's state held
both. Monotonic writes alone holds: it orders 1 before 2, and the read's state may hold 1
only. Together they fail, and only ``session`` says so.

How operations map onto the model (`labrys.checkers._session_view`): an operation runs
at one server, so all its reads read one state, before its own writes; a compare-and-set
or a transaction's write to a key it read is ordered after the version it read (the
operation replaced it); reads after the operation's own write to a key see that write.
Sessions, which reads count, indeterminate operations and unique values are as in
`labrys.checkers._rw_ops`: a session ends at its process's first ``info`` operation.

Whole database or per key. Terry's state spans every key: a session's monotonic reads
carry the state of its read of y into its later read of x, and the monotonic writes of
whoever wrote y drag their earlier write of x into that state. So by default the
checkers judge the whole database; ``per_key`` (``labrys check --per-key``) judges
each key on its own, the weaker reading most stores document (a session's guarantees
per key, as Jepsen's independent keys test them). Every verdict says which it used.

Central abstraction (`labrys.checkers._session_graph`): the constraints each guarantee
puts on the server order, as edges between versions. A state's closure under MW and WFR
becomes edges too: with all four guarantees, a read's state is the causal past of the
read (the order of sessions and what reads returned), and every write to a key in it
must precede what the read returned of that key. A guarantee holds exactly when its
graph has no cycle, and each cycle is a contradiction, explained step by step with the
operations that show each step.

Verdicts: false with a contradiction (or a read no server state explains: a value no
write wrote, only a failed write wrote, or an operation reading other than its own
write); unknown when no session does what the guarantee is about (for read your writes:
a session reading a key after writing it) or when keys with repeated values could not
be judged; true otherwise.

Without transactions, all four across the whole database amount to causal convergence
(Bouajjani et al.'s CCv, `labrys.checkers._causal`): a read's state is its causal past,
and one order of writes explains every read. The tests hold the two checkers to that.
An indeterminate operation keeps only the writes some read observed (as in
`labrys.checkers._rw_ops`), which is exact when it made one write; an indeterminate
transaction whose later write was observed but not its earlier one is judged as if the
earlier one never happened, which may miss a contradiction and never invents one.

Cost: O(n log n) edges for n events (read your writes' segment trees), plus for
``session`` the causal checker's vector clocks and one edge per read and per session its
clock is ahead in; one strongly-connected-components pass over the largest graph
judged, the others only within its cyclic components. A history that keeps all four
costs about what the causal checker does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._rw_ops import (
    ABORTED,
    READ,
    THIN_AIR,
    WRITE,
    RwHistory,
    parse_rw,
    render_key,
    render_value,
)
from labrys.checkers._session_graph import (
    GUARANTEES,
    INITIAL,
    MR,
    MW,
    MW_STATE,
    OWN,
    RMW,
    RYW,
    SESSION,
    STATE,
    WFR,
    WFR_STATE,
    Built,
    Cycles,
    Step,
    build,
    cycles,
)
from labrys.checkers._session_view import Internal, terry_views
from labrys.checkers._verdict import UNKNOWN, Anomaly, Validity, Verdict, nothing_to_judge
from labrys.history import History

__all__ = ["GUARANTEES", "MR", "MW", "RYW", "WFR", "check_monotonic_reads",
           "check_monotonic_writes", "check_read_your_writes", "check_session",
           "check_writes_follow_reads"]

_REPORT_LIMIT = 10
"""How many contradictions each verdict spells out; details count them all."""
_EXAMPLES = 3

_PREMISE = {RYW: "read a key after writing it", MR: "read a key twice",
            MW: "wrote twice", WFR: "wrote after reading a write"}


@dataclass(frozen=True, slots=True)
class _Analysis:
    rw: RwHistory
    built: Built
    per_key: bool
    top: Cycles  # of the largest set analysed: every other set's graph is a subgraph
    top_name: str
    base: tuple[Anomaly, ...]  # reads no state explains, and cycles of base edges

    @property
    def reading(self) -> str:
        return "judged per key" if self.per_key else "judged across the whole database"


def _analyse(history: History, options: CheckOptions, checker: str,
             wanted: Sequence[str]) -> _Analysis:
    rw = parse_rw(history, options, checker=checker)
    per_key = bool(options.extra.get("per_key", False))
    views, internal = terry_views(rw, per_key=per_key)
    built = build(len(rw), views, wanted)
    top_name = SESSION if SESSION in wanted else wanted[0]
    top = cycles(built.graph, top_name, rw.op, limit=_REPORT_LIMIT)
    base = [*_unexplained_reads(rw),
            *(_internal(rw, found) for found in internal[:_REPORT_LIMIT])]
    base_cycles = cycles(built.graph, None, rw.op, limit=_REPORT_LIMIT, within=top)
    base += [_cyclic_versions(rw, built, c) for c in base_cycles.cycles]
    return _Analysis(rw=rw, built=built, per_key=per_key, top=top, top_name=top_name,
                     base=tuple(base))


# -- reads no state explains ---------------------------------------------------------


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
            explanation=f"{shown}{more}: no server state can explain such a read.",
            data=data))
    return out


def _sentence_read(rw: RwHistory, e: int, why: str) -> str:
    text = f"{_who(rw, e)} {rw.event_text(e)}, {why}"
    if rw.source[e] == ABORTED:
        text += f" (op {rw.failed_writes[(rw.key[e], rw.value[e])]} failed)"
    return text


def _internal(rw: RwHistory, found: Internal) -> Anomaly:
    e, x = found.read, found.expected
    if rw.kind[x] == WRITE:
        what = (f"wrote {_assign(rw, x)} and then read {_assign(rw, e)}: an operation "
                "sees its own writes")
    else:
        what = f"read {_assign(rw, x)} and then {_assign(rw, e)}: one state has one value"
    return Anomaly(kind="internal", ops=(rw.op[e],),
                   explanation=f"op {rw.op[e]} ({_who(rw, e)}) {what}, so no server state "
                               "explains this operation.",
                   data={"read": rw.event_json(e), "expected": rw.event_json(x)})


def _cyclic_versions(rw: RwHistory, built: Built, cycle: Sequence[Step]) -> Anomaly:
    reasons = "; ".join(_reason(rw, built, s) for s in cycle)
    return Anomaly(kind="cyclic-versions", ops=_ops(rw, built, cycle),
                   explanation=f"Read-modify-write operations order versions in a circle: "
                               f"{reasons}.",
                   data={"cycle": [_step_json(rw, built, s) for s in cycle]})


# -- words ---------------------------------------------------------------------------


def _who(rw: RwHistory, e: int) -> str:
    return rw.sessions[rw.session[e]].name


def _w(rw: RwHistory, e: int) -> str:
    """``wrote 7 to x (op 12)``."""
    return f"{rw.write_text(rw.raw_key[e], rw.value_text(e))} (op {rw.op[e]})"


def _r(rw: RwHistory, e: int) -> str:
    """``read x = 7 (op 12)``."""
    return f"{rw.read_text(rw.raw_key[e], rw.value_text(e))} (op {rw.op[e]})"


def _assign(rw: RwHistory, e: int) -> str:
    """``x = 7`` (``7`` for a register)."""
    if rw.register:
        return rw.value_text(e)
    return f"{render_key(rw.raw_key[e])} = {rw.value_text(e)}"


def _did(rw: RwHistory, e: int) -> str:
    """``read x = 7`` or ``wrote 7 to x``, without the op."""
    if rw.kind[e] == WRITE:
        return rw.write_text(rw.raw_key[e], rw.value_text(e))
    return rw.read_text(rw.raw_key[e], rw.value_text(e))


def _noun(rw: RwHistory, e: int) -> str:
    """``process 0's write of 7 to x (op 12)``."""
    to = "" if rw.register else f" to {render_key(rw.raw_key[e])}"
    return f"{_who(rw, e)}'s write of {rw.value_text(e)}{to} (op {rw.op[e]})"


def _writer(rw: RwHistory, read: int) -> int:
    return rw.writer[(rw.key[read], rw.value[read])]


def _version(rw: RwHistory, built: Built, node: int) -> str:
    if built.graph.is_initial(node):
        return render_value(rw.init_raw)
    return rw.value_text(node)


_PO_LABEL = {(WRITE, WRITE): MW, (WRITE, READ): RYW, (READ, WRITE): WFR, (READ, READ): MR}


def _chain(rw: RwHistory, built: Built, a: int, b: int) -> tuple[str, set[str]]:
    """The causal chain from event a to event b in words, each step within a session
    labelled with the guarantee that carries it; and the labels."""
    parts: list[str] = []
    labels: set[str] = set()
    prev = -1
    for e in built.chain(a, b):
        if prev >= 0 and rw.session[prev] == rw.session[e]:
            label = _PO_LABEL[(rw.kind[prev], rw.kind[e])]
            labels.add(label)
            parts.append(f"({label}) {rw.event_text(e)}")
        else:
            parts.append(f"{_who(rw, e)} {rw.event_text(e)}")
        prev = e
    return " → ".join(parts), labels


def _reason(rw: RwHistory, built: Built, step: Step) -> str:
    """Why ``step.src`` precedes ``step.dst``, as a clause."""
    ev = step.events
    if step.kind == INITIAL:
        return f"{_version(rw, built, step.src)} is the initial value, older than every write"
    if step.kind == RMW:
        return (f"op {rw.op[ev[1]]} ({_who(rw, ev[1])}) read {_assign(rw, ev[0])} and "
                f"replaced it with {rw.value_text(ev[1])}")
    if step.kind == OWN:
        return (f"op {rw.op[ev[1]]} ({_who(rw, ev[1])}) wrote {_assign(rw, ev[0])} and "
                f"then {_assign(rw, ev[1])}")
    if step.kind in (RYW, MW, MR, WFR):
        if rw.op[ev[0]] == rw.op[ev[1]]:  # a transaction, or a compare-and-set
            return (f"op {rw.op[ev[0]]} ({_who(rw, ev[0])}) {_did(rw, ev[0])} and then "
                    f"{_did(rw, ev[1])}")
        first = _w(rw, ev[0]) if rw.kind[ev[0]] == WRITE else _r(rw, ev[0])
        second = _w(rw, ev[1]) if rw.kind[ev[1]] == WRITE else _r(rw, ev[1])
        return f"{_who(rw, ev[0])} {first} and then {second}"
    if step.kind == MW_STATE:
        return (f"{_who(rw, ev[1])} {_w(rw, ev[0])} before it {_w(rw, ev[1])}, and op "
                f"{rw.op[ev[2]]} ({_who(rw, ev[2])}) read {_assign(rw, ev[2])} together "
                f"with {_assign(rw, ev[3])}")
    if step.kind == WFR_STATE:
        return (f"op {rw.op[ev[1]]} ({_who(rw, ev[1])}) read {_assign(rw, ev[1])} together "
                f"with {_assign(rw, ev[2])}, and {_followed(rw, built, ev)}")
    chain, _ = _chain(rw, built, ev[0], built.last_state_read(ev[1]))
    return (f"op {rw.op[ev[1]]} ({_who(rw, ev[1])}) read {_assign(rw, ev[1])} from a state "
            f"that held {_noun(rw, ev[0])}: {chain}")


def _followed(rw: RwHistory, built: Built, ev: Sequence[int]) -> str:
    """For a writes-follow-reads state step: the write read with x followed a read of y."""
    writer = _writer(rw, ev[1])
    chain, _ = _chain(rw, built, ev[0], writer)
    return (f"{_noun(rw, writer)} followed {_who(rw, ev[0])}'s read of {_assign(rw, ev[0])} "
            f"(op {rw.op[ev[0]]}): {chain}")


def _labels(rw: RwHistory, built: Built, cycle: Sequence[Step]) -> list[str]:
    """The guarantees a cycle's steps use, in the order Terry et al. list them."""
    used: set[str] = set()
    for step in cycle:
        if step.kind in GUARANTEES:
            used.add(step.kind)
        elif step.kind == MW_STATE:
            used.add(MW)
        elif step.kind == WFR_STATE:
            used.add(WFR)
        elif step.kind == STATE:
            used |= _chain(rw, built, step.events[0],
                           built.last_state_read(step.events[1]))[1]
    return [g for g in GUARANTEES if g in used]


def _headline(rw: RwHistory, built: Built, step: Step, why: str) -> str:
    """The contradiction named by its first step; ``why`` says why the step's target
    precedes its source (the rest of the cycle)."""
    ev = step.events
    initial = built.graph.is_initial(step.dst)
    if step.kind == RYW:
        tail = (", the initial value, as if its write had never happened" if initial else
                f", a value older than its own write: {why}")
        return f"{_reason(rw, built, step)}{tail}."
    if step.kind == MR:
        tail = (", the initial value, after it had already seen a write" if initial else
                f", an older value: {why}")
        return f"{_reason(rw, built, step)}{tail}."
    if step.kind == WFR and step.src == step.dst:
        return (f"{_who(rw, ev[0])} {_r(rw, ev[0])} before it {_w(rw, ev[1])} itself: it "
                "read its own future write.")
    if step.kind in (MW, WFR):
        return (f"{_reason(rw, built, step)}, yet {rw.value_text(ev[1])} is ordered before "
                f"{_version(rw, built, step.src)}: {why}.")
    if step.kind == MW_STATE:
        head = (f"{_who(rw, ev[1])} {_w(rw, ev[0])} and then {_w(rw, ev[1])}, yet op "
                f"{rw.op[ev[2]]} ({_who(rw, ev[2])}) read {_assign(rw, ev[2])} together "
                f"with {_assign(rw, ev[3])}")
        tail = (", the initial value: it saw the later write without the write before it"
                if initial else
                f", which is ordered before {_version(rw, built, step.src)}: {why}")
        return f"{head}{tail}."
    if step.kind == WFR_STATE:
        head = (f"op {rw.op[ev[1]]} ({_who(rw, ev[1])}) read {_assign(rw, ev[1])} together "
                f"with {_assign(rw, ev[2])}")
        if initial:
            return f"{head}, the initial value, although {_followed(rw, built, ev)}."
        return (f"{head}, which is ordered before {_version(rw, built, step.src)}: {why}; yet "
                f"{_followed(rw, built, ev)}.")
    # a state of all four guarantees
    chain, _ = _chain(rw, built, ev[0], built.last_state_read(ev[1]))
    read = f"op {rw.op[ev[1]]} ({_who(rw, ev[1])}) read {_assign(rw, ev[1])}"
    if initial:
        return (f"{read}, the initial value, although its state held {_noun(rw, ev[0])}: "
                f"{chain}.")
    return (f"{read}, although its state held {_noun(rw, ev[0])}, which is ordered after "
            f"{_version(rw, built, step.dst)}: {why}. The state held it because {chain}.")


def _explain(rw: RwHistory, built: Built, cycle: Sequence[Step]) -> str:
    why = "; ".join(_reason(rw, built, s) for s in cycle[1:])
    return _headline(rw, built, cycle[0], why)


def _ops(rw: RwHistory, built: Built, cycle: Sequence[Step]) -> tuple[int, ...]:
    """Every op the cycle's explanation names, the causal chains of states included."""
    events = {e for s in cycle for e in s.events}
    for step in cycle:
        if step.kind == STATE:
            events.update(built.chain(step.events[0], built.last_state_read(step.events[1])))
        elif step.kind == WFR_STATE:
            events.update(built.chain(step.events[0], _writer(rw, step.events[1])))
    return tuple(sorted({rw.op[e] for e in events}))


def _step_json(rw: RwHistory, built: Built, step: Step) -> dict[str, Any]:
    def version(node: int) -> Any:
        return rw.init_raw if built.graph.is_initial(node) else rw.raw_value[node]

    out: dict[str, Any] = {"kind": step.kind, "from": version(step.src),
                           "to": version(step.dst), "ops": [rw.op[e] for e in step.events]}
    if built.graph.is_initial(step.src):
        out["from-initial"] = True
    return out


def _contradiction(a: _Analysis, kind: str, cycle: Sequence[Step]) -> Anomaly:
    rw, built = a.rw, a.built
    head = cycle[0]
    key_node = head.dst
    key = (built.graph.node_key[key_node] if built.graph.is_initial(key_node)
           else rw.key[key_node])
    return Anomaly(
        kind=kind, ops=_ops(rw, built, cycle), explanation=_explain(rw, built, cycle),
        data={"key": rw.key_json(key),
              "process": rw.sessions[rw.session[head.events[-1]]].process,
              "guarantees": _labels(rw, built, cycle), "reading": a.reading,
              "cycle": [_step_json(rw, built, s) for s in cycle]})


# -- verdicts ------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _verdict(a: _Analysis, name: str, *, alone_hold: bool = False) -> Verdict:
    """The verdict of one set: a guarantee alone, or ``session`` (all four at once,
    ``alone_hold`` when each of the four holds on its own)."""
    rw = a.rw
    found = a.top if name == a.top_name else cycles(a.built.graph, name, rw.op,
                                                     limit=_REPORT_LIMIT, within=a.top)
    contradictions = tuple(_contradiction(a, name, c) for c in found.cycles)
    anomalies = (*a.base, *contradictions)
    premises = a.built.premises.counts
    judged = any(premises.values()) if name == SESSION else premises[name] > 0
    what = "all four session guarantees at once" if name == SESSION else name
    details: dict[str, Any] = {
        "guarantee": name, "reading": "per-key" if a.per_key else "whole-database",
        "violations": found.count, "constraints-on-cycles": found.constraints,
        "sessions": len(rw.sessions),
        "reads": rw.kind.count(READ), "writes": rw.kind.count(WRITE),
    }
    if rw.ambiguous:
        details["unjudged-keys"] = [info["key"] for info in rw.ambiguous.values()]
    valid: Validity
    if contradictions:
        valid = False
        lead = "Each guarantee holds on its own, but no" if alone_hold else "No"
        explanation = (f"{lead} server order keeps {what} ({a.reading}): "
                       f"{_count(found.count, 'independent contradiction')}. "
                       f"{contradictions[0].explanation}")
        if name == SESSION:
            explanation += (" It takes " + " and ".join(contradictions[0].data["guarantees"])
                            + ".")
        if a.base:
            explanation += f" Besides, {a.base[0].explanation}"
    elif a.base:
        valid = False
        explanation = a.base[0].explanation
    elif rw.ambiguous:
        valid = UNKNOWN
        explanation = rw.ambiguity_text()
    elif not judged:
        valid = UNKNOWN
        premise = ("did any of what the guarantees are about" if name == SESSION
                   else _PREMISE[name])
        return nothing_to_judge(name, f"session that {premise} ({a.reading})",
                                details=details)
    else:
        valid = True
        explanation = (f"Checked {_count(details['reads'], 'read')} and "
                       f"{_count(details['writes'], 'write')} in "
                       f"{_count(details['sessions'], 'session')}: a server order exists "
                       f"that keeps {what} ({a.reading}).")
    return Verdict(checker=name, valid=valid, explanation=explanation, anomalies=anomalies,
                   details=details)


def _check_one(history: History, options: CheckOptions, name: str) -> Verdict:
    return _verdict(_analyse(history, options, name, [name]), name)


def check_read_your_writes(history: History, options: CheckOptions) -> Verdict:
    """Read your writes alone: does a server order exist in which every read's state
    holds its session's earlier writes?

    ``options.extra["per_key"]`` judges each key on its own; the whole database by
    default. Same contract for every checker here.

    Returns:
        False with a ``read-your-writes`` anomaly per contradiction (up to ten, the
        first to become visible first), or with the reads no server state explains;
        unknown when no session read a key after writing it, or keys with repeated
        values were not judged; true otherwise.

    Raises:
        HistoryError: a client op is not a register, key-value or rw-register op.
    """
    return _check_one(history, options, RYW)


def check_monotonic_reads(history: History, options: CheckOptions) -> Verdict:
    """Monotonic reads alone: every read's state holds what the session's earlier reads
    returned. Same contract as `check_read_your_writes`."""
    return _check_one(history, options, MR)


def check_monotonic_writes(history: History, options: CheckOptions) -> Verdict:
    """Monotonic writes alone: a session's writes are ordered as it made them, and a
    state holding one holds the session's earlier ones. Same contract as
    `check_read_your_writes`."""
    return _check_one(history, options, MW)


def check_writes_follow_reads(history: History, options: CheckOptions) -> Verdict:
    """Writes follow reads alone: a session's write is ordered after what its earlier
    reads returned, and a state holding the write holds those. Same contract as
    `check_read_your_writes`."""
    return _check_one(history, options, WFR)


def check_session(history: History, options: CheckOptions) -> Verdict:
    """All four guarantees at once: does one server order keep them all?

    Returns:
        A verdict whose children are the four guarantees' own verdicts; its validity is
        the conjunction's, false when no single order keeps all four (even if each holds
        on its own), with a ``session`` anomaly per contradiction naming the guarantees
        its steps use.

    Raises:
        HistoryError: a client op is not a register, key-value or rw-register op.
    """
    a = _analyse(history, options, SESSION, [*GUARANTEES, SESSION])
    children = tuple(_verdict(a, g) for g in GUARANTEES)
    broken = [c.checker for c in children if c.valid is False]
    own = _verdict(a, SESSION, alone_hold=not broken)
    explanation = own.explanation
    if broken:
        explanation = f"Violated on its own: {', '.join(broken)}. {explanation}"
    details = {**own.details, "violated": broken,
               "guarantees": {c.checker: c.valid for c in children}}
    return Verdict(checker=SESSION, valid=own.valid, explanation=explanation,
                   anomalies=own.anomalies, details=details, children=children)
