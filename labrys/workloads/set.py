"""The set workload: were acknowledged adds kept?

Clients add distinct integers to one set; once the faults are healed and the cluster
has had ``final_wait_s`` to recover, every client reads the whole set. An element
whose add was acknowledged but which the last successful read lacks is **lost**
(Jepsen's ``set`` checker, `labrys.checkers`). This is the test that shows Redis's
asynchronous failover throwing away writes the old primary acknowledged.

Ops: ``add e`` (e unique across the run) and, at the end, ``read`` → a list of
elements. ``info`` adds that the final read contains are "recovered", not errors.

Why only a final read: the ``set`` checker judges the last read only, and reads in
the middle of a partition would just repeat what that primary had; ``set-full``
would judge every read, at the cost of reading large sets often.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers import CheckOptions, Verdict, check_safe, run_checker
from labrys.generator import PENDING, Context, Generator, Invocation, Step
from labrys.history import History
from labrys.options import Option, positive_float
from labrys.workloads._final_reads import final_reads
from labrys.workloads._workload import WorkloadEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="final_wait_s", default=5.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="how long to let the cluster recover after the final heal before the "
                    "final reads (a failover and resynchronisation take seconds)"),
    ]
}


@dataclass(frozen=True, slots=True)
class Counting:
    """``f`` with the values start, start+1, … forever: unique elements, chosen
    deterministically (the n-th invocation carries n)."""

    f: str
    next: int = 0

    def op(self, ctx: Context) -> Step:
        thread = ctx.some_free_thread()
        if thread is None:
            return PENDING
        return (Invocation(f=self.f, value=self.next, process=ctx.process_of[thread],
                           time_ns=ctx.time_ns), Counting(self.f, self.next + 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class SetWorkload:
    """Unique adds, then final reads (see the module docstring)."""

    final_wait_s: float

    @property
    def client_kind(self) -> str:
        return "set"

    def generator(self) -> Generator:
        return Counting("add")

    def final_generator(self) -> Generator:
        return final_reads(self.final_wait_s)

    def check(self, history: History) -> Verdict:
        return check_safe("set", lambda: run_checker("set", history, CheckOptions()))


def _make(options: Mapping[str, Any]) -> SetWorkload:
    return SetWorkload(final_wait_s=options["final_wait_s"])


ENTRY = WorkloadEntry(name="set", summary="unique adds, then a final read: are acknowledged "
                      "adds kept?", options=OPTIONS, make=_make)
