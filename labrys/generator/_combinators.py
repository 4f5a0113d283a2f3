"""Generator combinators: Jepsen's algebra of schedules, as immutable values.

Each combinator wraps one or more generators and is itself a generator (see
``_generator.py`` for the protocol). They are frozen dataclasses, so "the generator
after this op" is a new value and the old one is untouched: that is what makes the
interpreter free to ask, look and ask again, and what makes ``cycle`` a one-liner.

Example, the default register test (clients and nemesis run side by side)::

    any_of(
        clients(time_limit(60, stagger(0.01, independent_keys(100, mix([r, w, cas]))))),
        nemesis(cycle(phases(sleep(10), once("start-partition"),
                             sleep(10), once("stop-partition")))),
    )

Non-obvious choices:

- *Soonest first.* Where several children could answer (`any_of`, `reserve`,
  `each_process`), the invocation with the earliest time wins and ties go to the
  earlier child, so the answer is deterministic.
- *Exhaustion versus pending.* A combinator with several children is exhausted only
  when all are; it is PENDING when none has an op but some might later.
- *time_limit starts at its first op*, as Jepsen's, so a time limit inside ``phases``
  counts from when its phase begins, not from the start of the run.
- *stagger* spaces ops by uniformly random gaps in [0, 2·dt), so the mean rate over
  all workers is 1/dt; gaps are measured from the previous op's scheduled time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from labrys.generator._generator import (
    PENDING,
    Context,
    Generator,
    Invocation,
    Step,
    Thread,
    is_client,
)
from labrys.history import NEMESIS, Process

_NS = 1_000_000_000


def _is_nemesis(thread: Thread) -> bool:
    return thread == NEMESIS


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``remaining`` invocations of ``gen``."""

    remaining: int
    gen: Generator

    def op(self, ctx: Context) -> Step:
        if self.remaining <= 0:
            return None
        step = self.gen.op(ctx)
        if not isinstance(step, tuple):
            return step
        inv, rest = step
        return inv, Limit(self.remaining - 1, rest)


@dataclass(frozen=True, slots=True)
class TimeLimit:
    """``gen`` until ``limit_ns`` after its first invocation; then exhausted."""

    limit_ns: int
    gen: Generator
    cutoff_ns: int | None = None

    def op(self, ctx: Context) -> Step:
        if self.cutoff_ns is not None and ctx.time_ns >= self.cutoff_ns:
            return None
        step = self.gen.op(ctx)
        if not isinstance(step, tuple):
            return step
        inv, rest = step
        cutoff = inv.time_ns + self.limit_ns if self.cutoff_ns is None else self.cutoff_ns
        if inv.time_ns >= cutoff:
            return None
        return inv, TimeLimit(self.limit_ns, rest, cutoff)


@dataclass(frozen=True, slots=True)
class Stagger:
    """``gen``'s invocations at random intervals averaging ``dt_ns`` (Jepsen's stagger)."""

    dt_ns: int
    gen: Generator
    next_ns: int | None = None

    def op(self, ctx: Context) -> Step:
        step = self.gen.op(ctx)
        if not isinstance(step, tuple):
            return step
        inv, rest = step
        not_before = ctx.time_ns if self.next_ns is None else self.next_ns
        if inv.time_ns < not_before:
            inv = dataclasses.replace(inv, time_ns=not_before)
        gap = int(ctx.rng.random() * 2 * self.dt_ns)
        return inv, Stagger(self.dt_ns, rest, inv.time_ns + gap)


@dataclass(frozen=True, slots=True)
class Seq:
    """Each generator in turn, moving on when one is exhausted (no synchronisation)."""

    gens: tuple[Generator, ...]

    def op(self, ctx: Context) -> Step:
        for i, gen in enumerate(self.gens):
            step = gen.op(ctx)
            if step is None:
                continue
            if not isinstance(step, tuple):
                return step
            inv, rest = step
            return inv, Seq((rest, *self.gens[i + 1:]))
        return None


@dataclass(frozen=True, slots=True)
class Synchronize:
    """Waits until every thread of the context is free, then behaves as ``gen``."""

    gen: Generator

    def op(self, ctx: Context) -> Step:
        if not ctx.all_free():
            return PENDING
        return self.gen.op(ctx)


