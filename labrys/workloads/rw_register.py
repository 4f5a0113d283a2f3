"""The rw-register workload: transactions writing and reading registers (Elle).

Micro-ops ``["w", k, v]`` and ``["r", k, None]`` (read → the value, or None) over a
few hot keys. A register shows only its last write, so Elle infers less than from
lists (version orders come from what transactions read and write together), but
registers are what most applications store. Options and the claim are those of
``list-append`` (see `labrys.workloads.list_append`).
"""

from __future__ import annotations

from labrys.workloads._workload import WorkloadEntry
from labrys.workloads.list_append import make_txn, txn_options

OPTIONS = txn_options(max_writes_per_key=16)

ENTRY = WorkloadEntry(name="rw-register", summary="transactions writing and reading "
                      "registers, checked by Elle for the claimed isolation", options=OPTIONS,
                      make=lambda options: make_txn("rw-register", options))
