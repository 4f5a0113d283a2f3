"""The interpreter: runs a generator against real workers and records the history.

The problem: turn a pure schedule (a `Generator`) into real concurrent calls, and
write down exactly what happened, in an order and with times that a checker can
trust, even when calls hang, crash, or the harness itself is interrupted.

The shape follows Jepsen's ``jepsen.generator.interpreter``. One *worker thread* per
client slot plus one for the nemesis; each takes invocations from its own inbox and
puts completions on one shared queue. A single *interpreter thread* (the caller of
`Interpreter.run`) owns everything else: it asks the generator for the next
invocation, hands it to its worker, takes completions off the queue, and is the only
writer of the history. Because it alone assigns indices and times, the history file
is in time order by construction.

Times are stamped by the interpreter from a monotonic ns clock: an invocation when it
is handed to the worker (before the call can start), a completion when it is taken off
the queue (after the call has certainly ended). Both errors widen the interval, which
is always safe for a checker; narrowing it never is.

Timeouts. Every call has a deadline. A call still running at its deadline is recorded
as ``info`` (it may or may not have happened), its worker thread is abandoned (its
eventual answer is thrown away) and a fresh worker with a fresh client takes the slot
as a new process, process + concurrency, as in Jepsen: the old process may still have
the call in flight inside the database, and a process never has two calls in flight.
A call that ends ``info`` on its own, or raises, also moves the slot to a new process.

Stopping. `stop()` (the first Ctrl-C) stops new invocations; calls in flight are
waited for, up to their deadlines. `abort()` (the second) records every call in flight
as ``info`` at once and returns.

Example::

    interp = Interpreter(generator=g, concurrency=10, open_client=lambda t: MyClient(),
                         nemesis=None, record=writer.write, call_timeout_s=5.0)
    summary = interp.run()
"""

from __future__ import annotations

import contextlib
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from labrys.client import Client, Completion, validate_completion
from labrys.generator import Context, Generator, Invocation, Thread
from labrys.history import NEMESIS, Op, OpType, Process

_PENDING_WAIT_NS = 100_000_000
"""How long to wait for a completion when the generator is PENDING. Generators here
change their answer only when a thread frees up or time passes, so this bounds how
late a purely time-driven change (a time limit ending) is noticed."""


@dataclass(slots=True)
class Progress:
    """Live counters, read by the display while the run goes on.

    Written only by the interpreter thread; readers see a slightly stale but
    consistent-enough picture (plain int updates are atomic under the GIL).
    """

    started_ns: int = 0
    invoked: int = 0
    completed: Counter[str] = field(default_factory=Counter)
    nemesis_ops: list[str] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return self.completed[kind]


@dataclass(slots=True)
class _Worker:
    thread: Thread
    serial: int
    inbox: queue.SimpleQueue[Invocation | None]


@dataclass(slots=True)
class _InFlight:
    worker: _Worker
    invocation: Invocation
    op: Op | None  # None for a sleep, which is not recorded
    deadline_ns: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSummary:
    """What `Interpreter.run` did: op count and whether it ended early."""

    ops: int
    stopped: bool
    aborted: bool


