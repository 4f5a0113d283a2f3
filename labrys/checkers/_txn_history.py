"""Transactions out of a history: micro-operations parsed, checked and indexed.

Problem. The transactional checkers reason about transactions, not ops: what each one
appended or wrote, what it read, and whether it committed. This module turns a
`History` into `Txn` records once, checks the rules the inference depends on, and
refuses histories that break them, so that a typo never turns into an anomaly.

A transaction is an operation with ``f`` ``"txn"`` whose value is a list of
micro-operations (Elle's notation, EDN keywords read as strings):

    list-append   ["append", k, v]   append v to the list at k
                  ["r", k, [v…]]     read the list at k (None on invocation)
    rw-register   ["w", k, v]        set register k to v
                  ["r", k, v]        read register k (None: the initial, unset value)

Example:
    >>> from labrys.history import parse_history
    >>> h = parse_history('{"type":"invoke","process":0,"f":"txn","value":[["append","x",1]]}\\n'
    ...                   '{"type":"ok","process":0,"f":"txn","value":[["append","x",1]]}')
    >>> parse_txns(h, workload=LIST_APPEND).txns[0].mops
    (('append', 'x', 1),)

Rules (a history that breaks one raises `HistoryError` naming the op):

- every client op is a transaction: ``f`` is ``"txn"`` (readers give ops without an
  ``f`` that name) and its value a list of micro-ops the workload knows;
- written values are unique per key: no two micro-ops, in one transaction or two,
  append (or write) the same value to the same key. This is the contract with the
  generator that lets a read name the one transaction it observed. rw-register also
  refuses writes of None, which is the initial value every register starts with.

Non-obvious choices:

- Which value counts: an ``ok`` transaction's completion (its reads are filled in); for
  ``info`` and ``fail``, the invocation, whose writes are what was attempted and whose
  reads are unknown (None). An invocation never completed is ``info``.
- Keys and values are frozen: lists become tuples, so ``[1, 2]`` from JSON and
  ``[1 2]`` from EDN are the same key, and reads can be compared and hashed.
- A list-append read of None by a committed transaction is the empty list: that is
  how Jepsen clients record reading a key nobody has appended to.
- Elle's own example histories have neither ``:f`` nor ``:process``: the history readers
  default them to ``"txn"`` and process 0, so such a history is one session. Elle
  groups ops without a process the same way (all under ``nil``), so process-order
  inferences agree.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from labrys.errors import HistoryError
from labrys.history import History, OpType, Process

LIST_APPEND = "list-append"
RW_REGISTER = "rw-register"

APPEND = "append"
READ = "r"
WRITE = "w"

Mop = tuple[str, Hashable, Any]
"""A micro-operation: (f, key, value), frozen."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Txn:
    """One transaction.

    Attributes:
        id: position among the history's transactions, in invocation order.
        type: ok (committed), info (may or may not have happened) or fail (did not).
        process: the process that ran it.
        invoke_index: index of the invocation op.
        complete_index: index of the completion op, None if the history ended first.
        invoke_time: the invocation's time (ns).
        complete_time: the completion's time, None without a completion.
        mops: the micro-operations, frozen (see the module notes for which value).
    """

    id: int
    type: OpType
    process: Process
    invoke_index: int
    complete_index: int | None
    invoke_time: int
    complete_time: int | None
    mops: tuple[Mop, ...]

    @property
    def index(self) -> int:
        """The op that names this transaction in reports: its completion, which carries
        what it read, or its invocation when it never completed."""
        return self.invoke_index if self.complete_index is None else self.complete_index


@dataclass(frozen=True, slots=True, kw_only=True)
class TxnHistory:
    """A history's transactions, checked.

    Attributes:
        workload: `LIST_APPEND` or `RW_REGISTER`.
        txns: every transaction, ``txns[i].id == i``.
        writer: (key, value) → id of the transaction that appended or wrote it.
        op_count: how many ops the history had (transactions are sparse in it).
    """

    workload: str
    txns: tuple[Txn, ...]
    writer: Mapping[tuple[Hashable, Any], int]
    op_count: int


