"""The test spec: one validated value that says everything about a run.

A run is described once, by a `TestSpec`, and that value is passed explicitly to every
part of the harness (Jepsen's ``test`` map, made a frozen dataclass). It comes from
three places, in increasing priority:

1. the defaults below, which are the product's default run: etcd on 3 local nodes,
   the register workload, partitions and kills every 10 s, 60 s, 10 clients;
2. a TOML file (``labrys run spec.toml``) or the ``test.json`` of an earlier run
   (``--replay``), whose ``spec`` table has the same keys;
3. command-line flags, which always win.

Example ``spec.toml``::

    target = "etcd"
    workload = "register"
    nemesis = ["partition"]
    time_limit = 30          # seconds
    rate = 200               # client ops per second, over all clients
    runtime = "local"        # where nodes live (labrys.control.RUNTIMES)
    [options]
    read_mode = "serializable"
    [runtime_options]
    base_dir = "/srv/labrys"

Keys are the flag names without dashes (``time_limit`` or ``time-limit``); times are
seconds. An unknown key or a bad value is refused with one line naming the key, the
value and what would be accepted, before anything starts.

The seed is part of the spec. A run without one draws a seed and records it in
``test.json``, so every run can be scheduled again exactly.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labrys.control import RUNTIMES
from labrys.errors import UsageError, brief
from labrys.nemesis import FAULTS

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class TestSpec:
    """Everything that decides what a run does.

    Attributes:
        name: the test's name, the folder under the store; derived from target,
            workload and nemeses when not given.
        target: the database (``labrys.targets.TARGETS``).
        nodes: how many nodes (named n1, n2…).
        runtime: where nodes live, a name from ``labrys.control.RUNTIMES`` (``local``:
            network namespaces on this machine).
        workload: what clients do (``labrys.workloads.WORKLOADS``).
        nemesis: the faults to inject (names from ``labrys.nemesis.FAULTS``); empty for
            none.
        nemesis_interval_s: seconds between the start of one fault and its heal, and
            between a heal and the next fault.
        topologies: the partitions to choose from (``primaries``, ``halves``…); empty
            for every topology the cluster and target support.
        time_limit_s: how long clients run, in seconds.
        concurrency: how many client workers.
        rate: client operations per second over all workers; 0 means as fast as the
            workers can go.
        seed: the seed of every random choice the generators make.
        options: target, workload and fault options (``read_mode=serializable``…), as
            text.
        runtime_options: the runtime's options (``base_dir=/srv/labrys``…), as text.
        store: the folder where runs are stored.
        leave_running: keep the cluster up after the run (for poking at it).
        check_online: judge the history while it is recorded (`labrys.harness._online`);
            None: when the workload's online check is cheap.
        stop_on_anomaly: end the workload at the online check's first anomaly.
    """

    __test__ = False  # pytest: this is not a test class

    name: str | None = None
    target: str = "etcd"
    nodes: int = 3
    runtime: str = "local"
    workload: str = "register"
    nemesis: tuple[str, ...] = ("partition", "kill")
    nemesis_interval_s: float = 10.0
    topologies: tuple[str, ...] = ()
    time_limit_s: float = 60.0
    concurrency: int = 10
    rate: float = 100.0
    seed: int | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    runtime_options: Mapping[str, str] = field(default_factory=dict)
    store: str = "results"
    leave_running: bool = False
    check_online: bool | None = None
    stop_on_anomaly: bool = False

    def __post_init__(self) -> None:
        _check(self.name is None or bool(_NAME.match(self.name)), "name", self.name,
               "letters, digits, '.', '_' or '-', starting with a letter or digit")
        _check(1 <= self.nodes <= 64, "nodes", self.nodes, "a count from 1 to 64")
        unknown = [name for name in self.nemesis if name not in FAULTS]
        if unknown:
            raise UsageError(f"unknown fault {unknown[0]!r} in --nemesis; choose from "
                             f"{', '.join(FAULTS)} (comma-separated), or none")
        _check(self.runtime in RUNTIMES, "runtime", self.runtime,
               "one of: " + ", ".join(RUNTIMES))
        _check(self.nemesis_interval_s > 0, "nemesis_interval", self.nemesis_interval_s,
               "a positive number of seconds")
        _check(self.time_limit_s > 0, "time_limit", self.time_limit_s,
               "a positive number of seconds")
        _check(1 <= self.concurrency <= 1024, "concurrency", self.concurrency,
               "a count of client workers from 1 to 1024")
        _check(self.rate >= 0, "rate", self.rate,
               "ops per second over all clients, or 0 for as fast as possible")
        _check(self.seed is None or self.seed >= 0, "seed", self.seed, "an integer >= 0")
        _check(bool(self.store), "store", self.store, "a folder")

    @property
    def test_name(self) -> str:
        """The name of the folder this test's runs are stored under.

        Target, workload, faults, then every option, so that runs configured
        differently (``read_mode=serializable`` or not) never share a folder:
        ``etcd-register-partition+kill-read_mode=serializable``. A path option keeps
        only its file name, and characters a folder name should not hold become ``_``.
        """
        if self.name:
            return self.name
        faults = "+".join(self.nemesis) if self.nemesis else "none"
        options = "".join(f"-{key}={_folder_safe(value)}"
                          for key, value in sorted(self.options.items()))
        return f"{self.target}-{self.workload}-{faults}{options}"

    def to_json(self) -> dict[str, Any]:
        """The spec as the ``spec`` table of ``test.json``, in TOML/flag key names."""
        return {key: _to_plain(getattr(self, attr)) for key, attr in _KEYS.items()}

    def with_seed(self, seed: int) -> TestSpec:
        return dataclasses.replace(self, seed=seed)


# TOML/JSON key -> attribute. Times drop their unit suffix in files and flags because
# seconds are the only unit a person would write there.
_KEYS = {
    "name": "name",
    "target": "target",
    "nodes": "nodes",
    "runtime": "runtime",
    "workload": "workload",
    "nemesis": "nemesis",
    "nemesis_interval": "nemesis_interval_s",
    "topologies": "topologies",
    "time_limit": "time_limit_s",
    "concurrency": "concurrency",
    "rate": "rate",
    "seed": "seed",
    "options": "options",
    "runtime_options": "runtime_options",
    "store": "store",
    "leave_running": "leave_running",
    "check_online": "check_online",
    "stop_on_anomaly": "stop_on_anomaly",
}


def _folder_safe(value: str) -> str:
    """An option's value as part of a folder name (see `TestSpec.test_name`)."""
    return _UNSAFE.sub("_", Path(value).name if "/" in value else value)


