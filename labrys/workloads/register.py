"""The register workload: reads, writes and compare-and-sets over independent keys.

The oldest Jepsen test, and still the sharpest for a consensus store: clients read,
write and compare-and-set small integers, and the history must be linearizable. A
stale read (served by a member cut off from the leader), a lost acknowledged write or
a cas that saw a value it should not have all make it invalid.

Independent keys (Jepsen's ``jepsen.independent``). Checking linearizability is
NP-complete in general and the search grows with the number of concurrent and
indeterminate ops, so one long-lived register would become uncheckable after a few
thousand ops under faults. Instead each key gets ``ops_per_key`` ops and then the
workload moves to a fresh key; values are ``[key, v]``. Keys never interact, so the
history is linearizable iff each key's sub-history is (locality, Herlihy and Wing
1990), and each key is a small search.

Ops (value on invocation → value on ok):

- ``read``  ``[k, None]`` → ``[k, v]`` (v None when the key was never written)
- ``write`` ``[k, v]``    → ``[k, v]``
- ``cas``   ``[k, [old, new]]`` → ``[k, [old, new]]``; a cas whose comparison failed is
  ``fail`` (it certainly did not write). ``--option cas=false`` leaves cas out, for
  stores that have no compare-and-set (Cassandra without lightweight transactions).

Values. By default they are drawn from ``0…values-1``, as Jepsen's register test draws
them: few values, so a cas often finds the value it expects. With ``values=unique``
every write and cas of a key writes a value never written to it before (1, 2, 3…), and
a cas expects one of the last few values written to the key. Then every read names the
one write it saw, and linearizability is decided in polynomial time by the read-mapping
(`labrys.checkers._read_mapping`) however many operations a key gets and however many
clients share it: raise ``ops_per_key`` as far as the test needs.

Checks: the ``register`` checker (`labrys.checkers`): ``linearizable`` per key against
the ``cas-register`` model (initial value None: etcd's missing key), and ``stats``
(ok/fail/info counts per function). The same checker re-checks a stored run
(``labrys check --checker register``), so a run and its re-check cannot disagree.

Online (``labrys run --check-online``, on by default here): each key is judged for
linearizability as soon as its ``ops_per_key`` invocations are in, while the run goes
on; a key found invalid then is invalid in the final verdict too.
"""

from __future__ import annotations

import random
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
from labrys.generator import (
    PENDING,
    Context,
    Generator,
    Invocation,
    Step,
    from_fn,
    independent_keys,
    mix,
    once,
)
from labrys.history import History
from labrys.options import Option, boolean, positive_float, positive_int
from labrys.workloads._workload import WorkloadEntry

UNIQUE = "unique"
"""The ``values`` option's word for "every written value new"."""

RECENT = 3
"""How many of the last values written a cas chooses its expected value from."""


def _values(text: str) -> int | str:
    """A positive number of values, or `UNIQUE`."""
    return UNIQUE if text == UNIQUE else positive_int(text)

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="ops_per_key", default=100, parse=positive_int,
               expected="a whole number of ops > 0",
               help="ops each key receives before the workload moves to a fresh key"),
        Option(name="values", default=5, parse=_values,
               expected=f"a whole number > 0, or {UNIQUE}",
               help="values are drawn from 0…values-1 (few values, many collisions); with "
                    f"{UNIQUE}, every write of a key writes a new value, and linearizability "
                    "is decided in polynomial time however long a key lives"),
        Option(name="check_timeout_s", default=60.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="the linearizability search's budget, all keys together; past it, "
                    "unknown"),
        Option(name="cas", default=True, parse=boolean, expected="true or false",
               help="false: reads and writes only, for stores with no compare-and-set"),
    ]
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterWorkload:
    """Read/write/cas over independent keys (see the module docstring)."""

    ops_per_key: int
    values: int | str
    check_timeout_s: float
    cas: bool = True

    @property
    def client_kind(self) -> str:
        return "register"

    def generator(self) -> Generator:
        if self.values == UNIQUE:
            return independent_keys(self.ops_per_key, UniqueValues())
        n = int(self.values)

        def read(rng: random.Random) -> Invocation:
            return Invocation(f="read")

        def write(rng: random.Random) -> Invocation:
            return Invocation(f="write", value=rng.randrange(n))

        def cas(rng: random.Random) -> Invocation:
            return Invocation(f="cas", value=[rng.randrange(n), rng.randrange(n)])

        ops = [from_fn(read), from_fn(write)] + ([from_fn(cas)] if self.cas else [])
        return independent_keys(self.ops_per_key, mix(ops))

    def check(self, history: History) -> Verdict:
        return check_safe("register", lambda: run_checker("register", history,
                                                          self._options()))

    def online_check(self) -> OnlineCheck | None:
        return online_check("register", self._options(), ops_per_key=self.ops_per_key)

    def _options(self) -> CheckOptions:
        return CheckOptions(timeout_s=self.check_timeout_s)


@dataclass(frozen=True, slots=True)
class UniqueValues:
    """Reads, writes and cas of one key, each written value new (see the module notes).

    Attributes:
        written: how many values were written so far (the next is ``written + 1``).
        recent: the last `RECENT` values written, a cas's choices for its expected value.
    """

    written: int = 0
    recent: tuple[int, ...] = ()

    def op(self, ctx: Context) -> Step:
        if not ctx.free:
            return PENDING
        r = ctx.rng.random()
        new = self.written + 1
        if r < 1 / 3:
            f, value, after = "read", None, self
        elif r < 2 / 3 or not self.recent:
            f, value = "write", new
            after = UniqueValues(new, (*self.recent, new)[-RECENT:])
        else:
            f, value = "cas", [self.recent[ctx.rng.randrange(len(self.recent))], new]
            after = UniqueValues(new, (*self.recent, new)[-RECENT:])
        step = once(f, value).op(ctx)
        if not isinstance(step, tuple):
            return step
        return step[0], after


def _make(options: Mapping[str, Any]) -> RegisterWorkload:
    return RegisterWorkload(ops_per_key=options["ops_per_key"], values=options["values"],
                            check_timeout_s=options["check_timeout_s"], cas=options["cas"])


ENTRY = WorkloadEntry(name="register", summary="read/write/cas on independent keys, "
                      "checked per key for linearizability", options=OPTIONS, make=_make)