@dataclass(frozen=True, slots=True)
class Mix:
    """Each invocation from a generator chosen uniformly at random; exhausted ones drop out."""

    gens: tuple[Generator, ...]

    def op(self, ctx: Context) -> Step:
        gens = self.gens
        while gens:
            i = ctx.rng.randrange(len(gens))
            step = gens[i].op(ctx)
            if step is None:
                gens = gens[:i] + gens[i + 1:]
                continue
            if not isinstance(step, tuple):
                return step
            inv, rest = step
            return inv, Mix((*gens[:i], rest, *gens[i + 1:]))
        return None


@dataclass(frozen=True, slots=True)
class Cycle:
    """``gen`` again from its start each time it is exhausted, ``times`` times or forever."""

    gen: Generator
    current: Generator | None = None
    times: int | None = None

    def op(self, ctx: Context) -> Step:
        current = self.gen if self.current is None else self.current
        times = self.times
        step = current.op(ctx)
        if step is None:
            if times is not None and times <= 1:
                return None
            times = None if times is None else times - 1
            step = self.gen.op(ctx)
            if step is None:  # a generator that is empty from the start would spin
                return None
        if not isinstance(step, tuple):
            return step
        inv, rest = step
        return inv, Cycle(self.gen, rest, times)


@dataclass(frozen=True, slots=True)
class FlipFlop:
    """Alternates invocations of ``a`` and ``b``; exhausted as soon as the one due is."""

    a: Generator
    b: Generator

    def op(self, ctx: Context) -> Step:
        step = self.a.op(ctx)
        if not isinstance(step, tuple):
            return step
        inv, rest = step
        return inv, FlipFlop(self.b, rest)


@dataclass(frozen=True, slots=True)
class OnThreads:
    """``gen`` seeing only the threads ``keep`` accepts (Jepsen's ``on-threads``)."""

    keep: Callable[[Thread], bool]
    gen: Generator

    def op(self, ctx: Context) -> Step:
        step = self.gen.op(ctx.restrict(self.keep))
        if not isinstance(step, tuple):
            return step
        inv, rest = step
        return inv, OnThreads(self.keep, rest)


def _soonest(steps: Sequence[Step]) -> tuple[int, Invocation] | None:
    best: tuple[int, Invocation] | None = None
    for i, step in enumerate(steps):
        if isinstance(step, tuple) and (best is None or step[0].time_ns < best[1].time_ns):
            best = (i, step[0])
    return best


@dataclass(frozen=True, slots=True)
class AnyOf:
    """Every generator at once, each seeing the whole context; the soonest op wins."""

    gens: tuple[Generator, ...]

    def op(self, ctx: Context) -> Step:
        steps = [g.op(ctx) for g in self.gens]
        best = _soonest(steps)
        if best is None:
            return PENDING if any(s is not None for s in steps) else None
        i, inv = best
        rest = steps[i][1]  # type: ignore[index]
        # Children that said None are exhausted for good and drop out.
        gens = tuple(rest if j == i else g for j, g in enumerate(self.gens)
                     if steps[j] is not None)
        return inv, AnyOf(gens)


@dataclass(frozen=True, slots=True)
class _InSet:
    threads: frozenset[Thread]

    def __call__(self, thread: Thread) -> bool:
        return thread in self.threads


@dataclass(frozen=True, slots=True)
class Reserve:
    """The first ``counts[0]`` threads run ``gens[0]``, the next ``counts[1]`` ``gens[1]``…,
    and the remaining threads ``default`` (Jepsen's ``reserve``)."""

    counts: tuple[int, ...]
    gens: tuple[Generator, ...]
    default: Generator

    def op(self, ctx: Context) -> Step:
        groups: list[frozenset[Thread]] = []
        start = 0
        for count in self.counts:
            groups.append(frozenset(ctx.threads[start:start + count]))
            start += count
        groups.append(frozenset(ctx.threads[start:]))
        children = (*self.gens, self.default)
        steps = [g.op(ctx.restrict(_InSet(group))) for g, group in zip(children, groups,
                                                                         strict=True)]
        best = _soonest(steps)
        if best is None:
            return PENDING if any(s is not None for s in steps) else None
        i, inv = best
        rest = steps[i][1]  # type: ignore[index]
        new = tuple(rest if j == i else g for j, g in enumerate(children))
        return inv, Reserve(self.counts, new[:-1], new[-1])


