"""The interpreter with in-test fake clients: outcomes, timeouts, new processes, streaming.

The fakes below live only here: each answers by a rule written in its name, so a
history's expected shape can be stated exactly.
"""

from __future__ import annotations

import random
import threading
from pathlib import Path

from labrys.harness import (
    Completion,
    Interpreter,
    Invocation,
    any_of,
    clients,
    limit,
    nemesis,
    once,
    repeat,
    seq,
    sleep,
)
from labrys.history import History, JsonlWriter, Op, OpType, read_history


class EchoClient:
    """Acknowledges every call with its own value."""

    def invoke(self, invocation: Invocation) -> Completion:
        return Completion(type=OpType.OK, value=invocation.value)

    def close(self) -> None:
        pass


class RefusingClient(EchoClient):
    """Every call certainly did not happen."""

    def invoke(self, invocation: Invocation) -> Completion:
        return Completion(type=OpType.FAIL, value=invocation.value, error="refused")


class HangingClient(EchoClient):
    """The first call of the run hangs until released; the others are acknowledged."""

    def __init__(self, release: threading.Event, hung: list[int]) -> None:
        self._release = release
        self._hung = hung

    def invoke(self, invocation: Invocation) -> Completion:
        if not self._hung:
            self._hung.append(1)
            self._release.wait(10)
            return Completion(type=OpType.OK, value="late")
        return super().invoke(invocation)


class CrashingClient(EchoClient):
    def invoke(self, invocation: Invocation) -> Completion:
        raise ConnectionResetError("peer went away")


class SloppyClient(EchoClient):
    def invoke(self, invocation: Invocation) -> Completion:
        return "ok"  # type: ignore[return-value]


class FaultyNemesis(EchoClient):
    def invoke(self, invocation: Invocation) -> Completion:
        return Completion(type=OpType.INFO, value={"cut": ["n1"]})


def interpret(generator, client_factory, *, concurrency=1, nemesis_client=None,
              timeout_s=5.0, record=None, flush=lambda: None) -> tuple[list[Op], list[str]]:
    ops: list[Op] = []
    errors: list[str] = []

    def keep(op: Op) -> None:
        ops.append(op)
        if record is not None:
            record(op)

    Interpreter(generator=generator, concurrency=concurrency, open_client=client_factory,
                nemesis=nemesis_client, record=keep, flush=flush, rng=random.Random(0),
                call_timeout_s=timeout_s, node_of=lambda t: f"n{t + 1}",
                on_error=errors.append).run()
    return ops, errors


def shape(ops: list[Op]) -> list[tuple]:
    return [(op.index, op.type.value, op.process, op.f, op.value, op.error) for op in ops]


def test_acknowledged_calls_are_invoke_ok_pairs_with_times_in_order():
    ops, _ = interpret(limit(2, repeat(Invocation(f="write", value=1))), lambda t: EchoClient())
    assert shape(ops) == [(0, "invoke", 0, "write", 1, None), (1, "ok", 0, "write", 1, None),
                          (2, "invoke", 0, "write", 1, None), (3, "ok", 0, "write", 1, None)]
    assert [op.node for op in ops] == ["n1"] * 4
    assert [op.time for op in ops] == sorted(op.time for op in ops)
    History(ops)  # well formed


def test_a_call_known_not_to_have_happened_is_fail_and_keeps_its_process():
    ops, _ = interpret(limit(2, repeat(Invocation(f="write", value=1))),
                       lambda t: RefusingClient())
    assert [(op.type.value, op.process) for op in ops] == [
        ("invoke", 0), ("fail", 0), ("invoke", 0), ("fail", 0)]


def test_a_timed_out_call_is_info_and_its_late_answer_is_thrown_away():
    release, hung = threading.Event(), []
    try:
        ops, _ = interpret(limit(2, repeat(Invocation(f="write", value=1))),
                           lambda t: HangingClient(release, hung), concurrency=2,
                           timeout_s=0.2)
    finally:
        release.set()
    assert sorted((op.type.value, op.error) for op in ops) == [
        ("info", "timed out"), ("invoke", None), ("invoke", None), ("ok", None)]
    assert all(op.value == 1 for op in ops)  # never the hung call's "late" answer
    History(ops)


def test_after_a_timeout_the_slot_gets_a_new_process_for_its_next_call():
    release, hung = threading.Event(), []
    try:
        ops, _ = interpret(limit(2, repeat(Invocation(f="read"))),
                           lambda t: HangingClient(release, hung), concurrency=1,
                           timeout_s=0.2)
    finally:
        release.set()
    assert shape(ops) == [(0, "invoke", 0, "read", None, None),
                          (1, "info", 0, "read", None, "timed out"),
                          (2, "invoke", 1, "read", None, None),
                          (3, "ok", 1, "read", None, None)]


