"""The search behind `linearizable` and `sequential`: Wing & Gong with Lowe's memo.

The problem: given operations with intervals and a sequential model, find a total order
that the model accepts and that respects a precedence between operations: real time
for linearizability (a precedes b if a returned before b was invoked), each process's
own order for sequential consistency. The search is exponential in the worst case
(the problem is NP-complete, Gibbons and Korach 1997); what makes it practical is
pruning.

Linearizability (`search_linearizable`) follows Wing and Gong (1993) as improved by
Lowe ("Testing for linearizability", 2017) and implemented by Porcupine:

- The history is a doubly linked list of call and return entries in history order.
  The *minimal* operations, those that may take effect next, are exactly the calls
  that come before the first return in the list. Trying one means stepping the model;
  if it succeeds, the call and its return are unlinked ("lifted") and the scan restarts
  from the head. Meeting a return means the operation it closes should have been
  placed already: backtrack, relink the last placed operation and try the next call
  after it. Unlinking and relinking are O(1), as in Knuth's dancing links.
- A memo of (set of placed operations, model state) pairs, the set as a Python int
  used as a bitset: two prefixes that placed the same operations and reached the same
  state have the same futures, so the second is never explored (Lowe's improvement;
  it turns the search from factorial into, at worst, exponential in concurrency).
- An operation whose result is unknown (``info``, or never completed) has a call entry
  and no return entry: nothing forces it to be placed, so it may take effect at any
  time after its invocation, or never. The search succeeds as soon as every operation
  that completed ``ok`` is placed. (Porcupine instead closes such operations at the
  end of the history and places them all; with outputs unknown the verdicts agree,
  and not placing them saves the search the trouble.)

Real time is history order: op ``a`` precedes op ``b`` iff ``a``'s completion comes
before ``b``'s invocation in the history. So in::

    0  process 0 invokes write 1
    1  process 1 invokes read
    2  process 0: ok
    3  process 1: ok, read nil

the read and the write overlap, and the read may take effect first: linearizable. Move
line 1 below line 2 and it may not. Timestamps are not consulted: Knossos and
Porcupine's log readers also go by position, and a history recorded by one process is
written in the order events happened, even where clocks disagree. Positions are
distinct, so the tie Porcupine must break (a call and a return at the same instant,
which it orders call first, treating intervals as closed) cannot arise.

Sequential consistency (`search_sequential`) is the same memoised depth-first search
with a different notion of minimal: an operation may go next when every operation its
process completed ``ok`` before it has been placed. An ``info`` operation must come
after its process's earlier operations but does not hold up the later ones, because a
Jepsen process that timed out is retired and its id's later operations belong, in
truth, to a new process that the timed-out request may still overtake. Candidates are
tried in invocation order. Without real time to prune, this search is far larger than
the linearizability search, which finds an order whenever one respecting real time
exists; so the two run side by side and a linearization, when there is one, decides.

Both searches are generators that pause every `QUANTUM` model steps, reporting the
bytes their memo holds; `run` interleaves them round-robin. That is how the parts of a
partitioned history share one budget, and how an invalid part is found even when a
sibling part's search would run for hours (Porcupine gets the same from one goroutine
per part): once a round ends with a part proved invalid, the others are cancelled. A
deadline and a bound on the memo's estimated bytes are checked between quanta; running
out is an answer, ``unknown``, never a hang or an out-of-memory kill. Every search
remembers the longest prefix it placed, for the explanation.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Generator, Sequence

from labrys.checkers._outcome import Budget, Outcome
from labrys.models import Call, Inconsistent, Model, State

QUANTUM = 8192
"""Model steps between two pauses of a search: a few milliseconds of work."""

_MEMO_ENTRY_BYTES = 140
"""Estimated bytes of one memo entry besides its bitset's digits: a 2-tuple, its slot in
the set, and the int header of the bitset."""


Search = Generator[int, str | None, Outcome]
"""A running search: yields its memo's estimated bytes every `QUANTUM` steps. Resume it
with None to go on, or with a reason ("time", "memory", "cancelled") to stop it, which
makes it return an unknown `Outcome` carrying the longest prefix found so far."""


def _memo_bytes(entries: int, n: int, state: State) -> int:
    # A bitset of n ops is an int of n/30 digits, 4 bytes each. States are often shared
    # between entries; charging the current one's size to every entry errs on the safe
    # side.
    return entries * (_MEMO_ENTRY_BYTES + 4 * (n // 30 + 1) + sys.getsizeof(state))


def _snapshot(ops: list[int], states_before: list[State], state: State) -> tuple[tuple, tuple]:
    """The prefix, and the state after each of its ops, from the stack's states-before."""
    return tuple(ops), (*states_before[1:], state)


