"""The comparison matrix: configurations against guarantees and anomaly kinds.

Rows are a system in one configuration under one fault schedule: the target, the
options its runs gave (target options and any option a claims file mentions;
workload tuning such as ``key_count`` is left out), and the faults. Every stored run
falls in exactly one row, so several workloads can fill one row: Redis's defaults
under a primary cut are judged by set and counter runs alike.

Columns are the guarantees of ``guarantees.toml`` that some row claims or tests, and
the anomaly kinds some run found. Each cell is one `CellKind`:

==========================  ====================================================
claimed, held               the claims say it holds; every deciding run agreed
claimed, violated           the claims say it holds; a run shows it does not (a
                            finding: the witness and the run are kept)
not claimed, violated       nothing promised it, and it broke (expected)
not claimed, not observed   nothing promised it, and no run broke it
not tested                  no run of this row can tell
undecided                   runs could tell, but every one failed or ended unknown
==========================  ====================================================

For anomaly kinds, "claimed" means the claims say the configuration prevents the
kind: stated outright (Hermitage's table) or implied by a claimed guarantee
(serializable prevents G2-item). An anomaly is observed in a run when a kind found
implies it (a G-single-item cycle is a G-single cycle, and a G2 one).

`AnomalyTable` is the same for one source's anomaly statements alone, over the
transactional runs of the rows it speaks of: the generated Hermitage comparison.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from labrys.checkers import UNKNOWN_KINDS, implied_anomalies
from labrys.claims import Claims, Guarantee, Observation, Registry, Source, Stance, Status
from labrys.targets import TARGETS


class CellKind(enum.StrEnum):
    CLAIMED_HELD = "claimed, held"
    CLAIMED_VIOLATED = "claimed, violated"
    UNCLAIMED_VIOLATED = "not claimed, violated"
    UNCLAIMED_NOT_OBSERVED = "not claimed, not observed"
    NOT_TESTED = "not tested"
    UNDECIDED = "undecided"


@dataclass(frozen=True, slots=True, kw_only=True)
class Cell:
    """One row × column.

    Attributes:
        kind: see the module docstring.
        stance: what the claims say (None when they say nothing).
        decided: runs that decided it (held or violated).
        violated: runs that violated it (for an anomaly: that showed it).
        undecided: runs that could have decided it but failed or ended unknown.
        found: for an anomaly, the kinds found that imply it, with their counts.
        witnesses: the runs that violated it, in order.
    """

    kind: CellKind
    stance: Stance | None
    decided: int = 0
    violated: int = 0
    undecided: int = 0
    found: Mapping[str, int] = field(default_factory=dict)
    witnesses: tuple[Observation, ...] = ()

    @property
    def claimed(self) -> bool:
        return self.stance is not None and self.stance.holds


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """One system, configuration and fault schedule, and what its runs showed."""

    system: str
    target: str
    options: tuple[tuple[str, str], ...]
    faults: str
    observations: tuple[Observation, ...]
    claims: Claims
    guarantees: Mapping[str, Cell]
    anomalies: Mapping[str, Cell]

    @property
    def configuration(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options) or "defaults"

    @property
    def label(self) -> str:
        return f"{self.system} · {self.configuration} · {self.faults}"

    def workloads(self) -> Counter[str]:
        return Counter(o.spec.workload for o in self.observations)

    def notes(self) -> dict[str, list[str]]:
        """Each note's values across the row's runs, in run order."""
        out: dict[str, list[str]] = {}
        for o in self.observations:
            for what, value in o.notes:
                out.setdefault(what, []).append(value)
        return out

    def kinds_found(self) -> Counter[str]:
        """Runs that found each kind (raw kinds, not their implications)."""
        return Counter(k for o in self.observations for k in o.kinds)


@dataclass(frozen=True, slots=True, kw_only=True)
class AnomalyTable:
    """One source's anomaly statements against what transactional runs showed."""

    source: Source
    kinds: tuple[str, ...]
    rows: tuple[tuple[Row, Mapping[str, Cell]], ...]

    def findings(self) -> list[tuple[Row, str, Cell]]:
        return [(row, k, c) for row, cells in self.rows for k, c in cells.items()
                if c.kind is CellKind.CLAIMED_VIOLATED]


@dataclass(frozen=True, slots=True, kw_only=True)
class Matrix:
    rows: tuple[Row, ...]
    guarantees: tuple[Guarantee, ...]
    anomalies: tuple[str, ...]
    tables: tuple[AnomalyTable, ...]

    def findings(self) -> list[tuple[Row, str, Cell]]:
        """Every claimed-and-violated cell: (row, column, cell), guarantees first."""
        out = [(row, g.name, row.guarantees[g.name]) for row in self.rows
               for g in self.guarantees
               if row.guarantees[g.name].kind is CellKind.CLAIMED_VIOLATED]
        return out + [f for t in self.tables for f in t.findings()]

    def sources(self) -> list[Source]:
        """Every source some shown cell's stance cites, in first-use order."""
        seen: dict[str, Source] = {}
        for row in self.rows:
            for g in self.guarantees:
                stance = row.guarantees[g.name].stance
                if stance is not None:
                    seen.setdefault(stance.source.id, stance.source)
        for table in self.tables:
            seen.setdefault(table.source.id, table.source)
        return list(seen.values())


