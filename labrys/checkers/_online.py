"""Online checking: verdicts on a history while it is still being recorded.

Problem. Jepsen, Knossos, Elle and Porcupine judge a history once the test is over, so a
30-minute run that broke linearizability in its first minute says so half an hour later.
Some verdicts need not wait: if a *prefix* of the history already admits no valid
execution, neither does any history that extends it. This module declares which checks
have that property and judges prefixes incrementally; `labrys.harness` feeds them the
history as it is written, beside the run. The final verdict is always the offline one,
on the whole history; an online verdict only ever says "invalid, already", and only when
the offline check must say so too.

Central abstraction: `OnlineCheck`, a declaration (data) a workload makes of how its
history may be judged early: which registered checker judges, with which options, and
how — key by key (`per_key_ops`) or by re-checking the whole prefix. `make_online_checker`
turns it into an `OnlineChecker`: ``feed`` it the ops in history order, call ``check``
whenever convenient, and it returns the first `OnlineFinding` or None.

What a prefix means. A prefix P of a history H is its first n ops. An invocation without
its completion in P is *pending*: it may still complete ok, fail, or never be known. Every
checker here reads a pending invocation as ``info`` (it may have taken effect at any time
after its invocation, or never), which is exactly what `labrys.history.History` does with
an invocation that has no completion. Soundness below means: whenever the check of P
reports an anomaly this module counts, the check of H is invalid too.

Linearizability (the ``register`` workload, ``linearizable``). If P, with its pending ops
as info, is not linearizable, no extension H is. Suppose H had a linearization L. Let c be
the first operation in L invoked after P ends. Every operation that completed in P
completed before c was invoked, so real time puts it before c in L; the operations of P
that L places after c are therefore all pending in P, and P may drop them (info: they
may never happen). The prefix of L before c is a legal sequential run of the model (a
prefix of one is), contains every ok operation of P, places each info operation of P or
drops it, and keeps P's real-time order (H has all of P's completions, and more
constraints, never fewer). So P has a linearization: contradiction. Linearizability is
also local (Herlihy and Wing 1990), so one key's sub-history can be judged alone, and the
register workload gives each key ``ops_per_key`` invocations and then moves on for good:
a key is judged once all its invocations are in (its pending ops as info), and again once
each has completed. The scenario that shows why pending must mean info: process 1
invokes ``write 3`` and has no answer yet; process 2 reads 3. Judged as if the write had
failed (or had not been invoked), the read is impossible; but the write may still return
ok, and then the history is fine.

Elle's cycle anomalies (``list-append``, ``rw-register``). The dependency graph of P is
contained in that of H: transactions of P keep their ids (ids follow invocation order);
reads that completed ok in P are the same in H, so every ww, wr and rw edge P infers is
inferred in H too, except one kind: an append nobody has read yet is placed after the
last element read, and a longer read in H may put other elements between them, which
turns that one edge into a path of the same relation followed by ww edges (a G0 cycle
stays G0, a G-single keeps its one anti-dependency, non-adjacent rw edges stay
non-adjacent). Realtime edges depend only on completions in P, which H keeps; process
edges likewise. A vertex of P may vanish from H's graph in one way: a pending transaction
whose write was read, and which then fails. Then a committed transaction read a failed
write, which is G1a (aborted read) in H; so the online check is declared only for claims
that forbid G1a (every level from read committed up; all the workloads' claims do).
Anomalies without a cycle are judged from completed transactions (G1a needs a writer
that *failed*, not one whose outcome is pending; G1b, internal, lost updates, duplicate
elements, incompatible orders and dirty updates stay in H, or turn into another of the
kinds the same claims forbid), with one exception: a ``garbage-read``, a read of a value
no transaction of P wrote. A transaction invoked after P may write it, and then H holds a
read of a later write, which serializability allows. So a garbage read is never an
online finding. Elle's search budget is per component: the offline search of a larger
component may run out where the prefix's did not, in which case the offline verdict is
unknown (never valid).

Session guarantees (``session`` and the four single guarantees). The checkers ask
whether a server order exists that keeps the guarantees. Any order that explains H,
restricted to P's events, explains P: P's sessions are prefixes of H's, its ok reads are
H's ok reads, a pending write counts only if an ok read of P returned its value (so in H
it happened, or it failed and that read is an aborted read, already invalid), and a write
P leaves out was returned by no read of P, so dropping it from the states changes no
read's result. The exception is a ``thin-air-read`` (a value no write of P wrote): a
write invoked later may have written it, which a server order without real time allows.
The argument needs written values unique per key, which the checkers demand to judge a
key at all; a later write repeating a value makes that key unjudgeable, and the offline
verdict unknown, never valid.

Not prefix-closed, hence no online check: the ``set`` verdict is about the final read (an
add missing from a read in the middle of the run may yet appear); the ``counter`` check
judges final reads too; both are judged only once the run is over.

Cost. Key by key, every key is searched once or twice, each search small: the whole run
costs about what the offline check costs, spread over the run. Re-checking a prefix costs
the offline check of that prefix each time, so `PrefixChecker` paces itself: after a
check that took d seconds it waits at least ``pace`` × d, and so spends at most
1 / (1 + pace) of a core; findings come later as the history grows.

Example:
    >>> check = online_check("register", CheckOptions(), ops_per_key=2)
    >>> checker = make_online_checker(check)
    >>> for op in ops: checker.feed(op)                       # doctest: +SKIP
    >>> checker.check()                                       # doctest: +SKIP
    OnlineFinding(kind='nonlinearizable', label='key 0: stale read', op=12, ...)
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from labrys.checkers._registry import NOT_GIVEN, CheckOptions, run_checker
from labrys.checkers._verdict import Anomaly, Verdict
from labrys.history import History, Op, OpType


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineCheck:
    """How a workload's history may be judged while it is recorded (see the module notes).

    Attributes:
        checker: the registered checker that judges (``linearizable``, ``list-append``…).
        options: its options, as the workload's offline check uses them.
        what: a few words for people ("linearizability, key by key").
        per_key_ops: values are ``[key value]`` and each key receives at most this many
            invocations: judge each key once they are in. None: re-check the whole
            prefix, paced.
        ignored_kinds: anomaly kinds a prefix may show that a longer history can still
            refute (or that are not anomalies at all, as a search that ran out of time);
            never an online finding.
    """

    checker: str
    options: CheckOptions
    what: str
    per_key_ops: int | None = None
    ignored_kinds: frozenset[str] = frozenset()

    def to_json(self) -> dict[str, Any]:
        """The declaration as JSON, to hand to another process (`from_json` reads it)."""
        options = {f.name: getattr(self.options, f.name)
                   for f in dataclasses.fields(CheckOptions)}
        if options["init"] is NOT_GIVEN:
            del options["init"]
        return {"checker": self.checker, "what": self.what, "per_key_ops": self.per_key_ops,
                "ignored_kinds": sorted(self.ignored_kinds),
                "options": options | {"consistency_models": list(self.options.consistency_models)}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OnlineCheck:
        options = dict(data["options"])
        options["consistency_models"] = tuple(options["consistency_models"])
        return cls(checker=data["checker"], what=data["what"], options=CheckOptions(**options),
                   per_key_ops=data["per_key_ops"],
                   ignored_kinds=frozenset(data["ignored_kinds"]))

    @property
    def cheap(self) -> bool:
        """Judged key by key: each key searched once or twice, so the whole run costs about
        one offline check, spread over it. Cheap checks run unless switched off."""
        return self.per_key_ops is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineFinding:
    """The first anomaly an online check found.

    Attributes:
        kind: the anomaly's kind, as its checker names it (``nonlinearizable``, ``G-single``…).
        label: a few words for the live display (``key 7: stale read``).
        op: the op at which it showed (the operation that could not be placed, or the
            latest one the anomaly names), by its index in the history.
        time_ns: when that op happened (its completion, if it has one), in the history's
            time.
        ops: every op the anomaly names, by index in the history.
        explanation: what went wrong, in English; indices are the history's.
        prefix_ops: how many ops of the history the judgment saw.
    """

    kind: str
    label: str
    op: int
    time_ns: int
    ops: tuple[int, ...]
    explanation: str
    prefix_ops: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "op": self.op,
                "at_s": round(self.time_ns / 1e9, 3), "ops": list(self.ops),
                "explanation": self.explanation, "prefix_ops": self.prefix_ops}


class OnlineChecker(Protocol):
    """An incremental check (see `make_online_checker`)."""

    def feed(self, op: Op) -> None:
        """The next op of the history; ops come in history order, indices 0, 1, 2…"""
        ...

    def check(self, *, final: bool = False) -> OnlineFinding | None:
        """Judge what is due; the first anomaly found, if any. ``final``: the history
        ends here, judge everything fed (pending ops as info) regardless of pacing."""
        ...

    def progress(self) -> str:
        """What has been judged so far, in a few words."""
        ...


KEY_BUDGET_S = 10.0
"""The most one key's online search may take."""


