"""Every checker by name, and the one options value they all take.

The table is data: a name, the module and function that implement it, and one line
for ``labrys check --help``. Modules are imported when first used, so that checking a
register history never pays for importing networkx or z3.

Every checker is a function ``check(history, options) -> Verdict``: pure, touching no
cluster, returning ``unknown`` (never ``True``) when it runs out of budget.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from labrys.checkers._verdict import Verdict, check_safe
from labrys.errors import lookup
from labrys.history import History
from labrys.models import NOT_GIVEN


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckOptions:
    """Everything a user can say about how to check a history.

    Attributes:
        model: the sequential model for linearizable/sequential (``cas-register``…).
        init: the model's initial value (a decoded JSON value), or NOT_GIVEN.
        independent: values are ``[key value]`` pairs and each key is its own object
            of the model (Jepsen's independent keys, `labrys.models.Independent`).
        timeout_s: wall-clock budget for the search; past it the verdict is unknown.
        memory_limit_mb: memory budget for the search's memo tables; same.
        engine: ``auto``, ``python``, ``native`` or ``smt`` for the search checkers.
        minimize: for invalid histories, also find a minimal invalid sub-history.
        group_size: long-fork's group size: how many keys each insert group spans.
        consistency_models: the models a transactional history is claimed to satisfy.
        negative_balances: whether the bank checker allows balances below zero.
    """

    model: str | None = None
    init: Any = NOT_GIVEN
    independent: bool = False
    timeout_s: float | None = None
    memory_limit_mb: int | None = None
    engine: str = "auto"
    minimize: bool = False
    group_size: int | None = None
    consistency_models: tuple[str, ...] = ("strict-serializable",)
    negative_balances: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


CheckFunction = Callable[[History, CheckOptions], Verdict]


@dataclass(frozen=True, slots=True)
class CheckerEntry:
    name: str
    module: str
    function: str
    summary: str

    def load(self) -> CheckFunction:
        return getattr(importlib.import_module(self.module), self.function)


_M = "labrys.checkers."
CHECKERS: dict[str, CheckerEntry] = {
    e.name: e
    for e in [
        CheckerEntry("linearizable", _M + "_linearizable", "check_linearizable",
                     "a total order respecting real time and the model (Wing & Gong, Lowe)"),
        CheckerEntry("sequential", _M + "_linearizable", "check_sequential",
                     "a total order respecting each process's order and the model"),
        CheckerEntry("register", _M + "_register", "check_register",
                     "the register workload's check: linearizable per key of [key value] "
                     "(cas-register from nil), and stats"),
        CheckerEntry("read-your-writes", _M + "_session", "check_read_your_writes",
                     "a session sees its own earlier writes"),
        CheckerEntry("monotonic-reads", _M + "_session", "check_monotonic_reads",
                     "a session never reads older data than it read before"),
        CheckerEntry("monotonic-writes", _M + "_session", "check_monotonic_writes",
                     "a session's writes are seen in the order it made them"),
        CheckerEntry("writes-follow-reads", _M + "_session", "check_writes_follow_reads",
                     "a write is ordered after the writes its session had read"),
        CheckerEntry("session", _M + "_session", "check_session",
                     "all four session guarantees (Terry et al. 1994)"),
        CheckerEntry("causal", _M + "_causal", "check_causal",
                     "causal consistency CC, CM, CCv (Bouajjani et al. 2017)"),
        CheckerEntry("set", _M + "_set", "check_set",
                     "acknowledged adds are read at the end: lost, unexpected, recovered"),
        CheckerEntry("set-full", _M + "_set", "check_set_full",
                     "per element: stable, lost, never read, stale, with latencies"),
        CheckerEntry("counter", _M + "_counter", "check_counter",
                     "every read lies within what acknowledged and attempted adds allow"),
        CheckerEntry("bank", _M + "_bank", "check_bank",
                     "transfers conserve the total, balances stay non-negative"),
        CheckerEntry("queue", _M + "_queue", "check_queue",
                     "a total queue: nothing lost, duplicated or unexpected"),
        CheckerEntry("unique-ids", _M + "_unique_ids", "check_unique_ids",
                     "no identifier handed out twice"),
        CheckerEntry("long-fork", _M + "_long_fork", "check_long_fork",
                     "no two reads see incompatible orders of inserts"),
        CheckerEntry("stats", _M + "_stats", "check_stats",
                     "ok/fail/info counts per operation; flags ops that never succeed"),
        CheckerEntry("list-append", _M + "_txn", "check_list_append",
                     "Elle's list-append: dependency cycles and isolation anomalies"),
        CheckerEntry("rw-register", _M + "_txn", "check_rw_register",
                     "Elle's rw-register: dependency cycles and isolation anomalies"),
    ]
}


def get_checker(name: str) -> CheckerEntry:
    """The checker called ``name``.

    Raises:
        UsageError: there is none; the message lists those there are.
    """
    return lookup(CHECKERS, name, what="checker")


def run_checker(name: str, history: History, options: CheckOptions) -> Verdict:
    """Check ``history`` with the named checker, turning a crash into ``unknown``.

    Raises:
        LabrysError: the checker does not exist, the options make no sense for it, or
            the history is malformed for it: those are the user's to fix.
    """
    check = get_checker(name).load()
    with collector_paused():
        return check_safe(name, lambda: check(history, options))


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector while a checker runs, then restore it.

    Checkers allocate millions of small tuples and dicts beside a history that is
    itself millions of objects, and every allocation burst triggers collections that
    scan that whole heap: on 100,000-op histories that cost the transactional checker
    more than its own work, and the session and causal checkers 30–45 %. Reference
    counting still frees everything acyclic at once; the rare cycles a search builds
    are collected when the collector resumes (Mercurial's ``util.nogc`` does the same
    for the same reason).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
