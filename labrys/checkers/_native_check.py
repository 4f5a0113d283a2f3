"""The register family checked by the native core on the columns it read, end to end.

A history read by the native reader (`History.native`) is checked for linearizability
under ``register``, ``cas-register`` or ``kv`` (per key) without an `Op` or a `Call`
per operation: the core builds the calls, splits kv keys, applies the exact reductions,
decides each part by the read-mapping or the search (``native/src/registers.rs``,
following `labrys.checkers._decide` step for step), and hands back, for an invalid
part, only the operations its explanation names. Those few become `Call` objects here,
from the history's ops, and the explanation is written by the same Python code as on
every other path, so the verdict reads the same whichever path produced it (the tests
demand it).

The core declines (`native_check` returns None) whatever it does not reproduce exactly,
an operation the model refuses included, and the caller then checks the history the
Python way, which raises the user-facing error.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from labrys.checkers._budgets import EXPLAIN_MEMORY_BYTES, MemoryLimit
from labrys.checkers._linearizable_verdict import Decided
from labrys.checkers._outcome import Outcome, Reduction
from labrys.history import History, Operation
from labrys.models import (
    KV,
    Call,
    CASRegister,
    Inconsistent,
    Independent,
    Model,
    Register,
    freeze,
)
from labrys.models import call_from_operation as _call_from_operation

if TYPE_CHECKING:
    from labrys.checkers._linearizable_explain import Impasse
    from labrys.checkers._read_mapping_explain import Refutation

CallRef = tuple[int, str, bool, int]
"""A call as the core names it: (invocation index, f, known, return index or -1)."""


def _call(history: History, ref: CallRef, *, independent: bool) -> Call:
    """The call the core names, as the part's model sees it (with independent keys, the
    value without its key)."""
    index, f, known, returned = ref
    invocation = history[index]
    call = _call_from_operation(Operation(invocation, history.completion(invocation)))
    assert call is not None
    value = call.value[1] if independent else call.value
    return Call(index=index, process=call.process, f=f, value=value, known=known,
                return_index=None if returned < 0 else returned)


def _impasse(history: History, model: Model, data: Any, *, independent: bool) -> Impasse:
    from labrys.checkers._linearizable_explain import Impasse

    placed, steps, (has_state, before), options, more = data
    calls = [_call(history, ref, independent=independent) for ref in steps]
    state = freeze(before) if has_state else model.init()
    walked = []
    for call in calls:
        state = model.step(state, call)
        if isinstance(state, Inconsistent):  # the core and the model disagree: a bug
            raise AssertionError(f"native prefix replays inconsistently at op {call.index}")
        walked.append((call, state))
    return Impasse(placed=placed, steps=tuple(walked), state=state,
                   options=tuple(_call(history, r, independent=independent) for r in options),
                   more_options=more)


def _refutation(history: History, data: Any, *, independent: bool) -> Refutation:
    from labrys.checkers._read_mapping_explain import Chain, Refutation

    kind, op, others, chains = data
    return Refutation(
        kind=kind, op=_call(history, op, independent=independent),
        others=tuple(None if o is None else _call(history, o, independent=independent)
                     for o in others),
        chains=tuple(Chain(writer=None if w is None else _call(history, w,
                                                               independent=independent),
                           first=freeze(a),
                           last=freeze(b), length=n) for w, a, b, n in chains))


def _named(parts: Any) -> set[int]:
    """The history indices of every operation the explanations will name."""
    named: set[int] = set()
    for *_, explanation in parts:
        if explanation is None:
            continue
        what, data = explanation
        if what == "impasse":
            _, steps, _, options, _ = data
            refs = [*steps, *options]
        else:
            _, op, others, chains = data
            refs = [op, *others, *(w for w, *_ in chains)]
        named.update(ref[0] for ref in refs if ref is not None)
    return named


def native_check(history: History, model: Model, *, partition: bool,
                 deadline: float | None, memory_limit: MemoryLimit,
                 read_mapping: bool) -> tuple[int, list[Decided], Reduction] | None:
    """Each part decided by the core, or None if the core declines this history.

    Args:
        history: a history the native reader read.
        model: ``register``, ``cas-register``, ``kv``, or independent registers.
        partition: per key (the core declines kv or independent keys checked whole).
        deadline, memory_limit: the check's budgets (a `time.monotonic` instant).
        read_mapping: whether the read-mapping may decide parts.

    Returns:
        How many operations the model took (0: nothing to judge), each part decided,
        and what the reductions did.
    """
    columns = history.native()
    independent = isinstance(model, Independent)
    inner = model.inner if isinstance(model, Independent) else model
    if columns is None or not isinstance(inner, Register | CASRegister | KV):
        return None
    timeout_s = None if deadline is None else max(0.0, deadline - time.monotonic())
    result = columns.check_registers(
        inner.name, freeze(inner.initial), independent=independent, partition=partition,
        timeout_s=timeout_s, memory_limit_mb=float(memory_limit.mb),
        explain_mb=EXPLAIN_MEMORY_BYTES / 2**20, read_mapping=read_mapping)
    if result is None:
        return None
    operations, parts, dropped, bounded = result
    history.prefetch(_named(parts))
    decided = []
    for key, count, status, why, algorithm, explored, explanation in parts:
        part_key: Hashable = None if key is None else freeze(key)
        part_model = inner.key_model(part_key) if isinstance(inner, KV) else inner
        valid = {"valid": True, "invalid": False}.get(status, "unknown")
        outcome = Outcome(valid=valid, stopped=why, explored=explored, algorithm=algorithm)
        d = Decided(key=part_key, model=part_model, operations=count, outcome=outcome)
        if explanation is not None:
            what, data = explanation
            if what == "impasse":
                d = replace(d, impasse=_impasse(history, part_model, data,
                                                independent=independent))
            else:
                d = replace(d, refutation=_refutation(history, data, independent=independent))
        decided.append(d)
    return operations, decided, Reduction(dropped=tuple(dropped),
                                          bounded=tuple(map(tuple, bounded)))