def online_check(checker: str, options: CheckOptions, *,
                 ops_per_key: int | None = None) -> OnlineCheck | None:
    """The online form of a registered checker run with ``options``, or None if it has
    none (its verdict is not prefix-closed, or not with these options).

    Args:
        checker: the checker the workload's offline check runs.
        options: the options it runs it with.
        ops_per_key: for ``[key value]`` histories, the invocations each key receives at
            most (the register workload's ``ops_per_key``), to judge key by key.
    """
    rule = _RULES.get(checker)
    return None if rule is None else rule(checker, options, ops_per_key)


def _register(checker: str, options: CheckOptions, ops_per_key: int | None) -> OnlineCheck:
    from labrys.checkers._register import linearizable_options

    return _linearizable("linearizable", linearizable_options(options), ops_per_key)


def _linearizable(checker: str, options: CheckOptions,
                  ops_per_key: int | None) -> OnlineCheck:
    if options.independent and ops_per_key is not None:
        # The offline budget covers all keys together; online, one key must not hold up
        # the keys after it for long (past its budget a key is simply not an online
        # finding: the offline check still judges it).
        budget = min(options.timeout_s or KEY_BUDGET_S, KEY_BUDGET_S)
        return OnlineCheck(checker="linearizable", per_key_ops=ops_per_key,
                           options=dataclasses.replace(options, timeout_s=budget),
                           what="linearizability, key by key")
    return OnlineCheck(checker="linearizable", options=options, what="linearizability")