@dataclass(frozen=True, slots=True)
class EachProcess:
    """A fresh copy of ``gen`` for every process (Jepsen's ``each-process``).

    A thread that becomes a new process after a crash starts ``gen`` from the start.
    Exhausted once every thread is free and every current process's copy is exhausted.
    """

    gen: Generator
    state: Mapping[Process, Generator] = field(default_factory=dict)

    def op(self, ctx: Context) -> Step:
        best: tuple[Process, Invocation, Generator] | None = None
        exhausted = 0
        for thread in ctx.threads:
            if thread not in ctx.free:
                continue
            process = ctx.process_of[thread]
            gen = self.state.get(process, self.gen)
            step = gen.op(ctx.restrict(_InSet(frozenset((thread,)))))
            if step is None:
                exhausted += 1
            elif isinstance(step, tuple) and (best is None or step[0].time_ns < best[1].time_ns):
                best = (process, step[0], step[1])
        if best is None:
            return None if exhausted == len(ctx.threads) else PENDING
        process, inv, rest = best
        return inv, EachProcess(self.gen, {**self.state, process: rest})


@dataclass(frozen=True, slots=True)
class IndependentKeys:
    """``gen``'s values as ``[key, value]``, ``ops_per_key`` invocations per key, then a
    fresh key and a fresh ``gen`` (Jepsen's ``independent`` generators).

    Bounding the ops per key keeps per-key linearizability checking tractable however
    long the run: the search is exponential in the concurrency of one key's history,
    not in the length of the whole history.
    """

    ops_per_key: int
    gen: Generator
    key: int = 0
    used: int = 0
    current: Generator | None = None

    def op(self, ctx: Context) -> Step:
        key, current = self.key, self.gen if self.current is None else self.current
        step = current.op(ctx)
        if step is None:
            key, current = key + 1, self.gen
            step = current.op(ctx)
            if step is None:
                return None
        if not isinstance(step, tuple):
            return step
        inv, rest = step
        inv = Invocation(f=inv.f, value=[key, inv.value], process=inv.process,
                         time_ns=inv.time_ns, sleep_ns=inv.sleep_ns)
        used = self.used + 1 if key == self.key else 1
        if used >= self.ops_per_key:
            return inv, IndependentKeys(self.ops_per_key, self.gen, key + 1, 0, None)
        return inv, IndependentKeys(self.ops_per_key, self.gen, key, used, rest)


def limit(n: int, gen: Generator) -> Generator:
    """At most ``n`` invocations of ``gen``."""
    return Limit(n, gen)


def time_limit(seconds: float, gen: Generator) -> Generator:
    """``gen`` for ``seconds`` after its first invocation."""
    return TimeLimit(int(seconds * _NS), gen)


def stagger(seconds: float, gen: Generator) -> Generator:
    """``gen`` at random intervals in [0, 2·seconds): a mean rate of 1/seconds ops/s."""
    return Stagger(int(seconds * _NS), gen)


def seq(*gens: Generator) -> Generator:
    """Each of ``gens`` in turn."""
    return Seq(tuple(gens))


def synchronize(gen: Generator) -> Generator:
    """``gen`` once every thread it can see is free."""
    return Synchronize(gen)


def phases(*gens: Generator) -> Generator:
    """Each of ``gens`` in turn, each starting only when all threads are free."""
    return Seq(tuple(Synchronize(g) for g in gens))


def mix(gens: Sequence[Generator]) -> Generator:
    """Each invocation from one of ``gens`` chosen at random."""
    return Mix(tuple(gens))


def cycle(gen: Generator, times: int | None = None) -> Generator:
    """``gen`` over and over (``times`` times, or forever)."""
    return Cycle(gen, None, times)


def flip_flop(a: Generator, b: Generator) -> Generator:
    """Alternately an invocation of ``a`` and one of ``b``."""
    return FlipFlop(a, b)


def any_of(*gens: Generator) -> Generator:
    """All of ``gens`` side by side; the soonest invocation wins."""
    return AnyOf(tuple(gens))


def clients(gen: Generator) -> Generator:
    """``gen`` on client workers only."""
    return OnThreads(is_client, gen)


def nemesis(gen: Generator) -> Generator:
    """``gen`` on the nemesis worker only."""
    return OnThreads(_is_nemesis, gen)


def reserve(*groups: tuple[int, Generator], default: Generator) -> Generator:
    """Dedicated threads: ``reserve((2, writes), default=reads)``."""
    return Reserve(tuple(n for n, _ in groups), tuple(g for _, g in groups), default)


def each_process(gen: Generator) -> Generator:
    """An independent copy of ``gen`` for every process."""
    return EachProcess(gen)


def independent_keys(ops_per_key: int, gen: Generator) -> Generator:
    """``gen`` over a sequence of fresh keys, ``ops_per_key`` invocations each."""
    return IndependentKeys(ops_per_key, gen)
