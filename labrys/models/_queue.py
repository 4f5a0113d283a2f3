"""Queues: ``enqueue`` adds an element, ``dequeue`` removes one and returns it.

Two orders are offered. ``fifo-queue`` hands elements out in the order they went in;
its state is a tuple, oldest first. ``unordered-queue`` may hand out any element it
holds (Knossos's multiset queue); its state is a multiset. Both start empty unless
``--init`` gives a list.

A dequeue that returned nil found the queue empty; one that returned ``v`` removed
``v``, which must be at the head (fifo) or anywhere in the queue (unordered).

A crashed dequeue, whose result we never saw, may have removed an element or not; the
search decides whether it happened, the model only what it did:

- fifo: it removed the head, whatever that was (or nothing, from an empty queue);
- unordered: it removed *some* element. That is a choice, and a model step must be a
  function, so this model's state is the set of multisets the queue may hold (almost
  always exactly one). Leaving the dequeue out instead would be wrong: a later dequeue
  that found the queue empty may need it to have taken the last element.
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
    freeze,
    show,
    unknown_function,
    with_f,
)

_ENQUEUE = "enqueue"
_DEQUEUE = "dequeue"
_ALIASES = {"enqueue": _ENQUEUE, "dequeue": _DEQUEUE}

Multiset = frozenset[tuple[Hashable, int]]
"""Elements with their multiplicities, each present element once with a count ≥ 1."""


def _prepare(model: str, calls: Sequence[Call]) -> list[Call]:
    out = []
    for call in calls:
        f = _ALIASES.get(call.f)
        if f is None:
            raise unknown_function(model, call, "enqueue and dequeue")
        out.append(with_f(call, f))
    return out


def _initial(model: str, initial: Any) -> tuple[Any, ...]:
    if initial is None:
        return ()
    if not isinstance(initial, list):
        raise UsageError(f"the {model} model starts from a list of elements, e.g. --init "
                         f"'[1, 2]', not {show(initial)}")
    return tuple(freeze(initial))


def _describe(call: Call) -> str:
    if call.f == _ENQUEUE:
        return f"enqueue {show(call.value)}"
    return f"dequeue → {show(call.value) if call.known else '?'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class FIFOQueue:
    """A first-in first-out queue.

    Attributes:
        initial: the elements before any enqueue, oldest first (empty unless given).
    """

    name: ClassVar[str] = "fifo-queue"
    initial: Any = None

    def init(self) -> State:
        return _initial(self.name, self.initial)

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        return _prepare(self.name, calls)

    def step(self, state: State, call: Call) -> State | Inconsistent:
        queue: tuple[Any, ...] = state  # type: ignore[assignment]
        if call.f == _ENQUEUE:
            return (*queue, call.value)
        if not call.known:
            return queue[1:]
        if call.value is None:
            if not queue:
                return queue
            return Inconsistent("dequeue found the queue empty, but it held {}", queue)
        if not queue:
            return Inconsistent("dequeue returned {}, but the queue was empty", call.value)
        if queue[0] == call.value:
            return queue[1:]
        return Inconsistent("dequeue returned {}, but the head of the queue was {}",
                            call.value, queue[0])

    def describe_op(self, call: Call) -> str:
        return _describe(call)

    def describe_state(self, state: State) -> str:
        return show(state)


def _multiset(elements: tuple[Any, ...]) -> Multiset:
    counts: dict[Hashable, int] = {}
    for e in elements:
        counts[e] = counts.get(e, 0) + 1
    return frozenset(counts.items())


def _add(bag: Multiset, element: Hashable, delta: int) -> Multiset:
    counts = dict(bag)
    n = counts.get(element, 0) + delta
    if n:
        counts[element] = n
    else:
        del counts[element]
    return frozenset(counts.items())


@dataclass(frozen=True, slots=True, kw_only=True)
class UnorderedQueue:
    """A queue that may hand out any element it holds.

    Attributes:
        initial: the elements before any enqueue (empty unless given).
    """

    name: ClassVar[str] = "unordered-queue"
    initial: Any = None

    def init(self) -> State:
        return frozenset({_multiset(_initial(self.name, self.initial))})

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        return _prepare(self.name, calls)

    def step(self, state: State, call: Call) -> State | Inconsistent:
        possible: frozenset[Multiset] = state  # type: ignore[assignment]
        if call.f == _ENQUEUE:
            return frozenset(_add(bag, call.value, 1) for bag in possible)
        if not call.known:
            return frozenset(
                _add(bag, element, -1) if bag else bag
                for bag in possible
                for element in ([e for e, _ in bag] or [None])
            )
        if call.value is None:
            if frozenset() in possible:
                return frozenset({frozenset()})
            return Inconsistent(f"dequeue found the queue empty, but it held "
                                f"{self.describe_state(state)}")
        after = frozenset(_add(bag, call.value, -1) for bag in possible
                          if any(e == call.value for e, _ in bag))
        if after:
            return after
        return Inconsistent(f"dequeue returned {show(call.value)}, but the queue held "
                            f"{self.describe_state(state)}")

    def describe_op(self, call: Call) -> str:
        return _describe(call)

    def describe_state(self, state: State) -> str:
        possible: frozenset[Multiset] = state  # type: ignore[assignment]
        shown = sorted(_show_bag(bag) for bag in possible)
        return shown[0] if len(shown) == 1 else "one of " + ", ".join(shown)


def _show_bag(bag: Multiset) -> str:
    elements = sorted(show(e) for e, n in bag for _ in range(n))
    return "[" + " ".join(elements) + "]"
