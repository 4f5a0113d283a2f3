"""Property tests: the searches agree with a brute-force search on small random histories.

Registers, cas-registers, kv stores (checked per key and whole), fifo queues and
mutexes, from their default initial states.

The oracle tries every order of the operations that respects the precedence (real time,
or process order) and the model, with each crashed operation either placed somewhere
after its invocation or left out. It shares nothing with the engine but the model: no
linked list, no memo, no bitsets.

Histories are drawn from a `random.Random`, so the same generator feeds hypothesis
(which then shrinks failures) and a seeded sweep that also checks both verdicts occur.
"""

import json
import random
from collections.abc import Callable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from labrys.checkers import CheckOptions
from labrys.checkers._linearizable import check_linearizable, check_sequential
from labrys.checkers._wgl import search_linearizable, search_sequential
from labrys.history import History, parse_history
from labrys.models import Call, Inconsistent, Model, call_from_operation, get_model


def _register(rng: random.Random, cas: bool) -> tuple[str, object]:
    f = rng.choice(["read", "write", "cas"] if cas else ["read", "write"])
    return f, (None if f == "read" else rng.randint(0, 2) if f == "write"
               else [rng.randint(0, 2), rng.randint(0, 2)])


def _kv(rng: random.Random) -> tuple[str, object]:
    f = rng.choice(["get", "put", "append"])
    key = rng.choice(["a", "b"])
    return f, [key, None if f == "get" else rng.choice(["1", "2"] if f == "put" else ["x", "y"])]


WORKLOADS: dict[str, tuple[Callable, Callable]] = {
    # model: (invoke(rng) -> (f, value), result(rng, f, value) -> what an ok returns)
    "register": (lambda rng: _register(rng, False),
                 lambda rng, f, v: rng.choice([None, 0, 1, 2]) if f == "read" else v),
    "cas-register": (lambda rng: _register(rng, True),
                     lambda rng, f, v: rng.choice([None, 0, 1, 2]) if f == "read" else v),
    "kv": (_kv, lambda rng, f, v: [v[0], rng.choice(["", "1", "2x", "xy", "1y"])]
           if f == "get" else v),
    "fifo-queue": (lambda rng: rng.choice([("enqueue", rng.randint(1, 3)), ("dequeue", None)]),
                   lambda rng, f, v: rng.choice([None, 1, 2, 3]) if f == "dequeue" else v),
    "mutex": (lambda rng: (rng.choice(["acquire", "release"]), None),
              lambda rng, f, v: v),
}


def random_history(rng: random.Random) -> tuple[str, History]:
    """A small history for one of `WORKLOADS`, from the model's default initial state.

    Up to three clients; each op ends ok, fail or info, or is still pending at the end.
    After an info a client usually continues as a new process (Jepsen), and sometimes
    under the same one (as Porcupine's etcd logs do). Results are drawn from values
    that were or could have been written, so both verdicts are common.
    """
    model = rng.choice(list(WORKLOADS))
    invoke, result = WORKLOADS[model]
    slots = rng.randint(1, 3)
    processes = list(range(slots))
    fresh = slots
    in_flight: list[tuple[str, object] | None] = [None] * slots
    records = []
    for _ in range(rng.randint(0, 14)):
        s = rng.randrange(slots)
        if in_flight[s] is None:
            f, value = invoke(rng)
            in_flight[s] = (f, value)
            records.append({"process": processes[s], "type": "invoke", "f": f, "value": value})
            continue
        f, value = in_flight[s]
        kind = rng.choice(["ok", "ok", "ok", "fail", "info"])
        if kind == "ok":
            value = result(rng, f, value)
        records.append({"process": processes[s], "type": kind, "f": f, "value": value})
        in_flight[s] = None
        if kind == "info" and rng.random() < 0.7:
            processes[s] = fresh
            fresh += 1
    return model, parse_history("\n".join(json.dumps(r) for r in records))


def prepared(model: Model, history: History) -> list[Call]:
    calls = [call_from_operation(o) for o in history.operations()]
    return model.prepare([c for c in calls if c is not None])


