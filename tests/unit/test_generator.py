"""Generators under a simulated clock: exact op sequences with times, and determinism.

`simulate` plays the interpreter's part with no threads and no sleeping: every op takes
``latency`` ns, time jumps straight to the next event (a completion or an op's
scheduled time), and the RNG is seeded, so every expected sequence below is exact.
"""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from labrys.generator import (
    PENDING,
    Context,
    Generator,
    Invocation,
    any_of,
    clients,
    cycle,
    each_process,
    flip_flop,
    from_fn,
    independent_keys,
    limit,
    mix,
    nemesis,
    once,
    phases,
    repeat,
    reserve,
    seq,
    sleep,
    stagger,
    time_limit,
)

MS = 1_000_000


def simulate(gen: Generator, *, concurrency: int = 2, with_nemesis: bool = False,
             seed: int = 0, latency: int = 10, max_ops: int = 1000) -> list[tuple]:
    """``(time, process, f, value)`` for every op the generator yields, in order."""
    rng = random.Random(seed)
    threads: list = list(range(concurrency)) + (["nemesis"] if with_nemesis else [])
    busy: dict = {}
    now = 0
    out: list[tuple] = []
    while len(out) < max_ops:
        for t in [t for t, end in busy.items() if end <= now]:
            del busy[t]
        ctx = Context(time_ns=now, threads=tuple(threads),
                      free=frozenset(t for t in threads if t not in busy),
                      process_of={t: t for t in threads}, rng=rng)
        step = gen.op(ctx)
        if step is None:
            break
        if step is PENDING or step[0].time_ns > now:
            events = list(busy.values()) + ([step[0].time_ns] if step is not PENDING else [])
            assert events, "the generator is pending with nothing that could unblock it"
            now = max(min(events), now)
            continue
        inv, gen = step
        busy[inv.process] = now + (inv.sleep_ns if inv.sleep_ns is not None else latency)
        out.append((now, inv.process, "sleep" if inv.sleep_ns is not None else inv.f,
                    inv.value))
    return out


def test_limit_repeat_spreads_over_free_threads_and_waits_for_them():
    ops = simulate(limit(5, repeat(Invocation(f="read"))), concurrency=2)
    assert [(t, f) for t, _, f, _ in ops] == [(0, "read"), (0, "read"), (10, "read"),
                                              (10, "read"), (20, "read")]
    # At time 0 both threads start; neither runs two ops at once.
    assert {ops[0][1], ops[1][1]} == {0, 1}


def test_once_yields_exactly_one_op():
    assert [(t, f, v) for t, _, f, v in simulate(once("write", 3))] == [(0, "write", 3)]


def test_stagger_is_deterministic_for_a_seed_and_differs_across_seeds():
    g = limit(50, stagger(0.001, repeat(Invocation(f="read"))))
    a, b, c = (simulate(g, seed=1), simulate(g, seed=1), simulate(g, seed=2))
    assert a == b
    assert a != c


def test_stagger_spaces_ops_by_gaps_below_twice_dt_with_the_right_mean():
    g = limit(400, stagger(0.001, repeat(Invocation(f="read"))))
    times = [t for t, *_ in simulate(g, concurrency=50, seed=3)]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(0 <= gap < 2 * MS + 10 for gap in gaps)
    assert 0.8 * MS < sum(gaps) / len(gaps) < 1.2 * MS


def test_time_limit_counts_from_the_first_op_and_yields_nothing_at_or_past_it():
    g = time_limit(0.000_000_05, repeat(Invocation(f="read")))  # 50 ns
    ops = simulate(g, concurrency=1, latency=10)
    assert [t for t, *_ in ops] == [0, 10, 20, 30, 40]


def test_phases_wait_for_every_thread_before_the_next_phase():
    g = phases(limit(3, repeat(Invocation(f="a"))), once("b"))
    ops = simulate(g, concurrency=2, latency=10)
    assert [(t, f) for t, _, f, _ in ops] == [(0, "a"), (0, "a"), (10, "a"), (20, "b")]


def test_seq_moves_on_without_waiting():
    g = seq(limit(3, repeat(Invocation(f="a"))), once("b"))
    ops = simulate(g, concurrency=2, latency=10)
    assert [(t, f) for t, _, f, _ in ops] == [(0, "a"), (0, "a"), (10, "a"), (10, "b")]


def test_mix_draws_from_each_generator_deterministically():
    g = limit(60, mix([repeat(Invocation(f="r")), repeat(Invocation(f="w"))]))
    ops = simulate(g, seed=5)
    assert ops == simulate(g, seed=5)
    fs = [f for _, _, f, _ in ops]
    assert 15 < fs.count("r") < 45 and fs.count("r") + fs.count("w") == 60


