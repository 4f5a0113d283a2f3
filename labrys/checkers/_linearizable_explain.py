"""Turning search outcomes into a verdict a person can act on.

When no order exists, the search still knows how far it got: the longest prefix it
placed, with the model's state after each operation. Past that prefix, some operations
could have come next, and each failed: the model refused it (its own sentence, "read
returned nil, but the register held 1"), or it was accepted but nothing could follow.
For linearizability one of them is *the* operation that cannot be linearized: the
pending ``ok`` operation that completed first, because real time forbids placing
anything that began after its completion until it is placed. That is what Knossos
reports as ``:op`` and Porcupine draws as the last bar of its longest partial
linearization.

An anomaly carries all of it as data (`Anomaly.data`) and as two or three sentences.
Huge histories stay readable: at most `SHOWN_STEPS` steps of the prefix, `SHOWN_OPTIONS`
candidates and `SHOWN_KEYS` failing keys are named, with counts of the rest.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

from labrys.checkers._verdict import UNKNOWN, Anomaly, Verdict
from labrys.checkers._wgl import Outcome
from labrys.models import Call, Inconsistent, Model, Part, show

SHOWN_STEPS = 10
SHOWN_OPTIONS = 10
SHOWN_KEYS = 10

_ORDER = {False: "real time", True: "each process's order"}
_KIND = {False: "nonlinearizable", True: "not-sequentially-consistent"}


def _op(call: Call, model: Model) -> str:
    return f"op {call.index} (process {call.process}: {model.describe_op(call)})"


def _json_key(key: Hashable) -> Any:
    return key if isinstance(key, str | int | float | bool) or key is None else show(key)


def _options(part: Part, outcome: Outcome, *, sequential: bool) -> list[int]:
    """Positions of the calls that could have come right after the longest prefix.

    For linearizability the first is the one that cannot be linearized: the pending
    ok call with the earliest completion.
    """
    calls = part.calls
    placed = set(outcome.prefix)
    if sequential:
        chains: dict[Any, list[int]] = {}
        for i, c in enumerate(calls):
            if i not in placed:
                chains.setdefault(c.process, []).append(i)
        out = []
        for chain in chains.values():
            for i in chain:
                out.append(i)
                if calls[i].known:
                    break
        return sorted(out, key=lambda i: (not calls[i].known, i))
    pending = [i for i, c in enumerate(calls) if c.known and i not in placed]
    stuck = min(pending, key=lambda i: calls[i].return_index)  # type: ignore[arg-type,return-value]
    deadline = calls[stuck].return_index
    assert deadline is not None
    rest = [i for i, c in enumerate(calls)
            if i not in placed and i != stuck and c.index < deadline]
    return [stuck, *rest]


def explain_part(part: Part, outcome: Outcome, *, sequential: bool) -> tuple[Anomaly, str]:
    """The anomaly for one part whose search found no order, and its one-line headline."""
    model, calls = part.model, part.calls
    state = outcome.states[-1] if outcome.states else model.init()
    options = _options(part, outcome, sequential=sequential)
    shown_options = options[:SHOWN_OPTIONS]
    reasons = []
    for i in shown_options:
        after = model.step(state, calls[i])
        if isinstance(after, Inconsistent):
            reasons.append(after.reason)
        else:
            reasons.append(f"it could take effect here (leaving {model.describe_state(after)}), "
                           "but then no order of the remaining operations works")
    first = len(outcome.prefix) - SHOWN_STEPS if len(outcome.prefix) > SHOWN_STEPS else 0
    steps = [
        {"op": calls[i].index, "process": calls[i].process,
         "description": model.describe_op(calls[i]),
         "state": model.describe_state(outcome.states[k])}
        for k, i in enumerate(outcome.prefix) if k >= first
    ]
    ops = sorted({calls[i].index for i in outcome.prefix[first:]}
                 | {calls[i].index for i in shown_options})
    stuck = calls[options[0]]
    shown_state = model.describe_state(state)
    if outcome.prefix:
        last = calls[outcome.prefix[-1]]
        prefix = (f"the longest consistent order found places {len(outcome.prefix)} of "
                  f"{len(calls)} operations, ending with {_op(last, model)} in state "
                  f"{shown_state}")
    else:
        prefix = f"no operation can come first, from the initial state {shown_state}"
    fails = "cannot be placed in process order" if sequential else "cannot be linearized"
    headline = f"{_op(stuck, model)} {fails}: {reasons[0]}"
    if sequential:
        follow = "and nothing else can come next either"
    else:
        follow = (f"and op {stuck.index} had to come before anything that began after it "
                  "completed")
    text = f"{headline}. {prefix[0].upper()}{prefix[1:]}, {follow}."
    others = [f"{_op(calls[i], model)}: {why}"
              for i, why in zip(shown_options[1:], reasons[1:], strict=True)]
    if others:
        text += " The other operations that could come next fail too: " + "; ".join(others)
        text += "." if len(options) <= SHOWN_OPTIONS else (
            f"; and {len(options) - SHOWN_OPTIONS} more.")
    if part.key is not None:
        where = f"Key {show(part.key)}: "
        text, headline = (where + text[0].lower() + text[1:],
                          where + headline[0].lower() + headline[1:])
    else:
        text, headline = text[0].upper() + text[1:], headline[0].upper() + headline[1:]
    anomaly = Anomaly(
        kind=_KIND[sequential],
        ops=tuple(ops),
        explanation=text,
        data={
            "key": _json_key(part.key),
            "op": stuck.index,
            "placed": len(outcome.prefix),
            "operations": len(calls),
            "state": model.describe_state(state),
            "linearization": steps,
            "linearization_omitted": first,
            "candidates": [
                {"op": calls[i].index, "process": calls[i].process,
                 "description": model.describe_op(calls[i]), "reason": why}
                for i, why in zip(shown_options, reasons, strict=True)
            ],
            "candidates_omitted": len(options) - len(shown_options),
        },
    )
    return anomaly, headline


def verdict(
    checker: str,
    model: Model,
    parts: Sequence[Part],
    outcomes: Sequence[Outcome],
    *,
    sequential: bool,
    partitioned: bool,
    timeout_s: float | None,
    memory_limit_mb: int,
) -> Verdict:
    """The verdict for a whole history from the outcome of each of its parts."""
    total = sum(len(p.calls) for p in parts)
    details: dict[str, Any] = {
        "model": model.name,
        "operations": total,
        "parts": len(parts),
        "partitioned": partitioned,
        "states_explored": sum(o.explored for o in outcomes),
    }
    invalid = [(p, o) for p, o in zip(parts, outcomes, strict=True) if o.valid is False]
    stopped = [(p, o) for p, o in zip(parts, outcomes, strict=True) if o.valid == UNKNOWN]
    if invalid:
        explained = [explain_part(p, o, sequential=sequential) for p, o in invalid[:SHOWN_KEYS]]
        anomalies = tuple(anomaly for anomaly, _ in explained)
        text = f"Not {_adjective(sequential)}. {explained[0][1]}."
        if partitioned and len(invalid) > 1:
            keys = ", ".join(show(p.key) for p, _ in invalid[1:SHOWN_KEYS])
            more = len(invalid) - SHOWN_KEYS
            text += f" Keys {keys}{f' and {more} more' if more > 0 else ''} fail as well."
        cancelled = sum(1 for _, o in stopped if o.stopped == "cancelled")
        if cancelled:
            parts_were = "part of the history was" if cancelled == 1 else (
                "parts of the history were")
            text += (f" {cancelled} other {parts_were} not searched to the end once this "
                     "was known.")
        details["invalid_keys"] = [_json_key(p.key) for p, _ in invalid] if partitioned else []
        return Verdict(checker=checker, valid=False, explanation=text, anomalies=anomalies,
                       details=details)
    if stopped:
        why = stopped[0][1].stopped
        details["stopped"] = why
        limit = (f"its time limit of {timeout_s:g} s" if why == "time"
                 else f"its memory limit of {memory_limit_mb} MB")
        undecided = (f" ({len(stopped)} of {len(parts)} keys undecided)" if partitioned
                     else "")
        # z3 explores no states of ours; saying "after exploring 0 states" would mislead.
        explored = (f" after exploring {details['states_explored']} states"
                    if details["states_explored"] else "")
        text = (f"Unknown: the search reached {limit}{explored}{undecided}, without finding "
                f"an order or proving that none exists. Raise the limit to decide.")
        return Verdict(checker=checker, valid=UNKNOWN, explanation=text, details=details)
    keys = "1 key" if len(parts) == 1 else f"{len(parts)} keys"
    where = f", key by key over {keys}" if partitioned else ""
    counted = f"the {total} operations checked fit" if total != 1 else (
        "the 1 operation checked fits")
    text = (f"{_adjective(sequential).capitalize()}: {counted} one order consistent with "
            f"{_ORDER[sequential]} and the {model.name} model{where}.")
    return Verdict(checker=checker, valid=True, explanation=text, details=details)


def _adjective(sequential: bool) -> str:
    return "sequentially consistent" if sequential else "linearizable"
