"""A counter: ``add`` (or ``increment``) adds its value, ``read`` returns the total.

The state is a number, 0 unless ``--init`` says otherwise. A read must return the total
exactly; a read whose result is unknown is dropped; a crashed add stays, since it may
have been counted.

This is the counter as a linearizable object. Jepsen's ``counter`` workload checker,
which only asks that each read lie between the acknowledged and the attempted total, is
the ``counter`` checker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from labrys.errors import UsageError
from labrys.models._model import (
    Call,
    Inconsistent,
    State,
    bad_value,
    show,
    unknown_function,
    with_f,
)

_ADD = "add"
_READ = "read"
_ALIASES = {"add": _ADD, "increment": _ADD, "inc": _ADD, "read": _READ, "r": _READ}


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


@dataclass(frozen=True, slots=True, kw_only=True)
class Counter:
    """A number with add and read.

    Attributes:
        initial: the total before any add (0 unless given).
    """

    name: ClassVar[str] = "counter"
    initial: Any = 0

    def init(self) -> State:
        if not _is_number(self.initial):
            raise UsageError(f"the counter model starts from a number, not {show(self.initial)}")
        return self.initial

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        out = []
        for call in calls:
            f = _ALIASES.get(call.f)
            if f is None:
                raise unknown_function(self.name, call, "add and read")
            if f == _READ and not call.known:
                continue
            if not _is_number(call.value):
                raise bad_value(self.name, call, "a number")
            out.append(with_f(call, f))
        return out

    def step(self, state: State, call: Call) -> State | Inconsistent:
        if call.f == _ADD:
            return state + call.value  # type: ignore[operator]
        if call.value == state:
            return state
        return Inconsistent("read returned {}, but the counter held {}", call.value, state)

    def describe_op(self, call: Call) -> str:
        return f"add {show(call.value)}" if call.f == _ADD else f"read → {show(call.value)}"

    def describe_state(self, state: State) -> str:
        return show(state)
