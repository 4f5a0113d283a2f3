"""The session workload: reads and writes of unique values, judged by the session guarantees.

Terry et al. (PDIS 1994) define four promises a store makes to each client session: read
your writes, monotonic reads, monotonic writes and writes follow reads. Here every client
process is a session (a client that timed out carries on as a new process, hence a new
session); it reads and writes registers over ``key_count`` keys, and every value written
is unique (1, 2, 3… over the whole run), so that each read names the one write it saw.
The check is the ``session`` checker (`labrys.checkers`): is there a server order that
keeps all four guarantees for every session at once? A store that serves a session's
read from a replica that has not yet applied the session's own write breaks read your
writes; one that lets a session's reads go back in time breaks monotonic reads.

Ops, on the register client every target supplies (value on invocation → on ok):

- ``read``  ``[k, None]`` → ``[k, v]`` (v None when nothing was written to k yet)
- ``write`` ``[k, v]``    → ``[k, v]``

Online (``labrys run --check-online``): the prefix recorded so far is judged again every
so often, beside the run; a contradiction in it is one of the whole history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers import (
    CheckOptions,
    OnlineCheck,
    Verdict,
    check_safe,
    online_check,
    run_checker,
)
from labrys.generator import PENDING, Context, Generator, Invocation, Step
from labrys.history import History
from labrys.options import Option, positive_int
from labrys.workloads._workload import WorkloadEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="key_count", default=3, parse=positive_int,
               expected="a whole number > 0",
               help="keys the sessions read and write (few keys, many collisions)"),
    ]
}


@dataclass(frozen=True, slots=True)
class SessionOps:
    """Endless reads and writes, half each, of random keys; the n-th write writes n."""

    key_count: int
    next_value: int = 1

    def op(self, ctx: Context) -> Step:
        thread = ctx.some_free_thread()
        if thread is None:
            return PENDING
        key = ctx.rng.randrange(self.key_count)
        process = ctx.process_of[thread]
        if ctx.rng.random() < 0.5:
            return (Invocation(f="read", value=[key, None], process=process,
                               time_ns=ctx.time_ns), self)
        return (Invocation(f="write", value=[key, self.next_value], process=process,
                           time_ns=ctx.time_ns),
                SessionOps(self.key_count, self.next_value + 1))


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionWorkload:
    """Sessions of reads and unique writes (see the module docstring)."""

    key_count: int

    @property
    def client_kind(self) -> str:
        return "register"

    def generator(self) -> Generator:
        return SessionOps(self.key_count)

    def check(self, history: History) -> Verdict:
        return check_safe("session", lambda: run_checker("session", history, CheckOptions()))

    def online_check(self) -> OnlineCheck | None:
        return online_check("session", CheckOptions())


def _make(options: Mapping[str, Any]) -> SessionWorkload:
    return SessionWorkload(key_count=options["key_count"])


ENTRY = WorkloadEntry(name="session", summary="sessions reading and writing unique values: "
                      "are Terry's four session guarantees kept?", options=OPTIONS,
                      make=_make)