def real_time(a: Call, b: Call) -> bool:
    """Must ``a`` come before ``b``? Yes if ``a`` completed before ``b`` was invoked."""
    return a.return_index is not None and a.return_index < b.index


def process_order(a: Call, b: Call) -> bool:
    """Must ``a`` come before ``b``? Yes if its process completed it ok before invoking ``b``."""
    return a.process == b.process and a.known and a.index < b.index


def exists_order(model: Model, calls: Sequence[Call],
                 precedes: Callable[[Call, Call], bool]) -> bool:
    """Brute force: is there an order of some of the calls, including every ok one, that
    respects ``precedes`` and that the model accepts?"""
    n = len(calls)
    before = [[j for j in range(n) if precedes(calls[j], calls[i])] for i in range(n)]

    def extend(placed: frozenset[int], state: object) -> bool:
        if all(i in placed for i in range(n) if calls[i].known):
            return True
        for i in range(n):
            if i in placed or any(j not in placed for j in before[i]):
                continue
            after = model.step(state, calls[i])
            if not isinstance(after, Inconsistent) and extend(placed | {i}, after):
                return True
        return False

    return extend(frozenset(), model.init())


def search_to_end(search) -> object:
    try:
        while True:
            next(search)
    except StopIteration as end:
        return end.value


def assert_agrees_with_brute_force(model_name: str, history: History) -> tuple[bool, bool]:
    model = get_model(model_name)
    calls = prepared(model, history)
    options = CheckOptions(model=model_name)
    linearizable = check_linearizable(history, options).valid
    sequential = check_sequential(history, options).valid
    if not calls:  # nothing that may have taken effect: nothing to judge, not "valid"
        assert linearizable == sequential == "unknown"
        return True, True
    assert linearizable == exists_order(model, calls, real_time)
    if model_name == "kv":  # checked per key above; whole, the verdict is the same
        whole = CheckOptions(model=model_name, extra={"partition": False})
        assert check_linearizable(history, whole).valid == linearizable
    assert sequential == exists_order(model, calls, process_order)
    assert not linearizable or sequential, "linearizable must imply sequentially consistent"
    return linearizable, sequential


def assert_prefix_is_a_consistent_order(model_name: str, history: History) -> None:
    """The longest prefix an outcome carries respects the precedence and replays through
    the model to the states it reports; a valid outcome's places every ok call."""
    model = get_model(model_name)
    calls = prepared(model, history)
    for search, precedes in ((search_linearizable, real_time),
                             (search_sequential, process_order)):
        outcome = search_to_end(search(model, calls))
        state = model.init()
        for k, i in enumerate(outcome.prefix):
            assert not any(precedes(calls[j], calls[i]) for j in range(len(calls))
                           if j not in outcome.prefix[:k])
            state = model.step(state, calls[i])
            assert not isinstance(state, Inconsistent)
            assert state == outcome.states[k]
        if outcome.valid is True:
            assert {i for i, c in enumerate(calls) if c.known} <= set(outcome.prefix)


@settings(max_examples=300, deadline=None)
@given(st.randoms(use_true_random=False))
def test_linearizable_and_sequential_agree_with_brute_force(rng):
    assert_agrees_with_brute_force(*random_history(rng))


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False))
def test_the_longest_prefix_is_always_a_consistent_order(rng):
    assert_prefix_is_a_consistent_order(*random_history(rng))


def test_a_seeded_sweep_agrees_and_meets_every_verdict():
    rng = random.Random(20240611)
    seen = {(True, True): 0, (False, True): 0, (False, False): 0}
    crashed = 0
    for _ in range(1000):
        model_name, history = random_history(rng)
        seen[assert_agrees_with_brute_force(model_name, history)] += 1
        crashed += any(o.completion is None or o.type == "info" for o in history.operations())
    # Linearizable, only sequentially consistent, and neither: each happens often, and
    # so do crashed operations, so agreement above is not vacuous.
    assert min(seen.values()) >= 20, seen
    assert crashed >= 300
