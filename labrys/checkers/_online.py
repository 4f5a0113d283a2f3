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

Cost. Key by key, a key is searched when it fills up and again as its pending
operations complete, each search small: the whole run costs a small multiple of the
offline check, spread over it. Re-checking a prefix costs the offline check of that
prefix each time, so `PrefixChecker` paces itself: after a check that took d seconds it
waits at least ``pace`` × d, and so spends at most 1 / (1 + pace) of a core; findings
come later as the history grows.

Example::

    check = online_check("register", CheckOptions(), ops_per_key=100)
    checker = make_online_checker(check)
    for op in ops:                    # as they are recorded
        checker.feed(op)
        found = checker.check()
        if found is not None:
            print(found.label)        # key 7: stale read
            break
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from labrys.checkers._online_keys import PerKeyChecker
from labrys.checkers._online_types import (
    OnlineCheck,
    OnlineChecker,
    OnlineFinding,
    first_finding,
)
from labrys.checkers._registry import CheckOptions, run_checker
from labrys.history import History, Op

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
        return PerKeyChecker(check)
    return PrefixChecker(check)


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
