"""A history: ops in order, validated, with invocations paired to their completions.

Validation happens once, when the history is built, and says plainly what is wrong
and where. Checkers may then assume the rules below and never second-guess them:

1. Every completion (ok, fail, info) follows an invocation by the same process, and
   has the same ``f``.
2. A process has at most one op in flight: a client that timed out carries on as a new
   process (Jepsen's rule), so a second invocation while one is open is a recording bug.
3. ``type`` is one of invoke, ok, fail, info.

One historical exception, kept for compatibility with Jepsen's own files: the nemesis
records *both* the start and the end of a fault as ``info``. For a process that is not a
client (not an integer), an ``info`` with nothing in flight therefore opens an operation
and the next ``info`` closes it.

Indices are positions: ``history[i].index == i`` always. Files whose ops carry other
indices (gaps, or none) are renumbered on reading, and the file's own index is kept in
``op.extra["source_index"]`` when it differed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, overload

from labrys.errors import HistoryError, brief
from labrys.history._op import Op, Operation, OpType, Process

_KNOWN_FIELDS = frozenset({"index", "time", "type", "process", "f", "value", "node", "error"})


def op_from_dict(raw: Mapping[str, Any], *, index: int, line: int | None = None) -> Op:
    """Build an `Op` from a decoded record (JSON object, EDN map…), checking each field.

    Args:
        raw: the record, with string keys.
        index: the position this op takes in its history.
        line: the source line, for error messages.

    Raises:
        HistoryError: a field is missing or has a value no op can have.
    """
    if not isinstance(raw, Mapping):
        raise HistoryError(
            f"expected an op (a map with type, process, f, value), got {brief(raw)}", line=line
        )
    type_name = raw.get("type")
    try:
        op_type = OpType(type_name)
    except ValueError:
        raise HistoryError(
            f"unknown type {brief(type_name)}; an op's type is one of invoke, ok, fail, info",
            line=line,
            op_index=index,
        ) from None
    if "process" not in raw:
        # Elle's own example histories omit the process: every op is then one session.
        process: Process = 0
    else:
        process = raw["process"]
        if isinstance(process, bool) or not isinstance(process, int | str):
            raise HistoryError(
                f"process must be an integer (a client) or a name, got {brief(process)}",
                line=line,
                op_index=index,
            )
    f = raw.get("f", "txn")
    if not isinstance(f, str):
        f = str(f)
    time = raw.get("time", 0)
    if isinstance(time, bool) or not isinstance(time, int | float) or (
            isinstance(time, float) and not math.isfinite(time)):
        raise HistoryError(f"time must be a number of nanoseconds, got {brief(time)}", line=line,
                           op_index=index)
    extra = {k: v for k, v in raw.items() if k not in _KNOWN_FIELDS}
    source_index = raw.get("index")
    if source_index is not None and source_index != index:
        extra["source_index"] = source_index
    node = raw.get("node")
    return Op(
        index=index,
        time=int(time),
        type=op_type,
        process=process,
        f=f,
        value=raw.get("value"),
        node=None if node is None else str(node),
        error=raw.get("error"),
        extra=extra,
    )


def _name(f: str) -> str:
    """An op's ``f`` as a message shows it: bare when it is a short word, else brief."""
    return f if len(f) <= 40 and f.isprintable() else brief(f)


