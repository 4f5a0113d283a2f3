"""The nemesis protocol, and composition by ``f``.

As in Jepsen (``jepsen.nemesis``: setup!, invoke!, teardown!, plus Reflection's
``fs``), a nemesis is a small object the runner hands ops to. Construction is
setup: a nemesis that cannot work against this target or cluster refuses then, in
one line, before the run starts.

The contract of `Nemesis.invoke`:

- it returns a JSON-ready value saying exactly what was done (which grudge, which
  nodes, which offsets), and the runner records it as the ``value`` of the
  nemesis's completion op, so a history alone tells which faults were in force;
- it raises a `LabrysError` when it cannot do what was asked; the runner records
  that as the completion's ``error``; it never silently does nothing;
- randomness comes from the `random.Random` given at construction.

`heal` undoes everything the nemesis has in force (idempotent, and returns what it
undid); `teardown` heals and lets go of anything the nemesis holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from labrys.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class NemesisOp:
    """One op for the nemesis: the function and its value."""

    f: str
    value: Any = None


@runtime_checkable
class Nemesis(Protocol):
    """Something that injects faults when handed ops, and can undo them all."""

    @property
    def fs(self) -> frozenset[str]:
        """The op functions it answers, e.g. ``{"start-partition", "stop-partition"}``."""
        ...

    def invoke(self, f: str, value: Any) -> Any:
        """Do what the op asks and return a JSON-ready description of what was done."""
        ...

    def heal(self) -> Any:
        """Undo every fault in force; return a JSON-ready description of what was undone."""
        ...

    def teardown(self) -> None:
        """Heal, and release what the nemesis holds; it is not used afterwards."""
        ...


class Composed:
    """Several nemeses behind one, each op routed by its ``f``."""

    __slots__ = ("_by_f", "nemeses")

    def __init__(self, nemeses: Sequence[Nemesis]):
        self.nemeses = tuple(nemeses)
        self._by_f: dict[str, Nemesis] = {}
        for nemesis in self.nemeses:
            for f in nemesis.fs:
                if f in self._by_f:
                    raise UsageError(
                        f"two nemeses both handle f={f!r}: "
                        f"{type(self._by_f[f]).__name__} and {type(nemesis).__name__}"
                    )
                self._by_f[f] = nemesis

    @property
    def fs(self) -> frozenset[str]:
        return frozenset(self._by_f)

    def invoke(self, f: str, value: Any) -> Any:
        nemesis = self._by_f.get(f)
        if nemesis is None:
            raise UsageError(f"no nemesis handles f={f!r} (known: {', '.join(sorted(self._by_f))})")
        return nemesis.invoke(f, value)

    def heal(self) -> list[Any]:
        """Heal each nemesis in turn, every one even if an earlier one fails."""
        return _each(self.nemeses, lambda n: n.heal())

    def teardown(self) -> None:
        _each(self.nemeses, lambda n: n.teardown())


def _each(nemeses: Sequence[Nemesis], action: Any) -> list[Any]:
    results = []
    failure: BaseException | None = None
    for nemesis in nemeses:
        try:
            results.append(action(nemesis))
        except Exception as e:  # the others must still be healed; re-raised below
            failure = failure or e
    if failure is not None:
        raise failure
    return results


def compose(*nemeses: Nemesis) -> Composed:
    """One nemesis that routes each op to the nemesis whose `fs` contain its ``f``.

    Raises:
        UsageError: if two nemeses claim the same ``f``.
    """
    return Composed(nemeses)
