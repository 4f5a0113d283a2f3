"""The lock workload: acquire a lock, update a shared value under it, release.

Jepsen's etcd lock tests in one. Every client repeats acquire, ``update E``, release:
the update reads a shared list and writes it back with its own unique element E
appended, a read-modify-write that only the lock protects (unless the target fences it,
etcd's ``lock_guard=lock-key``). Once every fault is healed and the cluster has had
``final_wait_s`` to recover, every client reads the list. The ``lock`` checker
(`labrys.checkers`) reports every pair of clients that held the lock at once, judged
by when their acquires completed and their releases were invoked, and every update
whose element the final read lacks.

Under process pauses, a lease-based lock (etcd's) loses its holder's lease while the
holder's requests wait on a frozen member; the next client gets the lock, the first
resumes believing it still holds it, and both write: what Jepsen found in etcd 3.4.3.

Ops: ``acquire``, ``update E`` (E unique across the run), ``release``, and ``read`` at
the end; results as `labrys.checkers._lock` describes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers import CheckOptions, Verdict, check_safe, run_checker
from labrys.generator import PENDING, Context, Generator, Invocation, Step
from labrys.history import History, Process
from labrys.options import Option, positive_float
from labrys.workloads._final_reads import final_reads
from labrys.workloads._workload import WorkloadEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="final_wait_s", default=3.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="how long to let the cluster recover after the final heal before the "
                    "final reads"),
    ]
}

_CYCLE = ("acquire", "update", "release")


@dataclass(frozen=True, slots=True)
class LockCycles:
    """Each process repeats acquire, update, release; update elements 0, 1, … in order.

    A process that crashed (a new process on its thread) starts again at acquire.

    Attributes:
        steps: where each process is in the cycle, as ``(process, step)`` pairs.
        next: the next update element.
    """

    steps: tuple[tuple[Process, int], ...] = ()
    next: int = 0

    def op(self, ctx: Context) -> Step:
        thread = ctx.some_free_thread()
        if thread is None:
            return PENDING
        process = ctx.process_of[thread]
        steps = dict(self.steps)
        f = _CYCLE[steps.get(process, 0)]
        steps[process] = (steps.get(process, 0) + 1) % len(_CYCLE)
        value = self.next if f == "update" else None
        return (Invocation(f=f, value=value, process=process, time_ns=ctx.time_ns),
                LockCycles(tuple(steps.items()), self.next + (f == "update")))


@dataclass(frozen=True, slots=True, kw_only=True)
class LockWorkload:
    """Acquire, update, release, and final reads (see the module docstring)."""

    final_wait_s: float

    @property
    def client_kind(self) -> str:
        return "lock"

    def generator(self) -> Generator:
        return LockCycles()

    def final_generator(self) -> Generator:
        return final_reads(self.final_wait_s)

    def check(self, history: History) -> Verdict:
        return check_safe("lock", lambda: run_checker("lock", history, CheckOptions()))


def _make(options: Mapping[str, Any]) -> LockWorkload:
    return LockWorkload(final_wait_s=options["final_wait_s"])


ENTRY = WorkloadEntry(name="lock", summary="acquire, update a shared list, release: do "
                      "two clients ever hold the lock at once, is an update lost?",
                      options=OPTIONS, make=_make)
