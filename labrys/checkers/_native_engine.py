"""The engine switch, and the bridge to the native search core.

Three engines answer the same question, "is there an order of these calls that the
model accepts and that respects real time (or process order)?":

- ``python``: `labrys.checkers._wgl`, the reference: every model, every verdict.
- ``native``: the Rust crate in ``native/`` (module ``labrys_native``), the same search
  step for step, on integers, with the parts of a history searched in parallel. It
  knows the register family: register, cas-register, kv (per key or whole), mutex,
  multi-register and counter.
- ``smt``: `labrys.checkers._smt`, the question posed to z3; slow, independent, and
  able to say *which* operations conflict.

`search_parts` is the one entry point. ``auto`` takes the native core when it is
installed and the model has a native encoding, and the Python engine otherwise; the
verdicts are the same (``tests/unit/test_engines_agree.py`` demands it), so the choice
is only about speed.

The core is optional. Without a Rust toolchain labrys installs and runs in pure
Python; `labrys._native.native_module` then says so once per process, in one log line,
and ``auto`` falls back quietly after that. Asking for ``native`` by name when it is absent is a
usage error, with the command that builds it.

Encoding. Each part crosses as plain lists of integers (see ``native/src/lib.rs``):
positions of calls and returns in the history (-1 for an operation that may never take
effect), processes, and each operation as micro-operations ``(kind, slot, a, b)`` on
integer slots. Values become ids of a table of distinct values (equal under ``==``,
as the Python models compare them), except the counter's, which stay numbers. kv
strings travel with the table so that the core can concatenate them for ``append``.
A history the encoder cannot express exactly (a counter of floats, a value too large
for 64 bits) goes to the Python engine instead: never an approximate answer.

Example:
    >>> from labrys.models import CASRegister, Call, Part
    >>> from labrys.checkers._outcome import Budget
    >>> calls = [Call(index=0, process=0, f="write", value=1, known=True, return_index=1),
    ...          Call(index=2, process=1, f="read", value=0, known=True, return_index=3)]
    >>> [o.valid for o in search_parts([Part(key=None, calls=calls, model=CASRegister())],
    ...                                sequential=False, budget=Budget(deadline=None,
    ...                                memory_bytes=1 << 30))]
    [False]
"""

from __future__ import annotations

import logging
import time
from collections.abc import Hashable, Sequence
from typing import Any

from labrys._native import native_module
from labrys.checkers._outcome import Budget, Outcome
from labrys.checkers._registry import ENGINES
from labrys.checkers._wgl import run, search_linearizable, search_sequential
from labrys.errors import UsageError
from labrys.models import (
    KV,
    CASRegister,
    Counter,
    Inconsistent,
    Model,
    MultiRegister,
    Mutex,
    Part,
    Register,
    State,
    freeze,
)

_log = logging.getLogger(__name__)

_READ, _WRITE, _CAS, _APPEND, _ADD = range(5)
"""Micro-operation kinds, as ``native/src/model.rs`` numbers them."""

_I64 = (-(2**63), 2**63 - 1)


class _Values:
    """Distinct values, numbered in order of first sight; equal values share an id."""

    __slots__ = ("ids", "values")

    def __init__(self) -> None:
        self.ids: dict[Hashable, int] = {}
        self.values: list[Hashable] = []

    def __call__(self, value: Hashable) -> int:
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.values)
            self.values.append(value)
        return found

    def texts(self) -> list[str | None]:
        return [v if isinstance(v, str) else None for v in self.values]


class _CannotEncode(Exception):
    """The part has something the native encoding cannot express exactly."""


