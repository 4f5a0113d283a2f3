"""One line of a history, and one operation made of an invocation and its completion.

An `Op` is what a client or the nemesis recorded at one instant: it invoked something,
or learned how an earlier invocation ended. An `Operation` pairs the two, because
every checker reasons about intervals, not instants.

The four types decide verdicts, so their meaning is fixed here:

- ``invoke``: the call began. Its interval opens at this op's time.
- ``ok``: the call certainly took effect, once, somewhere inside its interval.
- ``fail``: the call certainly did not take effect. Checkers drop it.
- ``info``: nobody knows (a timeout, a crash). The call may have taken effect at any
  moment after its invocation, *including after the history ends*, or never. So its
  interval never closes: Porcupine and Knossos both treat it as running to the end.

An invocation with no completion at all is read as ``info``: the process died before
it could say.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

NEMESIS = "nemesis"
"""The process name of the fault injector, as in Jepsen."""


class OpType(enum.StrEnum):
    INVOKE = "invoke"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


Process = int | str
"""A client is an integer; the nemesis (and any other special actor) is a string."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Op:
    """One recorded event.

    Attributes:
        index: position in the history, 0-based and dense.
        time: nanoseconds since the test began, from a monotonic clock (0 if unknown).
        type: invoke, ok, fail or info.
        process: who did it: an integer for clients, ``"nemesis"`` for faults.
        f: the function called (``"read"``, ``"write"``, ``"cas"``, ``"txn"``…).
        value: the argument on invocation, the result on completion.
        node: the node the client spoke to, when known.
        error: why a call failed or is indeterminate, when known.
        extra: any other fields the recorder wrote, kept so exports lose nothing.
    """

    index: int
    time: int
    type: OpType
    process: Process
    f: str
    value: Any = None
    node: str | None = None
    error: Any = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_invoke(self) -> bool:
        return self.type is OpType.INVOKE

    @property
    def is_client(self) -> bool:
        return isinstance(self.process, int)

    def to_json(self) -> dict[str, Any]:
        """The op as a JSON-ready dict, in the field order of the native format."""
        out: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "type": str(self.type),
            "process": self.process,
            "f": self.f,
            "value": self.value,
        }
        if self.node is not None:
            out["node"] = self.node
        if self.error is not None:
            out["error"] = self.error
        out.update(self.extra)
        return out


@dataclass(frozen=True, slots=True)
class Operation:
    """An invocation together with how it ended.

    ``completion`` is None when the history ended before the process said; such an
    operation is treated exactly like one that completed with ``info``.
    """

    invocation: Op
    completion: Op | None

    @property
    def index(self) -> int:
        """The invocation's index: the name by which explanations refer to it."""
        return self.invocation.index

    @property
    def process(self) -> Process:
        return self.invocation.process

    @property
    def f(self) -> str:
        return self.invocation.f

    @property
    def type(self) -> OpType:
        """ok, fail or info (info also when there is no completion)."""
        return OpType.INFO if self.completion is None else self.completion.type

    @property
    def value(self) -> Any:
        """What the operation did: the completion's value if it is ok, else the invocation's.

        A read that timed out has no result; a write that timed out still wrote what it
        was asked to write, if it wrote at all.
        """
        if self.completion is not None and self.completion.type is OpType.OK:
            return self.completion.value
        return self.invocation.value

    @property
    def call_time(self) -> int:
        return self.invocation.time

    @property
    def return_time(self) -> float:
        """When the operation certainly ended: its completion's time if ok or fail,
        infinity if it is indeterminate (it may still take effect at any later time)."""
        if self.completion is None or self.completion.type is OpType.INFO:
            return math.inf
        return self.completion.time

    @property
    def return_index(self) -> float:
        """Like `return_time`, in op indices: the position that closes the interval."""
        if self.completion is None or self.completion.type is OpType.INFO:
            return math.inf
        return self.completion.index
