"""The bank workload: transfers between accounts in transactions; the total must hold.

Jepsen's bank test. An ``init`` op first creates ``accounts`` accounts holding
``total`` between them (once: the client creates what does not exist yet); then
clients transfer small amounts between random accounts, each transfer one transaction
that reads the source balance, refuses (``fail``) if it would overdraw, and moves the
money; and clients read every balance in one transaction. Under snapshot isolation or
anything stronger every read sums to ``total`` and no balance is negative; a read that
does not saw a torn state, and a negative balance shows two transfers that each
checked the same balance before either wrote it (write skew on one account).

Ops: ``init {"accounts": [0…], "total": T}``, ``transfer {"from", "to", "amount"}``,
``read`` → ``{account: balance}``. The ``bank`` checker judges the reads, told the
accounts and the total (``CheckOptions.extra``), so a read missing an account is an
error rather than a new baseline.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers import CheckOptions, Verdict, check_safe, run_checker
from labrys.generator import Generator, Invocation, from_fn, mix, once, phases
from labrys.history import History
from labrys.options import Option, positive_int
from labrys.workloads._workload import WorkloadEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="accounts", default=5, parse=positive_int, expected="a whole number > 0",
               help="how many accounts (numbered from 0)"),
        Option(name="total", default=100, parse=positive_int, expected="a whole number > 0",
               help="the money in the bank, shared between the accounts at the start"),
        Option(name="max_transfer", default=5, parse=positive_int,
               expected="a whole number > 0", help="transfers move 1…max_transfer"),
    ]
}


@dataclass(frozen=True, slots=True, kw_only=True)
class BankWorkload:
    """Transfers and whole-bank reads (see the module docstring)."""

    accounts: int
    total: int
    max_transfer: int

    @property
    def client_kind(self) -> str:
        return "bank"

    def generator(self) -> Generator:
        n, most = self.accounts, self.max_transfer

        def transfer(rng: random.Random) -> Invocation:
            source = rng.randrange(n)
            target = (source + 1 + rng.randrange(n - 1)) % n if n > 1 else source
            return Invocation(f="transfer", value={"from": source, "to": target,
                                                   "amount": 1 + rng.randrange(most)})

        def read(rng: random.Random) -> Invocation:
            return Invocation(f="read")

        init = once("init", {"accounts": list(range(n)), "total": self.total})
        return phases(init, mix([from_fn(transfer), from_fn(read)]))

    def check(self, history: History) -> Verdict:
        options = CheckOptions(extra={"total_amount": self.total,
                                      "accounts": list(range(self.accounts))})
        return check_safe("bank", lambda: run_checker("bank", history, options))


def _make(options: Mapping[str, Any]) -> BankWorkload:
    return BankWorkload(accounts=options["accounts"], total=options["total"],
                        max_transfer=options["max_transfer"])


ENTRY = WorkloadEntry(name="bank", summary="transfers between accounts in transactions, "
                      "whole-bank reads: is the total conserved?", options=OPTIONS, make=_make)
