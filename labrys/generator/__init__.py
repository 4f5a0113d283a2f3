"""Generators: pure, deterministic schedules of invocations, in the manner of Jepsen's.

A generator says what to invoke, on which worker, and when: "10 clients doing random
reads, writes and compare-and-sets at 100 ops/s for 60 s, while the nemesis cuts the
network every 10 s, then a final read on every client". It is an immutable value with
one method, ``op(ctx)``, answering None (exhausted), `PENDING` (nothing to do now) or
``(invocation, next_generator)``; everything it may know (the time, the free workers,
a seeded ``random.Random``) comes from the `Context`, so one seed gives one schedule.
``_generator`` holds the protocol and the sources (`once`, `repeat`, `from_fn`,
`sleep`), ``_combinators`` Jepsen's algebra over them (`mix`, `stagger`, `limit`,
`time_limit`, `phases`, `cycle`, `flip_flop`, `reserve`, `each_process`,
`clients`/`nemesis` routing…).

Workloads build generators; the run orchestration (`labrys.harness`) bounds them in time
and rate, adds the nemesis's schedule beside them and interprets the result against real
workers. This package sits below both, so that a workload never imports the harness.

Example:
    >>> import random
    >>> ctx = Context.initial(concurrency=2, rng=random.Random(7))
    >>> invocation, rest = clients(limit(1, repeat(Invocation(f="read")))).op(ctx)
    >>> invocation.f, rest.op(ctx) is None
    ('read', True)
"""

from labrys.generator._combinators import (
    any_of,
    clients,
    cycle,
    each_process,
    flip_flop,
    independent_keys,
    limit,
    mix,
    nemesis,
    phases,
    reserve,
    seq,
    stagger,
    synchronize,
    time_limit,
)
from labrys.generator._generator import (
    DONE,
    PENDING,
    Context,
    Generator,
    Invocation,
    Step,
    Thread,
    from_fn,
    once,
    repeat,
    sleep,
)

__all__ = [
    "DONE",
    "PENDING",
    "Context",
    "Generator",
    "Invocation",
    "Step",
    "Thread",
    "any_of",
    "clients",
    "cycle",
    "each_process",
    "flip_flop",
    "from_fn",
    "independent_keys",
    "limit",
    "mix",
    "nemesis",
    "once",
    "phases",
    "repeat",
    "reserve",
    "seq",
    "sleep",
    "stagger",
    "synchronize",
    "time_limit",
]
