"""Generators: what operations to invoke, on which worker, and when.

The problem: a test needs schedules such as "10 clients doing random reads, writes and
compare-and-sets at 100 ops/s for 60 s, while the nemesis cuts the network every 10 s,
then heal and do a final read on every client", and the same seed must give the same
schedule. Jepsen's answer (``jepsen.generator``) is a small algebra of pure
generators, and labrys follows it closely.

The central abstraction is `Generator`: an immutable value with one method,
``op(ctx)``, that answers one of three things:

- ``None``: exhausted, it will never produce another op;
- `PENDING`: nothing to do now (for example no worker it may use is free), ask again
  after something changes;
- ``(invocation, next_generator)``: invoke this, and ask ``next_generator`` afterwards.

Because generators are values, asking the same generator twice with the same context
gives the same answer, and the interpreter may ask, look at the answer (an op
scheduled in the future), and ask again later without having consumed anything.
Everything a generator needs to know about the world comes from the `Context`: the
time (ns since the run began), which worker threads are free and which process each
one currently runs, and a seeded ``random.Random`` that is the only source of
randomness. Given the same sequence of contexts, a generator produces the same
invocations.

Example (``limit`` is one of the combinators in ``_combinators.py``)::

    ctx = Context.initial(concurrency=2, rng=random.Random(7))
    g = limit(2, repeat(Invocation(f="read")))
    inv, g = g.op(ctx)      # inv.f == "read", inv.process in (0, 1), inv.time_ns == 0

Threads versus processes: a *thread* is a worker slot (client workers are numbered 0…
concurrency-1, the nemesis worker is ``"nemesis"``); a *process* is the logical client
a thread currently runs. When a call ends ``info`` the thread carries on as a new
process (process + concurrency), as in Jepsen, because the old process may still have
an operation in flight inside the database.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from labrys.history import NEMESIS, Process

Thread = int | str
"""A worker slot: client workers are 0…concurrency-1, the nemesis worker is "nemesis"."""


class _Pending:
    __slots__ = ()

    def __repr__(self) -> str:
        return "PENDING"


PENDING: Final = _Pending()
"""A generator's answer when it has nothing to do yet but is not exhausted."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Invocation:
    """One thing for a worker to do.

    Attributes:
        f: the function (``read``, ``write``, ``cas``, ``start-partition``…).
        value: its argument.
        process: the process that will invoke it (filled in by the generator from the
            context; None until then).
        time_ns: the earliest time it may be invoked, ns since the run began.
        sleep_ns: when set, this is not an operation: the worker sleeps this long and
            nothing is recorded (Jepsen's ``sleep``).
    """

    f: str
    value: Any = None
    process: Process | None = None
    time_ns: int = 0
    sleep_ns: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a generator may know: the time, the free workers, their processes, the RNG.

    A context may be a *view*: `restrict` hides threads, which is how ``clients(g)``
    keeps ``g`` off the nemesis worker.

    Attributes:
        time_ns: now, in ns since the run began.
        threads: the threads of this view, in a fixed order.
        free: the threads of this view that are idle now.
        process_of: the process each thread currently runs.
        rng: the run's seeded random source, the only randomness a generator may use.
    """

    time_ns: int
    threads: tuple[Thread, ...]
    free: frozenset[Thread]
    process_of: Mapping[Thread, Process]
    rng: random.Random

    @classmethod
    def initial(cls, *, concurrency: int, rng: random.Random, nemesis: bool = True,
                time_ns: int = 0) -> Context:
        """The context at the start of a run: every thread free, process = thread."""
        threads: tuple[Thread, ...] = tuple(range(concurrency)) + ((NEMESIS,) if nemesis else ())
        return cls(time_ns=time_ns, threads=threads, free=frozenset(threads),
                   process_of={t: t for t in threads}, rng=rng)

    def some_free_thread(self) -> Thread | None:
        """A free thread chosen with the context's RNG, or None if none is free.

        Random rather than lowest-first: clients are bound to nodes by thread, so
        always choosing the lowest free thread would send a slow workload to one node.
        """
        if not self.free:
            return None
        if len(self.free) == 1:
            return next(iter(self.free))
        candidates = [t for t in self.threads if t in self.free]
        return candidates[self.rng.randrange(len(candidates))]

    def all_free(self) -> bool:
        return len(self.free) == len(self.threads)

    def restrict(self, keep: Callable[[Thread], bool]) -> Context:
        """A view of this context holding only the threads ``keep`` accepts."""
        # Built directly rather than with dataclasses.replace: this runs once per op
        # per routing combinator, and replace costs several times more.
        return Context(time_ns=self.time_ns, threads=tuple(filter(keep, self.threads)),
                       free=frozenset(filter(keep, self.free)),
                       process_of=self.process_of, rng=self.rng)


Step = tuple[Invocation, "Generator"] | _Pending | None
"""What `Generator.op` answers: an invocation and the next generator, PENDING, or None."""


class Generator(Protocol):
    """An immutable schedule of invocations (see the module docstring)."""

    def op(self, ctx: Context) -> Step:
        """The next invocation and the generator after it, PENDING, or None if exhausted.

        Contract: pure. The same generator asked with equal contexts (and an RNG in the
        same state) gives the same answer, and asking changes nothing.
        """
        ...


def is_client(thread: Thread) -> bool:
    return isinstance(thread, int)


def _fill(inv: Invocation, ctx: Context) -> Step:
    """``inv`` given to some free thread of ``ctx`` at ``ctx``'s time, or PENDING."""
    thread = ctx.some_free_thread()
    if thread is None:
        return PENDING
    return Invocation(f=inv.f, value=inv.value, process=ctx.process_of[thread],
                      time_ns=ctx.time_ns, sleep_ns=inv.sleep_ns), _DONE


