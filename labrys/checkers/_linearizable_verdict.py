"""The verdict of `linearizable` and `sequential`, from how each part was decided.

Each part of a history (a kv key, or the whole history) was decided by the search or by
the read-mapping (`labrys.checkers._decide`), valid, invalid or unknown. The verdict is
false if any part is invalid, and then names up to `SHOWN_KEYS` failing parts, each
explained by where the search got stuck (`labrys.checkers._linearizable_explain`) or by
the read-mapping's proof (`labrys.checkers._read_mapping_explain`); unknown if any part
ran out of budget, naming the budget; true otherwise, saying what decided it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from labrys.checkers._budgets import MemoryLimit
from labrys.checkers._outcome import Outcome
from labrys.checkers._verdict import UNKNOWN, Verdict
from labrys.models import Model, Part, show

if TYPE_CHECKING:
    # Explanations are imported where a history is invalid: a valid one needs none.
    from labrys.checkers._linearizable_explain import Impasse
    from labrys.checkers._read_mapping_explain import Refutation

SHOWN_KEYS = 10

_ORDER = {False: "real time", True: "each process's order"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Decided:
    """One part's outcome, with what its explanation needs.

    Attributes:
        key: what the part is about (a kv key), None for a whole history.
        model: the part's own model (one key's, for a kv key).
        operations: how many calls the part has.
        outcome: how its decision ended (prefixes and states are not read here).
        impasse: for a part the search found invalid, where it got stuck.
        refutation: for one the read-mapping refuted and the search did not explain,
            the read-mapping's proof.
    """

    key: Hashable
    model: Model
    operations: int
    outcome: Outcome
    impasse: Impasse | None = None
    refutation: Refutation | None = None


def decided(part: Part, outcome: Outcome, *, sequential: bool) -> Decided:
    """A part's `Decided`, from the whole part."""
    base = Decided(key=part.key, model=part.model, operations=len(part.calls), outcome=outcome)
    if outcome.valid is not False:
        return base
    from labrys.checkers._linearizable_explain import impasse
    from labrys.checkers._read_mapping_explain import refutation

    if outcome.conflict is not None:
        return replace(base, refutation=refutation(part, outcome.conflict))
    return replace(base, impasse=impasse(part, outcome, sequential=sequential))


def verdict(
    checker: str,
    model: Model,
    parts: Sequence[Decided],
    *,
    sequential: bool,
    partitioned: bool,
    timeout_s: float | None,
    memory_limit: MemoryLimit,
) -> Verdict:
    """The verdict for a whole history from how each of its parts was decided."""
    total = sum(p.operations for p in parts)
    details: dict[str, Any] = {
        "model": model.name,
        "operations": total,
        "parts": len(parts),
        "partitioned": partitioned,
        "states_explored": sum(p.outcome.explored for p in parts),
        "decided_by": sorted({p.outcome.algorithm for p in parts
                              if p.outcome.valid != UNKNOWN}),
    }
    invalid = [p for p in parts if p.outcome.valid is False]
    stopped = [p for p in parts if p.outcome.valid == UNKNOWN]
    if invalid:
        from labrys.checkers._linearizable_explain import explain_impasse, json_key
        from labrys.checkers._read_mapping_explain import explain_refutation

        explained = [explain_refutation(p.model, p.key, p.operations, p.refutation)
                     if p.refutation is not None
                     else explain_impasse(p.model, p.key, p.operations, p.impasse,
                                          sequential=sequential)  # type: ignore[arg-type]
                     for p in invalid[:SHOWN_KEYS]]
        anomalies = tuple(anomaly for anomaly, _ in explained)
        text = f"Not {_adjective(sequential)}. {explained[0][1]}."
        if partitioned and len(invalid) > 1:
            keys = ", ".join(show(p.key) for p in invalid[1:SHOWN_KEYS])
            more = len(invalid) - SHOWN_KEYS
            text += f" Keys {keys}{f' and {more} more' if more > 0 else ''} fail as well."
        cancelled = sum(1 for p in stopped if p.outcome.stopped == "cancelled")
        if cancelled:
            parts_were = "part of the history was" if cancelled == 1 else (
                "parts of the history were")
            text += (f" {cancelled} other {parts_were} not searched to the end once this "
                     "was known.")
        details["invalid_keys"] = [json_key(p.key) for p in invalid] if partitioned else []
        return Verdict(checker=checker, valid=False, explanation=text, anomalies=anomalies,
                       details=details)
    if stopped:
        why = stopped[0].outcome.stopped
        details["stopped"] = why
        limit = (f"its time limit of {timeout_s:g} s" if why == "time"
                 else memory_limit.describe())
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
    mapped = sum(1 for p in parts if p.outcome.algorithm == "read-mapping")
    if mapped:
        which = "" if mapped == len(parts) else f" for {mapped} of the {len(parts)} keys"
        text += (f" Decided{which} from the read-mapping: every written value is unique, so "
                 "each read names the write it saw, and real time alone decides (Gibbons and "
                 "Korach 1997).")
    return Verdict(checker=checker, valid=True, explanation=text, details=details)


def _adjective(sequential: bool) -> str:
    return "sequentially consistent" if sequential else "linearizable"
