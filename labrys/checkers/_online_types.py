"""The online checks' types: what a workload declares, and what a check finds.

`OnlineCheck` is the declaration (data, and JSON to cross to the process that judges);
`OnlineFinding` the first anomaly found; `OnlineChecker` the incremental checker's
interface; `first_finding` picks, from a checker's verdict on a prefix, the anomaly that
counts online. Why each check is sound on a prefix: `labrys.checkers._online`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from labrys.checkers._registry import NOT_GIVEN, CheckOptions
from labrys.checkers._verdict import Anomaly, Verdict
from labrys.history import Op, OpType


@dataclass(frozen=True, slots=True, kw_only=True)
class OnlineCheck:
    """How a workload's history may be judged while it is recorded (`labrys.checkers._online`).

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
                "at_s": self.time_ns / 1e9, "ops": list(self.ops),
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
