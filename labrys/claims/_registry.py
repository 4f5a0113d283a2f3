"""The registry of claims: one TOML file per target, read and checked once.

A claims file (``labrys/claims/<target>.toml``) says, for configurations of one target
(option values), which guarantees hold according to a named source, and which do
not. A configuration is partial: ``options = { read_from = "replica" }`` applies to
every run that reads from replicas, whatever its other options; ``options = {}``
applies to every run of the target. A run collects the statements of every
configuration its options match (an option it did not give matches its default), the
more specific configuration (more options; at equal count, more of them given by the
run) winning where two speak of the same guarantee.

Shape of a file::

    target = "redis"
    system = "Redis with Sentinel"

    [sources.redis-sentinel]
    title = "High availability with Redis Sentinel (Redis documentation)"
    url = "https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/"

    [[configurations]]
    options = {}
    [[configurations.claims]]
    source = "redis-sentinel"
    disclaimed = ["no-lost-writes"]
    says = "Replication is asynchronous: a failover loses what the old primary acknowledged."

Each statement (``[[configurations.claims]]``) names its ``source``, says in a
sentence what the source states (``says``, in this project's words), and lists
guarantees of ``guarantees.toml`` the source says hold (``claimed``) or do not
(``disclaimed``), and anomaly kinds it says the configuration prevents (``prevents``)
or allows (``allows``): tables such as Hermitage's are anomaly statements.

Everything is checked when the file is read: every option must be one the target or
a workload declares, with a value it accepts; every guarantee and source must exist;
a statement may not contradict itself, and two configurations that can match the
same run may not contradict each other at the same specificity.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labrys._tomlfile import Table, read_toml, shown
from labrys.checkers import TXN_MODELS, implied_anomalies, prohibited_anomalies
from labrys.claims._guarantees import Guarantees, load_guarantees
from labrys.errors import UsageError
from labrys.harness._spec import spec_from_mapping
from labrys.options import Option
from labrys.targets import TARGETS, get_target
from labrys.workloads import WORKLOADS

CLAIMS_DIR = Path(__file__).parent
"""Where the registry's files live: ``guarantees.toml`` and one file per target."""

GUARANTEES_FILE = "guarantees.toml"


@dataclass(frozen=True, slots=True, kw_only=True)
class Source:
    """Where a claim comes from: a documentation page, a paper, a published table."""

    id: str
    title: str
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Stance:
    """What one source says about one guarantee or anomaly kind in one configuration.

    Attributes:
        holds: True when the source says the guarantee holds (or the anomaly is
            prevented), False when it says it does not (or the anomaly is allowed).
        source: the source.
        says: the statement, in a sentence.
        implied_by: for an anomaly, the claimed guarantee that rules it out, when the
            stance was derived from a guarantee rather than stated.
    """

    holds: bool
    source: Source
    says: str
    implied_by: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Statement:
    source: str
    says: str
    claimed: tuple[str, ...] = ()
    disclaimed: tuple[str, ...] = ()
    prevents: tuple[str, ...] = ()
    allows: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Configuration:
    """Option values (partial) and what the sources say about systems run with them."""

    options: Mapping[str, str]
    typed: Mapping[str, Any]
    system: str | None
    statements: tuple[Statement, ...]
    where: str

    def label(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.options.items()) or "every configuration"


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetClaims:
    """One claims file."""

    target: str
    system: str
    sources: Mapping[str, Source]
    configurations: tuple[Configuration, ...]
    path: Path

    @property
    def option_order(self) -> tuple[str, ...]:
        """Every option some configuration mentions, in the order the file first does."""
        return tuple(dict.fromkeys(k for c in self.configurations for k in c.options))


@dataclass(frozen=True, slots=True, kw_only=True)
class Claims:
    """What applies to one run: its system's name and every stance, by key."""

    system: str
    guarantees: Mapping[str, Stance]
    anomalies: Mapping[str, Stance]

    def claimed(self) -> set[str]:
        return {g for g, s in self.guarantees.items() if s.holds}

    def prevented(self) -> dict[str, Stance]:
        return {k: s for k, s in self.anomalies.items() if s.holds}


