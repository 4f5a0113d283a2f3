"""Run each Redis, PostgreSQL and Cassandra configuration several times and tabulate
what broke.

Issue 7's acceptance table: for each (target, configuration, workload, nemesis), run
it ``--runs`` times with different seeds through the harness's runner, and print a
Markdown table saying how many runs found an anomaly and which. A run "found" an
anomaly when its verdict names one, including anomalies the claimed model permits
(Elle reports those too, as ``allowed-anomalies``), so the table says what happened,
and the verdict column says what that means for the claim.

Usage (as root, with the Debian packages of scripts/system-packages/targets.txt)::

    .venv/bin/python scripts/claims_table.py --runs 3 --out docs/claims-table-raw.md

The table is printed at the end and, with ``--out``, written to a file (the runner
prints progress lines on stdout when it has no terminal). ``--only A,B`` runs the
configurations whose label contains A or B. Runs are stored under ``--store``
(default ``results/claims``), one folder per configuration.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from labrys.checkers import Verdict
from labrys.harness import TestSpec
from labrys.harness._runner import run_test


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """One row of the table: what to run, and how to describe it."""

    label: str
    target: str
    workload: str
    options: dict[str, str] = field(default_factory=dict)
    nemesis: tuple[str, ...] = ()
    topologies: tuple[str, ...] = ()
    interval_s: float = 10.0
    time_limit_s: float = 10.0
    concurrency: int = 6
    rate: float = 300.0
    seeds: tuple[int, ...] = ()
    """Fixed seeds, for faults whose node spec a seed draws (``lose-unsynced``, ``kill``)."""
    hits: str = ""
    """What that node spec is, for the table."""

    @property
    def nemesis_text(self) -> str:
        if not self.nemesis:
            return "none"
        topo = f" ({', '.join(self.topologies)})" if self.topologies else ""
        hits = f" ({self.hits})" if self.hits else ""
        return f"{'+'.join(self.nemesis)}{topo}{hits}, {self.interval_s:.0f} s"


_PRIMARY_CUT = {"nemesis": ("partition",), "topologies": ("primaries",)}

_CASSANDRA_RUN = {"target": "cassandra", "interval_s": 5.0, "time_limit_s": 30.0,
                  "rate": 100.0}
_NO_LWT = {"lwt": "false", "cas": "false"}
_CASSANDRA = (
    Config(label="cassandra-register-lwt", workload="register", options={"lwt": "true"},
           nemesis=("partition",), **_CASSANDRA_RUN),
    Config(label="cassandra-register-quorum", workload="register", options=_NO_LWT,
           nemesis=("partition",), **_CASSANDRA_RUN),
    Config(label="cassandra-register-quorum-skew", workload="register", options=_NO_LWT,
           nemesis=("clock",), **_CASSANDRA_RUN),
    Config(label="cassandra-register-quorum-clock", workload="register", options=_NO_LWT,
           nemesis=("partition", "clock"), **_CASSANDRA_RUN),
    Config(label="cassandra-set-quorum-all", workload="set",
           options={"write_consistency": "QUORUM", "read_consistency": "ALL"},
           nemesis=("partition",), **_CASSANDRA_RUN),
    Config(label="cassandra-counter-quorum", workload="counter", nemesis=("partition",),
           **_CASSANDRA_RUN),
    Config(label="cassandra-rw-register-batch", workload="rw-register",
           options={"isolation": "read-committed"}, nemesis=("partition",), **_CASSANDRA_RUN),
    Config(label="cassandra-list-append-batch", workload="list-append",
           options={"isolation": "read-committed"}, nemesis=("partition",), **_CASSANDRA_RUN),
)

_EVERY_NODE_ONCE: dict[str, Any] = {"seeds": (3, 9, 16), "hits": "all nodes"}
"""Seeds whose first kill or lose-unsynced op hits every node (``all``), 3 s in; the
runs are 5 s long, so it is the only one."""

_NO_FAILOVER = {"appendfsync": "everysec", "down_after_ms": "30000"}
"""Redis's documented default, and no Sentinel failover while the nodes are down."""

