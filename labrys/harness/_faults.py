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
"""

from __future__ import annotations

import itertools
import json
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from labrys.errors import LabrysError, UsageError
from labrys.harness._client import Completion
from labrys.harness._combinators import seq
from labrys.harness._generator import Generator, Invocation, once, sleep
from labrys.harness._spec import TestSpec
from labrys.history import OpType
from labrys.nemesis import FAULTS, NemesisOptions, package

_STARTS = {"start-partition": "partition", "kill": "kill", "pause": "pause",
           "start-loss": "loss", "start-delay": "delay", "bump-clock": "clock",
           "strobe-clock": "clock", "scramble-clock": "clock"}
_HEALS = {"stop-partition": "partition", "start": "kill", "resume": "pause",
          "stop-loss": "loss", "stop-delay": "delay", "reset-clock": "clock"}


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults a spec asks for, checked before any node exists, and how to build
    the nemesis and its generators once the cluster and target do."""

    spec: TestSpec

    def build(self, cluster: Any, target: Any,
              rng: random.Random) -> tuple[Any, Generator, Generator]:
        """``(nemesis, schedule generator, final heal generator)``.

        Raises:
            UsageError: the target or cluster cannot take a requested fault.
        """
        spec = self.spec
        pkg = package(cluster, NemesisOptions(faults=spec.nemesis,
                                              interval_s=spec.nemesis_interval_s,
                                              topologies=spec.topologies or None),
                      rng=random.Random(rng.getrandbits(64)), target=target)
        count = math.ceil(spec.time_limit_s / spec.nemesis_interval_s) + 2
        ops = list(itertools.islice(pkg.schedule(), count))
        schedule = seq(*(seq(sleep(spec.nemesis_interval_s), once(op.f, op.value))
                         for op in ops))
        final = seq(*(once(op.f, op.value) for op in pkg.final_ops))
        return pkg.nemesis, schedule, final


def plan_faults(spec: TestSpec) -> FaultPlan | None:
    """The plan for ``spec.nemesis``, or None for a run without faults.

    Raises:
        UsageError: an unknown fault name (the message lists the known ones).
    """
    if not spec.nemesis:
        return None
    unknown = [f for f in spec.nemesis if f not in FAULTS]
    if unknown:
        raise UsageError(f"unknown fault {unknown[0]!r} in --nemesis; choose from "
                         f"{', '.join(FAULTS)} (comma-separated), or none")
    return FaultPlan(spec)


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
