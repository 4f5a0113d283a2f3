"""The bridge between the nemesis package and the harness: schedule, client, display.

`labrys.nemesis.package` gives a composed nemesis, an endless schedule (an iterator
of ops, fault then heal, the same for a seed) and the final heal ops. The harness
needs generators, which are values, so the schedule is drawn up front for the run's
length, ``time_limit / interval + 2`` ops, each preceded by a sleep of one interval
(the package's contract: "the runner waits interval_s before each op"). A pure
generator can then be asked, dropped and asked again like every other.

The nemesis itself is driven through the interpreter's client protocol by
`NemesisClient`; what it returns (which grudge, which nodes) becomes the completion's
value, and a `LabrysError` it raises becomes the completion's error. Both are
``info``, as Jepsen records nemesis ops, and both are also written to the run's log,
so ``labrys.log`` alone tells what was done to the cluster and when.

Everything about a fault (its ops, options, the capability it needs) comes from the
nemesis package's table, `labrys.nemesis.FAULTS`; nothing here names a fault.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labrys.client import Completion
from labrys.errors import LabrysError
from labrys.generator import Generator, Invocation, once, seq, sleep
from labrys.harness._spec import TestSpec
from labrys.history import OpType
from labrys.nemesis import FAULTS, NemesisOptions, package
from labrys.options import Option, parse_options

# A fault without a heal is over when its op returns: never shown as in force.
_STARTS = {f: fault.name for fault in FAULTS.values() if fault.heal for f in fault.starts}
_HEALS = {fault.heal: fault.name for fault in FAULTS.values() if fault.heal}


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults a spec asks for, checked before any node exists, and how to build
    the nemesis and its generators once the cluster and target do.

    Attributes:
        spec: the run's spec.
        settings: the typed values of the requested faults' options.
    """

    spec: TestSpec
    settings: Mapping[str, Any]

    def prepare(self, cluster: Any) -> None:
        """What the requested faults need done to the cluster before the database is
        set up on it (``lose-unsynced``: data directories on lazy disks).

        Raises:
            LabrysError: the cluster cannot do it.
        """
        for name in self.spec.nemesis:
            if FAULTS[name].prepare is not None:
                FAULTS[name].prepare(cluster)

    def settle(self, cluster: Any) -> None:
        """What the requested faults need done once the database is set up, before the
        workload (``lose-unsynced``: sync what the set-up wrote).

        Raises:
            LabrysError: the cluster cannot do it.
        """
        for name in self.spec.nemesis:
            if FAULTS[name].settle is not None:
                FAULTS[name].settle(cluster)

    def build(self, cluster: Any, target: Any,
              rng: random.Random) -> tuple[Any, Generator, Generator]:
        """``(nemesis, schedule generator, final heal generator)``.

        Raises:
            UsageError: the target or cluster cannot take a requested fault.
        """
        spec = self.spec
        pkg = package(cluster, NemesisOptions(faults=spec.nemesis,
                                              interval_s=spec.nemesis_interval_s,
                                              topologies=spec.topologies or None,
                                              settings=self.settings),
                      rng=random.Random(rng.getrandbits(64)), target=target)
        count = math.ceil(spec.time_limit_s / spec.nemesis_interval_s) + 2
        ops = list(itertools.islice(pkg.schedule(), count))
        schedule = seq(*(seq(sleep(spec.nemesis_interval_s), once(op.f, op.value))
                         for op in ops))
        final = seq(*(once(op.f, op.value) for op in pkg.final_ops))
        return pkg.nemesis, schedule, final


def fault_options(spec: TestSpec) -> list[tuple[str, Mapping[str, Option]]]:
    """The ``--option`` tables of the faults ``spec`` asks for, as `check_known` takes
    them (faults without options are left out)."""
    return [(f"fault {name}", FAULTS[name].options) for name in spec.nemesis
            if FAULTS[name].options]


def plan_faults(spec: TestSpec, target: object) -> FaultPlan | None:
    """The plan for ``spec.nemesis`` against ``target``, or None for a run without faults.

    Fault names were checked when the spec was built; this checks what needs the
    target, before any node exists.

    Raises:
        UsageError: the target lacks a capability a fault needs, or a fault option has
            a bad value.
    """
    if not spec.nemesis:
        return None
    for name in spec.nemesis:
        FAULTS[name].require(target)
    tables = [table for _, table in fault_options(spec)]
    settings = parse_options({k: o for table in tables for k, o in table.items()},
                             spec.options)
    return FaultPlan(spec, settings)


class FaultTracker:
    """The faults in force, for the display, from the nemesis ops as they complete."""

    def __init__(self) -> None:
        self._faults: dict[str, None] = {}
        self._lock = threading.Lock()

    def update(self, f: str) -> None:
        with self._lock:
            if f in _STARTS:
                self._faults[_STARTS[f]] = None
            elif f in _HEALS:
                self._faults.pop(_HEALS[f], None)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def names(self) -> list[str]:
        with self._lock:
            return list(self._faults)


class NemesisClient:
    """A `labrys.nemesis.Nemesis` behind the interpreter's client protocol."""

    def __init__(self, nemesis: Any, on_done: Callable[[str], None],
                 log: Callable[[str], None] = lambda line: None) -> None:
        self._nemesis = nemesis
        self._on_done = on_done
        self._log = log

    def invoke(self, invocation: Invocation) -> Completion:
        try:
            result = self._nemesis.invoke(invocation.f, invocation.value)
        except LabrysError as e:
            self._log(f"nemesis {invocation.f} failed: {e}")
            return Completion(type=OpType.INFO, value=invocation.value, error=str(e))
        self._on_done(invocation.f)
        self._log(f"nemesis {invocation.f}: {json.dumps(result, default=str)}")
        return Completion(type=OpType.INFO, value=result)

    def close(self) -> None:
        """Nothing: the runner tears the nemesis down itself, after the final heal."""
