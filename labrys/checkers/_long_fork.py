"""Long-fork checker: two reads must not see two inserts in opposite orders.

Problem. Parallel snapshot isolation lets replicas apply concurrent transactions in
different orders, so one client can see insert *x* without insert *y* while another
sees *y* without *x*: the history forks, and no single order of the inserts explains
both reads. Snapshot isolation and everything stronger forbid this "long fork"
(Sovran, Power, Aguilera and Li, "Transactional storage for geo-replicated systems",
SOSP 2011, which defines PSI; Jepsen's ``jepsen.tests.long-fork`` hunts for it).

The workload inserts each key once (``[["w", k, 1]]``) and reads whole *groups* of
``n`` keys in one transaction (``[["r", 0, null], ["r", 1, null], ["r", 2, null]]``,
group size ``n`` = ``options.group_size``, Jepsen's ``n``). Because a key goes from
absent to present exactly once, the state a read saw is just the set of its group's
keys that were present. Any serial order of inserts passes through a chain of ever
larger states, so every two reads of one group must be ordered by inclusion. Two reads
where each saw a key the other did not are a **long fork**.

Central abstraction: per group, the distinct states read (sets of present keys). They
are pairwise comparable exactly when, sorted by size, each is a proper subset of the
next: O(d log d) for d distinct states, so a clean history costs a sort. Only when
that fails are all pairs of distinct states compared to list every fork; d is at most
the number of reads of that group and at most 2ⁿ.

Example:
    read [0=1, 1=1, 2=nil]; read [0=1, 1=nil, 2=1]    the first saw 1 before 2, the
                                                      second 2 before 1: a long fork

Non-obvious choices, as Jepsen's:

- If one key is written by two write transactions, states are no longer sets of
  keys, and the verdict is unknown. Likewise if two reads saw different non-null
  values for one key.
- Every read must read exactly one whole group: a read of any other number of keys
  is a malformed history (or the wrong group size) and raises a `HistoryError`. When
  no group size is given, the first read's size is taken, and ``details`` says so.
- A read whose keys were all absent (early) or all present (late) cannot fork; their
  counts are reported, as Jepsen does, to show how informative the reads were.
- Jepsen lists every pair of forked reads; labrys counts those pairs
  (``fork-count``) but lists one pair of reads per pair of distinct states, so a
  history with thousands of identical reads stays readable.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._set import element_key, freeze, preview, render, thaw
from labrys.checkers._verdict import UNKNOWN, Anomaly, Verdict, nothing_to_judge
from labrys.errors import HistoryError
from labrys.history import History, OpType

_FORK_EXAMPLES = 2
"""How many forks an explanation spells out."""


def _is_mop(mop: Any, f: str) -> bool:
    return isinstance(mop, list | tuple) and len(mop) == 3 and mop[0] == f


def _is_read_txn(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(_is_mop(m, "r") for m in value)


def _is_write_txn(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 1 and _is_mop(value[0], "w")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Read:
    op: int  # invocation index
    values: dict[Any, Any]  # key -> value read (None: absent)

    @property
    def present(self) -> frozenset[Any]:
        return frozenset(k for k, v in self.values.items() if v is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fork:
    """Two reads of one group, each of which saw a key the other did not."""

    first: int
    second: int
    only_first: tuple[Any, ...]
    only_second: tuple[Any, ...]
    read_pairs: int  # how many pairs of reads show this same pair of states

    def to_json(self) -> dict[str, Any]:
        return {"reads": [self.first, self.second],
                "only-first": [thaw(k) for k in self.only_first],
                "only-second": [thaw(k) for k in self.only_second],
                "read-pairs": self.read_pairs}

    def sentence(self) -> str:
        a = ", ".join(render(k) for k in self.only_first)
        b = ", ".join(render(k) for k in self.only_second)
        return (f"the read invoked at op {self.first} saw key(s) {a} inserted but not {b}, "
                f"while the read invoked at op {self.second} saw {b} but not {a}: no order "
                "of the inserts explains both")


def _forks_in_group(reads: list[_Read]) -> list[_Fork]:
    """Every pair of distinct states in one group that are not ordered by inclusion."""
    by_state: dict[frozenset[Any], list[int]] = {}
    for read in reads:
        by_state.setdefault(read.present, []).append(read.op)
    states = sorted(by_state, key=len)
    if all(a < b for a, b in itertools.pairwise(states)):
        return []  # a chain: one serial order of inserts explains every read
    forks: list[_Fork] = []
    for i, a in enumerate(states):
        for b in states[i + 1 :]:
            if a <= b or b <= a:
                continue
            (first, sa), (second, sb) = sorted(((min(by_state[a]), a), (min(by_state[b]), b)))
            forks.append(_Fork(
                first=first, second=second,
                only_first=tuple(sorted(sa - sb, key=element_key)),
                only_second=tuple(sorted(sb - sa, key=element_key)),
                read_pairs=len(by_state[a]) * len(by_state[b]),
            ))
    return forks


def _unknown(explanation: str, details: dict[str, Any]) -> Verdict:
    return Verdict(checker="long-fork", valid=UNKNOWN, explanation=explanation, details=details)


def check_long_fork(history: History, options: CheckOptions) -> Verdict:
    """Jepsen's long-fork checker: reads of a group of keys are ordered by inclusion.

    Args:
        history: client transactions; writes are ``[["w", k, v]]`` (one key each),
            reads ``[["r", k1, v1], …]`` over one whole group of keys. ``f`` does not
            matter (Jepsen has used ``txn``, and ``read``/``write``).
        options: ``group_size`` is Jepsen's ``n``, the keys per group; inferred from
            the first read when not given.

    Returns:
        False if two reads of a group saw incompatible sets of inserts; unknown if a
        key was written twice or read with two different values, or if no read of a
        group succeeded (nothing to judge); True otherwise.
        ``details``: ``reads-count``, ``early-read-count``, ``late-read-count``,
        ``group-size`` (and whether it was inferred), ``fork-count``.

    Raises:
        HistoryError: a read did not read exactly ``group_size`` distinct keys.
    """
    operations = history.operations()
    written: dict[Any, int] = {}
    for operation in operations:
        value = operation.invocation.value
        if _is_write_txn(value):
            key = freeze(value[0][1])
            if key in written:
                return _unknown(
                    f"Key {render(key)} is written by two transactions (ops {written[key]} and "
                    f"{operation.index}); the long-fork check needs each key inserted once.",
                    {"multiple-writes": thaw(key)},
                )
            written[key] = operation.index
    reads = [
        _Read(op=o.index, values={freeze(k): freeze(v) for _, k, v in o.value})
        for o in sorted(operations, key=lambda o: o.return_index)
        if o.type is OpType.OK and _is_read_txn(o.value)
    ]
    if not reads:
        return nothing_to_judge("long-fork", 'successful read of a group of keys in one '
                                'transaction ([["r", k1, v1], ["r", k2, v2], …])')
    group_size = options.group_size
    inferred = group_size is None
    if group_size is None:
        group_size = len(reads[0].values)
    details: dict[str, Any] = {
        "reads-count": len(reads),
        "early-read-count": sum(1 for r in reads if not r.present),
        "late-read-count": sum(1 for r in reads if len(r.present) == len(r.values)),
        "group-size": group_size,
        "group-size-inferred": inferred,
    }
    groups: dict[frozenset[Any], list[_Read]] = {}
    for read in reads:
        keys = frozenset(read.values)
        if len(keys) != group_size:
            raise HistoryError(
                f"the read invoked at op {read.op} read {len(keys)} key(s) "
                f"({', '.join(render(k) for k in sorted(keys, key=element_key))}), but the "
                f"group size is {group_size}{' (taken from the first read)' if inferred else ''}"
                "; every read must read one whole group: check --group-size",
                op_index=read.op,
            )
        groups.setdefault(keys, []).append(read)
    details["group-count"] = len(groups)

    for group in groups.values():
        seen: dict[Any, tuple[Any, int]] = {}  # key -> (a non-null value, the read)
        for read in group:
            for k, v in read.values.items():
                if v is None:
                    continue
                earlier = seen.setdefault(k, (v, read.op))
                if earlier[0] != v:
                    return _unknown(
                        f"Key {render(k)} was read as {render(earlier[0])} (op {earlier[1]}) "
                        f"and as {render(v)} (op {read.op}); the long-fork check assumes "
                        "each key is written once.",
                        details,
                    )

    forks = sorted((f for g in groups.values() for f in _forks_in_group(g)),
                   key=lambda f: (f.first, f.second))
    details["fork-count"] = sum(f.read_pairs for f in forks)
    if not forks:
        explanation = (f"All {len(reads)} read(s) of the {len(groups)} group(s) are ordered "
                       "by inclusion: one order of inserts explains them all.")
        return Verdict(checker="long-fork", valid=True, explanation=explanation,
                       details=details)
    sentences = [f.sentence() for f in forks[:_FORK_EXAMPLES]]
    anomaly = Anomaly(
        kind="long-fork",
        ops=tuple(sorted({op for f in forks for op in (f.first, f.second)})),
        explanation=f"{len(forks)} pair(s) of reads saw inserts in incompatible orders: "
        + preview(sentences, total=len(forks), limit=_FORK_EXAMPLES) + ".",
        data={"forks": [f.to_json() for f in forks]},
    )
    return Verdict(checker="long-fork", valid=False, explanation=anomaly.explanation,
                   anomalies=(anomaly,), details=details)
