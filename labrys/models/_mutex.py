"""A lock: ``acquire`` takes it if it is free, ``release`` frees it if it is held.

The state is one boolean, held or free; it starts free. The model knows nothing of
owners, as Knossos's mutex does not: a release by another process than the one that
acquired is still a release. That is enough to catch the classic lock bug, two
processes holding the lock at once, which shows up as an ``acquire`` that no ordering
can place after a ``release``.

A crashed acquire or release stays in the search: it may have taken the lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from labrys.models._model import Call, Inconsistent, State, unknown_function, with_f

_ACQUIRE = "acquire"
_RELEASE = "release"
_ALIASES = {"acquire": _ACQUIRE, "lock": _ACQUIRE, "release": _RELEASE, "unlock": _RELEASE}


@dataclass(frozen=True, slots=True, kw_only=True)
class Mutex:
    """A single lock, free at first."""

    name: ClassVar[str] = "mutex"

    def init(self) -> State:
        return False

    def prepare(self, calls: Sequence[Call]) -> list[Call]:
        out = []
        for call in calls:
            f = _ALIASES.get(call.f)
            if f is None:
                raise unknown_function(self.name, call, "acquire and release")
            out.append(with_f(call, f))
        return out

    def step(self, state: State, call: Call) -> State | Inconsistent:
        if call.f == _ACQUIRE:
            return True if not state else Inconsistent("acquire, but the lock was already held")
        return False if state else Inconsistent("release, but the lock was free")

    def describe_op(self, call: Call) -> str:
        return call.f

    def describe_state(self, state: State) -> str:
        return "held" if state else "free"
