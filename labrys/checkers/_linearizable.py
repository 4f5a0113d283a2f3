"""The ``linearizable`` and ``sequential`` checkers.

Linearizability (Herlihy and Wing 1990) asks for one total order of a history's
operations that the model accepts and that respects real time: if an operation
completed before another was invoked, it comes first. Sequential consistency (Lamport
1979) drops real time and keeps only each process's own order. The classic pair::

    process 0:  write 1 ──ok
    process 1:                read → nil ──ok       (the register started at nil)

is sequentially consistent (put the read first) but not linearizable (the read began
after the write had completed, so it had to see 1).

Both checkers take the model from ``--model`` (there is no default: guessing a model
from the ops would turn a typo into a verdict) and its initial value from ``--init``.
``fail`` operations certainly did not happen and are dropped; ``info`` operations
(crashed, timed out, or never completed) may have taken effect at any point after
their invocation, or never. The search itself lives in `labrys.checkers._wgl`, the
explanations in `labrys.checkers._linearizable_explain`.

Linearizability is local: a history is linearizable iff each object's sub-history is.
So for a model that partitions (kv, per key) the parts are checked independently,
unless ``options.extra["partition"]`` is False. Sequential consistency is *not* local
(two registers can each be sequentially consistent while the pair is not), so the
``sequential`` checker always searches the whole history.

Before any search, `labrys.checkers._reduce` simplifies each part exactly (crashed
writes nobody observed dropped, crashed writes bounded by their first observer,
multi-registers split by the keys transactions connect); then the engine of
``options.engine`` searches (`labrys.checkers._native_engine`: the Rust core when
installed, the Python reference otherwise, or z3). With ``options.minimize``, an
invalid verdict also carries a 1-minimal invalid sub-history (`labrys.checkers._minimize`).

Budgets: ``timeout_s`` (none by default) and ``memory_limit_mb`` (default
`DEFAULT_MEMORY_LIMIT_MB`) bound one check as a whole, from preparing the calls through
every engine's search to ``--minimize``; running out gives ``unknown`` naming the budget
that ran out.

Values of ``[key value]`` with ``options.independent`` are independent keys
(`labrys.models.Independent`): each key is its own object of the model, and the parts
are the keys. A history with no operation that may have taken effect (none at all, or only failed
ones and crashed reads) has nothing to judge and is unknown, never vacuously valid.
"""

from __future__ import annotations

import dataclasses
import time

from labrys.checkers._linearizable_explain import verdict
from labrys.checkers._native_engine import ENGINES, search_parts
from labrys.checkers._reduce import reduce_parts
from labrys.checkers._registry import CheckOptions
from labrys.checkers._verdict import Verdict, nothing_to_judge
from labrys.checkers._wgl import Budget
from labrys.errors import UsageError
from labrys.history import History
from labrys.models import Part, Partitionable, call_from_operation, get_model

DEFAULT_MEMORY_LIMIT_MB = 2048
"""The memo budget when none is given: enough for millions of search states, well below
what a CI machine has."""


def check_linearizable(history: History, options: CheckOptions) -> Verdict:
    """Is there an order of the history's operations that respects real time and the model?

    Raises:
        UsageError: no model, an unknown model, an engine that is not available, or
            operations the model does not know.
    """
    return _check("linearizable", history, options, sequential=False)


def check_sequential(history: History, options: CheckOptions) -> Verdict:
    """Is there an order that respects each process's own order and the model?

    Raises:
        UsageError: as for `check_linearizable`.
    """
    return _check("sequential", history, options, sequential=True)


def _check(name: str, history: History, options: CheckOptions, *, sequential: bool) -> Verdict:
    if options.engine not in ENGINES:
        raise UsageError(f"unknown engine {options.engine!r}; choose one of: "
                         f"{', '.join(ENGINES)}")
    if options.timeout_s is not None and options.timeout_s <= 0:
        raise UsageError(f"the timeout is a positive number of seconds, not {options.timeout_s}")
    if options.memory_limit_mb is not None and options.memory_limit_mb <= 0:
        raise UsageError(f"the memory limit is a positive number of MB, not "
                         f"{options.memory_limit_mb}")
    partition = options.extra.get("partition", True)
    if not isinstance(partition, bool):
        raise UsageError(f"the partition option is true or false, not {partition!r}")
    memory_limit_mb = options.memory_limit_mb or DEFAULT_MEMORY_LIMIT_MB
    # The budget starts now: preparing and reducing a long history is part of the check.
    budget = Budget(
        deadline=None if options.timeout_s is None else time.monotonic() + options.timeout_s,
        memory_bytes=memory_limit_mb * 2**20,
    )
    model = get_model(options.model, options.init, independent=options.independent)
    model.init()  # a bad initial value is a usage error before any search
    calls = model.prepare([c for c in map(call_from_operation, history.operations())
                           if c is not None])
    if not calls:
        return nothing_to_judge(name, f"operation of the {model.name} model that may have "
                                "taken effect (failed ones certainly did not, and a crashed "
                                "read saw nothing)", details={"model": model.name})
    if partition and not sequential and isinstance(model, Partitionable):
        partitioned, parts = True, model.partition(calls)
    else:
        partitioned, parts = False, [Part(key=None, calls=calls, model=model)]
    parts, reduction = reduce_parts(parts, sequential=sequential, deadline=budget.deadline)
    outcomes = search_parts(parts, sequential=sequential, budget=budget, engine=options.engine)
    result = verdict(name, model, parts, outcomes, sequential=sequential,
                     partitioned=partitioned or reduction.split > 0,
                     timeout_s=options.timeout_s, memory_limit_mb=memory_limit_mb)
    details = {**result.details, "engine": options.engine, "reduction": reduction.to_json()}
    anomalies = result.anomalies
    if options.minimize and result.valid is False:
        # Imported here: only --minimize pays for z3.
        from labrys.checkers._minimize import minimal_anomaly, minimize

        left_s = None if budget.deadline is None else budget.deadline - time.monotonic()
        minimal = None
        if left_s is None or left_s > 0:
            minimal = minimize(history, dataclasses.replace(options, timeout_s=left_s),
                               sequential=sequential)
        if minimal is not None:
            anomalies = (minimal_anomaly(minimal, model, sequential=sequential), *anomalies)
            details["minimal"] = {"ops": list(minimal.ops), "one_minimal": minimal.one_minimal,
                                  "checks": minimal.checks}
    return dataclasses.replace(result, details=details, anomalies=anomalies)
