"""The watch workload: writers change a few keys, watchers follow them and must agree.

Jepsen's etcd watch test, over several keys. The first ``writers`` client workers put
unique values on ``key_count`` keys; every other worker is a watcher, whose ``watch``
ops each follow every key for a while from the revision after the last one it saw, as
a client reconnecting after a fault would (the target's client keeps that revision:
etcd's ``watch_s`` option says how long each op watches). Once every fault is healed
and the cluster has had ``final_wait_s`` to recover, each watcher catches up with a
``final-watch``. The ``watch`` checker (`labrys.checkers`) then demands one
gap-free, identically ordered sequence of changes per key, which every watch op saw a
stretch of, and names the first gap, reordering or divergence otherwise.

Ops: ``write {"key": "k0", "value": 17}`` (values unique across the run), ``watch``,
``final-watch``; the results are described in `labrys.checkers._watch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers import CheckOptions, Verdict, check_safe, run_checker
from labrys.generator import (
    DONE,
    PENDING,
    Context,
    Generator,
    Invocation,
    Step,
    each_process,
    once,
    phases,
    reserve,
    sleep,
)
from labrys.history import History
from labrys.options import Option, positive_float, positive_int
from labrys.workloads._workload import WorkloadEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="key_count", default=3, parse=positive_int, expected="a whole number > 0",
               help="how many keys the writers change and the watchers follow"),
        Option(name="writers", default=3, parse=positive_int, expected="a whole number > 0",
               help="how many client workers write; the others watch"),
        Option(name="final_wait_s", default=3.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="how long to let the cluster recover after the final heal before the "
                    "watchers catch up"),
    ]
}


@dataclass(frozen=True, slots=True)
class WritesAndWatches:
    """On the first ``writers`` workers, writes of the values next, next+1, …, each to
    one of ``key_count`` keys at random; on every other worker, ``watch``.

    The worker comes first (any free one, at random) and its role decides the op, so
    watchers are not starved by writers that are always free again a moment later (a
    ``reserve`` would hand every tie to the writers).
    """

    writers: int
    key_count: int
    next: int = 0

    def op(self, ctx: Context) -> Step:
        thread = ctx.some_free_thread()
        if thread is None:
            return PENDING
        process = ctx.process_of[thread]
        if thread not in ctx.threads[:self.writers]:
            return Invocation(f="watch", process=process, time_ns=ctx.time_ns), self
        key = f"k{ctx.rng.randrange(self.key_count)}"
        return (Invocation(f="write", value={"key": key, "value": self.next}, process=process,
                           time_ns=ctx.time_ns),
                WritesAndWatches(self.writers, self.key_count, self.next + 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchWorkload:
    """Unique writes and resuming watches (see the module docstring)."""

    key_count: int
    writers: int
    final_wait_s: float

    @property
    def client_kind(self) -> str:
        return "watch"

    def generator(self) -> Generator:
        return WritesAndWatches(self.writers, self.key_count)

    def final_generator(self) -> Generator:
        return phases(sleep(self.final_wait_s),
                      reserve((self.writers, DONE), default=each_process(once("final-watch"))))

    def check(self, history: History) -> Verdict:
        return check_safe("watch", lambda: run_checker("watch", history, CheckOptions()))


def _make(options: Mapping[str, Any]) -> WatchWorkload:
    return WatchWorkload(key_count=options["key_count"], writers=options["writers"],
                         final_wait_s=options["final_wait_s"])


ENTRY = WorkloadEntry(name="watch", summary="unique writes to a few keys, watchers that "
                      "resume after faults: one ordered, gap-free sequence per key?",
                      options=OPTIONS, make=_make)
