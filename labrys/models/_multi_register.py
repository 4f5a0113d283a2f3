"""Several registers read and written together in transactions (Knossos's multi-register).

Every operation is ``f = "txn"`` with a value that lists micro-operations, applied in
order and atomically: ``["r", k, v]`` (or ``"read"``) reads key ``k`` and saw ``v``;
``["w", k, v]`` (or ``"write"``) sets ``k`` to ``v``. The initial value is a map, e.g.
``{"x": 0, "y": 0}``; a key it does not name starts at nil.

As in Knossos, a read of nil inside a transaction constrains nothing: the invocation of
a transaction carries nil for every read (the client does not know yet what it will
see), and a transaction that crashed keeps those nils. So ``[["r", "x", null]]`` is a
read whose result we do not know, never a claim that x was nil.

Transactions span keys, so this model does not partition: the state is the whole map,
kept as a tuple of ``(key, value)`` pairs sorted by key.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
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
)

_READ = "r"
_WRITE = "w"
_MICRO = {"r": _READ, "read": _READ, "w": _WRITE, "write": _WRITE}

Pairs = tuple[tuple[Hashable, Any], ...]


def _order(key: Hashable) -> tuple[str, Any]:
    return (type(key).__name__, key)


def _lookup(pairs: Pairs, key: Hashable) -> Any:
    for k, v in pairs:
        if k == key:
            return v
    return None


def _assoc(pairs: Pairs, key: Hashable, value: Any) -> Pairs:
    order = _order(key)
    for i, (k, _) in enumerate(pairs):
        if k == key:
            return (*pairs[:i], (key, value), *pairs[i + 1:])
        if _order(k) > order:
            return (*pairs[:i], (key, value), *pairs[i:])
    return (*pairs, (key, value))


@dataclass(frozen=True, slots=True, kw_only=True)
class MultiRegister:
    """Registers named by key, read and written in atomic transactions.

    Attributes:
        initial: a map from key to its initial value (keys not named start at nil).
    """

    name: ClassVar[str] = "multi-register"
    initial: Any = None

    def init(self) -> State:
        if self.initial is None:
            return ()
        if not isinstance(self.initial, dict):
            raise UsageError(f"the multi-register model starts from a map of keys to values, "
                             f"e.g. --init '{{\"x\": 0, \"y\": 0}}', not {show(self.initial)}")
        state: Pairs = ()
        for k, v in self.initial.items():
            state = _assoc(state, k, freeze(v))
        return state

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        out = []
        for call in calls:
            prepared = self._prepare_one(call)
            if prepared is not None:
                out.append(prepared)
        return out

    def _prepare_one(self, call: Call) -> Call | None:
        if call.f != "txn":
            raise unknown_function(self.name, call, "txn")
        if not isinstance(call.value, tuple):
            raise bad_value(self.name, call, "a list of [f key value] micro-operations")
        micro = []
        for m in call.value:
            if not (isinstance(m, tuple) and len(m) == 3 and m[0] in _MICRO):
                raise bad_value(self.name, call,
                                "micro-operations [\"r\" key value] or [\"w\" key value]")
            f = _MICRO[m[0]]
            if f == _READ and (m[2] is None or not call.known):
                continue  # a read whose result is unknown
            micro.append((f, m[1], m[2]))
        if not micro:
            return None
        return Call(index=call.index, process=call.process, f=call.f, value=tuple(micro),
                    known=call.known, return_index=call.return_index)

    def step(self, state: State, call: Call) -> State | Inconsistent:
        pairs: Pairs = state  # type: ignore[assignment]
        for f, k, v in call.value:
            if f == _WRITE:
                pairs = _assoc(pairs, k, v)
            else:
                held = _lookup(pairs, k)
                if held != v:
                    return Inconsistent("the transaction read {} = {}, but {} held {}",
                                        k, v, k, held)
        return pairs

    def describe_op(self, call: Call) -> str:
        return "txn " + ", ".join(
            f"read {show(k)} → {show(v)}" if f == _READ else f"write {show(k)} {show(v)}"
            for f, k, v in call.value
        )

    def describe_state(self, state: State) -> str:
        pairs: Pairs = state  # type: ignore[assignment]
        return "{" + ", ".join(f"{show(k)} = {show(v)}" for k, v in pairs) + "}"
