"""Workloads: the operations clients perform and the checkers that judge them.

`WORKLOADS` maps a name (``labrys run --workload NAME``) to a `WorkloadEntry`; each
workload is a generator of client invocations, the kind of client it needs from the
target, and a check of the resulting history.

Example:
    >>> entry = get_workload("register")
    >>> workload = entry.make({"ops_per_key": 50, "values": 5, "check_timeout_s": 30.0})
    >>> workload.client_kind
    'register'
"""

from labrys.errors import lookup
from labrys.workloads import bank, counter, list_append, register, rw_register, session, set
from labrys.workloads._workload import (
    HasFinalGenerator,
    HasOnlineCheck,
    Workload,
    WorkloadEntry,
)

WORKLOADS: dict[str, WorkloadEntry] = {
    e.name: e for e in [register.ENTRY, set.ENTRY, counter.ENTRY, bank.ENTRY,
                        list_append.ENTRY, rw_register.ENTRY, session.ENTRY]}


def get_workload(name: str) -> WorkloadEntry:
    """The workload called ``name``.

    Raises:
        UsageError: there is none; the message lists those there are.
    """
    return lookup(WORKLOADS, name, what="workload")


__all__ = ["WORKLOADS", "HasFinalGenerator", "HasOnlineCheck", "Workload", "WorkloadEntry",
           "get_workload"]
