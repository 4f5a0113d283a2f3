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

A history read by the native core (`History.from_native`) holds the core's columns and
makes `Op` objects only when asked: one op for ``history[i]``, all of them for anything
that iterates. The register-family linearizability check reads the columns directly
(`History.native`) and never asks for more than the ops its explanation names.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, overload

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


class NativeColumns(Protocol):
    """What `History` needs of the native core's ``NativeHistory`` (see its stub)."""

    def __len__(self) -> int: ...
    def columns(self, start: int, stop: int) -> tuple[list[Any], ...]: ...
    def columns_at(self, indices: list[int]) -> tuple[list[Any], ...]: ...
    def pairs(self) -> list[int]: ...
    def partner(self, i: int) -> int: ...
    def client_functions(self) -> list[str]: ...
    def keyed_values(self) -> bool: ...


_TYPES = (OpType.INVOKE, OpType.OK, OpType.FAIL, OpType.INFO)
"""Op types by the native core's codes."""


def _native_ops(native: NativeColumns, indices: Sequence[int]) -> list[Op]:
    """The ops at ``indices``, made from the native core's columns."""
    if isinstance(indices, range) and indices.step == 1:
        columns = native.columns(indices.start, indices.stop)
    else:
        columns = native.columns_at(list(indices))
    types, times, processes, fs, values, nodes, errors, extras = columns
    return [Op(index=i, time=t, type=_TYPES[k], process=p, f=f, value=v, node=n, error=e,
               extra={} if x is None else x)
            for i, k, t, p, f, v, n, e, x in zip(indices, types, times, processes, fs, values,
                                                   nodes, errors, extras, strict=True)]


def _name(f: str) -> str:
    """An op's ``f`` as a message shows it: bare when it is a short word, else brief."""
    return f if len(f) <= 40 and f.isprintable() else brief(f)


