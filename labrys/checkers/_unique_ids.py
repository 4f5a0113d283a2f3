"""Unique-id checker: an id generator never hands out the same id twice.

Problem. A unique-id workload calls ``generate`` and gets an id back
(``{f: generate, type: ok, value: 17}``). Whatever the generator's consistency model,
two successful calls must never return the same id. This is Jepsen's
``jepsen.checker/unique-ids``.

Central abstraction: the frequency of each id among successful ``generate`` results.
Any id seen more than once is a duplicate; one anomaly lists them all, with the calls
that returned each.

Example:
    generate → 1; generate → 2; generate → 1     id 1 was handed out twice

Non-obvious choices:

- Only successful calls count: a call that failed or timed out returned no id.
- ``details["duplicated"]`` keeps Jepsen's sample, the 48 most repeated ids with their
  counts; the anomaly's data has every duplicate and the ops that returned it.
- ``range`` is the lowest and highest id under a total order that copes with mixed
  types (numbers before strings before lists), so an odd id cannot crash the checker.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._set import element_key, freeze, preview, render, thaw
from labrys.checkers._verdict import Anomaly, Verdict, nothing_to_judge
from labrys.history import History, OpType

DUPLICATE_SAMPLE = 48
"""How many of the most repeated ids ``details["duplicated"]`` lists, as Jepsen does."""


def check_unique_ids(history: History, options: CheckOptions) -> Verdict:
    """Jepsen's ``unique-ids``: every successful ``generate`` returned a distinct id.

    Args:
        history: client ops ``generate``; a successful completion's value is the id.
        options: unused; the signature every checker shares.

    Returns:
        False if any id was returned more than once, unknown if none was returned
        (nothing to judge), True otherwise. ``details``:
        ``attempted-count``, ``acknowledged-count``, ``duplicated-count``,
        ``duplicated`` (the 48 most repeated ids as ``[id, count]``) and ``range``
        (``[lowest, highest]``, or null when no id was returned).
    """
    del options
    attempted = 0
    returned: dict[Any, list[int]] = {}  # id -> the generate calls that returned it
    for operation in history.operations():
        if operation.f != "generate":
            continue
        attempted += 1
        if operation.type is OpType.OK:
            returned.setdefault(freeze(operation.value), []).append(operation.index)
    if not returned:
        return nothing_to_judge("unique-ids", "successful generate (an op returning an id)",
                                details={"attempted-count": attempted})
    counts = Counter({i: len(ops) for i, ops in returned.items()})
    duplicated = {i: ops for i, ops in returned.items() if len(ops) > 1}
    ordered_ids = sorted(returned, key=element_key)
    most_repeated = sorted(duplicated, key=lambda i: (-counts[i], element_key(i)))

    anomalies: list[Anomaly] = []
    if duplicated:
        sentences = [f"{render(i)} {counts[i]} times (ops "
                     f"{', '.join(str(o) for o in duplicated[i][:4])}"
                     f"{', …' if counts[i] > 4 else ''})" for i in most_repeated[:4]]
        anomalies.append(Anomaly(
            kind="duplicated-id",
            ops=tuple(sorted(o for ops in duplicated.values() for o in ops)),
            explanation=f"{len(duplicated)} id(s) were handed out more than once: "
            + preview(sentences, total=len(duplicated), limit=4) + ".",
            data={"ids": [{"id": thaw(i), "count": counts[i], "ops": duplicated[i]}
                          for i in most_repeated]},
        ))
    acknowledged = counts.total()
    explanation = (anomalies[0].explanation if anomalies else
                   f"All {acknowledged} id(s) returned were distinct.")
    return Verdict(
        checker="unique-ids",
        valid=not duplicated,
        explanation=explanation,
        anomalies=tuple(anomalies),
        details={
            "attempted-count": attempted,
            "acknowledged-count": acknowledged,
            "duplicated-count": len(duplicated),
            "duplicated": [[thaw(i), counts[i]] for i in most_repeated[:DUPLICATE_SAMPLE]],
            "range": [thaw(ordered_ids[0]), thaw(ordered_ids[-1])] if ordered_ids else None,
        },
    )