@dataclass(frozen=True, slots=True, kw_only=True)
class Registry:
    """Every guarantee and every target's claims."""

    guarantees: Guarantees
    targets: Mapping[str, TargetClaims]

    def claims_for(self, target: str, options: Mapping[str, str]) -> Claims:
        """The stances that apply to a run of ``target`` given ``options`` (text)."""
        entry = self.targets.get(target)
        if entry is None:
            return Claims(system=target, guarantees={}, anomalies={})
        typed = _typed_effective(target, options)
        # Least specific first, so that later ones override: more options, and among
        # equally many, more of them given by the run rather than matched by default.
        matching = sorted((c for c in entry.configurations
                           if all(typed.get(k) == v for k, v in c.typed.items())),
                          key=lambda c: (len(c.options), len(c.options.keys() & options)))
        guarantees: dict[str, Stance] = {}
        explicit: dict[str, Stance] = {}
        system = entry.system
        for config in matching:  # least specific first: later ones override
            system = config.system or system
            for st in config.statements:
                source = entry.sources[st.source]
                for names, holds, table in ((st.claimed, True, guarantees),
                                            (st.disclaimed, False, guarantees),
                                            (st.prevents, True, explicit),
                                            (st.allows, False, explicit)):
                    for name in names:
                        table[name] = Stance(holds=holds, source=source, says=st.says)
        anomalies = dict(explicit)  # stated outright wins over implied by a guarantee
        for name, stance in guarantees.items():
            if stance.holds:
                for kind in sorted(self.guarantees.prevented_by(name)):
                    anomalies.setdefault(kind, Stance(holds=True, source=stance.source,
                                                      says=stance.says, implied_by=name))
        return Claims(system=system, guarantees=guarantees, anomalies=anomalies)


def _option_table(target: str, key: str) -> Option | None:
    """The declaration of option ``key``: the target's, else the first workload's."""
    tables = [get_target(target).options, *(w.options for w in WORKLOADS.values())]
    return next((t[key] for t in tables if key in t), None)


def _typed_effective(target: str, options: Mapping[str, str]) -> dict[str, Any]:
    """Typed values of the given options; a value that does not parse stays text."""
    out: dict[str, Any] = {}
    for key, text in options.items():
        option = _option_table(target, key)
        try:
            out[key] = text if option is None else option.parse(text)
        except ValueError:
            out[key] = text
    for key in {k for w in WORKLOADS.values() for k in w.options} | set(
            get_target(target).options):
        if key not in out:
            option = _option_table(target, key)
            if option is not None:
                out[key] = option.default
    return out


def load_claims_file(path: Path, guarantees: Guarantees | None = None) -> TargetClaims:
    """Read and check one claims file (see the module docstring for its shape).

    Raises:
        UsageError: one line naming the file, the place and what is wrong.
    """
    guarantees = guarantees or default_guarantees()
    top = Table(read_toml(path, what="claims"), str(path))
    top.only(["target", "system", "sources", "configurations"])
    target = top.required_text("target")
    if target not in TARGETS:
        raise UsageError(f"{top.at('target')}: unknown target {shown(target)}; choose one of: "
                         f"{', '.join(TARGETS)}")
    if path.stem != target:
        raise UsageError(f"{path}: claims of target {shown(target)} belong in {target}.toml")
    sources = _sources(top.table("sources"))
    configurations = tuple(_configuration(t, target, sources, guarantees)
                           for t in top.tables("configurations"))
    _check_no_duplicates(configurations)
    _check_no_contradictions(configurations)
    return TargetClaims(target=target, system=top.text("system") or target, sources=sources,
                        configurations=configurations, path=path)


def _sources(table: Table) -> dict[str, Source]:
    out = {}
    for sid in table.data:
        t = table.table(sid)
        t.only(["title", "url"])
        out[sid] = Source(id=sid, title=t.required_text("title"), url=t.required_text("url"))
    return out


def _configuration(t: Table, target: str, sources: Mapping[str, Source],
                   guarantees: Guarantees) -> Configuration:
    t.only(["options", "system", "claims"])
    options: dict[str, str] = spec_from_mapping({"options": t.table("options").data},
                                                source=t.where).get("options", {})
    typed = {}
    for key, text in options.items():
        option = _option_table(target, key)
        if option is None:
            raise UsageError(f"{t.at('options')}: {shown(key)} is not an option of target {target} "
                             f"or of any workload; known: {', '.join(get_target(target).options)}")
        try:
            typed[key] = option.parse(text)
        except ValueError:
            raise UsageError(f"{t.at('options')}.{key} = {shown(text)} is not valid; expected "
                             f"{option.expected}") from None
    kinds = known_kinds(guarantees)
    statements = tuple(_statement(s, sources, guarantees, kinds) for s in t.tables("claims"))
    if not statements:
        raise UsageError(f"{t.where}: no [[configurations.claims]]; say what is claimed")
    return Configuration(options=options, typed=typed, system=t.text("system"),
                         statements=statements, where=t.where)


