"""The model protocol: what a sequential specification must say, and nothing more.

A model answers one question for the linearizability search: starting from this
state, can this operation take effect, and if so, what state follows? Knossos calls
that ``step`` and returns either the next model or an ``inconsistent`` carrying a
sentence; Porcupine asks for Init/Step and makes Partition and Describe optional. labrys
does the same, with the state kept apart from the model so that a model is a plain
immutable value (its configuration, e.g. the initial value) and a state is any hashable
value the search can memoise on.

Example, a register that held 1 being read as 2::

    >>> from labrys.models import CASRegister
    >>> m = CASRegister(initial=1)
    >>> read = Call(index=0, process=0, f="read", value=2, known=True, return_index=1)
    >>> m.step(m.init(), read)
    Inconsistent('read returned 2, but the register held 1')

Choices that decide verdicts:

- ``Call.known`` is False for an operation that crashed or timed out (``info``) or never
  completed. Its result was never seen, so a read among them constrains nothing and a
  model's `Model.prepare` leaves it out; a write among them still wrote what it was asked
  to, if it took effect at all. The search, not the model, decides *whether* it took
  effect.
- Values are frozen (`freeze`) before a model sees them: JSON lists become tuples so
  states built from them are hashable and compare by value.
- ``prepare`` is where a model rejects operations it does not understand (a ``cas`` sent
  to a plain register), with one line naming the operation and the model to use
  instead: a typo in ``--model`` must not look like a consistency violation.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

from labrys.errors import UsageError
from labrys.history import Operation, OpType, Process

NOT_GIVEN: Any = type("NotGiven", (), {"__repr__": lambda self: "NOT_GIVEN"})()
"""The initial value when the user gave none: each model then uses its own default.

Not None, because None is a value a user can give (``--init null``: a register that
starts empty)."""

State = Hashable
"""A model state: any hashable value; equal states must mean equal futures."""


class Inconsistent:
    """The operation cannot take effect in this state, and why, in English.

    Built as a template and the values to show in it: ``Inconsistent("read returned {},
    but the register held {}", 3, 4)``. The sentence is only written when someone reads
    `reason`, because the search refutes millions of candidate steps and explains a
    handful; for the same reason this is a plain slotted class rather than a frozen
    dataclass, whose ``__init__`` costs three times as much. Without values, the template
    is the sentence itself, braces and all.
    """

    __slots__ = ("args", "template")

    def __init__(self, template: str, *args: Any) -> None:
        self.template = template
        self.args = args

    @property
    def reason(self) -> str:
        """The sentence, with each value shown as `show` shows it."""
        if not self.args:
            return self.template
        return self.template.format(*(show(a) for a in self.args))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Inconsistent) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)

    def __repr__(self) -> str:
        return f"Inconsistent({self.reason!r})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One operation as a model sees it.

    Attributes:
        index: the index of the operation's invocation in the history.
        process: who invoked it.
        f: the function called.
        value: the completion's value if it completed ``ok``, the invocation's value
            otherwise; frozen (lists become tuples).
        known: True if it completed ``ok``, so its result was observed.
        return_index: the index of its ``ok`` completion, or None when it may take effect
            at any time after its invocation (or never).
    """

    index: int
    process: Process
    f: str
    value: Any
    known: bool
    return_index: int | None


def call_from_operation(operation: Operation) -> Call | None:
    """The `Call` for an operation, or None for one that certainly did not happen."""
    kind = operation.type
    if kind is OpType.FAIL:
        return None
    known = kind is OpType.OK
    return Call(
        index=operation.index,
        process=operation.process,
        f=operation.f,
        value=freeze(operation.value),
        known=known,
        return_index=operation.completion.index if known and operation.completion else None,
    )


def freeze(value: Any) -> Hashable:
    """A hashable copy of a decoded JSON/EDN value: lists become tuples, maps sorted pairs."""
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((k, freeze(v)) for k, v in value.items()), key=lambda kv: repr(kv[0])))
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


def show(value: Any) -> str:
    """A value as a person reads it in an explanation: nil, 3, "abc", [1 2]."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + " ".join(show(v) for v in value) + "]"
    if isinstance(value, frozenset | set):
        return "#{" + " ".join(sorted(show(v) for v in value)) + "}"
    return str(value)


@runtime_checkable
class Model(Protocol):
    """A sequential specification.

    Implementations are frozen dataclasses; ``step`` must be pure and deterministic.
    """

    name: ClassVar[str]

    def init(self) -> State:
        """The state before any operation."""
        ...

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        """Check a history's calls before the search and put them in the form ``step`` expects.

        Leaves out calls that can neither constrain nor change any state (a read whose
        result is unknown). Sees the whole history, so that it can decide what a value
        means in it (a register's nil, say).

        Raises:
            UsageError: the model has no such operation, or a value has the wrong shape.
        """
        ...

    def step(self, state: State, call: Call) -> State | Inconsistent:
        """The state after ``call`` takes effect in ``state``, or why it cannot."""
        ...

    def describe_op(self, call: Call) -> str:
        """The call in a few words: ``read → 3``, ``cas 1→2``."""
        ...

    def describe_state(self, state: State) -> str:
        """The state in a few words."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Part:
    """One independent piece of a history (P-compositionality) and the model that checks it.

    Attributes:
        key: what the piece is about (a kv key), shown when it fails; None for the whole.
        calls: its calls, in invocation order.
        model: the model its calls are checked against.
    """

    key: Hashable
    calls: Sequence[Call]
    model: Model


@runtime_checkable
class Partitionable(Protocol):
    """A model whose histories split into independent parts.

    Herlihy and Wing's locality theorem: a history is linearizable iff each object's
    sub-history is. When a model's state is a product of independent objects (a kv
    store is one register per key), checking each part alone is exact and its search
    space is the product's square root or better. Horn and Kroening, "Faster
    linearizability checking via P-compositionality" (FORTE 2015).
    """

    def partition(self, calls: Sequence[Call]) -> list[Part]:
        """Split calls into parts, each with its model, in order of first appearance."""
        ...


def with_f(call: Call, f: str) -> Call:
    """``call`` with its function renamed (aliases such as ``r`` become ``read``)."""
    if f == call.f:
        return call
    return Call(index=call.index, process=call.process, f=f, value=call.value,
                known=call.known, return_index=call.return_index)


def unknown_function(model: str, call: Call, known: str, hint: str = "") -> UsageError:
    """The error for an operation a model does not have, naming the ones it does."""
    return UsageError(
        f"op {call.index}: the {model} model has no operation {call.f!r} (it knows {known})"
        + (f"; {hint}" if hint else "; choose another --model")
    )


def bad_value(model: str, call: Call, expected: str) -> UsageError:
    """The error for an operation whose value has the wrong shape for the model."""
    return UsageError(
        f"op {call.index}: {call.f} with value {show(call.value)} does not fit the {model} "
        f"model, which expects {expected}"
    )