def test_mix_drops_exhausted_generators():
    g = mix([once("a"), limit(3, repeat(Invocation(f="b")))])
    assert sorted(f for _, _, f, _ in simulate(g, seed=1)) == ["a", "b", "b", "b"]


def test_cycle_restarts_its_generator_a_given_number_of_times():
    g = cycle(seq(once("start"), once("stop")), times=3)
    assert [f for _, _, f, _ in simulate(g, concurrency=1)] == ["start", "stop"] * 3


def test_flip_flop_alternates_and_ends_with_the_shorter():
    g = flip_flop(repeat(Invocation(f="a")), limit(2, repeat(Invocation(f="b"))))
    assert [f for _, _, f, _ in simulate(g, concurrency=1)] == ["a", "b", "a", "b", "a"]


def test_clients_and_nemesis_route_to_their_own_threads():
    g = any_of(clients(limit(4, repeat(Invocation(f="read")))),
               nemesis(seq(sleep(0.000_000_025), once("start-partition"))))
    ops = simulate(g, concurrency=2, with_nemesis=True, latency=10)
    assert [(t, p, f) for t, p, f, _ in ops if p == "nemesis"] == [
        (0, "nemesis", "sleep"), (25, "nemesis", "start-partition")]
    assert all(isinstance(p, int) for _, p, f, _ in ops if f == "read")
    assert sum(1 for *_, f, _ in ops if f == "read") == 4


def test_reserve_gives_the_first_threads_their_own_generator():
    g = limit(12, reserve((1, repeat(Invocation(f="write"))),
                          default=repeat(Invocation(f="read"))))
    ops = simulate(g, concurrency=3)
    assert {p for _, p, f, _ in ops if f == "write"} == {0}
    assert {p for _, p, f, _ in ops if f == "read"} == {1, 2}


def test_each_process_gives_every_process_its_own_copy():
    g = each_process(seq(once("open"), once("close")))
    ops = simulate(g, concurrency=2)
    assert sorted((p, f) for _, p, f, _ in ops) == [(0, "close"), (0, "open"), (1, "close"),
                                                    (1, "open")]
    assert [f for _, p, f, _ in ops if p == 0] == ["open", "close"]


def test_independent_keys_bounds_ops_per_key_and_wraps_values():
    g = limit(7, independent_keys(3, from_fn(lambda rng: Invocation(f="w", value=7))))
    assert [v for *_, v in simulate(g, concurrency=1)] == [
        [0, 7], [0, 7], [0, 7], [1, 7], [1, 7], [1, 7], [2, 7]]


def test_independent_keys_starts_a_fresh_generator_per_key():
    g = limit(4, independent_keys(5, seq(once("a"), once("b"))))
    assert [(f, v) for _, _, f, v in simulate(g, concurrency=1)] == [
        ("a", [0, None]), ("b", [0, None]), ("a", [1, None]), ("b", [1, None])]


def test_sleep_occupies_its_thread_for_its_duration():
    g = nemesis(seq(sleep(0.000_000_1), once("kill")))
    ops = simulate(g, concurrency=0, with_nemesis=True)
    assert [(t, f) for t, _, f, _ in ops] == [(0, "sleep"), (100, "kill")]


def test_a_generator_is_a_value_asking_twice_changes_nothing():
    g = stagger(0.001, limit(3, repeat(Invocation(f="read"))))
    ctx = Context.initial(concurrency=2, rng=random.Random(1))
    first = g.op(ctx)
    ctx_again = Context.initial(concurrency=2, rng=random.Random(1))
    assert g.op(ctx_again) == first


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), concurrency=st.integers(1, 6))
def test_any_schedule_is_reproducible_from_its_seed(seed, concurrency):
    def build() -> Generator:
        ops = [repeat(Invocation(f="read")),
               from_fn(lambda rng: Invocation(f="write", value=rng.randrange(5)))]
        return any_of(clients(time_limit(0.000_001, stagger(0.000_000_1, mix(ops)))),
                      nemesis(cycle(seq(sleep(0.000_000_3), once("start"), once("stop")),
                                    times=2)))
    a = simulate(build(), concurrency=concurrency, with_nemesis=True, seed=seed)
    b = simulate(build(), concurrency=concurrency, with_nemesis=True, seed=seed)
    assert a == b
    times = [t for t, *_ in a]
    assert times == sorted(times)
