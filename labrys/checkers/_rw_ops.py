"""Register and key-value histories as sessions of read and write events.

Problem. The session-guarantee and causal checkers reason about single reads and writes
of keys, grouped by the client session that issued them, and about which write each
read observed. Histories arrive in several shapes: a single register (``read``,
``write``, ``cas [old new]``), Jepsen's independent keys (value ``[key v]``, also with
``get``/``put``), and rw-register transactions (``[["r" k v] ["w" k v]]``). This module
turns any of them into one columnar `RwHistory` once, so that the checkers never look at
an op again, and it holds the few helpers both checkers need to describe what they
found and to find cycles.

Central abstraction: the *event*, one read or write of one key by one session, with its
position in that session. A ``cas`` is two events (it read ``old``, then wrote ``new``);
a transaction is one event per micro-op, in its order. Each read is resolved to its
*source*: the one write that wrote the value it returned, the initial value, or nothing.

Example (a register; op indices on the left)::

    0 invoke p0 write 1    2 invoke p1 read    4 invoke p1 cas [1 2]
    1 ok     p0 write 1    3 ok     p1 read 1  5 info   p1 cas [1 2]

gives two sessions: process 0 with ``w 1`` (op 0), and process 1 with ``r 1`` (op 2),
whose source is op 0's write. The cas timed out and nobody read 2, so it may never have
happened: it is left out, and process 1's session ends there.

Rules that decide verdicts:

- A session is one client process, its ops in their order, ending at the process's
  first ``info`` op: that op may take effect at any later time, so nothing the process
  does afterwards is ordered after it. A process that carries on after an ``info``
  (Jepsen renames it; hand-written histories may not) starts a new session.
- Only ``ok`` reads count: a read that failed or timed out returned nothing. A failed
  op certainly did nothing and is dropped without ending its session.
- An ``info`` write may have happened. If some ok read returned its value, it did
  happen (values are unique), and it becomes an ordinary write event, last in its
  session; otherwise it is left out, which is the choice that constrains least: it can
  never be *required* to be visible. An ``info`` cas whose new value was read happened
  and succeeded, so it also read its old value.
- Written values must be unique per key, counting every write that may have happened
  (``ok`` and ``info``) and the initial value. A key where two such writes, or a write and
  the initial value, agree cannot be judged: a read of that value could have seen
  either. Its events are dropped and the key is listed in `RwHistory.ambiguous`; the
  checkers then answer ``unknown`` unless the other keys already prove a violation.
- The initial value of every key is ``options.init`` when given, else nil (None).
- A read of a value that only a *failed* write wrote is an aborted read; of a value no
  write wrote at all, a thin-air read. Both are kept as read events without a source.

Values and keys are frozen (lists become tuples; booleans are tagged so that JSON
``true`` and ``1`` stay different) to be hashed; the original value is kept for
explanations and ``--json``.

Both checkers search graphs of versions or events for cycles; the three small graph
routines they share (strongly connected components, a shortest path inside one, a
cycle of a small graph) close this module.
"""

from __future__ import annotations

import json
import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from labrys.checkers._registry import NOT_GIVEN, CheckOptions
from labrys.errors import HistoryError
from labrys.history import History, Operation, OpType, Process

READ = "r"
WRITE = "w"

INIT = -1
"""`RwHistory.source` of a read that returned the initial value."""
THIN_AIR = -2
"""`RwHistory.source` of a read of a value no write wrote."""
ABORTED = -3
"""`RwHistory.source` of a read of a value that only a failed write wrote."""

_READ_FS = frozenset({"read", "r", "get"})
_WRITE_FS = frozenset({"write", "w", "put"})
_CAS_FS = frozenset({"cas", "compare-and-set"})
_TXN_F = "txn"
_KV_MODELS = frozenset({"kv", "multi-register", "independent"})
_REGISTER_MODELS = frozenset({"register", "cas-register"})
_PLAIN_KEY = re.compile(r"^[A-Za-z_][\w-]*$")


@dataclass(frozen=True, slots=True)
class _Bool:
    """A JSON boolean, kept apart from the integers Python would equate it with."""

    value: bool