@dataclass(frozen=True, slots=True)
class _Exhausted:
    def op(self, ctx: Context) -> Step:
        return None


_DONE: Final = _Exhausted()


@dataclass(frozen=True, slots=True)
class Once:
    """One invocation, on whichever free thread the context offers, then exhausted."""

    invocation: Invocation

    def op(self, ctx: Context) -> Step:
        return _fill(self.invocation, ctx)


@dataclass(frozen=True, slots=True)
class Repeat:
    """The same invocation forever."""

    invocation: Invocation

    def op(self, ctx: Context) -> Step:
        step = _fill(self.invocation, ctx)
        return step if not isinstance(step, tuple) else (step[0], self)


@dataclass(frozen=True, slots=True)
class FromFn:
    """Invocations made by ``fn(rng)`` forever: the usual source of random client ops.

    ``fn`` must take all its randomness from the RNG it is given.
    """

    fn: Callable[[random.Random], Invocation]

    def op(self, ctx: Context) -> Step:
        if not ctx.free:
            return PENDING
        step = _fill(self.fn(ctx.rng), ctx)
        return step if not isinstance(step, tuple) else (step[0], self)


def once(f: str, value: Any = None) -> Generator:
    """A generator of exactly one invocation of ``f`` with ``value``."""
    return Once(Invocation(f=f, value=value))


def repeat(invocation: Invocation) -> Generator:
    """``invocation`` forever (bound it with `limit` or `time_limit`)."""
    return Repeat(invocation)


def from_fn(fn: Callable[[random.Random], Invocation]) -> Generator:
    """Invocations from ``fn(rng)`` forever."""
    return FromFn(fn)


def sleep(seconds: float) -> Generator:
    """One worker sleeps ``seconds``; nothing is recorded (Jepsen's ``sleep``).

    Under `nemesis`, this is how a schedule waits between faults.
    """
    return Once(Invocation(f="sleep", sleep_ns=int(seconds * 1e9)))


DONE: Generator = _DONE
"""The generator that is already exhausted."""
