"""The SMT engine: linearizability of a register-family history as constraints for z3.

The search engines build an order one operation at a time. This engine states what an
order must satisfy and asks z3 whether one exists, so it shares no code and no idea
with them beyond the model's meaning, which makes it the independent cross-check of
the test suite; and when no order exists, z3's *unsat core* names a small set of
operations that already admit none: a counterexample a person can read in a minute.

The encoding, for operations ``i`` (prepared calls of one part):

- ``pos_i``, an integer: the operation's place in the order; all distinct.
- ``on_i``, a boolean: the operation took effect. A crashed one may not have; a
  completed one did. Each operation also has a *tracking literal* ``keep_i``: the
  solver is asked for an answer under the assumption that every ``keep_i`` holds, and
  ``keep_i`` false means "forget how this operation ended": it becomes as if crashed,
  free to take effect or not, with no completion to order it. So for a completed
  operation ``keep_i → on_i``, and its completion orders others only under ``keep_i``.
  An unsat core is a set of ``keep_i`` that cannot all hold: operations whose recorded
  outcomes already admit no order, whatever the others did.
- Precedence: for linearizability, ``a`` completed before ``b`` was invoked implies
  ``pos_a < pos_b`` (when both took effect); for sequential consistency, the same for
  ``a`` completed ok earlier by ``b``'s process.
- Semantics. Every operation is reduced to the values it *expects* (a read's result, a
  cas's old value, a lock's state before acquire or release, the first read of each
  key in a transaction) and the values it *leaves* (a write's, a cas's new value, a
  transaction's last write of each key). An expectation of ``v`` on key ``k`` by ``i``
  holds if ``i`` did not take effect, or some write ``w`` of ``v`` to ``k`` took effect
  before ``i`` with no other write to ``k`` in between, or ``v`` is the initial value and
  no write to ``k`` took effect before ``i``. The source is a choice among boolean
  literals; "no other write in between" is one clause per other write, stated against
  the chosen source's position, so the encoding is O(reads × writes), not cubic.

Supported models: register, cas-register, kv (get and put; not append, whose strings
the encoding does not model), mutex and multi-register. Anything else is a usage error
naming the engines that can check it. Histories of a few hundred operations take
seconds; the search engines remain the way to check long ones.

Example::

    write 1 ──ok            read → 0 ──ok      (from 0)

gives ``pos_w < pos_r`` (real time), and the read's expectation of 0 must come from the
initial value, which needs the write not before the read: unsat, core {write, read}.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import z3
from z3 import z3core

from labrys.checkers._verdict import Validity
from labrys.checkers._wgl import Budget, Outcome
from labrys.errors import UsageError
from labrys.models import KV, Call, CASRegister, Model, MultiRegister, Mutex, Register, freeze


@dataclass(frozen=True, slots=True, kw_only=True)
class _Effect:
    """What one operation expects before it and leaves after it, per key.

    ``impossible`` marks a transaction that contradicts itself (it reads back a value
    other than the one it just wrote): it cannot take effect in any state.
    """

    expects: tuple[tuple[Hashable, Any], ...]
    leaves: tuple[tuple[Hashable, Any], ...]
    impossible: bool = False


def _effect(model: Model, call: Call) -> _Effect:
    """The effect of one prepared call.

    Raises:
        UsageError: the model (or this operation of it) is beyond the encoding.
    """
    if isinstance(model, Register | CASRegister):
        if call.f == "read":
            return _Effect(expects=((None, call.value),), leaves=())
        if call.f == "write":
            return _Effect(expects=(), leaves=((None, call.value),))
        old, new = call.value
        return _Effect(expects=((None, old),), leaves=((None, new),))
    if isinstance(model, Mutex):
        held = call.f == "acquire"
        return _Effect(expects=((None, not held),), leaves=((None, held),))
    if model.name == KV.name:
        key, v = call.value
        if call.f == "get":
            return _Effect(expects=((key, v),), leaves=())
        if call.f == "put":
            return _Effect(expects=(), leaves=((key, v),))
        raise UsageError("the smt engine models kv get and put, not append; "
                         "use --engine auto, python or native")
    if isinstance(model, MultiRegister):
        expects: dict[Hashable, Any] = {}
        local: dict[Hashable, Any] = {}
        written: dict[Hashable, Any] = {}
        impossible = False
        for f, key, v in call.value:
            if f == "w":
                local[key] = written[key] = v
            elif key in local:
                impossible = impossible or local[key] != v
            else:
                expects[key] = local[key] = v
        return _Effect(expects=tuple(expects.items()), leaves=tuple(written.items()),
                       impossible=impossible)
    raise UsageError(f"the smt engine models the register family (register, cas-register, "
                     f"kv without append, mutex, multi-register), not {model.name}; use "
                     "--engine auto, python or native")


def _initial(model: Model, key: Hashable) -> Any:
    """The value ``key`` holds before any operation."""
    if isinstance(model, MultiRegister):
        return dict(model.init()).get(key)  # type: ignore[arg-type]
    if isinstance(model, KV):
        return freeze(model.initial)
    return model.init()


@dataclass(slots=True)
class _Problem:
    solver: z3.Solver
    pos: list[z3.ArithRef]
    keep: list[z3.BoolRef]


class _Exhausted(Exception):
    """A budget ran out while the problem was being stated; ``args[0]`` names it."""


def _time_check(budget: Budget | None) -> Callable[[], None]:
    """A function that raises `_Exhausted` once the budget's deadline has passed.

    Stating the problem is quadratic in the operations (every pair may be ordered by
    real time), so on a long history it alone can outlast any budget: the encoder
    calls this once per operation of each quadratic loop.
    """
    deadline = None if budget is None else budget.deadline
    if deadline is None:
        return lambda: None

    def check() -> None:
        if time.monotonic() > deadline:
            raise _Exhausted("time")
    return check


@contextmanager
def _memory_capped(budget: Budget) -> Iterator[None]:
    """Let z3 allocate at most the budget's bytes more than it holds now, meanwhile.

    z3 counts its own allocations (``Z3_get_estimated_alloc_size``) and refuses to go
    past ``memory_max_size``, raising "out of memory" (while stating the problem) or
    answering unknown (while solving). The cap is process-wide, so it is lifted again
    as soon as this search ends.
    """
    z3.main_ctx()  # created under the cap, z3's context itself would fail to allocate
    held = z3core.Z3_get_estimated_alloc_size()
    z3.set_param("memory_max_size", max(1, (held + budget.memory_bytes) // 2**20))
    try:
        yield
    finally:
        z3.set_param("memory_max_size", 0)


def _encode(model: Model, calls: Sequence[Call], *, sequential: bool,
            budget: Budget | None = None) -> _Problem:
    """The problem for z3.

    Raises:
        UsageError: the model is beyond the encoding.
        _Exhausted: the budget's deadline passed meanwhile.
    """
    out_of_time = _time_check(budget)
    effects = [_effect(model, c) for c in calls]
    n = len(calls)
    pos = [z3.Int(f"pos_{i}") for i in range(n)]
    on = [z3.Bool(f"on_{i}") for i in range(n)]
    keep = [z3.Bool(f"keep_{i}") for i in range(n)]
    s = z3.Solver()
    if n > 1:
        s.add(z3.Distinct(*pos))
    for i, c in enumerate(calls):
        s.add(pos[i] >= 0)
        if c.known:
            s.add(z3.Implies(keep[i], on[i]))
        if effects[i].impossible:
            s.add(z3.Not(on[i]))
    # Precedence. Real time: a completed before b began. Process order: a completed ok
    # earlier in b's process.
    for b, cb in enumerate(calls):
        out_of_time()
        for a, ca in enumerate(calls):
            if a == b or ca.return_index is None:
                continue
            if sequential:
                before = ca.process == cb.process and ca.known and ca.index < cb.index
            else:
                before = ca.return_index < cb.index
            if before:
                s.add(z3.Implies(z3.And(keep[a], on[a], on[b]), pos[a] < pos[b]))
    writers: dict[Hashable, list[tuple[int, Any]]] = {}
    for i, e in enumerate(effects):
        for key, v in e.leaves:
            writers.setdefault(key, []).append((i, v))
    for i, e in enumerate(effects):
        out_of_time()
        for k, (key, v) in enumerate(e.expects):
            others = [(w, wv) for w, wv in writers.get(key, []) if w != i]
            source = z3.Int(f"src_{i}_{k}")  # the position of the write read from
            choices = []
            for w, wv in others:
                if wv == v:
                    choices.append(z3.And(on[w], pos[w] < pos[i], source == pos[w]))
            if _initial(model, key) == v:
                choices.append(source == -1)
            s.add(z3.Implies(on[i], z3.Or(*choices) if choices else z3.BoolVal(False)))
            for w, _ in others:
                s.add(z3.Implies(z3.And(on[i], on[w]),
                                 z3.Or(pos[w] <= source, pos[w] > pos[i])))
    return _Problem(solver=s, pos=pos, keep=keep)


def _set_timeout(solver: z3.Solver, budget: Budget) -> bool:
    """Give z3 what is left of the budget; False if nothing is."""
    if budget.deadline is None:
        return True
    left = budget.deadline - time.monotonic()
    if left <= 0:
        return False
    solver.set("timeout", max(1, int(left * 1000)))
    return True


def search_smt(model: Model, calls: Sequence[Call], *, sequential: bool,
               budget: Budget) -> Outcome:
    """Is there a valid order of ``calls``? As an `Outcome` like the search engines'.

    A valid outcome's prefix is an order z3 found (of the operations that took
    effect); an invalid one has no prefix (z3 proves there is no order, it does not
    build one partway). Both budgets hold while the problem is stated and while z3
    solves it: the deadline is checked by the encoder and passed to z3, and z3's own
    allocations are capped at the memory budget; running out of either is unknown with
    ``stopped`` naming it.

    Raises:
        UsageError: the model is beyond the encoding (see the module docstring).
    """
    if not any(c.known for c in calls):
        return Outcome(valid=True)
    if budget.deadline is not None and time.monotonic() > budget.deadline:
        return Outcome(valid="unknown", stopped="time")
    with _memory_capped(budget):
        try:
            problem = _encode(model, calls, sequential=sequential, budget=budget)
            if not _set_timeout(problem.solver, budget):
                return Outcome(valid="unknown", stopped="time")
            answer = problem.solver.check(*problem.keep)
        except _Exhausted as e:
            return Outcome(valid="unknown", stopped=e.args[0])
        except z3.Z3Exception as e:
            if "memory" not in str(e):
                raise
            return Outcome(valid="unknown", stopped="memory")
        if answer == z3.unknown:
            why = "memory" if "memory" in problem.solver.reason_unknown() else "time"
            return Outcome(valid="unknown", stopped=why)
    if answer == z3.unsat:
        return Outcome(valid=False)
    m = problem.solver.model()
    placed = [i for i in range(len(calls))
              if z3.is_true(m.eval(z3.Bool(f"on_{i}"), model_completion=True))]
    order = sorted(placed, key=lambda i: m.eval(problem.pos[i], model_completion=True).as_long())
    return Outcome(valid=True, prefix=tuple(order))


class Oracle:
    """One encoding, many questions: do these operations' recorded outcomes contradict?

    Each question keeps the outcomes of some operations and forgets the others' (see
    the module docstring): it is one `z3.Solver.check` under assumptions, so z3 keeps
    what it learned between questions. This is what `labrys.checkers._minimize` asks
    hundreds of times on one history.

    Raises:
        UsageError: the model is beyond the encoding (see the module docstring).
    """

    def __init__(self, model: Model, calls: Sequence[Call], *, sequential: bool):
        self._problem = _encode(model, calls, sequential=sequential)

    def validity(self, keep: Sequence[int], budget: Budget) -> Validity:
        """Is there an order with the outcomes of ``keep`` (positions into the calls)?"""
        if not _set_timeout(self._problem.solver, budget):
            return "unknown"
        answer = self._problem.solver.check(*(self._problem.keep[i] for i in keep))
        return False if answer == z3.unsat else True if answer == z3.sat else "unknown"

    def core(self, keep: Sequence[int], budget: Budget) -> list[int] | None:
        """Positions, among ``keep``, whose outcomes already contradict; None if they do
        not or z3 ran out of time. Small, not minimal: z3's own core minimisation costs
        twenty times the solve on histories of a few hundred operations, and delta
        debugging on the raw core is far cheaper."""
        if self.validity(keep, budget) is not False:
            return None
        core = {str(lit) for lit in self._problem.solver.unsat_core()}
        return [i for i in keep if f"keep_{i}" in core]


def unsat_core(model: Model, calls: Sequence[Call], *, sequential: bool,
               budget: Budget) -> list[int] | None:
    """Positions (into ``calls``) of completed operations whose outcomes admit no order.

    The others are not removed but weakened: as if they had crashed (see the module
    docstring), so a read is never left without the write it may have read from. The
    core is small but not minimal; `labrys.checkers._minimize` shrinks it further.

    Returns:
        The positions in increasing order, or None if the calls are valid or z3 ran
        out of time.
    """
    return Oracle(model, calls, sequential=sequential).core(range(len(calls)), budget)