class History(Sequence[Op]):
    """An immutable, validated sequence of ops with fast pairing.

    Build one with `History(ops)` from `Op` values, or `History.from_records` from
    decoded records (what the readers in this package produce).
    """

    __slots__ = ("_by_process", "_ops", "_pair")

    def __init__(self, ops: Iterable[Op], *, lines: Sequence[int | None] | None = None):
        self._ops: list[Op] = list(ops)
        self._pair: list[int] = [-1] * len(self._ops)
        self._by_process: dict[Process, list[int]] | None = None
        self._validate_and_pair(lines)

    @classmethod
    def from_records(
        cls, records: Iterable[tuple[int | None, Mapping[str, Any]]]
    ) -> History:
        """A history from ``(line, record)`` pairs, numbering ops by position."""
        ops: list[Op] = []
        lines: list[int | None] = []
        for line, raw in records:
            ops.append(op_from_dict(raw, index=len(ops), line=line))
            lines.append(line)
        return cls(ops, lines=lines)

    def _validate_and_pair(self, lines: Sequence[int | None] | None) -> None:
        open_by_process: dict[Process, int] = {}
        for position, op in enumerate(self._ops):
            line = lines[position] if lines is not None else None
            if op.index != position:
                raise HistoryError(
                    f"op at position {position} has index {op.index}; indices must be "
                    "0, 1, 2… in order (readers renumber for you)",
                    line=line,
                    op_index=position,
                )
            opened = open_by_process.get(op.process)
            starts = op.type is OpType.INVOKE or (
                op.type is OpType.INFO and not op.is_client and opened is None
            )
            if starts:
                if opened is not None:
                    raise HistoryError(
                        f"process {brief(op.process)} invokes {_name(op.f)} while its "
                        f"{_name(self._ops[opened].f)} "
                        f"(op {opened}) is still in flight; a process runs one op at a time, "
                        "so a client that times out must continue as a new process",
                        line=line,
                        op_index=position,
                    )
                open_by_process[op.process] = position
                continue
            if opened is None:
                raise HistoryError(
                    f"{op.type} {_name(op.f)} by process {brief(op.process)} completes nothing: "
                    "that process has no invocation in flight; add the invocation or drop "
                    "this line",
                    line=line,
                    op_index=position,
                )
            invocation = self._ops[opened]
            if invocation.f != op.f:
                raise HistoryError(
                    f"process {brief(op.process)} invoked {_name(invocation.f)} (op {opened}) but "
                    f"the completion says {_name(op.f)}; a completion must repeat its "
                    "invocation's f",
                    line=line,
                    op_index=position,
                )
            self._pair[opened] = position
            self._pair[position] = opened
            del open_by_process[op.process]

    # -- Sequence protocol -------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ops)

    @overload
    def __getitem__(self, i: int) -> Op: ...
    @overload
    def __getitem__(self, i: slice) -> list[Op]: ...
    def __getitem__(self, i: int | slice) -> Op | list[Op]:
        return self._ops[i]

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops)

    def __repr__(self) -> str:
        return f"History({len(self._ops)} ops)"

    # -- pairing -----------------------------------------------------------------------

    def is_invocation(self, op: Op) -> bool:
        """True for ops that open an operation (including the nemesis's opening ``info``)."""
        # After validation, an op without a partner can only be an invocation that never
        # completed; every completion has one.
        partner = self._pair[op.index]
        return partner == -1 or partner > op.index

    def completion(self, op: Op) -> Op | None:
        """The completion of an invocation, or None if the history ended first."""
        partner = self._pair[op.index]
        return self._ops[partner] if partner > op.index else None

    def invocation(self, op: Op) -> Op:
        """The invocation that a completion completes."""
        partner = self._pair[op.index]
        if partner == -1 or partner > op.index:
            raise ValueError(f"op {op.index} is not a completion")
        return self._ops[partner]

    def operations(self, *, clients_only: bool = True) -> list[Operation]:
        """Every operation (invocation plus completion), in invocation order."""
        out: list[Operation] = []
        for op in self._ops:
            if clients_only and not op.is_client:
                continue
            if self.is_invocation(op):
                out.append(Operation(op, self.completion(op)))
        return out

    def by_process(self) -> Mapping[Process, list[int]]:
        """Indices of each process's ops, in order."""
        if self._by_process is None:
            grouped: dict[Process, list[int]] = {}
            for op in self._ops:
                grouped.setdefault(op.process, []).append(op.index)
            self._by_process = grouped
        return self._by_process

    def client_ops(self) -> list[Op]:
        return [op for op in self._ops if op.is_client]