_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]")


def _check(ok: bool, key: str, value: object, expected: str) -> None:
    if not ok:
        raise UsageError(f"{key}={brief(value)} is not valid; expected {expected}")


def _to_plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _coerce(key: str, value: Any) -> Any:
    """Convert a TOML/JSON/flag value to the attribute's type, or say why not."""
    attr = _KEYS[key]
    if attr in ("nodes", "concurrency", "seed"):
        if value is None and attr == "seed":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{key}={brief(value)} is not valid; expected a whole number")
        return value
    if attr in ("nemesis_interval_s", "time_limit_s", "rate"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise UsageError(f"{key}={brief(value)} is not valid; expected a finite number")
        return float(value)
    if attr == "check_online" and value is None:
        return None  # test.json's way of saying "the workload decides"
    if attr in ("leave_running", "check_online", "stop_on_anomaly"):
        if not isinstance(value, bool):
            raise UsageError(f"{key}={brief(value)} is not valid; expected true or false")
        return value
    if attr == "nemesis":
        return parse_nemesis(value)
    if attr == "topologies":
        return parse_topologies(value)
    if attr in ("options", "runtime_options"):
        if not isinstance(value, Mapping):
            raise UsageError(f"{key}={brief(value)} is not valid; "
                             "expected a table of key = value")
        return {str(k): _option_text(v) for k, v in value.items()}
    if attr == "name" and value is None:
        return None
    if not isinstance(value, str):
        raise UsageError(f"{key}={brief(value)} is not valid; expected text")
    return value


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise UsageError(f"option value {brief(value)} is not valid; expected text, a number or a bool")


def parse_nemesis(value: Any) -> tuple[str, ...]:
    """A nemesis list from ``"partition,kill"``, ``["partition", "kill"]`` or ``"none"``."""
    items = _comma_list("nemesis", value, "partition,kill")
    items = [item for item in items if item and item != "none"]
    if len(set(items)) != len(items):
        raise UsageError(f"nemesis={brief(value)} names a fault twice; name each once")
    return tuple(items)


def parse_topologies(value: Any) -> tuple[str, ...]:
    """Partition topologies from ``"primaries,halves"`` or a list; empty for all.

    Names are checked against the nemesis's topologies when the run starts.
    """
    items = _comma_list("topologies", value, "primaries")
    return tuple(dict.fromkeys(item for item in items if item))


def _comma_list(key: str, value: Any, example: str) -> list[str]:
    """The stripped items of a comma-separated string or a list of strings.

    Raises:
        UsageError: naming `key` and showing `example`, if `value` is neither.
    """
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return [part.strip() for part in value]
    raise UsageError(f"{key}={brief(value)} is not valid; "
                     f"expected a comma list such as '{example}'")


def parse_option(text: str, *, flag: str = "--option",
                 example: str = "read_mode=serializable") -> tuple[str, str]:
    """``key=value`` from ``--option`` (or ``flag``); refuses anything else."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"{flag} {brief(text)} is not valid; expected key=value, "
                         f"e.g. {flag} {example}")
    return key.strip(), value.strip()


def spec_from_mapping(raw: Mapping[str, Any], *, source: str) -> dict[str, Any]:
    """Validated attribute values from a TOML table or a ``test.json`` spec.

    Returns a dict of `TestSpec` attribute names to values (only the keys present).

    Raises:
        UsageError: an unknown key (the message lists the known ones) or a bad value.
    """
    out: dict[str, Any] = {}
    for raw_key, value in raw.items():
        key = raw_key.replace("-", "_")
        if key not in _KEYS:
            raise UsageError(
                f"{source}: unknown key {brief(raw_key)}; known keys: {', '.join(_KEYS)}"
            )
        try:
            out[_KEYS[key]] = _coerce(key, value)
        except UsageError as e:
            raise UsageError(f"{source}: {e}") from None
    return out


_MAX_SPEC_CHARS = 1 << 20
"""A spec is a few lines; a larger file is not one (and is never read whole)."""


def load_spec_file(path: Path) -> dict[str, Any]:
    """Attribute values from a TOML spec or from an earlier run's ``test.json``.

    Raises:
        UsageError: the file is missing, larger than 1 MiB, not UTF-8, does not parse,
            or holds an unknown key or a bad value.
    """
    try:
        with path.open(encoding="utf-8") as f:
            text = f.read(_MAX_SPEC_CHARS + 1)
    except OSError as e:
        raise UsageError(f"cannot read the spec {path}: {e.strerror}; check the path") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (not UTF-8); a spec is TOML or a run's "
                         "test.json") from None
    if len(text) > _MAX_SPEC_CHARS:
        raise UsageError(f"{path}: larger than 1 MiB; a spec is a few lines of TOML or a "
                         "run's test.json")
    data = _parse_spec_text(path, text)
    if path.suffix == ".json":
        if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
            raise UsageError(f"{path}: no 'spec' object; --replay takes a run's test.json")
        return spec_from_mapping(data["spec"], source=str(path))
    return spec_from_mapping(data, source=str(path))


def _parse_spec_text(path: Path, text: str) -> Any:
    """The JSON (``.json``) or TOML in ``text``.

    Raises:
        UsageError: it does not parse, nests deeper than the parser follows, or holds an
            integer of more than 4300 digits (which Python refuses to convert).
    """
    what = "JSON" if path.suffix == ".json" else "TOML"
    try:
        return json.loads(text) if what == "JSON" else tomllib.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path}: not JSON ({e.msg}, line {e.lineno})") from None
    except tomllib.TOMLDecodeError as e:
        raise UsageError(f"{path}: not valid TOML ({e})") from None
    except RecursionError:
        raise UsageError(f"{path}: not a spec: its {what} nests too deeply") from None
    except ValueError:  # what else the parsers refuse: an integer of too many digits
        raise UsageError(f"{path}: not a spec: a number has more than 4300 digits") from None


def build_spec(*layers: Mapping[str, Any]) -> TestSpec:
    """A `TestSpec` from attribute layers, later layers winning; None values are skipped.

    ``options`` and ``runtime_options`` merge key by key, so a flag can override one
    option of a file.

    Raises:
        UsageError: a value is out of range.
    """
    merged: dict[str, Any] = {}
    tables: dict[str, dict[str, str]] = {"options": {}, "runtime_options": {}}
    for layer in layers:
        for attr, value in layer.items():
            if value is None:
                continue
            if attr in tables:
                tables[attr].update(value)
            else:
                merged[attr] = value
    return TestSpec(**merged, **tables)