def _number(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not _I64[0] <= value <= _I64[1]:
        raise _CannotEncode(f"{value!r} is not a 64-bit integer")
    return value


def _slot_of(slots: dict[Hashable, int], key: Hashable) -> int:
    return slots.setdefault(key, len(slots))


def _encode_part(part: Part) -> tuple[Any, ...]:
    """A part as the tuple ``labrys_native.check`` takes.

    Raises:
        _CannotEncode: the model has no native encoding, or a value does not fit one.
    """
    model = part.model
    values = _Values()
    micros: list[int] = []
    starts = [0]
    texts: list[str | None] | None = None
    none_id = -1
    init: list[int]

    if isinstance(model, Register | CASRegister):
        init = [values(model.init())]
        for c in part.calls:
            if c.f == "cas":
                old, new = c.value
                micros += (_CAS, 0, values(old), values(new))
            else:
                micros += (_READ if c.f == "read" else _WRITE, 0, values(c.value), 0)
            starts.append(len(micros) // 4)
    elif isinstance(model, Mutex):
        init = [1 if model.init() else 0]
        for c in part.calls:
            micros += (_CAS, 0, 0, 1) if c.f == "acquire" else (_CAS, 0, 1, 0)
            starts.append(len(micros) // 4)
    elif isinstance(model, Counter):
        init = [_number(model.init())]
        for c in part.calls:
            micros += (_ADD if c.f == "add" else _READ, 0, _number(c.value), 0)
            starts.append(len(micros) // 4)
    elif isinstance(model, MultiRegister):
        slots: dict[Hashable, int] = {}
        start_values: dict[int, int] = {}
        for key, value in model.init():
            start_values[_slot_of(slots, key)] = values(value)
        for c in part.calls:
            for f, key, value in c.value:
                micros += (_WRITE if f == "w" else _READ, _slot_of(slots, key), values(value), 0)
            starts.append(len(micros) // 4)
        nil = values(None)
        init = [start_values.get(s, nil) for s in range(max(len(slots), 1))]
    elif model.name == KV.name:
        # A KV whole (one slot per key) or one key of it (one slot), same operations.
        whole = isinstance(model, KV)
        slots = {}
        initial = values(freeze(model.initial))
        kinds = {"get": _READ, "put": _WRITE, "append": _APPEND}
        for c in part.calls:
            key, value = c.value
            slot = _slot_of(slots, key) if whole else 0
            micros += (kinds[c.f], slot, values(value), 0)
            starts.append(len(micros) // 4)
        init = [initial] * (max(len(slots), 1) if whole else 1)
        texts = values.texts()
        none_id = values.ids.get(None, -1)
    else:
        raise _CannotEncode(f"the {model.name} model has no native encoding")

    processes: dict[Hashable, int] = {}
    return (
        [c.index for c in part.calls],
        [-1 if c.return_index is None else c.return_index for c in part.calls],
        [_slot_of(processes, c.process) for c in part.calls],
        starts,
        micros,
        init,
        texts,
        none_id,
    )


def _replay(model: Model, calls: Sequence[Any], prefix: Sequence[int]) -> tuple[State, ...]:
    """The state after each op of ``prefix``, by the Python model (for explanations)."""
    states: list[State] = []
    state = model.init()
    for i in prefix:
        state = model.step(state, calls[i])
        if isinstance(state, Inconsistent):  # the core and the model disagree: a bug
            raise AssertionError(f"native prefix replays inconsistently at call {i}: {state}")
        states.append(state)
    return tuple(states)


def search_native(parts: Sequence[Part], *, sequential: bool, budget: Budget,
                  stop_at_first_invalid: bool = True, symmetry: bool = False
                  ) -> list[Outcome] | None:
    """Search every part with the native core, in parallel; None if it cannot.

    None means: the core is not installed, or some part's model or values have no exact
    native encoding. The caller then uses the Python engine.

    An outcome that is not valid carries its prefix and the states along it, as the
    Python engine's does; a valid one carries the order found but no states (replaying
    a million operations in Python to explain a success would cost more than the
    search).

    Args:
        parts: the parts, each with its prepared calls in invocation order.
        sequential: process order instead of real time.
        budget: shared by all parts: one deadline, one pool of memory.
        stop_at_first_invalid: stop the other parts once one is invalid, as the Python
            engine's `run` does; they come back unknown with ``stopped == "cancelled"``.
        symmetry: accept prefixes found with crashed operations of identical effect
            placed in invocation order only (see ``native/src/linear.rs``). Either way a
            linearizability search *decides* that way (the same verdicts from far fewer
            states); without ``symmetry``, a part found invalid is searched again
            plainly, so that its prefix, hence its explanation, is the Python engine's.
    """
    core = native_module()
    if core is None:
        return None
    try:
        encoded = [_encode_part(p) for p in parts]
    except _CannotEncode as e:
        _log.debug("native engine declined: %s", e)
        return None
    mode = "sequential" if sequential else "linearizable"

    def left_s() -> float | None:
        return None if budget.deadline is None else max(0.0, budget.deadline - time.monotonic())

    results = core.check(mode, encoded, timeout_s=left_s(),
                         memory_limit_mb=budget.memory_bytes / 2**20,
                         stop_at_first_invalid=stop_at_first_invalid,
                         symmetry=symmetry or not sequential)
    invalid = [k for k, r in enumerate(results) if r[0] == "invalid"]
    if invalid and not symmetry and not sequential:
        again = core.check(mode, [encoded[k] for k in invalid], timeout_s=left_s(),
                           memory_limit_mb=budget.memory_bytes / 2**20,
                           stop_at_first_invalid=False, symmetry=False)
        for k, plain in zip(invalid, again, strict=True):
            if plain[0] == "valid":
                raise AssertionError(f"the native searches with and without symmetry disagree "
                                     f"on part {parts[k].key!r}")
            if plain[0] == "invalid":
                results[k] = plain
            # Out of budget: the symmetric search's own prefix explains it.
    outcomes = []
    for part, (status, why, prefix, explored, _peak, _seconds) in zip(parts, results,
                                                                      strict=True):
        if status == "error":
            # An operation the model rejects outright (an append to a number): the
            # Python engine raises the user-facing error for it.
            _log.debug("native engine declined: %s", why)
            return None
        if status == "valid":
            outcomes.append(Outcome(valid=True, prefix=tuple(prefix), explored=explored))
            continue
        states = _replay(part.model, part.calls, prefix)
        outcomes.append(Outcome(valid=False if status == "invalid" else "unknown",
                                stopped=why, prefix=tuple(prefix), states=states,
                                explored=explored))
    return outcomes


def search_parts(parts: Sequence[Part], *, sequential: bool, budget: Budget,
                 engine: str = "auto") -> list[Outcome]:
    """One outcome per part, from the engine asked for.

    Raises:
        UsageError: ``engine`` is unknown, or ``native`` was asked for and the core is
            not installed or cannot encode this model.
    """
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
    if engine == "smt":
        return _search_smt(parts, sequential=sequential, budget=budget)
    if engine in ("auto", "native"):
        outcomes = search_native(parts, sequential=sequential, budget=budget)
        if outcomes is not None:
            return outcomes
        if engine == "native":
            if native_module() is None:
                raise UsageError("--engine native: the native core is not installed; build it "
                                 "with scripts/build-native.sh (needs cargo) or use --engine "
                                 "python")
            names = sorted({p.model.name for p in parts})
            raise UsageError(f"--engine native cannot check the {', '.join(names)} model "
                             "(or its values); use --engine python")
    search = search_sequential if sequential else search_linearizable
    return run([search(p.model, p.calls) for p in parts], budget)


def _search_smt(parts: Sequence[Part], *, sequential: bool, budget: Budget) -> list[Outcome]:
    """The SMT engine's verdicts, explained by a search engine where invalid.

    z3 proves that no order exists without building one partway, so the longest
    prefix that explanations show comes from the fastest search engine, run on the
    invalid parts only. Were it to disagree, one engine would be wrong: that is raised,
    never papered over.
    """
    from labrys.checkers._smt import search_smt

    outcomes = [search_smt(p.model, p.calls, sequential=sequential, budget=budget)
                for p in parts]
    invalid = [k for k, o in enumerate(outcomes) if o.valid is False]
    if invalid:
        again = search_parts([parts[k] for k in invalid], sequential=sequential, budget=budget)
        for k, o in zip(invalid, again, strict=True):
            if o.valid is True:
                raise AssertionError(f"the smt and search engines disagree on part "
                                     f"{parts[k].key!r}: smt says invalid, search valid")
            if o.valid is False:
                outcomes[k] = o
    return outcomes