def _stop(search: Search, why: str) -> Outcome:
    """Tell a paused search to stop; the unknown outcome it returns."""
    try:
        search.send(why)
    except StopIteration as end:
        return end.value
    raise AssertionError("a search must return when told to stop")


def run(searches: Sequence[Search], budget: Budget) -> list[Outcome]:
    """Run searches round-robin, one quantum each per round, within one budget.

    After a round in which some search ended invalid, the others are cancelled: the
    verdict is decided, and a part that is hard to search must not hide it.

    Returns:
        Each search's outcome, in the order given.
    """
    outcomes: list[Outcome | None] = [None] * len(searches)
    held = [0] * len(searches)
    started = [False] * len(searches)
    live = list(range(len(searches)))

    def stop(reason: str) -> None:
        for k in live:
            if outcomes[k] is not None:
                continue
            if started[k]:
                outcomes[k] = _stop(searches[k], reason)
            else:
                searches[k].close()
                outcomes[k] = Outcome(valid="unknown", stopped=reason)

    while live:
        invalid = False
        for k in live:
            try:
                started[k] = True
                held[k] = next(searches[k])
            except StopIteration as end:
                outcomes[k] = end.value
                held[k] = 0
                invalid = invalid or end.value.valid is False
                continue
            if budget.deadline is not None and time.monotonic() > budget.deadline:
                stop("time")
                return [o for o in outcomes if o is not None]
            if sum(held) > budget.memory_bytes:
                stop("memory")
                return [o for o in outcomes if o is not None]
        live = [k for k in live if outcomes[k] is None]
        if invalid:
            stop("cancelled")
            live = []
    return [o for o in outcomes if o is not None]


def search_linearizable(model: Model, calls: Sequence[Call]) -> Search:
    """Search for a linearization of ``calls`` (in invocation order) under ``model``.

    The outcome's prefix holds positions into ``calls``.
    """
    n = len(calls)
    remaining = sum(1 for c in calls if c.known)
    if remaining == 0:
        return Outcome(valid=True)

    # Entries 1..E in history order; 0 is the head and E+1 the tail sentinel.
    events: list[tuple[int, int, bool]] = []
    for i, c in enumerate(calls):
        events.append((c.index, i, True))
        if c.return_index is not None:
            events.append((c.return_index, i, False))
    events.sort()
    size = len(events)
    head, tail = 0, size + 1
    nxt = [*range(1, size + 2), tail]
    prv = [0, *range(size + 1)]
    op_of = [0] * (size + 2)
    # For a call entry: its return entry, or 0 if it has none. For a return entry: -1.
    kind = [0] * (size + 2)
    return_entry = [0] * n
    for entry in range(size, 0, -1):
        _, i, is_call = events[entry - 1]
        op_of[entry] = i
        if is_call:
            kind[entry] = return_entry[i]
        else:
            kind[entry] = -1
            return_entry[i] = entry

    step = model.step
    inconsistent = Inconsistent
    state = model.init()
    bits = 0
    seen: set[tuple[int, State]] = set()
    stack_entries: list[int] = []
    stack_states: list[State] = []
    best: tuple[tuple, tuple] = ((), ())
    best_len = 0
    countdown = QUANTUM
    entry = nxt[head]
    while True:
        ret = kind[entry]
        if ret >= 0:
            i = op_of[entry]
            new = step(state, calls[i])
            countdown -= 1
            if not countdown:
                countdown = QUANTUM
                if why := (yield _memo_bytes(len(seen), n, state)):
                    if len(stack_entries) > best_len:
                        best = _snapshot([op_of[e] for e in stack_entries], stack_states,
                                         state)
                    return Outcome(valid="unknown", stopped=why, prefix=best[0],
                                   states=best[1], explored=len(seen))
            if new.__class__ is not inconsistent:
                placed = bits | (1 << i)
                key = (placed, new)
                if key not in seen:
                    seen.add(key)
                    stack_entries.append(entry)
                    stack_states.append(state)
                    state = new
                    bits = placed
                    before, after = prv[entry], nxt[entry]
                    nxt[before] = after
                    prv[after] = before
                    if ret:
                        before, after = prv[ret], nxt[ret]
                        nxt[before] = after
                        prv[after] = before
                        remaining -= 1
                        if not remaining:
                            ops, states = _snapshot([op_of[e] for e in stack_entries],
                                                    stack_states, state)
                            return Outcome(valid=True, prefix=ops, states=states,
                                           explored=len(seen))
                    entry = nxt[head]
                    continue
            entry = nxt[entry]
        else:
            # A return: the operation it closes had to be placed by now. Backtrack.
            if not stack_entries:
                return Outcome(valid=False, prefix=best[0], states=best[1], explored=len(seen))
            if len(stack_entries) > best_len:
                best_len = len(stack_entries)
                best = _snapshot([op_of[e] for e in stack_entries], stack_states, state)
            entry = stack_entries.pop()
            state = stack_states.pop()
            bits ^= 1 << op_of[entry]
            ret = kind[entry]
            if ret:
                nxt[prv[ret]] = ret
                prv[nxt[ret]] = ret
                remaining += 1
            nxt[prv[entry]] = entry
            prv[nxt[entry]] = entry
            entry = nxt[entry]


