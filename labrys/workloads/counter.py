"""The counter workload: increments under faults, and reads that must add up.

Clients add 1 to one counter (Redis ``INCRBY``, an SQL ``UPDATE … n = n + 1``) and
read it; after the final heal and ``final_wait_s`` every client reads once more. A
read lower than the sum of adds acknowledged before it began lost an increment (an
acknowledged INCR on a Redis primary that was then demoted); a read higher than every
add attempted counted one twice (a retried increment). Jepsen's ``counter`` checker.

Ops: ``add 1`` and ``read`` → an integer.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers import CheckOptions, Verdict, check_safe, run_checker
from labrys.generator import Generator, Invocation, from_fn, mix
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
                    "final reads"),
    ]
}


def _add(rng: random.Random) -> Invocation:
    return Invocation(f="add", value=1)


def _read(rng: random.Random) -> Invocation:
    return Invocation(f="read")


@dataclass(frozen=True, slots=True, kw_only=True)
class CounterWorkload:
    """Adds and reads of one counter (see the module docstring)."""

    final_wait_s: float

    @property
    def client_kind(self) -> str:
        return "counter"

    def generator(self) -> Generator:
        return mix([from_fn(_add), from_fn(_add), from_fn(_read)])

    def final_generator(self) -> Generator:
        return final_reads(self.final_wait_s)

    def check(self, history: History) -> Verdict:
        return check_safe("counter", lambda: run_checker("counter", history, CheckOptions()))


def _make(options: Mapping[str, Any]) -> CounterWorkload:
    return CounterWorkload(final_wait_s=options["final_wait_s"])


ENTRY = WorkloadEntry(name="counter", summary="increments and reads of one counter: are "
                      "acknowledged increments kept, none counted twice?", options=OPTIONS,
                      make=_make)
