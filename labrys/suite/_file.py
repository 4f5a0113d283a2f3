"""The suite file: test specs, a matrix to expand them, and what each must show.

A suite is a TOML file. Every test is a spec in the format ``labrys run`` reads (the
same keys, read by the same code), plus a name, the seeds to run it with, and an
expectation::

    name = "smoke"                      # default: the file's name
    description = "every target under faults, in a few minutes"

    [defaults]                          # spec keys every test starts from
    concurrency = 6
    rate = 300

    [[test]]
    name = "redis-set-lost-writes"
    target = "redis"
    workload = "set"
    nemesis = ["partition"]
    topologies = ["primaries"]
    nemesis_interval = 8
    time_limit = 18
    seeds = [1]                         # default [1]
    expect = "invalid"                  # valid | invalid | claims | any
    anomalies = ["lost"]                # with invalid: kinds that must be found
    why = "Sentinel's failover loses what a cut-off primary acknowledged"

    [[test]]
    name = "pg-isolation"
    target = "postgres"
    expect = "claims"
    [test.matrix]                       # every combination becomes a test
    workload = ["list-append", "rw-register"]
    [test.matrix.options]
    isolation = ["read-committed", "repeatable-read", "serializable"]

A matrix expands into one test per combination, named after the test and the values
(``pg-isolation-list-append-serializable``). Expectations:

- ``valid``: the run's verdict must be valid;
- ``invalid``: it must be invalid, and show every kind in ``anomalies`` (a kind
  implied by one found counts: a G-single-item cycle is a G-single);
- ``claims``: no guarantee the claims registry says this configuration has may be
  violated, and no anomaly it says is prevented may be found; what it does not claim
  may happen;
- ``any``: whatever the verdict; the run is there to be compared (``labrys compare``),
  for a configuration that promises nothing testable and behaves differently from run
  to run. Only a run that could not run fails.

`load_suite_file` reads and checks all of it, target, workload, options and faults of
every expanded test included, before anything runs: a mistake in the last test is
one line, not an hour of runs and then an error.
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labrys._tomlfile import Table, read_toml, shown
from labrys.claims import Registry, default_registry
from labrys.errors import UsageError
from labrys.harness import TestSpec, build_spec
from labrys.harness._runner import prepare
from labrys.harness._spec import spec_from_mapping

_SUITE_KEYS = ("name", "description", "defaults", "test")
_TEST_KEYS = ("name", "seeds", "expect", "anomalies", "why", "matrix")
_NOT_IN_SUITES = ("name", "seed", "store", "leave_running")
"""Spec keys a suite sets itself: the test name, the seeds, the suite's store."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Expect(enum.StrEnum):
    """What a test expects of its runs (see the module docstring)."""

    VALID = "valid"
    INVALID = "invalid"
    CLAIMS = "claims"
    ANY = "any"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expectation:
    expect: Expect
    anomalies: tuple[str, ...] = ()
    why: str = ""

    def describe(self) -> str:
        if self.expect is Expect.INVALID and self.anomalies:
            return f"invalid ({', '.join(self.anomalies)})"
        return str(self.expect)


@dataclass(frozen=True, slots=True, kw_only=True)
class SuiteTest:
    """One expanded test: a spec without seed or store, its seeds, its expectation."""

    name: str
    spec: TestSpec
    seeds: tuple[int, ...]
    expectation: Expectation

    def seeds_for(self, runs: int | None) -> tuple[int, ...]:
        """The seeds to run: the listed ones, or with ``runs`` the first ``runs`` of
        the listed ones continued by consecutive numbers."""
        if runs is None:
            return self.seeds
        more = itertools.count(max(self.seeds) + 1)
        return tuple(itertools.islice(itertools.chain(self.seeds, more), runs))


@dataclass(frozen=True, slots=True, kw_only=True)
class Suite:
    name: str
    path: Path
    description: str
    tests: tuple[SuiteTest, ...]

    def select(self, only: str | None) -> tuple[SuiteTest, ...]:
        """The tests whose names match ``only``: comma-separated globs; a pattern
        without ``*``, ``?`` or ``[`` matches names containing it.

        Raises:
            UsageError: nothing matches.
        """
        if not only:
            return self.tests
        patterns = [p.strip() for p in only.split(",") if p.strip()]
        globs = [p if any(c in p for c in "*?[") else f"*{p}*" for p in patterns]
        chosen = tuple(t for t in self.tests if any(fnmatch.fnmatchcase(t.name, g) for g in globs))
        if not chosen:
            raise UsageError(f"--only {shown(only)} matches no test of {self.path}; its tests: "
                             f"{', '.join(t.name for t in self.tests)}")
        return chosen


def load_suite_file(path: Path, registry: Registry | None = None) -> Suite:
    """Read, expand and check a suite (see the module docstring).

    Raises:
        UsageError: one line naming the file, the test and what is wrong.
    """
    top = Table(read_toml(path, what="suite"), str(path))
    top.only(_SUITE_KEYS)
    name = top.text("name") or path.stem
    if not name or _UNSAFE.search(name):
        raise UsageError(f"{top.at('name')} = {shown(name)} is not valid; expected letters, "
                         "digits, '.', '_' or '-'")
    defaults = top.table("defaults")
    base = _spec_layer(defaults, allowed_extra=("seeds",))
    default_seeds = tuple(defaults.ints("seeds")) or (1,)
    tests: list[SuiteTest] = []
    for t in top.tables("test"):
        tests.extend(_expand(t, base, default_seeds))
    if not tests:
        raise UsageError(f"{path}: no tests; add a [[test]] table")
    seen: set[str] = set()
    for test in tests:
        if test.name in seen:
            raise UsageError(f"{path}: two tests are named {test.name!r}; names must be unique")
        seen.add(test.name)
    registry = registry or default_registry()
    for test in tests:
        _check_runnable(test, registry, path)
    return Suite(name=name, path=path, description=top.text("description") or "",
                 tests=tuple(tests))


