"""Elle's test notation for transactions, and a way to lay them out in a history.

A transaction is a string of micro-ops, each a letter, a one-letter key and digits:

    ax1       append 1 to x                     (list-append)
    ry12      read y = [1, 2];  ry  read y = [] (list-append)
    wx1       write 1 to x                      (rw-register)
    rx1       read x = 1;  rx  read x = None    (rw-register)

so ``"ax1ry12"`` appends 1 to x and reads y = [1, 2] (Elle's ``list_append_test``).

`history` turns transactions into a `History`. Each `T` says the notation, how the
transaction ended and its process (by default its position, so that transactions are
unrelated by process order). ``layout`` says when each one is invoked and completed: a
string of transaction numbers, where a number's first appearance is its invocation and
its second its completion. The default lays every invocation first and every completion
after, so nothing is ordered in real time; ``SEQUENTIAL`` runs them one after another.

    history(T("ax1"), T("rx1"), layout="0 1 1 0")   # T1 runs while T0 is in flight
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labrys.history import History, Op, OpType

SEQUENTIAL = "sequential"


def mops(text: str, *, workload: str = "list-append") -> list[list[Any]]:
    """The micro-ops a notation string stands for (reads filled in, as completed)."""
    out: list[list[Any]] = []
    for ch in text:
        if ch in "arw":
            out.append([{"a": "append", "r": "r", "w": "w"}[ch]])
        elif ch.isalpha():
            out[-1].append(ch)
        else:
            mop = out[-1]
            if mop[0] == "r" and workload == "list-append":
                if len(mop) == 2:
                    mop.append([])
                mop[2].append(int(ch))
            else:
                mop.append(int(ch))
    for mop in out:
        if len(mop) == 2:
            mop.append([] if workload == "list-append" else None)
    return out


def invocation(ops: list[list[Any]]) -> list[list[Any]]:
    """What a client sends: reads carry None until they complete."""
    return [[f, k, None] if f == "r" else [f, k, v] for f, k, v in ops]


@dataclass(frozen=True)
class T:
    """One transaction: its notation, how it ended, and (optionally) its process."""

    text: str
    type: str = "ok"
    process: int | None = None


def history(*txns: T | str, layout: str | None = None,
            workload: str = "list-append") -> History:
    """A history of ``txns``, invoked and completed in the order ``layout`` says."""
    ts = [t if isinstance(t, T) else T(t) for t in txns]
    if layout is None:
        order = list(range(len(ts))) * 2
    elif layout == SEQUENTIAL:
        order = [i for i in range(len(ts)) for _ in (0, 1)]
    else:
        order = [int(x) for x in layout.split()]
    ops: list[Op] = []
    started: set[int] = set()
    for i in order:
        t = ts[i]
        done = mops(t.text, workload=workload)
        process = i if t.process is None else t.process
        if i not in started:
            started.add(i)
            op_type, value = OpType.INVOKE, invocation(done)
        else:
            op_type = OpType(t.type)
            value = done if t.type == "ok" else invocation(done)
        ops.append(Op(index=len(ops), time=len(ops) * 1_000_000, type=op_type,
                      process=process, f="txn", value=value))
    return History(ops)
