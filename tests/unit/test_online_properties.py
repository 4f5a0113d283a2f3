"""Online checks never contradict offline ones: histories fed op by op, with hypothesis.

The property issue 18 asks for: every prefix the online check finds invalid belongs to a
history the offline check finds invalid. Each test draws a history, feeds it to the
online checker one op at a time, asking for a verdict after every op (pacing off, so
every prefix is judged), and compares with the offline verdict on the whole history:

- register histories over independent keys (`tests.unit.engine_histories` simulates one
  cas-register per key, some reads corrupted, some operations crashed or left pending),
  judged key by key; judged to the end (``final``) with every key's invocations
  declared, the online verdict *equals* the offline one;
- one register judged prefix by prefix (the conformance corpus's shape);
- list-append histories from a small simulated database that sometimes reads an old
  snapshot, reports a committed transaction as failed or loses track of a crashed one,
  checked against every claimed isolation level;
- session histories (unique writes, thin-air reads among them), for ``session`` and
  each single guarantee.
"""

from __future__ import annotations

import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labrys.checkers import (
    CheckOptions,
    OnlineCheck,
    make_online_checker,
    online_check,
    run_checker,
)
from labrys.checkers._online import PrefixChecker
from labrys.checkers._register import linearizable_options
from labrys.history import History, parse_history
from labrys.workloads.list_append import CLAIMS
from tests.unit.engine_histories import simulate
from tests.unit.test_consistency_properties import register_programs, to_history

SESSION_CHECKERS = ("session", "read-your-writes", "monotonic-reads", "monotonic-writes",
                    "writes-follow-reads")


def online_findings(check: OnlineCheck, history: History) -> tuple[int | None, bool]:
    """(the op after which the first finding came, or None; whether judging the whole
    history at the end, ``final``, finds one)."""
    checker = make_online_checker(check)
    if isinstance(checker, PrefixChecker):
        checker.min_interval_s = checker.pace = 0.0
    for op in history:
        checker.feed(op)
        if checker.check() is not None:
            return op.index, True
    return None, checker.check(final=True) is not None


# -- register, key by key -------------------------------------------------------------

def keyed_history(rnd: random.Random) -> tuple[History, int]:
    """Up to three keys, each a simulated cas-register, their ops interleaved at random
    (each key's in its order, each key with processes of its own); and the most
    invocations any key has."""
    blocks = []
    for key in range(rnd.randint(1, 3)):
        h = simulate(rnd, "cas-register", max_steps=16, clients=2)
        blocks.append([{"process": op.process + 10 * key, "type": op.type.value, "f": op.f,
                        "value": [key, op.value]} for op in h])
    most = max(sum(r["type"] == "invoke" for r in block) for block in blocks)
    records: list[dict[str, Any]] = []
    while any(blocks):
        block = rnd.choice([b for b in blocks if b])
        records.append(block.pop(0) | {"time": len(records)})
    return History.from_records((None, r) for r in records), most


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.integers(1, 6))
def test_keys_judged_online_never_contradict_the_offline_verdict(rnd, ops_per_key):
    history, most = keyed_history(rnd)
    offline = run_checker("linearizable", history, linearizable_options(CheckOptions()))
    check = online_check("register", CheckOptions(), ops_per_key=ops_per_key)
    assert check is not None
    at, _ = online_findings(check, history)
    if at is not None:
        assert offline.valid is False, (at, offline.explanation)
    # Every key declared with all its invocations, and judged to the end: the same verdict.
    whole = online_check("register", CheckOptions(), ops_per_key=max(most, 1))
    assert whole is not None
    at, final = online_findings(whole, history)
    assert final == (offline.valid is False), offline.explanation


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False))
def test_a_register_judged_prefix_by_prefix_never_contradicts_the_offline_verdict(rnd):
    history = simulate(rnd, "cas-register", max_steps=20, clients=3)
    options = CheckOptions(model="cas-register", init=None)
    offline = run_checker("linearizable", history, options)
    check = online_check("linearizable", options)
    assert check is not None and not check.cheap
    at, final = online_findings(check, history)
    if at is not None:
        assert offline.valid is False
    if offline.valid != "unknown":
        assert final == (offline.valid is False)


# -- list-append ----------------------------------------------------------------------

def list_append_history(rnd: random.Random) -> History:
    """Transactions over keys x and y against a simulated store that applies each one
    atomically at some moment of its interval, but now and then reads an older snapshot,
    reports a committed transaction as failed, or applies a crashed one late or never.
    Invocations still open at the end stay pending."""
    state: dict[str, list[int]] = {"x": [], "y": []}
    snapshots = [json.loads(json.dumps(state))]
    clients = rnd.randint(1, 3)
    processes = list(range(clients))
    fresh = clients
    flights: list[dict[str, Any] | None] = [None] * clients
    crashed: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    value = 0

    def apply(flight: dict[str, Any]) -> None:
        seen = rnd.choice(snapshots) if rnd.random() < 0.15 else state
        done = []
        for f, k, v in flight["mops"]:
            if f == "append":
                state[k].append(v)
                done.append([f, k, v])
            else:
                done.append([f, k, list(seen[k])])
        flight["done"] = done
        snapshots.append(json.loads(json.dumps(state)))

    for _ in range(rnd.randint(1, 24)):
        s = rnd.randrange(clients)
        flight = flights[s]
        if crashed and rnd.random() < 0.1:
            late = crashed.pop(rnd.randrange(len(crashed)))
            if "done" not in late and rnd.random() < 0.5:
                apply(late)
            continue
        if flight is None:
            mops = []
            for _ in range(rnd.randint(1, 3)):
                k = rnd.choice("xy")
                if rnd.random() < 0.5:
                    mops.append(["r", k, None])
                else:
                    value += 1
                    mops.append(["append", k, value])
            flights[s] = {"mops": mops}
            records.append({"process": processes[s], "type": "invoke", "f": "txn",
                            "value": mops})
        elif "done" not in flight and rnd.random() < 0.8:
            apply(flight)
        else:
            roll = rnd.random()
            if roll < 0.2:
                kind, out = "info", flight["mops"]
                crashed.append(flight)
            elif "done" in flight and roll < 0.93:
                kind, out = "ok", flight["done"]
            else:  # never applied, or applied and reported failed anyway (G1a, if read)
                kind, out = "fail", flight["mops"]
            records.append({"process": processes[s], "type": kind, "f": "txn", "value": out})
            flights[s] = None
            if kind == "info":
                processes[s] = fresh
                fresh += 1
    return parse_history("\n".join(json.dumps(r) for r in records))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.randoms(use_true_random=False), st.sampled_from(CLAIMS))
def test_elle_judged_online_never_contradicts_the_offline_verdict(rnd, claim):
    history = list_append_history(rnd)
    options = CheckOptions(consistency_models=(claim,), timeout_s=5.0)
    offline = run_checker("list-append", history, options)
    check = online_check("list-append", options)
    assert check is not None
    at, final = online_findings(check, history)
    if at is not None:
        assert offline.valid is False, (at, offline.explanation)
    if final:
        assert offline.valid is False


# -- session guarantees ---------------------------------------------------------------

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(register_programs(), st.randoms(use_true_random=False),
       st.sampled_from(SESSION_CHECKERS))
def test_session_guarantees_judged_online_never_contradict_the_offline_verdict(
        programs, rnd, checker):
    history = to_history(programs, rnd)
    offline = run_checker(checker, history, CheckOptions())
    check = online_check(checker, CheckOptions())
    assert check is not None
    at, final = online_findings(check, history)
    if at is not None or final:
        assert offline.valid is False, (at, offline.explanation)
