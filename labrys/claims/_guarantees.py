"""Guarantees: what a run can show held or broken, read from ``guarantees.toml``.

A claim is only worth keeping if a run can contradict it. A guarantee therefore names
the evidence that breaks it: for each workload whose runs decide it, the anomaly kinds
that violate it (``decided_by``); for the transactional models, the model lattice of
`labrys.checkers`, which turns any set of anomaly kinds Elle found into the models
they rule out (``elle = true``). Guarantees imply weaker ones (``implies``; the
lattice for the models): a run that loses an acknowledged write is not linearizable,
and one that is not serializable is not strict serializable either.

`Guarantees.judge` gives one run's `Status` for each guarantee:

- ``violated``: the run found an anomaly that breaks it (or breaks a weaker one it
  implies), whatever the verdict says about the run's own claim;
- ``held``: the run decides it and found no such anomaly;
- ``undecided``: the run decides it but failed or ended unknown;
- ``untested``: nothing in this run can tell.

A transactional run decides a model only if Elle searched the orders the model
needs: strict serializability needs real-time edges, which Elle adds only when the
run claimed a model that needs them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from labrys._tomlfile import Table, read_toml, shown
from labrys.checkers import (
    TXN_MODELS,
    impossible_models,
    prohibited_anomalies,
    stronger_models,
)
from labrys.claims._observation import Observation
from labrys.errors import UsageError


class Status(enum.StrEnum):
    """What one run says about one guarantee (see the module docstring)."""

    HELD = "held"
    VIOLATED = "violated"
    UNDECIDED = "undecided"
    UNTESTED = "untested"


@dataclass(frozen=True, slots=True, kw_only=True)
class Guarantee:
    """One column of the comparison.

    Attributes:
        name: the key claims use (``no-lost-writes``).
        title: the column heading.
        means: one or two sentences defining it, with the source of the definition.
        implies: weaker guarantees, whose violation violates this one.
        decided_by: workload -> the anomaly kinds of its verdicts that violate this.
        elle: a transactional model of the lattice, decided by the Elle workloads.
    """

    name: str
    title: str
    means: str
    implies: tuple[str, ...] = ()
    decided_by: Mapping[str, frozenset[str]]
    elle: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Guarantees:
    """Every guarantee, in column order, and the workloads Elle checks."""

    table: Mapping[str, Guarantee]
    elle_workloads: frozenset[str]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.table)

    def kinds_reported_by(self, workload: str) -> frozenset[str] | None:
        """The anomaly kinds a workload's runs can report that bear on a guarantee;
        None for an Elle workload, which can report every kind of the lattice."""
        if workload in self.elle_workloads:
            return None
        return frozenset(k for g in self.table.values() for k in g.decided_by.get(workload, ()))

    def prevented_by(self, guarantee: str) -> frozenset[str]:
        """The anomaly kinds a guarantee rules out (so a claim of it claims their absence)."""
        g = self.table[guarantee]
        kinds = {k for ks in g.decided_by.values() for k in ks}
        if g.elle:
            kinds |= prohibited_anomalies([g.name])
        return frozenset(kinds)

    def decides(self, workload: str, claimed_models: Iterable[str] = ()) -> set[str]:
        """The guarantees a run of ``workload`` decides (see the module docstring)."""
        out = {g.name for g in self.table.values() if workload in g.decided_by}
        if workload in self.elle_workloads:
            searched = _orders(prohibited_anomalies(claimed_models)) if claimed_models else 0
            out |= {g.name for g in self.table.values()
                    if g.elle and _orders(prohibited_anomalies([g.name])) <= searched}
        return out

    def violated(self, workload: str, kinds: Iterable[str]) -> set[str]:
        """The guarantees that anomalies of these kinds, found by ``workload``, break."""
        found = set(kinds)
        out = {g.name for g in self.table.values() if found & g.decided_by.get(workload, set())}
        elle = {g.name for g in self.table.values() if g.elle}
        out |= impossible_models(found) & elle
        while True:
            grown = out | (stronger_models(out & elle) & elle) | {
                g.name for g in self.table.values() if set(g.implies) & out}
            if grown == out:
                return out
            out = grown

    def judge(self, observation: Observation) -> dict[str, Status]:
        """Every guarantee's status in one run, in column order."""
        spec = observation.spec
        violated = self.violated(spec.workload, observation.kinds)
        decided = self.decides(spec.workload, observation.claimed_models)
        out: dict[str, Status] = {}
        for name, g in self.table.items():
            if name in violated:
                out[name] = Status.VIOLATED
            elif name not in decided:
                out[name] = Status.UNTESTED
            elif not observation.decided or (g.elle and observation.unfinished):
                out[name] = Status.UNDECIDED
            else:
                out[name] = Status.HELD
        return out


def _orders(kinds: Iterable[str]) -> int:
    """Which order edges a search for these anomaly kinds needs: 0 none, 1 process
    order, 2 real time (which contains process order: one process, one op at a time)."""
    kinds = set(kinds)
    if any(k.endswith("-realtime") for k in kinds):
        return 2
    return 1 if any(k.endswith("-process") for k in kinds) else 0


def load_guarantees(path: Path, *, workloads: Iterable[str]) -> Guarantees:
    """The guarantees declared in ``path`` (``guarantees.toml``).

    Raises:
        UsageError: a malformed table, an unknown workload, a model the lattice does
            not know, or an ``implies`` naming no guarantee.
    """
    known_workloads = list(workloads)
    top = Table(read_toml(path, what="guarantees"), str(path))
    top.only(["elle_workloads", "guarantees"])
    elle_workloads = top.texts("elle_workloads")
    for w in elle_workloads:
        _check_workload(w, known_workloads, top.at("elle_workloads"))
    table: dict[str, Guarantee] = {}
    declared = top.table("guarantees")
    for name in declared.data:
        t = declared.table(name)
        t.only(["title", "means", "implies", "decided_by", "elle"])
        elle = t.data.get("elle", False)
        if not isinstance(elle, bool):
            raise UsageError(f"{t.at('elle')} = {elle!r} is not valid; expected true or false")
        if elle and name not in TXN_MODELS:
            raise UsageError(f"{t.where}: elle = true, but {shown(name)} is not a model of the "
                             f"lattice; known: {', '.join(TXN_MODELS)}")
        by = t.table("decided_by")
        decided_by = {}
        for workload in by.data:
            _check_workload(workload, known_workloads, by.where)
            decided_by[workload] = frozenset(by.texts(workload))
        table[name] = Guarantee(name=name, title=t.text("title") or name,
                                means=t.required_text("means"), implies=tuple(t.texts("implies")),
                                decided_by=decided_by, elle=elle)
    for g in table.values():
        for weaker in g.implies:
            if weaker not in table:
                raise UsageError(f"{path}: guarantees.{g.name}.implies names {shown(weaker)}, "
                                 f"which is not a guarantee; known: {', '.join(table)}")
    return Guarantees(table=table, elle_workloads=frozenset(elle_workloads))


def _check_workload(name: str, known: list[str], where: str) -> None:
    if name not in known:
        raise UsageError(f"{where}: unknown workload {shown(name)}; choose one of: "
                         f"{', '.join(known)}")