def _elle(checker: str, options: CheckOptions, ops_per_key: int | None) -> OnlineCheck | None:
    from labrys.checkers._txn_models import (
        UNKNOWN_KINDS,
        canonical_model,
        prohibited_anomalies,
    )

    claimed = tuple(canonical_model(m) for m in options.consistency_models)
    if "G1a" not in prohibited_anomalies(claimed):
        return None  # a cycle through a pending transaction that then fails: see above
    return OnlineCheck(checker=checker, options=options, what=f"Elle's {checker} anomalies",
                       ignored_kinds=UNKNOWN_KINDS | {"garbage-read"})


def _session(checker: str, options: CheckOptions, ops_per_key: int | None) -> OnlineCheck:
    what = "session guarantees" if checker == "session" else f"the {checker} guarantee"
    return OnlineCheck(checker=checker, options=options, what=what,
                       ignored_kinds=frozenset({"thin-air-read"}))


_RULES: Mapping[str, Callable[[str, CheckOptions, int | None], OnlineCheck | None]] = {
    "register": _register,
    "linearizable": _linearizable,
    "list-append": _elle,
    "rw-register": _elle,
    "session": _session,
    "read-your-writes": _session,
    "monotonic-reads": _session,
    "monotonic-writes": _session,
    "writes-follow-reads": _session,
}
"""Each checker whose verdict is prefix-closed, and how to judge it online. A checker
not named here has no online check."""


def make_online_checker(check: OnlineCheck) -> OnlineChecker:
    """The incremental checker that judges as ``check`` declares."""
    if check.per_key_ops is not None:
        from labrys.checkers._online_keys import PerKeyChecker

        return PerKeyChecker(check)
    return PrefixChecker(check)


def first_finding(verdict: Verdict, check: OnlineCheck, ops: Sequence[Op], *,
                  prefix_ops: int, label: Callable[[Anomaly], str] | None = None,
                  index_of: Callable[[int], int] = lambda i: i) -> OnlineFinding | None:
    """The first anomaly of an invalid ``verdict`` on ``ops`` that counts online.

    Args:
        verdict: the checker's verdict on a prefix (or on one key of it).
        check: the declaration, for the kinds to ignore.
        ops: the ops the verdict judged, in order, indexed from 0.
        prefix_ops: how many ops of the whole history had been fed.
        label: the display's words for the anomaly (default: its kind).
        index_of: an index in ``ops`` to the op's index in the whole history.
    """
    if verdict.valid is not False:
        return None
    for anomaly in verdict.anomalies:
        if anomaly.kind in check.ignored_kinds or not anomaly.ops:
            continue
        # Linearizability names the operation that could not be placed; otherwise the
        # anomaly was complete with the latest operation it names.
        stuck = anomaly.data.get("op") if check.checker == "linearizable" else None
        at = stuck if isinstance(stuck, int) and 0 <= stuck < len(ops) else max(anomaly.ops)
        done = _completion(ops, at)
        return OnlineFinding(
            kind=anomaly.kind, label=label(anomaly) if label else anomaly.kind,
            op=index_of(at), time_ns=(done or ops[at]).time,
            ops=tuple(index_of(i) for i in anomaly.ops), explanation=anomaly.explanation,
            prefix_ops=prefix_ops)
    return None


def _completion(ops: Sequence[Op], index: int) -> Op | None:
    """The completion of the invocation at ``index``, or None (pending, or not one)."""
    op = ops[index]
    if op.type is not OpType.INVOKE:
        return None
    for later in ops[index + 1:]:
        if later.process == op.process:
            return later
    return None


@dataclass(slots=True)
class PrefixChecker:
    """Re-checks the whole prefix with the declared checker, paced (see the module notes).

    Attributes:
        online: what to run.
        pace: after a check that took d seconds, wait ``pace`` × d before the next.
        min_interval_s: and never check more often than this.
        clock: seconds, monotonic.
    """

    online: OnlineCheck
    pace: float = 3.0
    min_interval_s: float = 0.5
    clock: Callable[[], float] = time.monotonic
    _ops: list[Op] = field(default_factory=list)
    _checked: int = 0
    _next_at: float = 0.0

    def feed(self, op: Op) -> None:
        self._ops.append(op)

    def check(self, *, final: bool = False) -> OnlineFinding | None:
        if len(self._ops) == self._checked or (not final and self.clock() < self._next_at):
            return None
        started = self.clock()
        ops = list(self._ops)
        verdict = run_checker(self.online.checker, History(ops), self.online.options)
        ended = self.clock()
        self._checked = len(ops)
        self._next_at = ended + max(self.min_interval_s, self.pace * (ended - started))
        return first_finding(verdict, self.online, ops, prefix_ops=len(ops))

    def progress(self) -> str:
        return f"{self._checked} ops judged"