CONFIGS = (
    Config(label="redis-set-default", target="redis", workload="set", interval_s=12,
           time_limit_s=26, **_PRIMARY_CUT),
    Config(label="redis-set-min-replicas", target="redis", workload="set",
           options={"min_replicas_to_write": "1"}, interval_s=12, time_limit_s=26,
           **_PRIMARY_CUT),
    Config(label="redis-set-min-replicas-lag-2", target="redis", workload="set",
           options={"min_replicas_to_write": "1", "min_replicas_max_lag": "2"},
           interval_s=12, time_limit_s=26, **_PRIMARY_CUT),
    Config(label="redis-set-wait-2", target="redis", workload="set",
           options={"wait": "2"}, interval_s=12, time_limit_s=26, **_PRIMARY_CUT),
    Config(label="redis-counter-default", target="redis", workload="counter", interval_s=12,
           time_limit_s=26, **_PRIMARY_CUT),
    Config(label="redis-register-replica", target="redis", workload="register",
           options={"read_from": "replica"}),
    Config(label="redis-register-replica-primary-cut", target="redis", workload="register",
           options={"read_from": "replica"}, interval_s=8, time_limit_s=18, **_PRIMARY_CUT),
    Config(label="postgres-register-replica-async", target="postgres", workload="register",
           options={"read_from": "replica", "sync": "local"}),
    Config(label="postgres-register-replica-sync-on", target="postgres", workload="register",
           options={"read_from": "replica", "sync": "on"}),
    Config(label="postgres-register-replica-remote-apply", target="postgres",
           workload="register", options={"read_from": "replica", "sync": "remote_apply"}),
    Config(label="postgres-bank-read-committed", target="postgres", workload="bank",
           options={"isolation": "read-committed"}),
    Config(label="postgres-bank-serializable", target="postgres", workload="bank",
           options={"isolation": "serializable"}),
    Config(label="postgres-list-append-repeatable-read", target="postgres",
           workload="list-append", options={"isolation": "repeatable-read"}, concurrency=10),
    Config(label="postgres-list-append-serializable", target="postgres",
           workload="list-append", options={"isolation": "serializable"}, concurrency=10),
    Config(label="patroni-set-primary-cut", target="postgres", workload="set",
           options={"ha": "patroni"}, interval_s=20, time_limit_s=42, **_PRIMARY_CUT),
    *(Config(label=f"{label}-{fault}", target=target, workload=workload, options=options,
             nemesis=(fault,), interval_s=3, time_limit_s=5, rate=200, concurrency=5,
             **_EVERY_NODE_ONCE)
      for label, target, workload, options, fault in [
          ("redis-set-everysec", "redis", "set", _NO_FAILOVER, "lose-unsynced"),
          ("redis-set-everysec", "redis", "set", _NO_FAILOVER, "kill"),
          ("redis-set-always", "redis", "set", {**_NO_FAILOVER, "appendfsync": "always"},
           "lose-unsynced"),
          ("etcd-register", "etcd", "register", {}, "lose-unsynced"),
          ("postgres-set-sync-off", "postgres", "set", {"sync": "off"}, "lose-unsynced"),
          ("postgres-set-sync-on", "postgres", "set", {"sync": "on"}, "lose-unsynced"),
      ]),
    *_CASSANDRA,
)


@dataclass(slots=True)
class Tally:
    """What the runs of one configuration found."""

    runs: int = 0
    with_anomaly: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    windows: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def anomaly_kinds(verdict: Verdict) -> set[str]:
    """Every anomaly kind a verdict names, including those its claim allows."""
    kinds = {a.kind for a in verdict.anomalies}
    kinds |= set(verdict.details.get("anomaly-types", ()) or ())
    kinds |= set(verdict.details.get("allowed-anomalies", ()) or ())
    return kinds


def lost_count(verdict: Verdict) -> str | None:
    """``lost/acknowledged`` adds of a set verdict (None for other checkers)."""
    if verdict.checker != "set" or "lost-count" not in verdict.details:
        return None
    return f"{verdict.details['lost-count']}/{verdict.details['acknowledged-count']}"


