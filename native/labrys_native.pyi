"""Typed surface of labrys's native search core (built from native/, PyO3 + maturin).

Private to labrys: `labrys.checkers._native_engine` is its only caller, and encodes the
parts it passes. See native/src/lib.rs for the encoding.
"""

from collections.abc import Sequence
from typing import Literal

__version__: str

Part = tuple[
    Sequence[int],  # calls: history position of each op's invocation, nondecreasing
    Sequence[int],  # returns: position of each op's ok completion, -1 if it may never happen
    Sequence[int],  # processes: a small integer per op
    Sequence[int],  # starts: op i's micro-operations are micros[4*starts[i]:4*starts[i+1]]
    Sequence[int],  # micros: (kind, slot, a, b) per micro-operation, flattened
    Sequence[int],  # init: the initial value of each slot
    Sequence[str | None] | None,  # texts: the string of each value id, for append
    int,  # none_id: the value id of nil (appending to nil gives the appended value), or -1
]

PartResult = tuple[
    Literal["valid", "invalid", "unknown", "error"],
    str,  # unknown: "time", "memory" or "cancelled"; error: the message; else ""
    list[int],  # valid: the order found; otherwise the longest prefix placed
    int,  # memo entries at the end
    int,  # peak bytes held by the memo and the interners
    float,  # seconds spent on this part
]

def check(
    mode: Literal["linearizable", "sequential"],
    parts: Sequence[Part],
    *,
    timeout_s: float | None = None,
    memory_limit_mb: float | None = None,
    stop_at_first_invalid: bool = False,
    symmetry: bool = False,
) -> list[PartResult]:
    """Search every part, in parallel with the GIL released; one result per part.

    In sequential mode a part is first searched for a linearization (real time prunes
    far more, and a linearization respects process order); only if there is none does
    the process-order search run. ``symmetry`` places crashed operations with identical effects in invocation order
    only (linearizable mode): the same verdicts, far fewer states, but other prefixes
    than the Python engine's.

    Raises:
        ValueError: a part is malformed (lengths disagree, unknown micro-operation kind,
            slot out of range, ops out of invocation order).
    """

def micro_kinds() -> list[tuple[str, int]]:
    """The micro-operation kinds by name: read, write, cas, append, add."""