def freeze(value: Any) -> Any:
    """The value with every list turned into a tuple, so it can be hashed."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((freeze(k), freeze(v)) for k, v in value.items()))
    return value


def parse_txns(history: History, *, workload: str) -> TxnHistory:
    """Every client operation of ``history`` as a `Txn`, checked against the rules above.

    Raises:
        HistoryError: an op is not a transaction of this workload, a micro-op is
            malformed, or a value is written twice.
    """
    if workload == LIST_APPEND:
        write_f = APPEND
    elif workload == RW_REGISTER:
        write_f = WRITE
    else:
        raise ValueError(f"unknown workload {workload!r}")
    allowed = (write_f, READ)
    appends = workload == LIST_APPEND
    txns: list[Txn] = []
    writer: dict[tuple[Hashable, Any], int] = {}
    ok = OpType.OK
    for operation in history.operations():
        invocation = operation.invocation
        completion = operation.completion
        if invocation.f != "txn":
            raise HistoryError(
                f"this op is a {invocation.f!r}, not a transaction; the "
                f"{workload} checker reads only ops with f \"txn\" whose value is a list "
                "of micro-ops",
                op_index=invocation.index,
            )
        op_type = OpType.INFO if completion is None else completion.type
        committed = op_type is ok
        source = completion if committed and completion is not None else invocation
        raw = source.value
        if not isinstance(raw, list | tuple):
            raise HistoryError(
                f"a transaction's value is a list of micro-ops, "
                f"got {raw!r}",
                op_index=source.index,
            )
        tid = len(txns)
        mops = []
        for raw_mop in raw:
            # The common shape, [f, k, v] with a plain key, is taken apart here; anything
            # else goes through _mop, which checks and freezes it or says what is wrong.
            if (raw_mop.__class__ is list and len(raw_mop) == 3
                    and raw_mop[1].__class__ in _ATOMS and raw_mop[0] in allowed):
                f, k, v = raw_mop
            else:
                f, k, v = _mop(raw_mop, source.index, workload)
            if f == write_f:
                if isinstance(v, list | dict):
                    v = freeze(v)
                elif v is None and not appends:
                    raise HistoryError(
                        f"this transaction writes None to key {k!r}; None is every "
                        "register's initial value, so writes must be other values",
                        op_index=source.index,
                    )
                written = (k, v)
                if written in writer:
                    earlier = writer[written]
                    first = (txns[earlier].invoke_index if earlier != tid
                             else invocation.index)
                    does, did = _VERBS[f]
                    raise HistoryError(
                        f"this transaction {does} {v!r} to key {k!r}, which op {first} "
                        f"already {did}; {workload} needs each written value unique "
                        "per key, so that a read names the one transaction it saw",
                        op_index=invocation.index,
                    )
                writer[written] = tid
            elif appends:
                if v.__class__ is list or v.__class__ is tuple:
                    v = tuple(v)
                    try:
                        hash(v)
                    except TypeError:
                        v = freeze(v)
                elif v is None:
                    v = () if committed else None
                else:
                    raise HistoryError(
                        f"a list-append read returns a list, got {v!r} for key {k!r}",
                        op_index=source.index,
                    )
            elif isinstance(v, list | dict):
                v = freeze(v)
            mops.append((f, k, v))
        txns.append(Txn(
            id=tid,
            type=op_type,
            process=invocation.process,
            invoke_index=invocation.index,
            complete_index=None if completion is None else completion.index,
            invoke_time=invocation.time,
            complete_time=None if completion is None else completion.time,
            mops=tuple(mops),
        ))
    return TxnHistory(workload=workload, txns=tuple(txns), writer=writer,
                      op_count=len(history))


_ATOMS = frozenset({int, str, float})
"""Key types taken as they are; others (lists, maps) are frozen by `_mop`."""


_VERBS = {APPEND: ("appends", "appended"), WRITE: ("writes", "wrote")}


def _mop(raw: Any, index: int, workload: str) -> Mop:
    """One micro-op, checked and frozen (list-append reads are finished by the caller)."""
    allowed = (APPEND, READ) if workload == LIST_APPEND else (WRITE, READ)
    if not isinstance(raw, list | tuple) or not 2 <= len(raw) <= 3:
        raise HistoryError(
            f"a micro-op is [f, key, value], got {raw!r}", op_index=index)
    f = raw[0]
    if f not in allowed:
        raise HistoryError(
            f"micro-op {raw!r} is not one {workload} knows; use "
            + " or ".join(f"[{a!r}, key, value]" for a in allowed),
            op_index=index,
        )
    if len(raw) == 2 and f != READ:
        raise HistoryError(f"micro-op {raw!r} has no value to {f}", op_index=index)
    k = raw[1]
    if isinstance(k, list | tuple | dict):
        k = freeze(k)
    v = raw[2] if len(raw) == 3 else None
    if (f != READ or workload == RW_REGISTER) and isinstance(v, list | tuple | dict):
        v = freeze(v)
    return f, k, v
