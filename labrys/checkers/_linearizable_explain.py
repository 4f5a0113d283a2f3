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
Huge histories stay readable: at most `SHOWN_STEPS` steps of the prefix and
`SHOWN_OPTIONS` candidates are named, with counts of the rest. An `Impasse` holds just
those, so that the native core can describe where a search of a million operations got
stuck without turning the other operations into Python objects.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

from labrys.checkers._outcome import Outcome
from labrys.checkers._verdict import Anomaly
from labrys.models import Call, Inconsistent, Model, Part, State, show

SHOWN_STEPS = 10
SHOWN_OPTIONS = 10

KIND = {False: "nonlinearizable", True: "not-sequentially-consistent"}
"""The anomaly kind of each checker (by ``sequential``)."""


def describe_call(call: Call, model: Model) -> str:
    """``op 4 (process 2: read → 1)``: how explanations name an operation."""
    return f"op {call.index} (process {call.process}: {model.describe_op(call)})"


_op = describe_call


def json_key(key: Hashable) -> Any:
    """A key as JSON can hold it: itself if it is a plain value, else as shown."""
    return key if isinstance(key, str | int | float | bool) or key is None else show(key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Impasse:
    """Where a search got stuck, with just the calls its explanation names.

    Built from a whole part (`impasse`) or by the native core, which never turns the
    other calls of a long history into Python objects.

    Attributes:
        placed: how many operations the longest consistent prefix placed.
        steps: its last `SHOWN_STEPS` calls, each with the state after it.
        state: the state after the whole prefix.
        options: the first `SHOWN_OPTIONS` calls that could come next; for
            linearizability the first is the one that cannot be linearized.
        more_options: how many more could come next.
    """

    placed: int
    steps: tuple[tuple[Call, State], ...]
    state: State
    options: tuple[Call, ...]
    more_options: int


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


def impasse(part: Part, outcome: Outcome, *, sequential: bool) -> Impasse:
    """Where the search of a whole part got stuck (the outcome carries prefix and states)."""
    calls = part.calls
    options = _options(part, outcome, sequential=sequential)
    first = max(0, len(outcome.prefix) - SHOWN_STEPS)
    return Impasse(
        placed=len(outcome.prefix),
        steps=tuple((calls[i], outcome.states[k])
                    for k, i in enumerate(outcome.prefix) if k >= first),
        state=outcome.states[-1] if outcome.states else part.model.init(),
        options=tuple(calls[i] for i in options[:SHOWN_OPTIONS]),
        more_options=max(0, len(options) - SHOWN_OPTIONS),
    )


def explain_part(part: Part, outcome: Outcome, *, sequential: bool) -> tuple[Anomaly, str]:
    """The anomaly for one part whose search found no order, and its one-line headline."""
    return explain_impasse(part.model, part.key, len(part.calls),
                           impasse(part, outcome, sequential=sequential), sequential=sequential)


def explain_impasse(model: Model, key: Hashable, operations: int, stuck_at: Impasse, *,
                    sequential: bool) -> tuple[Anomaly, str]:
    """The anomaly for a part whose search found no order, and its one-line headline."""
    state = stuck_at.state
    reasons = []
    for call in stuck_at.options:
        after = model.step(state, call)
        if isinstance(after, Inconsistent):
            reasons.append(after.reason)
        else:
            reasons.append(f"it could take effect here (leaving {model.describe_state(after)}), "
                           "but then no order of the remaining operations works")
    first = stuck_at.placed - len(stuck_at.steps)
    steps = [{"op": c.index, "process": c.process, "description": model.describe_op(c),
              "state": model.describe_state(after)} for c, after in stuck_at.steps]
    ops = sorted({c.index for c, _ in stuck_at.steps} | {c.index for c in stuck_at.options})
    stuck = stuck_at.options[0]
    shown_state = model.describe_state(state)
    if stuck_at.placed:
        last = stuck_at.steps[-1][0]
        prefix = (f"the longest consistent order found places {stuck_at.placed} of "
                  f"{operations} operations, ending with {_op(last, model)} in state "
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
    others = [f"{_op(c, model)}: {why}"
              for c, why in zip(stuck_at.options[1:], reasons[1:], strict=True)]
    if others:
        text += " The other operations that could come next fail too: " + "; ".join(others)
        text += "." if not stuck_at.more_options else f"; and {stuck_at.more_options} more."
    text, headline = keyed(key, text), keyed(key, headline)
    anomaly = Anomaly(
        kind=KIND[sequential],
        ops=tuple(ops),
        explanation=text,
        data={
            "key": json_key(key),
            "op": stuck.index,
            "placed": stuck_at.placed,
            "operations": operations,
            "state": shown_state,
            "linearization": steps,
            "linearization_omitted": first,
            "candidates": [
                {"op": c.index, "process": c.process,
                 "description": model.describe_op(c), "reason": why}
                for c, why in zip(stuck_at.options, reasons, strict=True)
            ],
            "candidates_omitted": stuck_at.more_options,
        },
    )
    return anomaly, headline


def keyed(key: Hashable, text: str) -> str:
    """A sentence about one key, prefixed with the key; capitalised either way."""
    if key is None:
        return text[0].upper() + text[1:]
    return f"Key {show(key)}: {text[0].lower()}{text[1:]}"