def freeze(value: Any) -> Hashable:
    """``value`` made hashable: lists become tuples, maps sorted tuples of pairs."""
    if type(value) in (int, str, float) or value is None:
        return value
    if isinstance(value, bool):
        return _Bool(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return ("{}", tuple(sorted(((freeze(k), freeze(v)) for k, v in value.items()),
                                   key=repr)))
    return value


def render_value(raw: Any) -> str:
    """A value as an explanation shows it: ``nil``, ``5``, ``"a"``, ``[1, 2]``."""
    if raw is None:
        return "nil"
    try:
        return json.dumps(raw, sort_keys=True)
    except (TypeError, ValueError):
        return str(raw)


def render_key(raw: Any) -> str:
    """A key as an explanation shows it: identifiers bare (``x``), anything else as JSON."""
    if isinstance(raw, str) and _PLAIN_KEY.match(raw):
        return raw
    return render_value(raw)


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One client session: a process's ops up to and including its first ``info`` op.

    Attributes:
        id: the session's position in `RwHistory.sessions`.
        process: the client process that ran it.
        after: the index of the ``info`` op that ended this process's previous session,
            or None for the process's first session.
        events: the session's event ids, in session order.
    """

    id: int
    process: Process
    after: int | None
    events: tuple[int, ...]

    @property
    def name(self) -> str:
        """``process 3``, or ``process 3 (after op 17 timed out)`` for a later session."""
        if self.after is None:
            return f"process {self.process}"
        return f"process {self.process} (after op {self.after} was left indeterminate)"


@dataclass(frozen=True, slots=True, kw_only=True)
class RwHistory:
    """Read and write events, columnar: event ``e``'s fields are ``kind[e]``, ``key[e]``…

    Attributes:
        kind: READ or WRITE.
        key: the frozen key (None for a single register).
        value: the frozen value read or written.
        raw_key: the key as the history wrote it.
        raw_value: the value as the history wrote it.
        op: the invocation index of the op the event belongs to.
        session: the session id.
        seq: the event's position in its session.
        op_seq: the position of the event's op in its session (events of one op share it).
        indefinite: True for the events of an ``info`` op that is known to have happened.
        source: for a read, the event id of the write it observed, or INIT, THIN_AIR or
            ABORTED; -4 for writes.
        sessions: the sessions, in order of their first op.
        writer: the write event of each ``(key, value)``.
        failed_writes: for a ``(key, value)`` only a failed write wrote, that op's index.
        ambiguous: each key that cannot be judged, with the op indices of the writes (and
            a note when the initial value is one of them) that repeat a value.
        raw_keys: each frozen key as the history wrote it.
        register: True for a single-register history (keys are then all None).
        init_raw: the initial value as given (None for nil).
    """

    kind: list[str]
    key: list[Hashable]
    value: list[Hashable]
    raw_key: list[Any]
    raw_value: list[Any]
    op: list[int]
    session: list[int]
    seq: list[int]
    op_seq: list[int]
    indefinite: list[bool]
    source: list[int]
    sessions: list[Session]
    writer: dict[tuple[Hashable, Hashable], int]
    failed_writes: dict[tuple[Hashable, Hashable], int]
    ambiguous: dict[Hashable, dict[str, Any]]
    raw_keys: dict[Hashable, Any]
    register: bool
    init_raw: Any = None
    init: Hashable = None

    def __len__(self) -> int:
        return len(self.kind)

    # -- words ---------------------------------------------------------------------

    def value_text(self, e: int) -> str:
        """The value of event ``e`` as an explanation shows it."""
        return render_value(self.raw_value[e])

    def version_text(self, e: int | None) -> str:
        """A write's value, or the initial value when ``e`` is None."""
        if e is None:
            return render_value(self.init_raw)
        return render_value(self.raw_value[e])

    def read_text(self, raw_key: Any, shown_value: str) -> str:
        """``read 5`` for a register, ``read x = 5`` for a key."""
        if self.register:
            return f"read {shown_value}"
        return f"read {render_key(raw_key)} = {shown_value}"

    def write_text(self, raw_key: Any, shown_value: str) -> str:
        """``wrote 5`` for a register, ``wrote 5 to x`` for a key."""
        if self.register:
            return f"wrote {shown_value}"
        return f"wrote {shown_value} to {render_key(raw_key)}"

    def event_text(self, e: int) -> str:
        """``read x = 5 (op 12)`` or ``wrote 5 to x (op 12)``."""
        shown = self.value_text(e)
        if self.kind[e] == READ:
            text = self.read_text(self.raw_key[e], shown)
        else:
            text = self.write_text(self.raw_key[e], shown)
        return f"{text} (op {self.op[e]})"

    def key_json(self, key: Hashable) -> Any:
        """The key as ``--json`` shows it (None for a register)."""
        return self.raw_keys.get(key)

    def event_json(self, e: int) -> dict[str, Any]:
        """One event as data."""
        out: dict[str, Any] = {"op": self.op[e], "f": self.kind[e],
                               "process": self.sessions[self.session[e]].process,
                               "value": self.raw_value[e]}
        if not self.register:
            out["key"] = self.raw_key[e]
        return out

    def ambiguity_text(self, limit: int = 3) -> str:
        """One sentence naming the keys that cannot be judged and why."""
        parts = []
        for info in list(self.ambiguous.values())[:limit]:
            where = "the register" if self.register else f"key {render_key(info['key'])}"
            ops = ", ".join(str(i) for i in info["ops"])
            also = ", and it is the initial value" if info["initial"] else ""
            plural = "s" if len(info["ops"]) > 1 else ""
            parts.append(f"{where}: value {render_value(info['value'])} is written by "
                         f"op{plural} {ops}{also}")
        more = len(self.ambiguous) - limit
        tail = f" (and {more} more keys)" if more > 0 else ""
        return ("Written values are not unique, so reads of them cannot be attributed to "
                "one write and these keys were not judged: " + "; ".join(parts) + tail + ".")


# -- parsing -----------------------------------------------------------------------


@dataclass(slots=True)
class _Access:
    """One micro-operation before sources are known."""

    kind: str
    key: Hashable
    value: Hashable
    raw_key: Any
    raw_value: Any


@dataclass(slots=True)
class _OpAccesses:
    index: int
    process: Process
    status: OpType
    is_cas: bool
    order: list[_Access]  # reads and writes as the op did them (an info op's: its writes)

    @property
    def reads(self) -> list[_Access]:
        """What an ok op read (nothing else's reads are known)."""
        return [a for a in self.order if a.kind == READ] if self.status is OpType.OK else []

    @property
    def writes(self) -> list[_Access]:
        return [a for a in self.order if a.kind == WRITE]


def _is_pair(value: Any) -> bool:
    return isinstance(value, list | tuple) and len(value) == 2


def _looks_kv(operations: Sequence[Operation]) -> bool:
    """True when every read, write and cas carries Jepsen's independent ``[key v]``."""
    seen = False
    for o in operations:
        f = o.f
        if f == _TXN_F:
            continue
        if f in {"get", "put"}:
            return True
        if f in _READ_FS:
            if not _is_pair(o.invocation.value) and o.invocation.value is not None:
                return False
            if o.invocation.value is None and not (
                o.type is OpType.OK and _is_pair(o.value)
            ):
                return False
        elif f in _WRITE_FS:
            if not _is_pair(o.invocation.value):
                return False
        elif f in _CAS_FS:
            v = o.invocation.value
            if not (_is_pair(v) and _is_pair(v[1])):
                return False
        else:
            continue
        seen = True
    return seen


def _access(kind: str, raw_key: Any, raw_value: Any) -> _Access:
    return _Access(kind, freeze(raw_key), freeze(raw_value), raw_key, raw_value)


def _op_accesses(o: Operation, *, kv: bool, checker: str) -> _OpAccesses:
    """The reads and writes of one operation (fail and info reads have none)."""
    f = o.f
    status = o.type
    index = o.index
    order: list[_Access] = []

    def bad(what: str) -> HistoryError:
        return HistoryError(
            f"the {checker} checker reads register, key-value and rw-register histories; "
            f"op {index} ({f} {o.invocation.value!r}) {what}", op_index=index)

    if f in _READ_FS:
        if status is OpType.OK:
            value = o.value
            if kv:
                if not _is_pair(value):
                    raise bad("completed without a [key, value] pair")
                order.append(_access(READ, value[0], value[1]))
            else:
                order.append(_access(READ, None, value))
    elif f in _WRITE_FS:
        value = o.invocation.value
        if kv:
            if not _is_pair(value):
                raise bad("does not write a [key, value] pair")
            order.append(_access(WRITE, value[0], value[1]))
        else:
            order.append(_access(WRITE, None, value))
    elif f in _CAS_FS:
        value = o.invocation.value
        key, pair = (value[0], value[1]) if kv and _is_pair(value) else (None, value)
        if not _is_pair(pair):
            raise bad("is not a compare-and-set of [old, new]")
        order.append(_access(READ, key, pair[0]))
        order.append(_access(WRITE, key, pair[1]))
    elif f == _TXN_F:
        value = o.value if status is OpType.OK else o.invocation.value
        if not isinstance(value, list | tuple):
            raise bad("is a transaction without a list of micro-ops")
        for mop in value:
            if not (isinstance(mop, list | tuple) and len(mop) == 3 and mop[0] in ("r", "w")):
                raise bad(f"has micro-op {mop!r}; only [\"r\", k, v] and [\"w\", k, v] are "
                          "register reads and writes")
            order.append(_access(READ if mop[0] == "r" else WRITE, mop[1], mop[2]))
    else:
        raise bad("is neither a read, a write, a cas nor a transaction of reads and writes")
    return _OpAccesses(index, o.process, status, f in _CAS_FS, order)


def parse_rw(history: History, options: CheckOptions, *, checker: str) -> RwHistory:
    """The read and write events of a register, key-value or rw-register history.

    Args:
        history: the history.
        options: ``init`` (initial value of every key) and ``model`` (``kv`` or
            ``register`` to settle the shape; detected from the values otherwise).
        checker: the calling checker's name, for error messages.

    Raises:
        HistoryError: a client op is not a read, write, cas or transaction of reads and
            writes, or its value does not have the shape its ``f`` needs.
    """
    operations = history.operations()
    if options.model in _KV_MODELS:
        kv = True
    elif options.model in _REGISTER_MODELS:
        kv = False
    else:
        kv = _looks_kv(operations)
    init_raw = None if options.init is NOT_GIVEN else options.init
    init = freeze(init_raw)

    parsed: list[_OpAccesses] = []
    failed_writes: dict[tuple[Hashable, Hashable], int] = {}
    for o in operations:
        acc = _op_accesses(o, kv=kv, checker=checker)
        if acc.status is OpType.FAIL:
            for a in acc.writes:
                failed_writes.setdefault((a.key, a.value), acc.index)
        parsed.append(acc)

    # Every write that may have happened, to find repeated values.
    writers: dict[tuple[Hashable, Hashable], list[int]] = {}
    for acc in parsed:
        if acc.status is OpType.FAIL:
            continue
        for a in acc.writes:
            writers.setdefault((a.key, a.value), []).append(acc.index)
    ambiguous: dict[Hashable, dict[str, Any]] = {}
    raw_keys: dict[Hashable, Any] = {}
    raw_values: dict[tuple[Hashable, Hashable], Any] = {}
    for acc in parsed:
        for a in acc.order:
            raw_keys.setdefault(a.key, a.raw_key)
            raw_values.setdefault((a.key, a.value), a.raw_value)
    for (key, value), ops in writers.items():
        initial = value == init
        if (len(ops) > 1 or initial) and key not in ambiguous:
            ambiguous[key] = {"key": raw_keys[key], "value": raw_values[(key, value)],
                              "ops": sorted(set(ops)), "initial": initial}

    observed = _observed_indefinite(parsed, ambiguous)

    columns = _Columns()
    sessions: list[Session] = []
    open_session: dict[Process, int] = {}  # process -> its current session id
    session_events: list[list[int]] = []
    session_ops: list[int] = []
    after: dict[Process, int | None] = {}
    for acc in parsed:
        if acc.status is OpType.FAIL:
            continue
        p = acc.process
        if p not in open_session:
            sid = len(sessions)
            sessions.append(Session(id=sid, process=p, after=after.get(p), events=()))
            session_events.append([])
            session_ops.append(0)
            open_session[p] = sid
        sid = open_session[p]
        if acc.status is OpType.OK:
            events = [a for a in acc.order if a.key not in ambiguous]
        else:
            happened = [a for a in acc.writes if (a.key, a.value) in observed]
            # An indefinite op that certainly happened also did its reads, but only a
            # cas's read is known (its old value); a transaction's reads are not.
            if happened and acc.is_cas:
                happened = [acc.order[0], *happened]
            events = [a for a in happened if a.key not in ambiguous]
        for a in events:
            columns.add(a, op=acc.index, session=sid, seq=len(session_events[sid]),
                        op_seq=session_ops[sid], indefinite=acc.status is not OpType.OK)
            session_events[sid].append(len(columns.kind) - 1)
        session_ops[sid] += 1
        if acc.status is not OpType.OK:
            del open_session[p]
            after[p] = acc.index
    sessions = [Session(id=s.id, process=s.process, after=s.after,
                        events=tuple(session_events[s.id])) for s in sessions]

    writer: dict[tuple[Hashable, Hashable], int] = {}
    for e, kind in enumerate(columns.kind):
        if kind == WRITE:
            writer[(columns.key[e], columns.value[e])] = e
    source: list[int] = []
    for e, kind in enumerate(columns.kind):
        if kind == WRITE:
            source.append(-4)
            continue
        kv_pair = (columns.key[e], columns.value[e])
        w = writer.get(kv_pair)
        if w is not None:
            source.append(w)
        elif columns.value[e] == init:
            source.append(INIT)
        elif kv_pair in failed_writes:
            source.append(ABORTED)
        else:
            source.append(THIN_AIR)
    return RwHistory(
        kind=columns.kind, key=columns.key, value=columns.value, raw_key=columns.raw_key,
        raw_value=columns.raw_value, op=columns.op, session=columns.session,
        seq=columns.seq, op_seq=columns.op_seq, indefinite=columns.indefinite,
        source=source, sessions=sessions, writer=writer, failed_writes=failed_writes,
        ambiguous=ambiguous, raw_keys=raw_keys,
        register=not kv and all(o.f != _TXN_F for o in operations), init_raw=init_raw,
        init=init,
    )


@dataclass(slots=True)
class _Columns:
    kind: list[str] = field(default_factory=list)
    key: list[Hashable] = field(default_factory=list)
    value: list[Hashable] = field(default_factory=list)
    raw_key: list[Any] = field(default_factory=list)
    raw_value: list[Any] = field(default_factory=list)
    op: list[int] = field(default_factory=list)
    session: list[int] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    op_seq: list[int] = field(default_factory=list)
    indefinite: list[bool] = field(default_factory=list)

    def add(self, a: _Access, *, op: int, session: int, seq: int, op_seq: int,
            indefinite: bool) -> None:
        self.kind.append(a.kind)
        self.key.append(a.key)
        self.value.append(a.value)
        self.raw_key.append(a.raw_key)
        self.raw_value.append(a.raw_value)
        self.op.append(op)
        self.session.append(session)
        self.seq.append(seq)
        self.op_seq.append(op_seq)
        self.indefinite.append(indefinite)


def _observed_indefinite(
    parsed: Sequence[_OpAccesses], ambiguous: dict[Hashable, dict[str, Any]]
) -> set[tuple[Hashable, Hashable]]:
    """The ``(key, value)`` writes of info ops that some read shows did happen.

    A read by an ok op observes a value; so does the old-value read of an info cas
    whose own write was observed (it happened, so it succeeded), which may in turn
    reveal another info write: hence the worklist.
    """
    indefinite: dict[tuple[Hashable, Hashable], _OpAccesses] = {}
    for acc in parsed:
        if acc.status is OpType.INFO:
            for a in acc.writes:
                if a.key not in ambiguous:
                    indefinite[(a.key, a.value)] = acc
    if not indefinite:
        return set()
    seen: set[tuple[Hashable, Hashable]] = set()
    work = [(a.key, a.value) for acc in parsed if acc.status is OpType.OK for a in acc.reads]
    while work:
        kv_pair = work.pop()
        acc = indefinite.get(kv_pair)
        if acc is None or kv_pair in seen:
            continue
        seen.add(kv_pair)
        if acc.is_cas:  # it happened, so its compare succeeded: it read old
            work.append((acc.order[0].key, acc.order[0].value))
    return seen


# -- graphs ------------------------------------------------------------------------


class Adjacency:
    """Each node's outgoing edge ids, from the edges' sources, as two flat lists.

    A graph of n nodes as n Python lists costs n objects that the garbage collector
    scans on every full pass; this costs two. ``adjacency[u]`` is a fresh list.
    """

    __slots__ = ("_ids", "_start")

    def __init__(self, n: int, sources: Sequence[int]) -> None:
        start = [0] * (n + 1)
        for u in sources:
            start[u + 1] += 1
        for u in range(n):
            start[u + 1] += start[u]
        fill = start[:n]
        ids = [0] * len(sources)
        for i, u in enumerate(sources):
            ids[fill[u]] = i
            fill[u] += 1
        self._start = start
        self._ids = ids

    def __len__(self) -> int:
        return len(self._start) - 1

    def __getitem__(self, u: int) -> list[int]:
        return self._ids[self._start[u]:self._start[u + 1]]


def strongly_connected(n: int, adjacency: Sequence[Sequence[int]],
                       target: Sequence[int]) -> list[int]:
    """The strongly connected component of each of ``n`` nodes (Tarjan, iterative).

    Args:
        n: the number of nodes, 0 … n-1.
        adjacency: ``adjacency[u]`` lists the ids of u's outgoing edges.
        target: ``target[i]`` is the node edge i leads to.

    Returns:
        ``component[u]``: equal for two nodes exactly when each reaches the other.
    """
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    component = [-1] * n
    stack: list[int] = []
    counter = 0
    n_components = 0
    for root in range(n):
        if index[root] != -1:
            continue
        work = [(root, adjacency[root], 0)]  # each node's edges fetched once
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        while work:
            u, edges, i = work[-1]
            if i < len(edges):
                work[-1] = (u, edges, i + 1)
                v = target[edges[i]]
                if index[v] == -1:
                    index[v] = low[v] = counter
                    counter += 1
                    stack.append(v)
                    on_stack[v] = True
                    work.append((v, adjacency[v], 0))
                elif on_stack[v] and index[v] < low[u]:
                    low[u] = index[v]
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                if low[u] < low[parent]:
                    low[parent] = low[u]
            if low[u] == index[u]:
                while True:
                    v = stack.pop()
                    on_stack[v] = False
                    component[v] = n_components
                    if v == u:
                        break
                n_components += 1
    return component


def shortest_path(
    adjacency: Sequence[Sequence[int]],
    target: Sequence[int],
    start: int,
    goal: int,
    *,
    within: Sequence[int] | None = None,
) -> list[int] | None:
    """The edge ids of a shortest path from ``start`` to ``goal``, or None.

    Breadth first, so an explanation built from the path is as short as it can be.

    Args:
        adjacency: ``adjacency[u]`` lists the ids of u's outgoing edges.
        target: ``target[i]`` is the node edge i leads to.
        start: where the path begins.
        goal: where it ends (a path from a node to itself is empty).
        within: ``within[u]`` is u's component; the path stays in ``start``'s.
    """
    if start == goal:
        return []
    comp = None if within is None else within[start]
    parent: dict[int, tuple[int, int]] = {start: (-1, -1)}
    frontier = [start]
    while frontier:
        following: list[int] = []
        for u in frontier:
            for edge in adjacency[u]:
                v = target[edge]
                if v in parent:
                    continue
                if comp is not None and within is not None and within[v] != comp:
                    continue
                parent[v] = (u, edge)
                if v == goal:
                    path = []
                    while v != start:
                        u2, e2 = parent[v]
                        path.append(e2)
                        v = u2
                    return path[::-1]
                following.append(v)
        frontier = following
    return None


Step = tuple[int, tuple[int, int]]


def find_cycle(graph: dict[int, list[tuple[int, int]]]) -> list[Step] | None:
    """A cycle of a small labelled graph, or None (iterative depth-first search).

    Args:
        graph: ``graph[u]`` lists ``(v, label)`` pairs, one per edge u → v.

    Returns:
        The cycle as ``(u, (v, label))`` steps, each v the next step's u.
    """
    state: dict[int, int] = {}  # 1 on the stack, 2 done
    for root in graph:
        if state.get(root):
            continue
        stack: list[tuple[int, int]] = [(root, 0)]
        path: list[Step] = []
        state[root] = 1
        while stack:
            u, i = stack[-1]
            out = graph.get(u, [])
            if i == len(out):
                stack.pop()
                state[u] = 2
                if path:
                    path.pop()
                continue
            stack[-1] = (u, i + 1)
            v, witness = out[i]
            if state.get(v) == 1:
                steps = [*path, (u, (v, witness))]
                start = next(k for k, (x, _) in enumerate(steps) if x == v)
                return steps[start:]
            if not state.get(v):
                state[v] = 1
                path.append((u, (v, witness)))
                stack.append((v, 0))
    return None