def _statement(t: Table, sources: Mapping[str, Source], guarantees: Guarantees,
               kinds: frozenset[str]) -> Statement:
    t.only(["source", "says", "claimed", "disclaimed", "prevents", "allows"])
    source = t.required_text("source")
    if source not in sources:
        raise UsageError(f"{t.at('source')}: unknown source {shown(source)}; declare it under "
                         f"[sources.{source}] (declared: {', '.join(sources) or 'none'})")
    st = Statement(source=source, says=t.required_text("says"),
                   claimed=tuple(t.texts("claimed")), disclaimed=tuple(t.texts("disclaimed")),
                   prevents=tuple(t.texts("prevents")), allows=tuple(t.texts("allows")))
    if not (st.claimed or st.disclaimed or st.prevents or st.allows):
        raise UsageError(f"{t.where}: says nothing; list guarantees under claimed or "
                         "disclaimed, or anomaly kinds under prevents or allows")
    for name in (*st.claimed, *st.disclaimed):
        if name not in guarantees.table:
            raise UsageError(f"{t.where}: unknown guarantee {shown(name)}; known: "
                             f"{', '.join(guarantees.names)} (declared in {GUARANTEES_FILE})")
    for kind in (*st.prevents, *st.allows):
        if kind not in kinds:
            raise UsageError(f"{t.where}: unknown anomaly kind {shown(kind)}; known: "
                             f"{', '.join(sorted(kinds))}")
    for a, b, what in ((st.claimed, st.disclaimed, "claimed and disclaimed"),
                       (st.prevents, st.allows, "prevented and allowed")):
        both = set(a) & set(b)
        if both:
            raise UsageError(f"{t.where}: {sorted(both)[0]!r} is both {what}")
    for kind in st.allows:
        for name in st.claimed:
            if kind in guarantees.prevented_by(name):
                raise UsageError(f"{t.where}: allows {shown(kind)}, but {shown(name)}, claimed "
                                 "in the same statement, rules it out")
    return st


def known_kinds(guarantees: Guarantees) -> frozenset[str]:
    """Every anomaly kind a claim may name: the lattice's and those guarantees list."""
    lattice = implied_anomalies(k for m in TXN_MODELS for k in prohibited_anomalies([m]))
    declared = {k for g in guarantees.table.values() for ks in g.decided_by.values() for k in ks}
    return frozenset(lattice | declared)


def _check_no_duplicates(configurations: tuple[Configuration, ...]) -> None:
    seen: dict[tuple[tuple[str, Any], ...], str] = {}
    for c in configurations:
        key = tuple(sorted(c.typed.items()))
        if key in seen:
            raise UsageError(f"{c.where}: the same options as {seen[key]}; merge their claims")
        seen[key] = c.where


def _check_no_contradictions(configurations: tuple[Configuration, ...]) -> None:
    """Two configurations of equal specificity that can match one run must agree."""
    for a, b in itertools.combinations(configurations, 2):
        compatible = all(b.typed.get(k, v) == v for k, v in a.typed.items())
        if len(a.options) != len(b.options) or not compatible:
            continue
        x, y = _stances(a), _stances(b)
        for key in sorted(x.keys() & y.keys()):
            if x[key] != y[key]:
                raise UsageError(f"{a.where} and {b.where} can both apply to one run and "
                                 f"disagree about {shown(key)}; make one of them more specific")


def _stances(c: Configuration) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for st in c.statements:
        for names, holds in ((st.claimed, True), (st.disclaimed, False),
                             (st.prevents, True), (st.allows, False)):
            out.update(dict.fromkeys(names, holds))
    return out


@functools.cache
def default_guarantees() -> Guarantees:
    """The guarantees of ``labrys/claims/guarantees.toml``."""
    return load_guarantees(CLAIMS_DIR / GUARANTEES_FILE, workloads=WORKLOADS)


@functools.cache
def default_registry() -> Registry:
    """The registry shipped with labrys: ``guarantees.toml`` and every target's file."""
    return load_registry(CLAIMS_DIR)


def load_registry(folder: Path) -> Registry:
    """The guarantees and claims files of ``folder``.

    Raises:
        UsageError: any file is malformed (the first problem found, in one line).
    """
    guarantees = load_guarantees(folder / GUARANTEES_FILE, workloads=WORKLOADS)
    targets = {}
    for path in sorted(folder.glob("*.toml")):
        if path.name != GUARANTEES_FILE:
            claims = load_claims_file(path, guarantees)
            targets[claims.target] = claims
    return Registry(guarantees=guarantees, targets=targets)
