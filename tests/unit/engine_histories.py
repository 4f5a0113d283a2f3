"""Random small histories for the engine tests, made by simulating a real object.

Each operation takes effect (or not) at a random moment inside its interval, against
one true state, so most histories are linearizable; then some reads are corrupted, so
many are not. Crashed (``info``) operations took effect or not at random, possibly
after their crash was recorded, and their process is retired (Jepsen's rule).
Operations still running at the end are left without completion.

Everything comes from one `random.Random`, so a hypothesis-drawn seed reproduces a
history exactly.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from labrys.history import History, parse_history
from labrys.models import Call, Model, Part, Partitionable, call_from_operation

MODELS = ("register", "cas-register", "kv", "mutex", "counter")


@dataclass(slots=True)
class _Flight:
    f: str
    value: Any
    applied: bool = False
    result: Any = None
    ok: bool = True


def _apply(model: str, state: Any, f: str, value: Any) -> tuple[Any, Any, bool]:
    """(new state, result, ok) of one operation on the true object."""
    if model in ("register", "cas-register"):
        if f == "read":
            return state, state, True
        if f == "write":
            return value, value, True
        old, new = value
        return (new, value, True) if state == old else (state, value, False)
    if model == "kv":
        key, v = value
        held = state.get(key, "")
        if f == "get":
            return state, [key, held], True
        if f == "put":
            return {**state, key: v}, value, True
        return {**state, key: held + v}, value, True
    if model == "mutex":
        if f == "acquire":
            return (True, None, True) if not state else (state, None, False)
        return (False, None, True) if state else (state, None, False)
    if f == "read":
        return state, state, True
    return state + value, value, True


def _invocation(model: str, rng: random.Random, serial: int, unique: bool) -> tuple[str, Any]:
    small = serial if unique else rng.randint(0, 2)
    if model in ("register", "cas-register"):
        fs = ["read", "write", "cas"] if model == "cas-register" else ["read", "write"]
        f = rng.choice(fs)
        if f == "read":
            return f, None
        if f == "write":
            return f, small
        return f, [rng.randint(0, 2) if not unique else rng.randint(0, max(serial, 1)), small]
    if model == "kv":
        f = rng.choice(["get", "put", "append"])
        key = rng.choice(["a", "b"])
        token = f"x{small}y" if f != "put" else str(small)
        return f, [key, None if f == "get" else token]
    if model == "mutex":
        return rng.choice(["acquire", "release"]), None
    f = rng.choice(["read", "add"])
    return f, None if f == "read" else rng.randint(1, 2)


def _corrupt(model: str, rng: random.Random, f: str, result: Any) -> Any:
    if model in ("register", "cas-register") and f == "read":
        return rng.choice([None, 0, 1, 2, 3])
    if model == "counter" and f == "read":
        return rng.randint(0, 4)
    if model == "kv" and f == "get":
        return [result[0], rng.choice(["", "x0y", "x1y", "0", "1"])]
    return result


def simulate(rng: random.Random, model: str, *, max_steps: int = 24, clients: int = 3,
             crash: float = 0.2, corrupt: float = 0.15, unique: bool = False) -> History:
    """A random history of ``model`` (one of `MODELS`), as JSON-built ops.

    Args:
        max_steps: at most this many events (invocations, effects, completions).
        clients: concurrent client slots.
        crash: chance that a completion is ``info``.
        corrupt: chance that a read's reported result is replaced by a random one.
        unique: writes write distinct values (so crashed writes can be bounded).
    """
    state: Any = {"register": None, "cas-register": None, "kv": {}, "mutex": False,
                  "counter": 0}[model]
    processes = list(range(clients))
    fresh = clients
    flights: list[_Flight | None] = [None] * clients
    crashed: list[_Flight] = []
    records: list[dict[str, Any]] = []
    serial = 0
    for _ in range(rng.randint(1, max_steps)):
        s = rng.randrange(clients)
        flight = flights[s]
        if crashed and rng.random() < 0.1:
            late = crashed.pop(rng.randrange(len(crashed)))
            if not late.applied and rng.random() < 0.5:
                state, _, _ = _apply(model, state, late.f, late.value)
            continue
        if flight is None:
            serial += 1
            f, value = _invocation(model, rng, serial, unique)
            flights[s] = _Flight(f, value)
            records.append({"process": processes[s], "type": "invoke", "f": f, "value": value})
        elif not flight.applied:
            state, flight.result, flight.ok = _apply(model, state, flight.f, flight.value)
            flight.applied = True
        else:
            if rng.random() < crash:
                kind, value = "info", flight.value
                crashed.append(flight)
            elif flight.ok or (model == "mutex" and rng.random() < corrupt):
                # A mutex lies by reporting an acquire or release that could not happen.
                kind = "ok"
                value = flight.result
                if rng.random() < corrupt:
                    value = _corrupt(model, rng, flight.f, value)
            else:
                kind, value = "fail", flight.value
            records.append({"process": processes[s], "type": kind, "f": flight.f,
                            "value": value})
            flights[s] = None
            if kind == "info":
                processes[s] = fresh
                fresh += 1
    return parse_history("\n".join(json.dumps(r) for r in records))


def parts_of(model: Model, history: History, *, split: bool = True) -> list[Part]:
    """The prepared parts of a history, as the checkers build them."""
    calls = model.prepare([c for c in map(call_from_operation, history.operations())
                           if c is not None])
    if split and isinstance(model, Partitionable):
        return model.partition(calls)
    return [Part(key=None, calls=calls, model=model)]


def calls_of(parts: Sequence[Part]) -> list[Call]:
    return [c for p in parts for c in p.calls]
