"""Anomalies seen without any cycle: bad reads and bad keys.

Problem. Some anomalies need no dependency graph: a committed transaction that read a
value only a failed transaction wrote (G1a), or that contradicts its own earlier
writes (internal). This module finds them, for both workloads, as data; English comes
later (`labrys.checkers._txn_explain`).

Kinds (Adya 1999; Kingsbury & Alvaro, "Elle", VLDB 2020):

- ``G1a`` aborted read: a committed read shows a value written by a failed transaction.
- ``G1b`` intermediate read: a committed read shows a value its writer later overwrote
  in the same transaction (list-append: the read's *last* element is such a value).
- ``internal``: a read disagrees with what the same transaction wrote or read before
  (list-append: after appending 3 to a key, a read of it must end in 3).
- ``future-read``: a read shows a value the same transaction writes only later.
- ``duplicate-elements`` (list-append): a read lists one element twice; every append is
  unique, so some element was applied twice.
- ``garbage-read``: a read shows a value no transaction ever wrote. list-append lists
  start empty, so any unknown element is garbage. An rw-register key, like Elle's, may
  hold one value nobody wrote (a store loaded before the test); two distinct such values
  cannot both be the initial one.
- ``incompatible-order`` (list-append): two reads of a key neither of which is a prefix
  of the other: no single order of appends produced both.
- ``dirty-update`` (list-append): in a key's version order, a committed append follows
  a failed one, so a committed state was built on aborted data.
- ``lost-update``: two committed transactions read the same version of a key and both
  wrote that key; one of the writes was made without seeing the other (Adya's H_lu).
- ``cyclic-versions`` (rw-register with writes-follow-reads): inferred version orders
  contradict one another.

Example:
    T1 ``ax1`` fails; T2 ``rx1`` commits. T2 read x = [1], but 1 was appended only by
    the failed T1: G1a, reader T2, element 1, writer T1.

Non-obvious choices:

- list-append reads are examined per key and per *distinct* value: a value read many
  times is checked once, then reported for each committed transaction that read it.
- Only committed readers count for G1a, G1b and internal (an ``info`` read is
  unknown); duplicate elements and incompatible orders count ``info`` reads too when
  their values are known, as Elle does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from labrys.checkers._txn_graph import (
    AppendReads,
    RegisterVersions,
    VersionOrders,
)
from labrys.checkers._txn_history import APPEND, READ, WRITE, Txn, TxnHistory
from labrys.history import OpType


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadAnomaly:
    """One read that no correct execution could return.

    Attributes:
        kind: ``G1a``, ``G1b``, ``internal``, ``future-read`` or ``duplicate-elements``.
        reader: id of the reading transaction.
        mop: position of the read in its value.
        key: the key read.
        value: what the read returned.
        elements: the offending elements (aborted, intermediate, future, duplicated).
        writers: ids of the transactions that wrote ``elements`` (G1a, G1b).
        expected: internal: what the transaction's own micro-ops imply the read must
            be (list-append: its tail, when the part before is unknown).
        prefix_known: internal, list-append: False if ``expected`` is only a suffix.
    """

    kind: str
    reader: int
    mop: int
    key: Hashable
    value: Any
    elements: tuple[Any, ...] = ()
    writers: tuple[int, ...] = ()
    expected: Any = None
    prefix_known: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyAnomaly:
    """A problem with a key's versions, shown by several transactions.

    Attributes:
        kind: ``incompatible-order``, ``dirty-update``, ``lost-update``,
            ``garbage-read`` or ``cyclic-versions``.
        key: the key.
        values: incompatible-order: the two reads; dirty-update: the versions from the
            failed append to the committed one; lost-update: the version both read;
            garbage-read: the values nobody wrote; cyclic-versions: the versions.
        txns: ids of the transactions involved, in history order.
    """

    kind: str
    key: Hashable
    values: tuple[Any, ...]
    txns: tuple[int, ...]


Finding = ReadAnomaly | KeyAnomaly


# -- list-append -----------------------------------------------------------------------


def append_anomalies(th: TxnHistory, reads: AppendReads,
                     versions: VersionOrders) -> list[Finding]:
    """Every non-cycle anomaly of a list-append history."""
    txns = _revisiting(th.txns)
    failed, intermediate = _append_writes(th.txns)
    out: list[Finding] = []
    out.extend(_append_internal(txns))
    out.extend(_future_reads(txns, APPEND, contains=True))
    out.extend(_append_bad_reads(th, reads, versions, failed, intermediate))
    for k, shorter, longer in versions.incompatible:
        who = reads[k]
        out.append(KeyAnomaly(kind="incompatible-order", key=k, values=(shorter, longer),
                              txns=tuple(sorted({who[shorter][0][0], who[longer][0][0]}))))
    out.extend(_dirty_updates(th, versions, failed))
    out.extend(_lost_updates(txns, APPEND))
    return out


def _revisiting(txns: Sequence[Txn]) -> list[Txn]:
    """The committed transactions that touch some key twice: only they can be
    internally inconsistent, read the future or lose an update (most touch each key
    once, so this spares the checks below most of the history)."""
    ok = OpType.OK
    return [t for t in txns if t.type is ok and len(t.mops) > 1
            and len({k for _, k, _ in t.mops}) < len(t.mops)]


def _append_internal(txns: Sequence[Txn]) -> Iterator[ReadAnomaly]:
    for t in txns:
        # key -> (prefix known?, the list, or its known tail)
        state: dict[Hashable, tuple[bool, tuple[Any, ...]]] = {}
        for i, (f, k, v) in enumerate(t.mops):
            s = state.get(k)
            if f == APPEND:
                state[k] = (False, (v,)) if s is None else (s[0], (*s[1], v))
                continue
            if s is not None:
                known, seq = s
                good = v == seq if known else (
                    len(v) >= len(seq) and v[len(v) - len(seq):] == seq)
                if not good:
                    yield ReadAnomaly(kind="internal", reader=t.id, mop=i, key=k, value=v,
                                      expected=seq, prefix_known=known)
                    break
            state[k] = (True, v)


def _future_reads(txns: Sequence[Txn], write_f: str, *,
                  contains: bool) -> Iterator[ReadAnomaly]:
    """Reads that show a value their own transaction writes later. ``contains``: a
    read returns a list of elements (list-append), else a single value."""
    for t in txns:
        later: dict[Hashable, set[Any]] = {}
        found: list[ReadAnomaly] = []
        for i in range(len(t.mops) - 1, -1, -1):
            f, k, v = t.mops[i]
            if f == write_f:
                later.setdefault(k, set()).add(v)
            elif k in later and v is not None:
                seen = later[k].intersection(v if contains else (v,))
                if seen:
                    found.append(ReadAnomaly(kind="future-read", reader=t.id, mop=i, key=k,
                                             value=v, elements=tuple(sorted(seen, key=repr))))
        yield from reversed(found)


def _append_writes(txns: Sequence[Txn]) -> tuple[dict[Hashable, set[Any]],
                                                  dict[tuple[Hashable, Any], int]]:
    """key → elements failed transactions appended; (key, element) → the transaction
    that appended it and then appended to that key again (an intermediate version)."""
    fail = OpType.FAIL
    failed: dict[Hashable, set[Any]] = {}
    intermediate: dict[tuple[Hashable, Any], int] = {}
    for t in txns:
        last: dict[Hashable, Any] = {}
        for f, k, v in t.mops:
            if f == APPEND:
                if t.type is fail:
                    failed.setdefault(k, set()).add(v)
                if k in last:
                    intermediate[(k, last[k])] = t.id
                last[k] = v
    return failed, intermediate


def _append_bad_reads(th: TxnHistory, reads: AppendReads, versions: VersionOrders,
                      failed: Mapping[Hashable, set[Any]],
                      intermediate: Mapping[tuple[Hashable, Any], int]) -> Iterator[Finding]:
    """G1a, G1b, duplicate elements and garbage. Each distinct value is examined once,
    and only when its key could have the anomaly: reads that are all prefixes of a
    longest one without duplicates have none, and a key nobody appended to twice in
    one transaction has no intermediate versions."""
    txns = th.txns
    writer = th.writer
    ok = OpType.OK
    incompatible = {k for k, _, _ in versions.incompatible}
    intermediate_keys = {k for k, _ in intermediate}
    for k, by_value in reads.items():
        seen = set().union(*by_value)
        garbage = {e for e in seen if (k, e) not in writer}
        aborted_k = seen & failed[k] if k in failed else None
        longest = max(by_value, key=len)
        dups_possible = k in incompatible or len(set(longest)) < len(longest)
        if not (garbage or aborted_k or dups_possible or k in intermediate_keys):
            continue
        garbage_readers: set[int] = set()
        for v, who in by_value.items():
            if not v:
                continue
            if garbage and not garbage.isdisjoint(v):
                garbage_readers.update(tid for tid, _ in who)
            aborted = sorted(aborted_k.intersection(v), key=v.index) if aborted_k else ()
            if dups_possible and len(set(v)) < len(v):
                dups = tuple(e for e, n in Counter(v).items() if n > 1)
                for tid, i in who:
                    yield ReadAnomaly(kind="duplicate-elements", reader=tid, mop=i, key=k,
                                      value=v, elements=dups)
            middle = intermediate.get((k, v[-1]))
            if not aborted and middle is None:
                continue
            for tid, i in who:
                if txns[tid].type is not ok:
                    continue
                if aborted:
                    yield ReadAnomaly(kind="G1a", reader=tid, mop=i, key=k, value=v,
                                      elements=tuple(aborted),
                                      writers=tuple(writer[(k, e)] for e in aborted))
                if middle is not None and middle != tid:
                    yield ReadAnomaly(kind="G1b", reader=tid, mop=i, key=k, value=v,
                                      elements=(v[-1],), writers=(middle,))
        if garbage:
            yield KeyAnomaly(kind="garbage-read", key=k,
                             values=tuple(sorted(garbage, key=repr)),
                             txns=tuple(sorted(garbage_readers)))


def _dirty_updates(th: TxnHistory, versions: VersionOrders,
                   failed: Mapping[Hashable, set[Any]]) -> Iterator[KeyAnomaly]:
    """Walk each key's version order, tracking the last writer whose fate is known; a
    committed append after a failed one is a dirty update (Elle's rule). Writers that
    may or may not have committed (info, or unknown for garbage) say nothing. Only
    keys some failed transaction appended to can have one."""
    txns = th.txns
    ok, fail = OpType.OK, OpType.FAIL
    for k in failed:
        known_type = ok     # the initial state counts as committed
        known_txn = -1
        span: list[Any] = []
        for v in versions.orders.get(k, ()):
            span.append(v)
            w = th.writer.get((k, v))
            w_type = None if w is None else txns[w].type
            if w_type is ok:
                if known_type is fail:
                    yield KeyAnomaly(kind="dirty-update", key=k, values=tuple(span),
                                     txns=(known_txn, w))
                known_type, known_txn, span = ok, w, [v]
            elif w_type is fail and known_type is not fail:
                known_type, known_txn, span = fail, w, [v]


def _lost_updates(txns: Sequence[Txn], write_f: str) -> Iterator[KeyAnomaly]:
    """Committed transactions that read a key and then wrote it, grouped by the version
    they read: two or more in one group lost an update."""
    groups: dict[tuple[Hashable, Any], list[int]] = {}
    for t in txns:
        first_read: dict[Hashable, Any] = {}
        wrote: set[Hashable] = set()
        for f, k, v in t.mops:
            if f == write_f:
                if k not in wrote:
                    wrote.add(k)
                    if k in first_read:
                        groups.setdefault((k, first_read[k]), []).append(t.id)
            elif k not in first_read:
                first_read[k] = v
    for (k, v), ids in groups.items():
        if len(ids) > 1:
            yield KeyAnomaly(kind="lost-update", key=k, values=(v,), txns=tuple(ids))


# -- rw-register -----------------------------------------------------------------------


def register_anomalies(th: TxnHistory, versions: RegisterVersions) -> list[Finding]:
    """Every non-cycle anomaly of an rw-register history."""
    txns = _revisiting(th.txns)
    out: list[Finding] = []
    out.extend(_register_internal(txns))
    out.extend(_future_reads(txns, WRITE, contains=False))
    out.extend(_register_bad_reads(th))
    out.extend(_lost_updates(txns, WRITE))
    for k, cycle in versions.cycles:
        out.append(KeyAnomaly(kind="cyclic-versions", key=k, values=cycle, txns=()))
    return out


def _register_internal(txns: Sequence[Txn]) -> Iterator[ReadAnomaly]:
    for t in txns:
        state: dict[Hashable, Any] = {}
        for i, (f, k, v) in enumerate(t.mops):
            if f == READ and k in state and state[k] != v:
                yield ReadAnomaly(kind="internal", reader=t.id, mop=i, key=k, value=v,
                                  expected=state[k])
                break
            state[k] = v


def _register_bad_reads(th: TxnHistory) -> Iterator[Finding]:
    txns = th.txns
    writer = th.writer
    ok, fail = OpType.OK, OpType.FAIL
    intermediate: dict[tuple[Hashable, Any], int] = {}
    for t in txns:
        last: dict[Hashable, Any] = {}
        for f, k, v in t.mops:
            if f == WRITE:
                if k in last:
                    intermediate[(k, last[k])] = t.id
                last[k] = v
    unwritten: dict[Hashable, dict[Any, list[int]]] = {}
    for t in txns:
        if t.type is not ok:
            continue
        for i, (f, k, v) in enumerate(t.mops):
            if f != READ or v is None:
                continue
            w = writer.get((k, v))
            if w is None:
                unwritten.setdefault(k, {}).setdefault(v, []).append(t.id)
            elif w != t.id and txns[w].type is fail:
                yield ReadAnomaly(kind="G1a", reader=t.id, mop=i, key=k, value=v,
                                  elements=(v,), writers=(w,))
            elif (k, v) in intermediate and intermediate[(k, v)] != t.id:
                yield ReadAnomaly(kind="G1b", reader=t.id, mop=i, key=k, value=v,
                                  elements=(v,), writers=(intermediate[(k, v)],))
    for k, by_value in unwritten.items():
        if len(by_value) > 1:
            readers = {tid for ids in by_value.values() for tid in ids}
            yield KeyAnomaly(kind="garbage-read", key=k,
                             values=tuple(sorted(by_value, key=repr)),
                             txns=tuple(sorted(readers)))

