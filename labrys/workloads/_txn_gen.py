"""Transactions of micro-ops over a few hot keys: the generator Elle's workloads use.

Elle finds anomalies by inferring dependencies between transactions from what they
read, so transactions must collide: each draws its keys from a small pool of
``key_count`` active keys, mixes reads and writes, and writes values unique across
the run (so a read names the write it saw). A key that has had ``max_writes_per_key``
writes retires and a fresh key takes its place, which keeps lists short and each
key's version order small (Elle's own generator does the same).

Example: ``[["r", 3, None], ["append", 4, 17]]`` reads key 3 and appends 17 to key 4.
Two such transactions crossing (one reads x and writes y, the other reads y and writes
x) is how write skew (G2-item) shows itself under snapshot isolation.
"""

from __future__ import annotations

from dataclasses import dataclass

from labrys.generator import PENDING, Context, Invocation, Step


@dataclass(frozen=True, slots=True)
class TxnGenerator:
    """Endless ``txn`` invocations (see the module docstring).

    Attributes:
        write_f: the write micro-op, ``append`` or ``w``.
        key_count: active keys at any time.
        max_txn_length: micro-ops per transaction, 1…this.
        max_writes_per_key: writes after which a key retires.
        keys: the active keys (state).
        writes: writes so far to each active key (state).
        next_key: the next fresh key (state).
        next_value: the next value to write (state).
    """

    write_f: str
    key_count: int
    max_txn_length: int
    max_writes_per_key: int
    keys: tuple[int, ...] = ()
    writes: tuple[int, ...] = ()
    next_key: int = 0
    next_value: int = 1

    def op(self, ctx: Context) -> Step:
        thread = ctx.some_free_thread()
        if thread is None:
            return PENDING
        rng = ctx.rng
        keys = list(self.keys) or list(range(self.key_count))
        writes = list(self.writes) or [0] * self.key_count
        next_key = self.next_key or self.key_count
        value = self.next_value
        txn: list[list[object]] = []
        for _ in range(1 + rng.randrange(self.max_txn_length)):
            i = rng.randrange(self.key_count)
            if rng.random() < 0.5:
                txn.append(["r", keys[i], None])
                continue
            txn.append([self.write_f, keys[i], value])
            value += 1
            writes[i] += 1
            if writes[i] >= self.max_writes_per_key:
                keys[i], writes[i], next_key = next_key, 0, next_key + 1
        invocation = Invocation(f="txn", value=txn, process=ctx.process_of[thread],
                                time_ns=ctx.time_ns)
        return invocation, TxnGenerator(self.write_f, self.key_count, self.max_txn_length,
                                        self.max_writes_per_key, tuple(keys), tuple(writes),
                                        next_key, value)
