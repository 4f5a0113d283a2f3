"""The list-append workload: transactions appending to and reading lists (Elle).

Clients run transactions of micro-ops ``["append", k, v]`` and ``["r", k, None]``
(read → the whole list) over a few hot keys (`_txn_gen`). Because each append is
unique and a list shows the order of every append before it, Elle (Kingsbury and
Alvaro, VLDB 2020) recovers the write-write, write-read and read-write dependencies
between transactions and finds the cycles and other anomalies each isolation level
forbids: G0, G1a/b/c, G-single, G2-item (write skew), lost updates.

The claim checked is the ``isolation`` option, which the PostgreSQL target also reads
(one ``--option isolation=…`` sets the database's level and the claim together):
``read-committed``, ``repeatable-read`` (Adya's PL-2.99, which forbids G2-item; note
that PostgreSQL documents its repeatable read as snapshot isolation, which allows
it), ``snapshot-isolation``, ``serializable`` or ``strict-serializable``. Anomalies
the claim permits are still reported in the verdict's details.

Online (``labrys run --check-online``): the prefix recorded so far is checked again
every so often, beside the run; a cycle found in it is a cycle of the whole history.
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
from labrys.generator import Generator
from labrys.history import History
from labrys.options import Option, choice, positive_float, positive_int
from labrys.workloads._txn_gen import TxnGenerator
from labrys.workloads._workload import WorkloadEntry

CLAIMS = ("read-committed", "repeatable-read", "snapshot-isolation", "serializable",
          "strict-serializable")
"""Values of the ``isolation`` option, each the name of the model it claims."""


def txn_options(*, max_writes_per_key: int) -> dict[str, Option]:
    """The options both transactional workloads share."""
    return {
        o.name: o
        for o in [
            Option(name="isolation", default="read-committed", parse=choice(*CLAIMS),
                   expected=", ".join(CLAIMS),
                   help="the isolation level claimed (and, on PostgreSQL, configured)"),
            Option(name="key_count", default=3, parse=positive_int,
                   expected="a whole number > 0", help="hot keys at any time"),
            Option(name="max_txn_length", default=4, parse=positive_int,
                   expected="a whole number > 0", help="micro-ops per transaction, at most"),
            Option(name="max_writes_per_key", default=max_writes_per_key, parse=positive_int,
                   expected="a whole number > 0", help="writes after which a key retires"),
            Option(name="check_timeout_s", default=5.0, parse=positive_float,
                   expected="a number of seconds > 0",
                   help="the cycle search's budget per component; past it, unknown"),
        ]
    }


OPTIONS = txn_options(max_writes_per_key=32)


@dataclass(frozen=True, slots=True, kw_only=True)
class TxnWorkload:
    """Transactions of micro-ops checked by Elle (list-append or rw-register)."""

    kind: str
    isolation: str
    key_count: int
    max_txn_length: int
    max_writes_per_key: int
    check_timeout_s: float

    @property
    def client_kind(self) -> str:
        return self.kind

    def generator(self) -> Generator:
        return TxnGenerator("append" if self.kind == "list-append" else "w", self.key_count,
                            self.max_txn_length, self.max_writes_per_key)

    def check(self, history: History) -> Verdict:
        return check_safe(self.kind, lambda: run_checker(self.kind, history,
                                                         self._options()))

    def online_check(self) -> OnlineCheck | None:
        return online_check(self.kind, self._options())

    def _options(self) -> CheckOptions:
        return CheckOptions(consistency_models=(self.isolation,),
                            timeout_s=self.check_timeout_s)


def make_txn(kind: str, options: Mapping[str, Any]) -> TxnWorkload:
    return TxnWorkload(kind=kind, isolation=options["isolation"],
                       key_count=options["key_count"], max_txn_length=options["max_txn_length"],
                       max_writes_per_key=options["max_writes_per_key"],
                       check_timeout_s=options["check_timeout_s"])


ENTRY = WorkloadEntry(name="list-append", summary="transactions appending to and reading "
                      "lists, checked by Elle for the claimed isolation", options=OPTIONS,
                      make=lambda options: make_txn("list-append", options))
