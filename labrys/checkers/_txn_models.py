"""Transactional consistency models as a lattice, and the anomalies each one forbids.

Problem. A checker finds anomalies (a G-single cycle, an aborted read…); users want to
know what that means for the isolation level their database claims. Two graphs answer
it, both data, both after Elle's ``elle.consistency-model`` (Kingsbury & Alvaro, "Elle:
Inferring Isolation Anomalies from Experimental Observations", VLDB 2020):

- **models**: an edge ``a → b`` says every history that satisfies ``a`` satisfies ``b``
  (strict-serializable → serializable → repeatable-read → cursor-stability →
  read-committed → read-uncommitted, and the snapshot, atomic-visibility and session
  branches beside them);
- **anomalies**: an edge ``a → b`` says a history showing ``a`` also shows ``b`` (a
  G-single-item cycle is a G-single cycle; G1c is a kind of G1; a process-order
  variant is also a realtime variant, since a process runs one operation at a time).

Each model then *directly* proscribes a few anomalies (serializable: G1 and G2;
snapshot-isolation: G1, G-nonadjacent and internal inconsistency; …). A model forbids
everything it proscribes, everything the models it implies proscribe, and every anomaly
that implies one of those. Conversely, an anomaly rules out every model that forbids it,
and every model stronger than those.

Example:
    >>> boundary({"G-single-item"}).not_
    ('consistent-view', 'repeatable-read')

    G-single-item implies G-single (ruling out consistent-view, Adya's PL-2+) and
    G2-item (ruling out repeatable-read, PL-2.99); those are the weakest models the
    history violates, and serializable, snapshot-isolation and every stronger model
    are ruled out with them.

Non-obvious choices:

- Names are the friendly ones (``read-committed``); Adya's names (``PL-2``) and Elle's
  other spellings (``strong-serializable``, ``conflict-serializable``) are accepted as
  aliases. Elle's single-object models (linearizable, sequential, causal, PRAM…) and the
  models that proscribe nothing Elle can observe (view-serializable, 1SR,
  session-serializable) are left out: claiming one of them against a transactional
  history could never fail, which would read as a guarantee.
- As in Elle, "serializable" means conflict serializability (Bernstein et al.), and
  serializable implies snapshot-isolation in the anomaly sense (Bailis; Cerone).
- Elle spells Adya's snapshot anomalies ``G-SI``/``G-SIb`` where a model proscribes them
  and ``GSI``/``GSIb`` where one anomaly implies another, so the link from G-single to
  forward-consistent-view through G-SIb is lost there; here both use ``GSIb``/``GSI``.
- ``garbage-read`` (a read of a value no transaction ever wrote) is proscribed by
  read-uncommitted, beside Elle's duplicate-elements and cyclic-versions: no Adya history
  can contain it, whatever the isolation level.
- Anomalies Elle defines but no checker here can observe (G-cursor, G-update,
  predicate-read-miss…) are omitted; the predicate forms G-single, G-nonadjacent and G2
  stay, because the item forms imply them.
- ``*-cycle-exists`` anomalies (Elle's): a strongly connected component exists in the
  part of the dependency graph a model must keep acyclic. They prove a model violated
  even when the search for a specific, explainable cycle ran out of time.

Sources: Adya, "Weak Consistency" (PhD thesis, MIT, 1999) and Adya, Liskov & O'Neil,
"Generalized Isolation Level Definitions" (ICDE 2000); Bailis et al., "Highly Available
Transactions" (VLDB 2014); Cerone, Bernardi & Gotsman, "A Framework for Transactional
Consistency Models with Atomic Visibility" (CONCUR 2015); Daudjee & Salem, "Lazy
Database Replication with Ordering Guarantees" (ICDE 2004) and "… with Snapshot
Isolation" (VLDB 2006); Liu et al., "ROLA" (2018); Berenson et al., "A Critique of ANSI
SQL Isolation Levels" (SIGMOD 1995).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from labrys.checkers._txn_graph import PROCESS, REALTIME, RW, WR, WW
from labrys.errors import UsageError

# -- the models ------------------------------------------------------------------------

MODEL_IMPLIES: tuple[tuple[str, str, str], ...] = (
    # (stronger, weaker, source)
    ("strict-serializable", "serializable", "Adya 1999; Bailis 2014"),
    ("strict-serializable", "snapshot-isolation", "Adya 1999"),
    ("strict-serializable", "strong-snapshot-isolation", "Elle"),
    ("strict-serializable", "strong-session-serializable", "Daudjee & Salem 2004"),
    ("strong-session-serializable", "serializable", "Daudjee & Salem 2004"),
    ("strong-session-serializable", "strong-session-snapshot-isolation", "Daudjee & Salem"),
    ("strong-snapshot-isolation", "strong-session-snapshot-isolation", "Daudjee & Salem 2006"),
    ("strong-snapshot-isolation", "strong-read-committed", "Elle"),
    ("strong-session-snapshot-isolation", "snapshot-isolation", "Daudjee & Salem 2006"),
    ("strong-session-snapshot-isolation", "strong-session-read-committed", "Elle"),
    ("serializable", "repeatable-read", "Adya 1999; ANSI SQL"),
    ("serializable", "update-serializable", "Adya 1999"),
    ("serializable", "snapshot-isolation", "Bailis 2014; Cerone 2015"),
    ("update-serializable", "forward-consistent-view", "Adya 1999"),
    ("snapshot-isolation", "forward-consistent-view", "Adya 1999"),
    ("snapshot-isolation", "monotonic-atomic-view", "Bailis 2014"),
    ("snapshot-isolation", "monotonic-snapshot-read", "Adya 1999"),
    ("snapshot-isolation", "parallel-snapshot-isolation", "Cerone 2015"),
    ("snapshot-isolation", "prefix", "Cerone 2015"),
    ("parallel-snapshot-isolation", "causal-cerone", "Cerone 2015"),
    ("parallel-snapshot-isolation", "update-atomic", "Liu et al. 2018 (ROLA)"),
    ("prefix", "causal-cerone", "Cerone 2015"),
    ("causal-cerone", "read-atomic", "Cerone 2015"),
    ("update-atomic", "read-atomic", "Cerone 2015"),
    ("read-atomic", "monotonic-atomic-view", "Cerone 2015"),
    ("forward-consistent-view", "consistent-view", "Adya 1999"),
    ("consistent-view", "cursor-stability", "Adya 1999"),
    ("consistent-view", "monotonic-view", "Adya 1999"),
    ("repeatable-read", "cursor-stability", "Adya 1999"),
    ("repeatable-read", "monotonic-atomic-view", "Bailis 2014"),
    ("cursor-stability", "read-committed", "Adya 1999; Bailis 2014"),
    ("monotonic-atomic-view", "read-committed", "Bailis 2014"),
    ("monotonic-view", "read-committed", "Adya 1999"),
    ("monotonic-snapshot-read", "read-committed", "Adya 1999"),
    ("read-committed", "read-uncommitted", "Adya 1999; ANSI SQL"),
    ("strong-read-committed", "strong-session-read-committed", "Elle"),
    ("strong-read-committed", "strong-read-uncommitted", "Elle"),
    ("strong-session-read-committed", "read-committed", "Elle"),
    ("strong-session-read-committed", "strong-session-read-uncommitted", "Elle"),
    ("strong-read-uncommitted", "strong-session-read-uncommitted", "Elle"),
    ("strong-session-read-uncommitted", "read-uncommitted", "Elle"),
)
"""The model lattice. "Elle" marks Elle's own generalisations (the strong and
strong-session forms of read committed and uncommitted), not found in the literature."""

MODEL_ALIASES: dict[str, str] = {
    "PL-1": "read-uncommitted",
    "PL-2": "read-committed",
    "PL-2+": "consistent-view",
    "PL-2L": "monotonic-view",
    "PL-2.99": "repeatable-read",
    "PL-3": "serializable",
    "PL-3U": "update-serializable",
    "PL-CS": "cursor-stability",
    "PL-FCV": "forward-consistent-view",
    "PL-MSR": "monotonic-snapshot-read",
    "PL-SI": "snapshot-isolation",
    "PL-SS": "strict-serializable",
    "conflict-serializable": "serializable",
    "strong-serializable": "strict-serializable",
    "strong-PL-1": "strong-read-uncommitted",
    "strong-PL-2": "strong-read-committed",
    "strong-session-PL-1": "strong-session-read-uncommitted",
    "strong-session-PL-2": "strong-session-read-committed",
}
"""Adya's level names and Elle's other spellings, mapped to the names used here."""

PROSCRIBES: dict[str, tuple[str, ...]] = {
    # What each model forbids beyond what the models it implies forbid (Adya 1999 unless
    # noted; Elle marks the Cerone-derived lists as incomplete).
    "read-uncommitted": ("G0", "duplicate-elements", "cyclic-versions", "garbage-read",
                         "PL-1-cycle-exists"),
    "read-committed": ("G1", "PL-2-cycle-exists"),
    "cursor-stability": ("G1", "lost-update"),                     # + Bailis 2014
    "monotonic-view": ("G1",),
    "monotonic-snapshot-read": ("G1",),
    "consistent-view": ("G1", "G-single"),
    "forward-consistent-view": ("G1", "GSIb"),
    "update-serializable": ("G1",),
    "repeatable-read": ("G1", "G2-item", "lost-update",           # lost update: Bailis
                        "PL-2.99-cycle-exists"),
    "snapshot-isolation": ("internal", "G1", "GSI", "G-nonadjacent",  # internal: Cerone
                           "PL-SI-cycle-exists"),
    "serializable": ("internal", "G1", "G2", "PL-3-cycle-exists"),
    "strict-serializable": ("G1", "G1c-realtime", "G2-realtime", "PL-SS-cycle-exists"),
    "read-atomic": ("internal", "G1a", "future-read"),             # Cerone 2015
    "update-atomic": ("lost-update",),                             # Cerone 2015
    "causal-cerone": ("internal", "G1a"),                          # Cerone 2015
    "parallel-snapshot-isolation": ("internal", "G1a"),            # Cerone 2015
    "prefix": ("internal", "G1a"),                                 # Cerone 2015
    "strong-session-read-uncommitted": ("G0-process",
                                        "strong-session-PL-1-cycle-exists"),
    "strong-session-read-committed": ("G1c-process", "strong-session-PL-2-cycle-exists"),
    "strong-read-uncommitted": ("G0-realtime", "strong-PL-1-cycle-exists"),
    "strong-read-committed": ("G1c-realtime", "strong-PL-2-cycle-exists"),
    "strong-session-snapshot-isolation": (
        "internal", "G1-process", "G-nonadjacent-process",
        "strong-session-snapshot-isolation-cycle-exists"),
    "strong-snapshot-isolation": ("internal", "G1-realtime", "G-nonadjacent-realtime",
                                  "strong-snapshot-isolation-cycle-exists"),
    "strong-session-serializable": ("G1-process", "G2-process",    # Daudjee & Salem 2004
                                    "strong-session-serializable-cycle-exists"),
}

# -- the anomalies ---------------------------------------------------------------------

ANOMALY_IMPLIES: dict[str, tuple[str, ...]] = {
    # Adya: G0 is a special G1c; G1 is the union of G1a, G1b and G1c.
    "G0": ("G1c", "G0-process"),
    "G0-process": ("G1c-process", "G0-realtime"),
    "G0-realtime": ("G1c-realtime",),
    "G1a": ("G1",),
    "G1b": ("G1",),
    "G1c": ("G1", "G1c-process"),
    "G1c-process": ("G1c-realtime", "G1-process"),
    "G1c-realtime": ("G1-realtime",),
    "G1": ("G1-process",),
    "G1-process": ("G1-realtime",),
    # A cycle with one anti-dependency is one whose anti-dependencies are never adjacent.
    "G-single-item": ("G-single", "G-single-item-process", "G-nonadjacent-item"),
    "G-single-item-process": ("G-single-process", "G-single-item-realtime",
                              "G-nonadjacent-item-process"),
    "G-single-item-realtime": ("G-single-realtime", "G-nonadjacent-item-realtime"),
    "G-single": ("G-nonadjacent", "GSIb", "G-single-process"),
    "G-single-process": ("G-nonadjacent-process", "G-single-realtime"),
    "G-single-realtime": ("G-nonadjacent-realtime",),
    "G-nonadjacent-item": ("G-nonadjacent", "G2-item", "G-nonadjacent-item-process"),
    "G-nonadjacent-item-process": ("G-nonadjacent-process", "G2-item-process",
                                   "G-nonadjacent-item-realtime"),
    "G-nonadjacent-item-realtime": ("G2-item-realtime", "G-nonadjacent-realtime"),
    "G-nonadjacent": ("G2", "G-nonadjacent-process"),
    "G-nonadjacent-process": ("G2-process", "G-nonadjacent-realtime"),
    "G-nonadjacent-realtime": ("G2-realtime",),
    "G2-item": ("G2", "G2-item-process"),
    "G2-item-process": ("G2-process", "G2-item-realtime"),
    "G2-item-realtime": ("G2-realtime",),
    "G2": ("G2-process",),
    # One process runs one operation at a time, so its order is also realtime order.
    "G2-process": ("G2-realtime",),
    "GSIa": ("GSI",),
    "GSIb": ("GSI",),
    # Elle's: two committed reads from different timelines imply some read was dirty;
    # promoting aborted state into a committed one is a dirty read of sorts; reading
    # one's own later write is a one-transaction information cycle.
    "incompatible-order": ("G1a",),
    "dirty-update": ("G1a",),
    "future-read": ("G1c",),
    # Bailis 2014: lost update is write skew on one item; Hermitage: write skew is G2.
    "lost-update": ("write-skew", "G2-item"),
    "write-skew": ("G2",),
}

UNKNOWN_KINDS = frozenset({"cycle-search-timeout", "empty-transaction-graph"})
"""Findings that make a verdict unknown rather than false: the checker could not finish,
or the history gave it nothing to reason about."""

# -- cycle existence -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Projection:
    """The part of a dependency graph a model needs acyclic.

    Attributes:
        edges: edge types (bits from `labrys.checkers._txn_graph`) kept as they are.
        extension: if nonzero, also one hop of these types after each kept edge
            (Elle's "sequential extension"): a cycle in ``edges`` extended by ``rw``
            is a cycle whose anti-dependencies are never adjacent, which snapshot
            isolation forbids.
    """

    edges: int
    extension: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class CycleExistsSpec:
    model: str
    kind: str
    projection: Projection


_DATA = WW | WR
CYCLE_EXISTS: tuple[CycleExistsSpec, ...] = tuple(
    CycleExistsSpec(model=m, kind=k, projection=p)
    for m, k, p in (
        # Adya: PL-1 forbids write cycles, PL-2 information cycles, PL-3 all data cycles.
        ("read-uncommitted", "PL-1-cycle-exists", Projection(edges=WW)),
        ("read-committed", "PL-2-cycle-exists", Projection(edges=_DATA)),
        ("snapshot-isolation", "PL-SI-cycle-exists", Projection(edges=_DATA, extension=RW)),
        ("repeatable-read", "PL-2.99-cycle-exists", Projection(edges=_DATA | RW)),
        ("serializable", "PL-3-cycle-exists", Projection(edges=_DATA | RW)),
        ("strong-session-read-uncommitted", "strong-session-PL-1-cycle-exists",
         Projection(edges=WW | PROCESS)),
        ("strong-session-read-committed", "strong-session-PL-2-cycle-exists",
         Projection(edges=_DATA | PROCESS)),
        ("strong-session-snapshot-isolation",
         "strong-session-snapshot-isolation-cycle-exists",
         Projection(edges=_DATA | PROCESS, extension=RW)),
        ("strong-session-serializable", "strong-session-serializable-cycle-exists",
         Projection(edges=_DATA | RW | PROCESS)),
        ("strong-read-uncommitted", "strong-PL-1-cycle-exists",
         Projection(edges=WW | REALTIME)),
        ("strong-read-committed", "strong-PL-2-cycle-exists",
         Projection(edges=_DATA | REALTIME)),
        ("strong-snapshot-isolation", "strong-snapshot-isolation-cycle-exists",
         Projection(edges=_DATA | REALTIME, extension=RW)),
        ("strict-serializable", "PL-SS-cycle-exists",
         Projection(edges=_DATA | RW | REALTIME)),
    )
)
"""Elle's ``cycle-exists-specs``, weakest first."""

# -- derived views ---------------------------------------------------------------------


def _adjacency(edges: Iterable[tuple[str, str]]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    down: dict[str, set[str]] = {}
    up: dict[str, set[str]] = {}
    for a, b in edges:
        down.setdefault(a, set()).add(b)
        up.setdefault(b, set()).add(a)
    return down, up


_MODEL_DOWN, _MODEL_UP = _adjacency((a, b) for a, b, _ in MODEL_IMPLIES)
_ANOMALY_DOWN, _ANOMALY_UP = _adjacency(
    (a, b) for a, bs in ANOMALY_IMPLIES.items() for b in bs)
_PROSCRIBERS = _adjacency((m, a) for m, anomalies in PROSCRIBES.items() for a in anomalies)[1]

MODELS: tuple[str, ...] = tuple(sorted(set(_MODEL_DOWN) | set(_MODEL_UP)))
"""Every model name, sorted."""

ANOMALIES: tuple[str, ...] = tuple(sorted(
    set(_ANOMALY_DOWN) | set(_ANOMALY_UP) | set(_PROSCRIBERS) | UNKNOWN_KINDS))
"""Every anomaly kind the lattice knows, sorted."""


def _closure(start: Iterable[str], step: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(seen)
    while todo:
        for nxt in step.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def canonical_model(name: str) -> str:
    """The name used here for a model, given it or an alias (``PL-2``, ``PL-SS``…).

    Raises:
        UsageError: there is no such model; the message lists those there are.
    """
    model = MODEL_ALIASES.get(name, name)
    if model not in _MODEL_DOWN and model not in _MODEL_UP:
        raise UsageError(
            f"unknown consistency model {name!r}; choose from: {', '.join(MODELS)} "
            f"(or Adya's names: {', '.join(sorted(MODEL_ALIASES))})"
        )
    return model


def check_anomaly_names(names: Iterable[str]) -> tuple[str, ...]:
    """The names, checked.

    Raises:
        UsageError: one is not an anomaly kind this lattice knows.
    """
    out = tuple(names)
    for name in out:
        if name not in ANOMALIES:
            raise UsageError(
                f"unknown anomaly {name!r}; choose from: {', '.join(ANOMALIES)}")
    return out


def implied_models(models: Iterable[str]) -> set[str]:
    """Every model that holds whenever all of ``models`` hold (themselves included)."""
    return _closure(models, _MODEL_DOWN)


def stronger_models(models: Iterable[str]) -> set[str]:
    """Every model that implies one of ``models`` (themselves included)."""
    return _closure(models, _MODEL_UP)


def implied_anomalies(anomalies: Iterable[str]) -> set[str]:
    """Every anomaly a history shows when it shows ``anomalies`` (themselves included)."""
    return _closure(anomalies, _ANOMALY_DOWN)


def anomalies_implying(anomalies: Iterable[str]) -> set[str]:
    """Every anomaly whose presence implies one of ``anomalies`` (themselves included)."""
    return _closure(anomalies, _ANOMALY_UP)


def prohibited_anomalies(models: Iterable[str]) -> set[str]:
    """The anomalies that cannot be present if every one of ``models`` holds."""
    direct = {a for m in implied_models(models) for a in PROSCRIBES.get(m, ())}
    return anomalies_implying(direct)


def impossible_models(anomalies: Iterable[str]) -> set[str]:
    """The models that cannot hold in a history showing ``anomalies``."""
    proscribers = {m for a in implied_anomalies(anomalies) for m in _PROSCRIBERS.get(a, ())}
    return stronger_models(proscribers)


@dataclass(frozen=True, slots=True, kw_only=True)
class Boundary:
    """What a set of anomalies rules out.

    Attributes:
        not_: the weakest models ruled out: none of them implies another ruled-out one.
        also_not: every other model ruled out (all stronger than some in ``not_``).
    """

    not_: tuple[str, ...]
    also_not: tuple[str, ...]


def boundary(anomalies: Iterable[str]) -> Boundary:
    """The weakest models ``anomalies`` rule out, and the rest they rule out (Elle's
    ``boundary``)."""
    impossible = impossible_models(anomalies)
    weakest = {m for m in impossible
               if not (implied_models([m]) - {m}) & impossible}
    return Boundary(not_=tuple(sorted(weakest)),
                    also_not=tuple(sorted(impossible - weakest)))
