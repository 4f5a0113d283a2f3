"""Jepsen's final reads: once every fault is healed, each client reads once more.

The set and counter workloads judge the state the cluster settles into, so both end
the same way: let the cluster recover (a failover and resynchronisation take
seconds), then a ``read`` on every client worker, in two rounds a second apart.
"""

from __future__ import annotations

from labrys.generator import Generator, each_process, once, phases, sleep


def final_reads(wait_s: float) -> Generator:
    """Wait ``wait_s``, then a ``read`` on every client worker, twice, a second apart.

    Two rounds because a client's first call after a failover may find its kept
    connection dead; the checkers judge the last read that succeeded.
    """
    return phases(sleep(wait_s), each_process(once("read")), sleep(1.0),
                  each_process(once("read")))