class Interpreter:
    """Runs one generator to exhaustion (or until stopped), recording every op.

    Args:
        generator: the whole schedule, clients and nemesis.
        concurrency: the number of client worker threads (0…concurrency-1).
        open_client: makes the client for a client thread; called again with the same
            thread when a timed-out worker is replaced.
        nemesis: the nemesis's client, or None for a run without faults.
        record: called with each op as it happens, in order, from the interpreter
            thread (normally `JsonlWriter.write`).
        rng: the run's seeded random source, handed to the generator.
        call_timeout_s: a client call's deadline.
        nemesis_timeout_s: a nemesis call's deadline.
        node_of: the node a client thread talks to, recorded on its ops.
        clock: ns since the run began; monotonic.
        on_error: told about worker problems worth a log line (client bugs).
    """

    def __init__(
        self,
        *,
        generator: Generator,
        concurrency: int,
        open_client: Callable[[int], Client],
        nemesis: Client | None,
        record: Callable[[Op], None],
        rng: random.Random,
        call_timeout_s: float,
        nemesis_timeout_s: float = 60.0,
        node_of: Callable[[int], str | None] = lambda thread: None,
        clock: Callable[[], int] | None = None,
        on_error: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._generator = generator
        self._concurrency = concurrency
        self._open_client = open_client
        self._nemesis = nemesis
        self._record = record
        self._rng = rng
        self._call_timeout_ns = int(call_timeout_s * 1e9)
        self._nemesis_timeout_ns = int(nemesis_timeout_s * 1e9)
        self._node_of = node_of
        start = time.monotonic_ns()
        self._clock = clock or (lambda: time.monotonic_ns() - start)
        self._on_error = on_error
        self._completions: queue.SimpleQueue[tuple[int, Thread, Completion | None]] = (
            queue.SimpleQueue())
        self._stop = threading.Event()
        self._abort = threading.Event()
        self._serials = 0
        self._index = 0
        self._in_flight: dict[Thread, _InFlight] = {}
        self._workers: dict[Thread, _Worker] = {}
        self._process_of: dict[Thread, Process] = {}
        self._thread_of: dict[Process, Thread] = {}
        self.progress = Progress()

    # -- control from other threads (signal handlers, the display) ---------------------

    def stop(self) -> None:
        """Invoke nothing more; wait for calls in flight up to their deadlines."""
        self._stop.set()

    def abort(self) -> None:
        """Invoke nothing more and record every call in flight as info now."""
        self._stop.set()
        self._abort.set()

    def clock_ns(self) -> int:
        return self._clock()

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> RunSummary:
        """Run the generator until it is exhausted or the run is stopped.

        Returns when nothing is in flight any more (or at once after `abort`). Calls
        ``record`` for every op, in order, from this thread only.
        """
        threads: list[Thread] = list(range(self._concurrency))
        if self._nemesis is not None:
            threads.append(NEMESIS)
        self._workers = {t: self._start_worker(t) for t in threads}
        self._process_of = {t: t for t in threads}
        self._thread_of = {t: t for t in threads}
        gen: Generator | None = self._generator
        all_threads = tuple(threads)
        all_free = frozenset(threads)
        self.progress.started_ns = self._clock()
        try:
            while True:
                now = self._clock()
                if self._abort.is_set():
                    for thread in list(self._in_flight):
                        self._time_out(thread, "interrupted")
                    break
                self._expire(now)
                if self._stop.is_set():
                    # A sleep records nothing and does nothing: no reason to wait it out.
                    for thread in [t for t, f in self._in_flight.items() if f.op is None]:
                        del self._in_flight[thread]
                if self._stop.is_set() or gen is None:
                    if not self._in_flight:
                        break
                    self._await(self._next_deadline() - now)
                    continue
                ctx = Context(time_ns=now, threads=all_threads,
                              free=all_free.difference(self._in_flight),
                              process_of=self._process_of, rng=self._rng)
                step = gen.op(ctx)
                if step is None:
                    gen = None
                    continue
                if not isinstance(step, tuple):  # PENDING
                    self._await(min(self._next_deadline() - now, _PENDING_WAIT_NS))
                    continue
                invocation, rest = step
                if invocation.time_ns > now:
                    # Not due yet: wait for it, or for a completion that may change the
                    # answer (the generator is pure, so asking again loses nothing).
                    self._await(min(invocation.time_ns, self._next_deadline()) - now)
                    continue
                gen = rest
                self._dispatch(invocation, now)
        finally:
            for worker in self._workers.values():
                worker.inbox.put(None)
        return RunSummary(ops=self._index, stopped=self._stop.is_set(),
                          aborted=self._abort.is_set())

    # -- pieces ------------------------------------------------------------------------

    def _start_worker(self, thread: Thread) -> _Worker:
        self._serials += 1
        worker = _Worker(thread=thread, serial=self._serials, inbox=queue.SimpleQueue())
        if thread == NEMESIS:
            # The nemesis is one object for the whole run; the runner tears it down.
            client, owned = self._nemesis, False
        else:
            client, owned = self._open_client(thread), True  # type: ignore[arg-type]
        threading.Thread(target=_work, args=(worker, client, owned, self._completions),
                         name=f"labrys-worker-{thread}", daemon=True).start()
        return worker

    def _next_op(self, **fields: Any) -> Op:
        op = Op(index=self._index, **fields)
        self._index += 1
        self._record(op)
        return op

    def _dispatch(self, invocation: Invocation, now: int) -> None:
        thread = self._thread_of[invocation.process]  # type: ignore[index]
        worker = self._workers[thread]
        is_nemesis = thread == NEMESIS
        if invocation.sleep_ns is not None:
            op = None
            deadline = now + invocation.sleep_ns + self._nemesis_timeout_ns
        else:
            # Jepsen records the nemesis's start and end both as info; History reads that.
            op = self._next_op(time=now, type=OpType.INFO if is_nemesis else OpType.INVOKE,
                               process=invocation.process, f=invocation.f,
                               value=invocation.value,
                               node=None if is_nemesis else self._node_of(thread))  # type: ignore[arg-type]
            deadline = now + (self._nemesis_timeout_ns if is_nemesis else self._call_timeout_ns)
            self.progress.invoked += 1
        self._in_flight[thread] = _InFlight(worker=worker, invocation=invocation, op=op,
                                            deadline_ns=deadline)
        worker.inbox.put(invocation)

    def _next_deadline(self) -> int:
        return min((f.deadline_ns for f in self._in_flight.values()),
                   default=self._clock() + _PENDING_WAIT_NS)

    def _await(self, wait_ns: int) -> None:
        """Take completions off the queue: the first within ``wait_ns``, then any ready."""
        try:
            if wait_ns > 0:
                item = self._completions.get(timeout=wait_ns / 1e9)
            else:
                item = self._completions.get_nowait()
        except queue.Empty:
            return
        while True:
            self._complete(item)
            try:
                item = self._completions.get_nowait()
            except queue.Empty:
                return

    def _complete(self, item: tuple[int, Thread, Completion | None]) -> None:
        serial, thread, completion = item
        flight = self._in_flight.get(thread)
        if flight is None or flight.worker.serial != serial:
            return  # an abandoned worker's late answer: its op is already recorded as info
        del self._in_flight[thread]
        if completion is None or flight.op is None:  # a sleep ended
            return
        invocation = flight.invocation
        completion = validate_completion(invocation, completion)
        if isinstance(completion.error, str) and completion.error.startswith("client bug"):
            self._on_error(completion.error)
        is_nemesis = thread == NEMESIS
        kind = OpType.INFO if is_nemesis else completion.type
        self._next_op(time=self._clock(), type=kind, process=invocation.process,
                      f=invocation.f, value=completion.value,
                      node=completion.node or flight.op.node, error=completion.error,
                      extra=completion.extra)
        if is_nemesis:
            self.progress.nemesis_ops.append(invocation.f)
            return
        self.progress.completed[kind.value] += 1
        if kind is OpType.INFO:
            self._new_process(thread)

    def _new_process(self, thread: Thread) -> None:
        """The slot carries on as a new process: the old one may still be in flight."""
        old = self._process_of[thread]
        new = old + self._concurrency  # type: ignore[operator]
        del self._thread_of[old]
        self._process_of[thread] = new
        self._thread_of[new] = thread

    def _expire(self, now: int) -> None:
        for thread in [t for t, f in self._in_flight.items() if f.deadline_ns <= now]:
            self._time_out(thread, "timed out")

    def _time_out(self, thread: Thread, why: str) -> None:
        flight = self._in_flight.pop(thread)
        invocation = flight.invocation
        if flight.op is not None:
            self._next_op(time=self._clock(), type=OpType.INFO, process=invocation.process,
                          f=invocation.f, value=invocation.value, node=flight.op.node,
                          error=why)
            if thread != NEMESIS:
                self.progress.completed["info"] += 1
                self._new_process(thread)
        if self._abort.is_set():
            return
        # The old worker may be stuck inside the call for a long while: abandon it (it
        # drops out when the call returns) and give the slot a fresh worker and client.
        flight.worker.inbox.put(None)
        self._workers[thread] = self._start_worker(thread)


def _work(worker: _Worker, client: Client, owned: bool,
          completions: queue.SimpleQueue[tuple[int, Thread, Completion | None]]) -> None:
    """A worker thread: perform each invocation from the inbox until told to stop."""
    try:
        while (invocation := worker.inbox.get()) is not None:
            if invocation.sleep_ns is not None:
                time.sleep(invocation.sleep_ns / 1e9)
                completions.put((worker.serial, worker.thread, None))
                continue
            try:
                completion: Any = client.invoke(invocation)
            except Exception as e:  # an exception says nothing about whether it happened
                completion = Completion(type=OpType.INFO, value=invocation.value,
                                        error=f"{type(e).__name__}: {e}")
            completions.put((worker.serial, worker.thread, completion))
    finally:
        if owned:
            with contextlib.suppress(Exception):  # a client that cannot close must not hang us
                client.close()

