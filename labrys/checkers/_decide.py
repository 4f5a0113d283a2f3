"""Which algorithm decides each part of a history: the read-mapping first, then the search.

The search (`labrys.checkers._wgl`, or the native core) decides any model, at a cost
exponential in concurrency. The read-mapping (`labrys.checkers._read_mapping`) decides
registers with unique written values in O(n log n). So each part goes to the
read-mapping when its preconditions hold, and to the engine of ``--engine`` otherwise.

A part the read-mapping proves invalid is then handed to the search as well, with a
small budget (`EXPLAIN_MEMORY_BYTES`): the search's explanation (the longest order it
could build, and the operation that cannot follow) reads the same whichever algorithm
decided, and the search agreeing is one more cross-check. Should it find an order, one
of the two algorithms is wrong, and that is raised, never papered over. Where it runs
out first (long histories), the read-mapping's own proof is the explanation.

Once one part is known invalid, the parts the read-mapping could not decide are not
searched at all: the verdict is false already (as the search engines cancel siblings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from labrys.checkers._budgets import EXPLAIN_MEMORY_BYTES
from labrys.checkers._native_engine import search_parts
from labrys.checkers._outcome import Budget, Outcome
from labrys.checkers._read_mapping import ReadMapping, read_mapping
from labrys.models import Part


def decide_parts(parts: Sequence[Part], *, sequential: bool, budget: Budget, engine: str,
                 read_mapping_allowed: bool = True) -> list[Outcome]:
    """One outcome per part, from the read-mapping where it applies, the search elsewhere.

    Args:
        parts: the reduced parts of one history.
        sequential: process order instead of real time (the read-mapping then never
            applies: it is a linearizability argument).
        budget: shared by every search of the check.
        engine: ``--engine``: which search engine runs; ``smt`` never uses the
            read-mapping, being the independent cross-check.
        read_mapping_allowed: False to make the search decide everything.
    """
    mapped: list[ReadMapping | None] = [None] * len(parts)
    if read_mapping_allowed and not sequential and engine != "smt":
        mapped = [read_mapping(p.model, p.calls) for p in parts]
    refuted = [k for k, m in enumerate(mapped) if m is not None and m.conflict is not None]
    if refuted:
        return _explained(parts, mapped, refuted, budget=budget, engine=engine)
    outcomes: list[Outcome | None] = [
        None if m is None else Outcome(valid=True, algorithm="read-mapping") for m in mapped]
    rest = [k for k, o in enumerate(outcomes) if o is None]
    if rest:
        searched = search_parts([parts[k] for k in rest], sequential=sequential, budget=budget,
                                engine=engine)
        for k, o in zip(rest, searched, strict=True):
            outcomes[k] = o
    return [o for o in outcomes if o is not None]


def _explained(parts: Sequence[Part], mapped: Sequence[ReadMapping | None],
               refuted: list[int], *, budget: Budget, engine: str) -> list[Outcome]:
    small = Budget(deadline=budget.deadline,
                   memory_bytes=min(budget.memory_bytes, EXPLAIN_MEMORY_BYTES))
    outcomes = [Outcome(valid="unknown", stopped="cancelled") if m is None
                else Outcome(valid=True, algorithm="read-mapping") for m in mapped]
    for k in refuted:
        [searched] = search_parts([parts[k]], sequential=False, budget=small, engine=engine)
        if searched.valid is True:
            raise AssertionError(f"the read-mapping and the search disagree on part "
                                 f"{parts[k].key!r}: read-mapping says invalid, search valid")
        conflict = mapped[k].conflict  # type: ignore[union-attr]
        if searched.valid is False:
            outcomes[k] = replace(searched, algorithm="read-mapping")
        else:
            outcomes[k] = Outcome(valid=False, algorithm="read-mapping", conflict=conflict,
                                  explored=searched.explored)
    return outcomes
