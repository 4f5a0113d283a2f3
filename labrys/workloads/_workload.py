"""The workload protocol: what clients do, and how to judge what they saw.

A workload bundles three things that only make sense together (Jepsen's test map
keys ``:generator``, ``:client``, ``:checker``):

- a *generator* of client invocations, unbounded in time (the runner adds the time
  limit and the rate);
- the *kind of client* it needs (``"register"``): the target supplies a client of that
  kind, because only the target knows how to read and write its database;
- a *check*: a pure function from the recorded history to a verdict.

A workload whose verdict is prefix-closed also declares, as data, how its history may be
judged while it is recorded (`HasOnlineCheck`, read by ``labrys run --check-online``);
one that judges final reads (set, counter) declares nothing, and runs are checked only
when they end.

Workloads are chosen by name from `WORKLOADS`; each declares its ``--option`` keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from labrys.checkers import OnlineCheck, Verdict
from labrys.generator import Generator
from labrys.history import History
from labrys.options import Option


class Workload(Protocol):
    """A workload (see the module docstring)."""

    @property
    def client_kind(self) -> str:
        """The kind of client a target must supply (``"register"``)."""
        ...

    def generator(self) -> Generator:
        """Client invocations, forever; the runner bounds them in time and rate."""
        ...

    def check(self, history: History) -> Verdict:
        """The verdict on a history this workload produced (pure; touches no cluster)."""
        ...


@runtime_checkable
class HasFinalGenerator(Protocol):
    """A workload that ends with client ops after every fault is healed (Jepsen's
    final reads: a set workload reads the whole set once the cluster has recovered)."""

    def final_generator(self) -> Generator:
        """Client invocations run once the nemesis's final heal is done; finite."""
        ...


@runtime_checkable
class HasOnlineCheck(Protocol):
    """A workload whose history can be judged while it is recorded: a prefix that is
    already invalid proves the whole history invalid (`labrys.checkers.online_check`)."""

    def online_check(self) -> OnlineCheck | None:
        """How to judge this workload's history online, with its options; None when
        these options make its verdict not prefix-closed."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkloadEntry:
    """A workload by name: its options and how to make it from their typed values."""

    name: str
    summary: str
    options: Mapping[str, Option]
    make: Callable[[Mapping[str, Any]], Workload]
