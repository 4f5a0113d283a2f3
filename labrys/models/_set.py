"""A set: ``add`` puts one element in, ``read`` returns every element.

The state is a frozenset, empty unless ``--init`` gives a list. A read returns a list
that must hold exactly the elements added so far, each once: a duplicate in a read is
a violation in its own right (Porcupine's set test asserts the same), and order does
not matter. A read whose result is unknown is dropped; a crashed add stays, since it
may have added its element.

This is the set as a linearizable object. Jepsen's ``set`` workload checker (lost and
unexpected elements against one final read) is a different, cheaper question, answered
by the ``set`` checker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from labrys.errors import UsageError
from labrys.models._model import (
    Call,
    Inconsistent,
    State,
    bad_value,
    freeze,
    show,
    unknown_function,
    with_f,
)

_ADD = "add"
_READ = "read"
_ALIASES = {"add": _ADD, "read": _READ, "r": _READ}


@dataclass(frozen=True, slots=True, kw_only=True)
class SetModel:
    """A grow-only set with add and read.

    Attributes:
        initial: the elements before any add (a list; empty unless given).
    """

    name: ClassVar[str] = "set"
    initial: Any = None

    def init(self) -> State:
        if self.initial is None:
            return frozenset()
        if not isinstance(self.initial, list):
            raise UsageError(f"the set model starts from a list of elements, e.g. --init '[]', "
                             f"not {show(self.initial)}")
        return frozenset(freeze(self.initial))

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        out = []
        for call in calls:
            f = _ALIASES.get(call.f)
            if f is None:
                raise unknown_function(self.name, call, "add and read")
            if f == _READ:
                if not call.known:
                    continue
                if not isinstance(call.value, tuple):
                    raise bad_value(self.name, call, "a list of elements for a read")
            out.append(with_f(call, f))
        return out

    def step(self, state: State, call: Call) -> State | Inconsistent:
        held: frozenset[Any] = state  # type: ignore[assignment]
        if call.f == _ADD:
            return held | {call.value}
        seen = frozenset(call.value)
        if seen == held and len(seen) == len(call.value):
            return state
        return Inconsistent(_why_read_differs(call.value, held))

    def describe_op(self, call: Call) -> str:
        if call.f == _ADD:
            return f"add {show(call.value)}"
        return f"read → {show(frozenset(call.value))}"

    def describe_state(self, state: State) -> str:
        return show(state)


def _why_read_differs(read: Iterable[Any], held: frozenset[Any]) -> str:
    elements = list(read)
    seen = frozenset(elements)
    parts = []
    if len(seen) != len(elements):
        parts.append("it returned an element twice")
    if missing := held - seen:
        parts.append(f"it missed {show(missing)}")
    if extra := seen - held:
        parts.append(f"it returned {show(extra)}, never added by then")
    return f"the read returned {show(seen)}, but the set held {show(held)}: " + "; ".join(parts)