def test_a_call_that_raises_is_info_with_the_error_and_a_new_process():
    ops, _ = interpret(limit(2, repeat(Invocation(f="write", value=4))),
                       lambda t: CrashingClient())
    assert shape(ops) == [
        (0, "invoke", 0, "write", 4, None),
        (1, "info", 0, "write", 4, "ConnectionResetError: peer went away"),
        (2, "invoke", 1, "write", 4, None),
        (3, "info", 1, "write", 4, "ConnectionResetError: peer went away")]


def test_a_malformed_completion_is_recorded_as_info_and_reported_as_a_client_bug():
    ops, errors = interpret(once("read"), lambda t: SloppyClient())
    assert shape(ops)[1][:4] == (1, "info", 0, "read")
    assert ops[1].error == "client bug on read: returned str, not a Completion"
    assert errors == [ops[1].error]


def test_nemesis_ops_are_recorded_as_info_pairs_carrying_what_was_done():
    g = any_of(clients(once("read")), nemesis(once("start-partition", "majority")))
    ops, _ = interpret(g, lambda t: EchoClient(), nemesis_client=FaultyNemesis())
    nem = [(op.type.value, op.f, op.value) for op in ops if op.process == "nemesis"]
    assert nem == [("info", "start-partition", "majority"),
                   ("info", "start-partition", {"cut": ["n1"]})]
    History(ops)


def test_the_history_is_on_disk_while_a_call_is_still_in_flight(tmp_path: Path):
    path = tmp_path / "history.jsonl"
    seen_on_disk: list[int] = []

    class Watching(EchoClient):
        def invoke(self, invocation: Invocation) -> Completion:
            seen_on_disk.append(len(read_history(path)))
            return super().invoke(invocation)

    with JsonlWriter(path, buffered=True) as writer:
        interpret(seq(once("a"), once("b")), lambda t: Watching(), record=writer.write,
                  flush=writer.flush)
    # When the call ran, its own invocation (and the previous op's pair) was written.
    assert seen_on_disk == [1, 3]
    assert len(read_history(path)) == 4


def test_stop_lets_calls_in_flight_finish_and_invokes_nothing_more():
    release = threading.Event()
    started = threading.Event()

    class Slow(EchoClient):
        def invoke(self, invocation: Invocation) -> Completion:
            started.set()
            release.wait(10)
            return super().invoke(invocation)

    ops: list[Op] = []
    interp = Interpreter(generator=repeat(Invocation(f="read")), concurrency=1,
                         open_client=lambda t: Slow(), nemesis=None, record=ops.append,
                         rng=random.Random(0), call_timeout_s=10)
    runner = threading.Thread(target=interp.run)
    runner.start()
    assert started.wait(5)
    interp.stop()
    release.set()
    runner.join(10)
    assert not runner.is_alive()
    assert [(op.type.value, op.f) for op in ops] == [("invoke", "read"), ("ok", "read")]


def test_abort_records_calls_in_flight_as_interrupted_at_once():
    release = threading.Event()
    started = threading.Event()

    class Stuck(EchoClient):
        def invoke(self, invocation: Invocation) -> Completion:
            started.set()
            release.wait(10)
            return super().invoke(invocation)

    ops: list[Op] = []
    interp = Interpreter(generator=repeat(Invocation(f="write", value=2)), concurrency=1,
                         open_client=lambda t: Stuck(), nemesis=None, record=ops.append,
                         rng=random.Random(0), call_timeout_s=10)
    runner = threading.Thread(target=interp.run)
    runner.start()
    try:
        assert started.wait(5)
        interp.abort()
        runner.join(5)
        assert not runner.is_alive()
    finally:
        release.set()
    assert shape(ops) == [(0, "invoke", 0, "write", 2, None),
                          (1, "info", 0, "write", 2, "interrupted")]


def test_stop_does_not_wait_out_a_sleeping_nemesis():
    ops: list[Op] = []
    interp = Interpreter(generator=nemesis(seq(sleep(30), once("kill"))), concurrency=0,
                         open_client=lambda t: EchoClient(), nemesis=FaultyNemesis(),
                         record=ops.append, rng=random.Random(0), call_timeout_s=1)
    runner = threading.Thread(target=interp.run)
    runner.start()
    interp.stop()
    runner.join(5)
    assert not runner.is_alive()
    assert ops == []  # the kill after the sleep never happened