def search_sequential(model: Model, calls: Sequence[Call]) -> Search:
    """Search for an order of ``calls`` that respects each process's order and ``model``.

    A linearization is such an order (a process invokes its next operation only after
    its last one returned), and real time prunes so much more that the linearizability
    search usually finds one first, even though it answers a stronger question. So the
    two run side by side, a quantum each: a linearization found decides "valid"; anything
    else is for the process-order search to decide. The outcome's prefix holds positions
    into ``calls``.
    """
    witness = search_linearizable(model, calls)
    search = _search_process_order(model, calls)
    witness_held = 0
    while True:
        if witness is not None:
            try:
                witness_held = next(witness)
            except StopIteration as end:
                witness_held = 0
                witness = None
                if end.value.valid is True:
                    search.close()
                    return end.value
        try:
            held = next(search)
        except StopIteration as end:
            if witness is not None:
                witness.close()
            return end.value
        if why := (yield held + witness_held):
            if witness is not None:
                witness.close()
            return _stop(search, why)


def _search_process_order(model: Model, calls: Sequence[Call]) -> Search:
    """The depth-first search of `search_sequential`, without the linearizability shortcut."""
    n = len(calls)
    remaining = sum(1 for c in calls if c.known)
    if remaining == 0:
        return Outcome(valid=True)
    known = [c.known for c in calls]
    by_process: dict[object, list[int]] = {}
    for i, c in enumerate(calls):
        by_process.setdefault(c.process, []).append(i)
    chains = list(by_process.values())
    chain_of = [0] * n
    position = [0] * n
    for p, chain in enumerate(chains):
        for j, i in enumerate(chain):
            chain_of[i] = p
            position[i] = j
    low = [0] * len(chains)  # each chain's first position not yet placed
    placed_flags = bytearray(n)

    def candidates() -> list[int]:
        # Per process: the ops not yet placed up to and including its first unplaced
        # ok op. Ops before that one are info ops, which never hold up their successors.
        out = []
        for p, chain in enumerate(chains):
            for j in range(low[p], len(chain)):
                i = chain[j]
                if not placed_flags[i]:
                    out.append(i)
                    if known[i]:
                        break
        out.sort()
        return out

    step = model.step
    inconsistent = Inconsistent
    state = model.init()
    bits = 0
    seen: set[tuple[int, State]] = set()
    frames: list[tuple[list[int], int]] = []
    stack_ops: list[int] = []
    stack_states: list[State] = []
    best: tuple[tuple, tuple] = ((), ())
    best_len = 0
    countdown = QUANTUM
    options = candidates()
    k = 0
    while True:
        while k < len(options):
            i = options[k]
            k += 1
            new = step(state, calls[i])
            countdown -= 1
            if not countdown:
                countdown = QUANTUM
                if why := (yield _memo_bytes(len(seen), n, state)):
                    if len(stack_ops) > best_len:
                        best = _snapshot(stack_ops, stack_states, state)
                    return Outcome(valid="unknown", stopped=why, prefix=best[0],
                                   states=best[1], explored=len(seen))
            if new.__class__ is inconsistent:
                continue
            placed = bits | (1 << i)
            key = (placed, new)
            if key in seen:
                continue
            seen.add(key)
            frames.append((options, k))
            stack_ops.append(i)
            stack_states.append(state)
            state = new
            bits = placed
            placed_flags[i] = 1
            p = chain_of[i]
            chain = chains[p]
            while low[p] < len(chain) and placed_flags[chain[low[p]]]:
                low[p] += 1
            if known[i]:
                remaining -= 1
                if not remaining:
                    ops, states = _snapshot(stack_ops, stack_states, state)
                    return Outcome(valid=True, prefix=ops, states=states, explored=len(seen))
            options = candidates()
            k = 0
        # Every candidate failed or leads nowhere: backtrack.
        if not frames:
            return Outcome(valid=False, prefix=best[0], states=best[1], explored=len(seen))
        if len(stack_ops) > best_len:
            best_len = len(stack_ops)
            best = _snapshot(stack_ops, stack_states, state)
        options, k = frames.pop()
        i = stack_ops.pop()
        state = stack_states.pop()
        bits ^= 1 << i
        placed_flags[i] = 0
        p = chain_of[i]
        if position[i] < low[p]:
            low[p] = position[i]
        if known[i]:
            remaining += 1