def _spec_layer(t: Table, *, allowed_extra: Sequence[str]) -> dict[str, Any]:
    """The spec attributes of a table, refusing keys a suite sets itself."""
    raw = {k: v for k, v in t.data.items() if k not in allowed_extra}
    for key in raw:
        if key.replace("-", "_") in _NOT_IN_SUITES:
            raise UsageError(f"{t.at(key)}: a suite sets {shown(key)} itself "
                             "(tests are named by 'name', seeded by 'seeds', stored by --store)")
    return spec_from_mapping(raw, source=t.where)


def _expand(t: Table, base: Mapping[str, Any], default_seeds: tuple[int, ...]) -> list[SuiteTest]:
    name = t.required_text("name")
    if _UNSAFE.search(name):
        raise UsageError(f"{t.at('name')} = {shown(name)} is not valid; expected letters, digits, "
                         "'.', '_' or '-'")
    where = f"{t.where} ({name})"
    t = Table(t.data, where)
    layer = _spec_layer(t, allowed_extra=_TEST_KEYS)
    seeds = tuple(t.ints("seeds")) or default_seeds
    expectation = _expectation(t)
    out = []
    for suffix, cell in _matrix(t.table("matrix")):
        full = "-".join([name, *suffix])
        spec = build_spec(base, layer, cell, {"name": full})
        out.append(SuiteTest(name=full, spec=spec, seeds=seeds, expectation=expectation))
    return out


def _expectation(t: Table) -> Expectation:
    text = t.required_text("expect")
    try:
        expect = Expect(text)
    except ValueError:
        raise UsageError(f"{t.at('expect')} = {shown(text)} is not valid; expected one of: "
                         f"{', '.join(e.value for e in Expect)}") from None
    anomalies = tuple(t.texts("anomalies"))
    if anomalies and expect is not Expect.INVALID:
        raise UsageError(f"{t.at('anomalies')}: only a test that expects invalid lists the "
                         "anomalies it must show")
    return Expectation(expect=expect, anomalies=anomalies, why=t.text("why") or "")


def _matrix(m: Table) -> list[tuple[list[str], dict[str, Any]]]:
    """Every combination of the matrix: (name suffix, spec attributes); one empty
    combination when there is no matrix."""
    axes: list[tuple[str, list[Any]]] = []
    for key, values in m.data.items():
        if key == "options":
            for option, option_values in m.table("options").data.items():
                axes.append((f"options.{option}", _axis(option_values, m.at(f"options.{option}"))))
        else:
            axes.append((key, _axis(values, m.at(key))))
    out = []
    for combo in itertools.product(*(values for _, values in axes)):
        raw: dict[str, Any] = {}
        for (key, _), value in zip(axes, combo, strict=True):
            if key.startswith("options."):
                raw.setdefault("options", {})[key.removeprefix("options.")] = value
            else:
                raw[key] = value
        where = f"{m.where} = {raw!r}"
        if any(k.replace("-", "_") in _NOT_IN_SUITES for k in raw):
            raise UsageError(f"{m.where}: a matrix cannot vary {', '.join(raw)}; "
                             "use seeds for seeds")
        suffix = [_UNSAFE.sub("_", _value_text(v)).strip("_") for v in combo]
        out.append((suffix, spec_from_mapping(raw, source=where)))
    return out


def _axis(values: Any, where: str) -> list[Any]:
    if not isinstance(values, list) or not values:
        raise UsageError(f"{where} = {values!r} is not valid; a matrix axis is a non-empty list "
                         "of values")
    return values


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return "+".join(str(v) for v in value) or "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_runnable(test: SuiteTest, registry: Registry, path: Path) -> None:
    """Refuse, before anything runs, a test that could never run or never be judged."""
    try:
        prepare(test.spec)
    except UsageError as e:
        raise UsageError(f"{path}: test {test.name}: {e}") from None
    if test.expectation.expect is Expect.CLAIMS:
        guarantees = registry.guarantees
        claims = registry.claims_for(test.spec.target, test.spec.options)
        decided = guarantees.decides(test.spec.workload, _any_order())
        reported = guarantees.kinds_reported_by(test.spec.workload)
        prevented = set(claims.prevented())
        if not (claims.claimed() & decided
                or (prevented if reported is None else prevented & reported)):
            raise UsageError(f"{path}: test {test.name} expects the claims, but the claims "
                             f"registry gives {test.spec.target} with these options no claim "
                             f"that workload {test.spec.workload} can test; expect valid or "
                             "invalid instead")


def _any_order() -> tuple[str, ...]:
    """A claim that makes Elle search every order, so `decides` lists every model."""
    return ("strict-serializable",)


def scaled(spec: TestSpec, time_scale: float) -> TestSpec:
    """The spec with its time limit and fault interval multiplied by ``time_scale``."""
    return dataclasses.replace(spec, time_limit_s=spec.time_limit_s * time_scale,
                               nemesis_interval_s=spec.nemesis_interval_s * time_scale)
