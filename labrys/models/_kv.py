"""A key-value store of strings: get, put and append, checked one key at a time.

Each operation's value is ``[key, v]``, the shape of Jepsen's independent keys and of
Porcupine's kv logs: ``get`` returns ``v``, ``put`` sets the key to ``v``, ``append``
concatenates ``v`` to what the key holds. Keys never interact, so the model partitions
a history per key (`KV.partition`) and each key is checked as one register, which is
exact by locality (Herlihy and Wing 1990) and far cheaper than searching the product.

A key that was never written reads as the initial value, by default the empty string:
the stores these histories come from (Porcupine's kv tests, the MIT 6.824 labs) answer a
missing key with "". ``--init`` sets another value for every key; from nil, the first
append to a key sets it.

Checked whole (``partition`` off), the state is the map itself, kept as a tuple of
``(key, value)`` pairs in key order, without the keys that still hold the initial value,
so that equal maps are equal states and the search's memo recognises them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from labrys.errors import UsageError
from labrys.models._model import (
    Call,
    Inconsistent,
    Model,
    Part,
    State,
    bad_value,
    freeze,
    show,
    unknown_function,
    with_f,
)

_GET = "get"
_PUT = "put"
_APPEND = "append"
_ALIASES = {"get": _GET, "read": _GET, "r": _GET, "put": _PUT, "write": _PUT, "w": _PUT,
            "append": _APPEND}

Pairs = tuple[tuple[Hashable, Any], ...]


def _apply(held: Any, call: Call) -> Any:
    """What a key holds after ``call``, given it held ``held``; Inconsistent if it can't."""
    f = call.f
    key, v = call.value
    if f == _GET:
        if v == held:
            return held
        return Inconsistent("get {} returned {}, but the key held {}", key, v, held)
    if f == _PUT:
        return v
    if held is None:
        return v
    if held.__class__ is str and v.__class__ is str:
        return held + v
    raise UsageError(f"op {call.index}: append needs string values, but key {show(key)} held "
                     f"{show(held)} and the append added {show(v)}")


def _order(key: Hashable) -> tuple[str, Any]:
    """A sort key under which keys of different types still compare (strings with ints)."""
    return (type(key).__name__, key)


def _describe(call: Call) -> str:
    key, v = call.value
    if call.f == _GET:
        return f"get {show(key)} → {show(v)}"
    return f"{call.f} {show(key)} {show(v)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class _KeyModel:
    """One key of a `KV` store: its state is the key's value."""

    name: ClassVar[str] = "kv"
    key: Hashable
    initial: Any

    def init(self) -> State:
        return freeze(self.initial)

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        return list(calls)

    # The state is the key's value, so a step is `_apply` itself: no wrapper call on the
    # search's hottest path.
    step = staticmethod(_apply)

    def describe_op(self, call: Call) -> str:
        return _describe(call)

    def describe_state(self, state: State) -> str:
        return f"{show(self.key)} = {show(state)}"


@dataclass(frozen=True, slots=True, kw_only=True)
class KV:
    """A map from keys to strings with get, put and append.

    Attributes:
        initial: what a key holds before it is first written ("" unless given).
    """

    name: ClassVar[str] = "kv"
    initial: Any = ""
    _start: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_start", freeze(self.initial))

    def init(self) -> State:
        return ()

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        out = []
        for call in calls:
            f = _ALIASES.get(call.f)
            if f is None:
                raise unknown_function(self.name, call, "get, put and append")
            if not (isinstance(call.value, tuple) and len(call.value) == 2):
                raise bad_value(self.name, call, "[key value]")
            if f == _GET and not call.known:
                continue
            out.append(with_f(call, f))
        return out

    def step(self, state: State, call: Call) -> State | Inconsistent:
        pairs: Pairs = state  # type: ignore[assignment]
        key = call.value[0]
        at = -1
        held = self._start
        for i, (k, v) in enumerate(pairs):
            if k == key:
                at, held = i, v
                break
        after = _apply(held, call)
        if after.__class__ is Inconsistent or after == held:
            return after if after.__class__ is Inconsistent else state
        if at >= 0:
            if after == self._start:
                return (*pairs[:at], *pairs[at + 1:])
            return (*pairs[:at], (key, after), *pairs[at + 1:])
        order = _order(key)
        at = 0
        while at < len(pairs) and _order(pairs[at][0]) < order:
            at += 1
        return (*pairs[:at], (key, after), *pairs[at:])

    def partition(self, calls: Sequence[Call]) -> list[Part]:
        by_key: dict[Hashable, list[Call]] = {}
        for call in calls:
            by_key.setdefault(call.value[0], []).append(call)
        return [Part(key=key, calls=part, model=self.key_model(key))
                for key, part in by_key.items()]

    def key_model(self, key: Hashable) -> Model:
        """The model of one key's part: a single value, read, put and appended to."""
        return _KeyModel(key=key, initial=self.initial)

    def describe_op(self, call: Call) -> str:
        return _describe(call)

    def describe_state(self, state: State) -> str:
        pairs: Pairs = state  # type: ignore[assignment]
        if not pairs:
            return f"every key = {show(self._start)}"
        return "{" + ", ".join(f"{show(k)} = {show(v)}" for k, v in pairs) + "}"
