"""The watch and lock workloads: who writes, who watches, and the lock's cycle."""

from __future__ import annotations

import random
from typing import Any

from labrys.generator import Context, clients, limit
from labrys.targets import get_target
from labrys.workloads import get_workload


def workload(name: str, **options: Any):
    entry = get_workload(name)
    return entry.make({**{n: o.default for n, o in entry.options.items()}, **options})


def invocations(g, n: int, *, concurrency: int) -> list[tuple[Any, str, Any]]:
    """The first ``n`` invocations as (process, f, value), every worker always free."""
    g = limit(n, clients(g))
    ctx = Context.initial(concurrency=concurrency, rng=random.Random(4), nemesis=False)
    out = []
    while (step := g.op(ctx)) is not None:
        inv, g = step
        out.append((inv.process, inv.f, inv.value))
    return out


def test_the_first_workers_write_unique_values_and_the_others_watch():
    ops = invocations(workload("watch", writers=2, key_count=2).generator(), 60,
                      concurrency=4)
    writes = [(p, v) for p, f, v in ops if f == "write"]
    assert {p for p, _ in writes} == {0, 1}
    assert {p for p, f, _ in ops if f == "watch"} == {2, 3}  # never starved by writers
    assert [v["value"] for _, v in writes] == list(range(len(writes)))
    assert {v["key"] for _, v in writes} == {"k0", "k1"}


def test_watchers_alone_catch_up_at_the_end():
    final = workload("watch", writers=1).final_generator()
    g = clients(final)
    ctx = Context.initial(concurrency=3, rng=random.Random(1), nemesis=False)
    step = g.op(ctx)
    assert step is not None and step[0].sleep_ns == 3_000_000_000


def test_each_process_cycles_acquire_update_release_with_unique_elements():
    ops = invocations(workload("lock").generator(), 6, concurrency=1)
    assert ops == [(0, "acquire", None), (0, "update", 0), (0, "release", None),
                   (0, "acquire", None), (0, "update", 1), (0, "release", None)]


def test_a_process_that_took_over_a_worker_starts_its_cycle_at_acquire():
    g = workload("lock").generator()
    ctx = Context.initial(concurrency=1, rng=random.Random(1), nemesis=False)
    inv, g = g.op(ctx)
    inv, g = g.op(ctx)
    assert (inv.f, inv.value) == ("update", 0)
    # The update ended info: worker 0 now runs process 1, which has acquired nothing.
    crashed = Context(time_ns=0, threads=ctx.threads, free=ctx.free, process_of={0: 1},
                      rng=ctx.rng)
    inv, g = g.op(crashed)
    assert (inv.process, inv.f) == (1, "acquire")
    inv, g = g.op(crashed)
    assert (inv.f, inv.value) == ("update", 1)


def test_etcd_claims_strict_serializable_transactions_unless_told_otherwise():
    etcd = get_target("etcd")
    assert etcd.workload_options({}) == {"isolation": "strict-serializable"}
    assert etcd.workload_options({"isolation": "serializable"}) == {"isolation": "serializable"}
    assert get_target("postgres").workload_options({}) == {}
