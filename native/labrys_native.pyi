"""Typed surface of labrys's native core (built from native/, PyO3 + maturin).

Private to labrys. `labrys.checkers._native_engine` calls `check` with parts it encodes
(see native/src/lib.rs); `labrys.history` calls `read_history`, and
`labrys.checkers._native_check` calls `NativeHistory.check_registers`.
"""

from collections.abc import Sequence
from typing import Any, Literal

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


def clean_list_append_ops(ops: list[Any], pairs: list[int], order: int) -> int | None:
    """NativeHistory.clean_list_append for a Python History: its ops and partners."""

def read_history(path: str, format: str) -> tuple[NativeHistory | None, str]:
    """Read a history file in one of labrys.history.FORMATS into columns.

    Returns (history, "") or (None, why the native reader declined): it declines every
    malformed file and anything it does not read exactly as the Python readers do, which
    then read the file themselves.
    """

CallRef = tuple[int, str, bool, int]  # (invocation index, f, known, return index or -1)

class NativeHistory:
    """A validated history as columns (see native/src/history.rs)."""

    def __len__(self) -> int: ...
    def columns(self, start: int, stop: int) -> tuple[list[Any], ...]:
        """Ops start..stop: (types 0-3, times, processes, fs, values, nodes, errors,
        extras or None)."""
    def pairs(self) -> list[int]:
        """Each op's partner (completion or invocation), -1 for none."""
    def partner(self, i: int) -> int: ...
    def client_functions(self) -> list[str]: ...
    def keyed_values(self) -> bool:
        """Whether the values are Jepsen's independent keys (see History.keyed_values)."""
    def columns_at(self, indices: list[int]) -> tuple[list[Any], ...]:
        """The ops at indices, as columns gives them."""
    def clean_list_append(self, order: int) -> int | None:
        """The number of transactions of a list-append history with nothing to report
        under these order edges (0, 8 process, 16 realtime), or None: check in Python."""
    def check_registers(
        self,
        model: Literal["register", "cas-register", "kv"],
        initial: Any,
        *,
        partition: bool,
        timeout_s: float | None,
        memory_limit_mb: float,
        explain_mb: float,
        read_mapping: bool,
    ) -> tuple[list[tuple[Any, ...]], list[int], list[tuple[int, int]]] | None:
        """Linearizability of the register family on these columns, or None (declined).

        Returns (parts, dropped, bounded): per part (key, operations, status, why,
        algorithm, states explored, explanation or None), the explanation being
        ("impasse", (placed, steps, (has state, state before steps), options, more)) or
        ("refutation", (kind, op, others, chains)), operations as CallRef.

        Raises:
            AssertionError: the read-mapping and the search disagree (a bug).
        """
