"""What deciding the parts of a history produces: budgets, outcomes, reductions.

These are the data that pass between the deciders (the search engines in
`labrys.checkers._wgl` and the native core, the read-mapping, the SMT engine), the
reductions (`labrys.checkers._reduce`) and the code that writes verdicts. They live
apart from all of those so that a check decided by the native core, the common case,
imports none of the Python deciders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from labrys.models import State

if TYPE_CHECKING:
    from labrys.checkers._read_mapping import Conflict


@dataclass(frozen=True, slots=True, kw_only=True)
class Budget:
    """What all the searches of one check may spend together.

    Attributes:
        deadline: a `time.monotonic` instant past which they give up, or None.
        memory_bytes: the most their memos may hold together, as estimated.
    """

    deadline: float | None
    memory_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one search ended.

    Attributes:
        valid: True (an order was found), False (none exists) or "unknown".
        stopped: for unknown, why: "time", "memory", or "cancelled" (another part of
            the history was found invalid first).
        prefix: positions (into the calls searched) of the longest prefix placed, in
            order; the whole order when valid.
        states: the model state after each operation of ``prefix``.
        explored: how many (placed set, state) pairs the memo held at the end.
        algorithm: what decided: ``"search"``, or ``"read-mapping"``
            (`labrys.checkers._read_mapping`), whose verdicts the search explains when
            it can.
        conflict: for an invalid part the read-mapping decided and the search could
            not explain within its budget, the read-mapping's own proof.
    """

    valid: bool | Literal["unknown"]
    stopped: str = ""
    prefix: tuple[int, ...] = ()
    states: tuple[State, ...] = ()
    explored: int = 0
    algorithm: str = "search"
    conflict: Conflict | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reduction:
    """What the reductions did, for a verdict's details.

    Attributes:
        dropped: indices of crashed operations left out (rule 2), in order.
        bounded: index of each crashed operation given a window (rule 3) → the index of
            the completion that now closes it.
        split: how many more parts there are than before (rule 4).
    """

    dropped: tuple[int, ...] = ()
    bounded: tuple[tuple[int, int], ...] = ()
    split: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"dropped": list(self.dropped), "bounded": [list(b) for b in self.bounded],
                "split": self.split}