class History(Sequence[Op]):
    """An immutable, validated sequence of ops with fast pairing.

    Build one with `History(ops)` from `Op` values, or `History.from_records` from
    decoded records (what the readers in this package produce), or
    `History.from_native` from the native reader's columns.
    """

    __slots__ = ("_by_process", "_native", "_ops_list", "_pair_list", "_single")

    def __init__(self, ops: Iterable[Op], *, lines: Sequence[int | None] | None = None):
        self._ops_list: list[Op] | None = list(ops)
        self._pair_list: list[int] | None = [-1] * len(self._ops_list)
        self._by_process: dict[Process, list[int]] | None = None
        self._native: NativeColumns | None = None
        self._single: dict[int, Op] = {}
        self._validate_and_pair(lines)

    @classmethod
    def from_native(cls, native: NativeColumns) -> History:
        """A history over columns the native reader built (and already validated)."""
        self = cls.__new__(cls)
        self._ops_list = None
        self._pair_list = None
        self._by_process = None
        self._native = native
        self._single = {}
        return self

    def native(self) -> NativeColumns | None:
        """The native core's columns behind this history, if the native reader read it."""
        return self._native

    @property
    def _ops(self) -> list[Op]:
        if self._ops_list is None:
            assert self._native is not None
            ops = _native_ops(self._native, range(len(self._native)))
            for i, op in self._single.items():
                ops[i] = op
            self._ops_list = ops
        return self._ops_list

    @property
    def _pair(self) -> list[int]:
        if self._pair_list is None:
            assert self._native is not None
            self._pair_list = self._native.pairs()
        return self._pair_list

    def _op(self, i: int) -> Op:
        """Op ``i``, made alone if the ops are not all made yet."""
        if self._ops_list is not None or self._native is None:
            return self._ops[i]
        op = self._single.get(i)
        if op is None:
            if not 0 <= i < len(self._native):
                raise IndexError("history index out of range")
            op = self._single[i] = _native_ops(self._native, range(i, i + 1))[0]
        return op

    def prefetch(self, indices: Iterable[int]) -> None:
        """Make the ops at ``indices`` and their partners now, in one call to the core
        (for code that will ask for a few ops of a long native history one by one)."""
        if self._ops_list is not None or self._native is None:
            return
        native = self._native
        wanted = set(indices)
        wanted |= {p for p in map(native.partner, wanted) if p >= 0}
        missing = sorted(wanted - self._single.keys())
        if missing:
            self._single.update(zip(missing, _native_ops(native, missing), strict=True))

    def _partner(self, i: int) -> int:
        if self._pair_list is None and self._native is not None:
            return self._native.partner(i)
        return self._pair[i]

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
        pair = self._pair
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
            pair[opened] = position
            pair[position] = opened
            del open_by_process[op.process]

    # -- Sequence protocol -------------------------------------------------------------

    def __len__(self) -> int:
        if self._ops_list is None and self._native is not None:
            return len(self._native)
        return len(self._ops)

    @overload
    def __getitem__(self, i: int) -> Op: ...
    @overload
    def __getitem__(self, i: slice) -> list[Op]: ...
    def __getitem__(self, i: int | slice) -> Op | list[Op]:
        if isinstance(i, int):
            return self._op(i if i >= 0 else len(self) + i)
        return self._ops[i]

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops)

    def __repr__(self) -> str:
        return f"History({len(self)} ops)"

    # -- pairing -----------------------------------------------------------------------

    def is_invocation(self, op: Op) -> bool:
        """True for ops that open an operation (including the nemesis's opening ``info``)."""
        # After validation, an op without a partner can only be an invocation that never
        # completed; every completion has one.
        partner = self._partner(op.index)
        return partner == -1 or partner > op.index

    def completion(self, op: Op) -> Op | None:
        """The completion of an invocation, or None if the history ended first."""
        partner = self._partner(op.index)
        return self._op(partner) if partner > op.index else None

    def invocation(self, op: Op) -> Op:
        """The invocation that a completion completes."""
        partner = self._partner(op.index)
        if partner == -1 or partner > op.index:
            raise ValueError(f"op {op.index} is not a completion")
        return self._op(partner)

    def operations(self, *, clients_only: bool = True) -> list[Operation]:
        """Every operation (invocation plus completion), in invocation order."""
        out: list[Operation] = []
        ops, pair = self._ops, self._pair
        for op in ops:
            if clients_only and not op.is_client:
                continue
            partner = pair[op.index]
            if partner == -1:
                out.append(Operation(op, None))
            elif partner > op.index:
                out.append(Operation(op, ops[partner]))
        return out

    def partners(self) -> list[int]:
        """Each op's partner: the index of its completion (for an invocation) or of its
        invocation (for a completion); -1 for an invocation that never completed."""
        if self._pair_list is None and self._native is not None:
            return self._native.pairs()
        return list(self._pair)

    def client_functions(self) -> set[str]:
        """The functions (``f``) that clients' ops use."""
        if self._ops_list is None and self._native is not None:
            return set(self._native.client_functions())
        return {op.f for op in self._ops if op.is_client}

    def keyed_values(self) -> bool:
        """Whether the values are ``[key value]`` pairs of independent keys.

        Jepsen's ``independent`` workloads (and labrys's register workload) record every
        value as ``[key value]``: a read invoked as ``[3 nil]`` returns ``[3 1]``, a cas
        carries ``[3 [1 2]]``. Checked as one object, such a history is nonsense (a read
        of key 0 "returned [0 nil], but the register held [3 1]"), so it is recognised:
        every client invocation and ok completion carries a pair, every cas a pair whose
        second element is itself ``[old new]``, and some operation is not a cas (a
        history of cas ``[old new]`` alone is a plain cas-register's). The native core
        answers for the columns it read, without making an op.
        """
        if self._ops_list is None and self._native is not None:
            return self._native.keyed_values()
        not_cas = False
        for op in self.client_ops():
            if op.type is not OpType.INVOKE and op.type is not OpType.OK:
                continue
            value = op.value
            if not (isinstance(value, list | tuple) and len(value) == 2):
                return False
            if op.f == "cas":
                if not (isinstance(value[1], list | tuple) and len(value[1]) == 2):
                    return False
            else:
                not_cas = True
        return not_cas

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
