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
from labrys.generator import Generator, Invocation, from_fn, independent_keys, mix
from labrys.history import History
from labrys.options import Option, boolean, positive_float, positive_int
from labrys.workloads._workload import WorkloadEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="ops_per_key", default=100, parse=positive_int,
               expected="a whole number of ops > 0",
               help="ops each key receives before the workload moves to a fresh key"),
        Option(name="values", default=5, parse=positive_int,
               expected="a whole number > 0",
               help="values are drawn from 0…values-1 (few values, many collisions)"),
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
    values: int
    check_timeout_s: float
    cas: bool = True

    @property
    def client_kind(self) -> str:
        return "register"

    def generator(self) -> Generator:
        n = self.values

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


def _make(options: Mapping[str, Any]) -> RegisterWorkload:
    return RegisterWorkload(ops_per_key=options["ops_per_key"], values=options["values"],
                            check_timeout_s=options["check_timeout_s"], cas=options["cas"])


ENTRY = WorkloadEntry(name="register", summary="read/write/cas on independent keys, "
                      "checked per key for linearizability", options=OPTIONS, make=_make)