def lost_before_power_failure_ms(verdict: Verdict, history: Path) -> float | None:
    """How long before the first ``lose-unsynced`` the oldest lost add was acknowledged."""
    lost = {i for a in verdict.anomalies if a.kind == "lost" for i in a.ops}
    ops = [json.loads(line) for line in history.read_text().splitlines()]
    # Nemesis ops are info both ways; the first of a fault is its invocation.
    faults = [op["time"] for op in ops if op["f"] == "lose-unsynced"]
    acks = [op["time"] for op in ops if op["index"] in lost and op["f"] == "add"]
    if not faults or not acks:
        return None
    return (faults[0] - min(acks)) / 1e6


def run_config(config: Config, runs: int, store: str, first_seed: int) -> Tally:
    tally = Tally()
    seeds = config.seeds or tuple(range(first_seed, first_seed + runs))
    for i, seed in enumerate(seeds[:runs]):
        spec = TestSpec(name=config.label, target=config.target, workload=config.workload,
                        nemesis=config.nemesis, topologies=config.topologies,
                        nemesis_interval_s=config.interval_s, time_limit_s=config.time_limit_s,
                        concurrency=config.concurrency, rate=config.rate, seed=seed,
                        store=store, options=config.options)
        outcome = run_test(spec, console=Console(file=io.StringIO()), command=["claims_table"])
        if outcome.interrupted or (outcome.error or "").startswith("terminated by a signal"):
            # The runner tore the run down and returned; the user wants out, not more runs.
            raise KeyboardInterrupt
        tally.runs += 1
        if outcome.error is not None:
            tally.errors.append(outcome.error)
            tally.verdicts["run failed"] += 1
            continue
        verdict = outcome.verdict
        tally.verdicts[str(verdict.valid).lower()] += 1
        kinds = anomaly_kinds(verdict)
        tally.kinds.update(kinds)
        if kinds:
            tally.with_anomaly += 1
        lost = lost_count(verdict)
        if lost is not None:
            tally.lost.append(lost)
        window = lost_before_power_failure_ms(verdict, outcome.run.history)
        if window is not None:
            tally.windows.append(window)
        print(f"{config.label} run {i + 1}: {verdict.valid} {sorted(kinds)}"
              f"{'' if lost is None else f' lost={lost}'} ({outcome.run.path})",
              file=sys.stderr, flush=True)
    return tally


def options_text(config: Config) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.options.items()) or "defaults"


def render(rows: list[tuple[Config, Tally]]) -> str:
    lines = [
        "| target | configuration | workload | nemesis | runs with an anomaly | anomalies "
        "(runs) | verdicts |",
        "|---|---|---|---|---|---|---|",
    ]
    for config, tally in rows:
        kinds = ", ".join(f"{k} ({n})" for k, n in sorted(tally.kinds.items())) or "none"
        if tally.lost:
            kinds += f"; lost/acknowledged adds per run: {', '.join(tally.lost)}"
        if tally.windows:
            kinds += (f"; every lost add acknowledged within {max(tally.windows):.0f} ms "
                      "before the power failure")
        verdicts = ", ".join(f"{k}: {n}" for k, n in sorted(tally.verdicts.items()))
        target = "postgres+patroni" if config.options.get("ha") == "patroni" else config.target
        lines.append(f"| {target} | {options_text(config)} | {config.workload} | "
                     f"{config.nemesis_text} | {tally.with_anomaly}/{tally.runs} | {kinds} | "
                     f"{verdicts} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration")
    parser.add_argument("--store", default="results/claims", help="where runs are stored")
    parser.add_argument("--only", default="",
                        help="only labels containing one of these comma-separated texts")
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run")
    parser.add_argument("--out", default=None, help="also write the table to this file")
    args = parser.parse_args(argv)
    rows: list[tuple[Config, Tally]] = []
    for config in CONFIGS:
        if any(part in config.label for part in args.only.split(",")):
            rows.append((config, run_config(config, args.runs, args.store, args.seed)))
    table = render(rows)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n", encoding="utf-8")
    failures: list[Any] = [(c.label, e) for c, t in rows for e in t.errors]
    for label, error in failures:
        print(f"{label}: run failed: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
