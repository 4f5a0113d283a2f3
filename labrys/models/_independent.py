"""Independent keys: many objects of one model in one history, told apart by a key.

Jepsen's ``jepsen.independent`` runs a workload over many keys at once, each a fresh
object (a register, a set…), and records every value as a pair ``[key value]``::

    {"process": 0, "type": "invoke", "f": "write", "value": [3, 1]}
    {"process": 0, "type": "ok",     "f": "write", "value": [3, 1]}    key 3 ← 1
    {"process": 1, "type": "invoke", "f": "read",  "value": [3, null]}
    {"process": 1, "type": "ok",     "f": "read",  "value": [3, 1]}    key 3 → 1

Checked as one register, such a history is nonsense: the write "held [3 1]" and a
read of another key "returned [0 nil]". `Independent` wraps the model of one key:
each operation is the inner model's operation on its key, and keys never interact.

So the history is linearizable iff each key's sub-history is (locality, Herlihy and
Wing 1990), and `Independent.partition` hands each key to the search as a part of its
own, with the inner model and the values unwrapped. The calls keep their index in the
whole history, so every explanation names operations as the history file does.
Sequential consistency is not local, so the ``sequential`` checker searches the whole
product, whose state is the map from keys to the inner model's states.

``prepare`` runs the inner model's ``prepare`` on each key's calls alone, because what
a value means can depend on the key's own history (a register's nil, say).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from labrys.models._model import Call, Inconsistent, Model, Part, State, bad_value, show


def _unwrap(call: Call) -> Call:
    """The call as the inner model sees it: its value without the key."""
    return Call(index=call.index, process=call.process, f=call.f, value=call.value[1],
                known=call.known, return_index=call.return_index)


def _wrap(key: Hashable, call: Call) -> Call:
    return Call(index=call.index, process=call.process, f=call.f, value=(key, call.value),
                known=call.known, return_index=call.return_index)


def _order(key: Hashable) -> tuple[str, Any]:
    """A sort key under which keys of different types still compare."""
    return (type(key).__name__, key)


@dataclass(frozen=True, slots=True, kw_only=True)
class Independent:
    """Many independent objects of model ``inner``, one per key (see the module docstring).

    Attributes:
        inner: the model of one key; every key starts from its initial state.
    """

    kind: ClassVar[str] = "independent"
    inner: Model

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"{self.kind} {self.inner.name}"

    def init(self) -> State:
        self.inner.init()  # a bad initial value is refused before any search
        return ()

    def _by_key(self, calls: Sequence[Call]) -> dict[Hashable, list[Call]]:
        """Each key's calls, unwrapped, in order.

        Raises:
            UsageError: a value is not a ``[key value]`` pair.
        """
        by_key: dict[Hashable, list[Call]] = {}
        for call in calls:
            if not (isinstance(call.value, tuple) and len(call.value) == 2):
                raise bad_value(self.name, call, "[key value] (independent keys, as "
                                "Jepsen's independent workloads record them)")
            by_key.setdefault(call.value[0], []).append(_unwrap(call))
        return by_key

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        prepared = [_wrap(key, c) for key, part in self._by_key(calls).items()
                    for c in self.inner.prepare(part)]
        return sorted(prepared, key=lambda c: c.index)

    def partition(self, calls: Sequence[Call]) -> list[Part]:
        return [Part(key=key, calls=part, model=self.inner)
                for key, part in self._by_key(calls).items()]

    def step(self, state: State, call: Call) -> State | Inconsistent:
        key = call.value[0]
        states: dict[Hashable, State] = dict(state)  # type: ignore[arg-type]
        before = states.get(key, self.inner.init())
        after = self.inner.step(before, _unwrap(call))
        if isinstance(after, Inconsistent) or after == before:
            return after if isinstance(after, Inconsistent) else state
        if after == self.inner.init():
            # Keys at their initial state are left out, so equal maps are equal states.
            del states[key]
        else:
            states[key] = after
        return tuple(sorted(states.items(), key=lambda kv: _order(kv[0])))

    def describe_op(self, call: Call) -> str:
        return f"key {show(call.value[0])}: {self.inner.describe_op(_unwrap(call))}"

    def describe_state(self, state: State) -> str:
        pairs: tuple[tuple[Hashable, State], ...] = state  # type: ignore[assignment]
        if not pairs:
            return f"every key = {self.inner.describe_state(self.inner.init())}"
        return "{" + ", ".join(f"{show(k)} = {self.inner.describe_state(s)}"
                               for k, s in pairs) + "}"