def build_matrix(observations: Iterable[Observation], registry: Registry) -> Matrix:
    """The matrix of every observation, judged by ``registry``."""
    groups: dict[tuple[str, tuple[tuple[str, str], ...], str], list[Observation]] = {}
    for o in observations:
        groups.setdefault(_row_key(o, registry), []).append(o)
    guarantees = registry.guarantees
    rows = []
    for (target, options, faults), runs in sorted(groups.items(), key=_row_order(registry)):
        claims = registry.claims_for(target, dict(options))
        statuses = [guarantees.judge(o) for o in runs]
        g_cells = {name: _guarantee_cell(claims.guarantees.get(name),
                                         [s[name] for s in statuses], runs)
                   for name in guarantees.names}
        kinds = sorted({k for o in runs for k in o.kinds} - UNKNOWN_KINDS)
        a_cells = {k: _anomaly_cell(k, claims.anomalies.get(k), runs, registry) for k in kinds}
        rows.append(Row(system=claims.system, target=target, options=options, faults=faults,
                        observations=tuple(runs), claims=claims, guarantees=g_cells,
                        anomalies=a_cells))
    # A column only where some run could tell: a claim nothing tests stays in the JSON.
    shown = tuple(g for g in guarantees.table.values() if any(
        r.guarantees[g.name].kind is not CellKind.NOT_TESTED for r in rows))
    anomalies = tuple(sorted({k for r in rows for k in r.anomalies}))
    return Matrix(rows=tuple(rows), guarantees=shown, anomalies=anomalies,
                  tables=tuple(_anomaly_tables(rows, registry)))


def _row_key(o: Observation, registry: Registry) -> tuple[str, tuple[tuple[str, str], ...], str]:
    spec = o.spec
    target_options = list(TARGETS[spec.target].options) if spec.target in TARGETS else []
    entry = registry.targets.get(spec.target)
    # The options the claims speak of first, in the claims file's order; then the rest of
    # the target's (workload tuning such as key_count changes no claim and is left out).
    order = list(dict.fromkeys([*(entry.option_order if entry else ()), *target_options]))
    options = tuple(sorted(((k, v) for k, v in spec.options.items() if k in order),
                           key=lambda kv: order.index(kv[0])))
    return spec.target, options, faults_text(o)


def faults_text(o: Observation) -> str:
    """``partition (primaries), 12 s``, or ``none``."""
    spec = o.spec
    if not spec.nemesis:
        return "none"
    topologies = f" ({', '.join(spec.topologies)})" if spec.topologies else ""
    return f"{'+'.join(spec.nemesis)}{topologies}, {spec.nemesis_interval_s:g} s"


def _row_order(registry: Registry) -> Any:
    targets = list(registry.targets)

    def key(item: tuple[tuple[str, tuple[tuple[str, str], ...], str], list[Observation]]):
        (target, options, faults), _ = item
        rank = targets.index(target) if target in targets else len(targets)
        system = registry.claims_for(target, dict(options)).system
        return (rank, target, system, len(options), options, faults != "none", faults)
    return key


def _guarantee_cell(stance: Stance | None, statuses: Sequence[Status],
                    runs: Sequence[Observation]) -> Cell:
    violated = [o for o, s in zip(runs, statuses, strict=True) if s is Status.VIOLATED]
    held = sum(s is Status.HELD for s in statuses)
    undecided = sum(s is Status.UNDECIDED for s in statuses)
    return _cell(stance, decided=held + len(violated), violated=violated, undecided=undecided)


def _anomaly_cell(kind: str, stance: Stance | None, runs: Sequence[Observation],
                  registry: Registry) -> Cell:
    guarantees = registry.guarantees
    decided = undecided = 0
    violated: list[Observation] = []
    found: Counter[str] = Counter()
    for o in runs:
        showing = {k: n for k, n in o.kinds.items() if kind in implied_anomalies([k])}
        reported = guarantees.kinds_reported_by(o.spec.workload)
        if showing:
            violated.append(o)
            found.update(showing)
            decided += 1
        elif reported is not None and kind not in reported:
            continue
        elif o.decided and not o.unfinished:
            decided += 1
        else:
            undecided += 1
    return _cell(stance, decided=decided, violated=violated, undecided=undecided, found=found)


def _cell(stance: Stance | None, *, decided: int, violated: list[Observation], undecided: int,
          found: Mapping[str, int] | None = None) -> Cell:
    claimed = stance is not None and stance.holds
    if violated:
        kind = CellKind.CLAIMED_VIOLATED if claimed else CellKind.UNCLAIMED_VIOLATED
    elif decided:
        kind = CellKind.CLAIMED_HELD if claimed else CellKind.UNCLAIMED_NOT_OBSERVED
    elif undecided:
        kind = CellKind.UNDECIDED
    else:
        kind = CellKind.NOT_TESTED
    return Cell(kind=kind, stance=stance, decided=decided, violated=len(violated),
                undecided=undecided, found=dict(found or {}), witnesses=tuple(violated))


def _anomaly_tables(rows: Sequence[Row], registry: Registry) -> list[AnomalyTable]:
    """One table per source that states anomalies, over its rows' transactional runs."""
    elle = registry.guarantees.elle_workloads
    by_source: dict[str, tuple[Source, dict[str, None], list[tuple[Row, dict[str, Cell]]]]] = {}
    for row in rows:
        runs = [o for o in row.observations if o.spec.workload in elle]
        stated = {k: s for k, s in row.claims.anomalies.items() if s.implied_by is None}
        for source_id in dict.fromkeys(s.source.id for s in stated.values()):
            own = {k: s for k, s in stated.items() if s.source.id == source_id}
            if not runs:
                continue
            source = next(iter(own.values())).source
            _, kinds, table_rows = by_source.setdefault(source_id, (source, {}, []))
            kinds.update(dict.fromkeys(own))
            table_rows.append((row, {k: _anomaly_cell(k, s, runs, registry)
                                     for k, s in own.items()}))
    return [AnomalyTable(source=source, kinds=tuple(kinds), rows=tuple(table_rows))
            for source, kinds, table_rows in by_source.values()]
