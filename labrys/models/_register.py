"""Registers: one cell, read and written whole; and the compare-and-set register.

``register`` knows ``read`` and ``write``; ``cas-register`` adds ``cas`` with value
``[old new]``, which takes effect only when the register holds ``old``. Both start
at nil unless told otherwise (``--init 0``).

A read's value is what it returned, compared with ``==`` after freezing, so a read of
``[1, 2]`` matches a write of ``[1, 2]``. A read whose result is unknown (it crashed or
timed out) is left out by `prepare`: it cannot have changed the register, and it saw
nothing we know of. A crashed write or cas stays: it may have taken effect.

What a read of nil means depends on whether the register can hold nil:

- If it can (it starts at nil, or some write or cas puts nil in it), nil is a value
  like any other, and a read of nil claims the register held nil. So::

      write 1 (ok) ─── then ─── read → nil (ok)

  is not linearizable from nil: the read began after the write had returned. Porcupine
  reads nil this way.
- If it cannot, no order of operations could make a read return nil, and the read is
  taken the way Jepsen clients and Knossos mean it: the client got no value. Knossos's
  register models say so outright ("we don't know what the read was") and its own
  histories, checked from 0, begin with such reads. The price is that a store that
  loses the key altogether is caught only when the history is checked from nil.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

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

_READ = "read"
_WRITE = "write"
_CAS = "cas"
_ALIASES = {"read": _READ, "r": _READ, "write": _WRITE, "w": _WRITE, "cas": _CAS}


def _prepare(model: str, calls: Sequence[Call], initial: Any, *, cas: bool) -> list[Call]:
    known = "read, write and cas" if cas else "read and write"
    named = []
    for call in calls:
        f = _ALIASES.get(call.f)
        if f is None or (f == _CAS and not cas):
            hint = "use --model cas-register for cas" if f == _CAS else ""
            raise unknown_function(model, call, known, hint)
        if f == _CAS and not (isinstance(call.value, tuple) and len(call.value) == 2):
            raise bad_value(model, call, "[old new]")
        named.append(with_f(call, f))
    holds_nil = initial is None or any(
        (c.f == _WRITE and c.value is None) or (c.f == _CAS and c.value[1] is None)
        for c in named
    )
    return [c for c in named
            if not (c.f == _READ and (not c.known or (c.value is None and not holds_nil)))]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Cell:
    """What both registers share; `_with_cas` says whether ``cas`` is allowed.

    One `step` serves both: `prepare` refuses ``cas`` to the plain register, so only
    the compare-and-set register ever steps one.
    """

    name: ClassVar[str]
    _with_cas: ClassVar[bool]
    initial: Any = None

    def init(self) -> State:
        return freeze(self.initial)

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        return _prepare(self.name, calls, self.initial, cas=self._with_cas)

    def step(self, state: State, call: Call) -> State | Inconsistent:
        f = call.f
        if f == _WRITE:
            return call.value
        if f == _READ:
            if call.value == state:
                return state
            return Inconsistent("read returned {}, but the register held {}", call.value, state)
        old, new = call.value
        if old == state:
            return new
        return Inconsistent("cas expected {}, but the register held {}", old, state)

    def describe_op(self, call: Call) -> str:
        if call.f == _READ:
            return f"read → {show(call.value)}"
        if call.f == _WRITE:
            return f"write {show(call.value)}"
        old, new = call.value
        return f"cas {show(old)}→{show(new)}"

    def describe_state(self, state: State) -> str:
        return show(state)


@dataclass(frozen=True, slots=True, kw_only=True)
class Register(_Cell):
    """A read/write register.

    Attributes:
        initial: the value before any write (nil unless given).
    """

    name: ClassVar[str] = "register"
    _with_cas: ClassVar[bool] = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CASRegister(_Cell):
    """A register with read, write and compare-and-set (Knossos's ``cas-register``).

    Attributes:
        initial: the value before any write (nil unless given).
    """

    name: ClassVar[str] = "cas-register"
    _with_cas: ClassVar[bool] = True
