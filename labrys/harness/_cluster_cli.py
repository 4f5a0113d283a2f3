"""`labrys cluster …`: local clusters by hand, for exploring and for scripts.

    labrys cluster up --nodes 3          # prints "n1 10.63.160.2" per node
    labrys cluster exec n1 -- ss -ltn     # runs inside n1; its exit status is ours
    labrys cluster partition 'n1|n2,n3'   # or a topology: halves, one, bridge…
    labrys cluster status                 # nodes, and the faults in force
    labrys cluster heal
    labrys cluster down                   # idempotent; also sweeps crashed runs

A cluster made here has no owning process and lives until `down`. When several
clusters are up, `--cluster PREFIX` chooses one. Node lines go to stdout and
everything else to stderr, so ``labrys cluster up | while read name addr; …`` works.

Mounted by `labrys.cli` as the ``cluster`` command. It belongs to the run orchestration
rather than to `labrys.control` because it reads partition specs (`labrys.nemesis`),
which sit above the nodes they cut.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from typing import Annotated

import typer

from labrys.control import LocalCluster, leftovers
from labrys.control import down as down_clusters
from labrys.control._registry import records
from labrys.nemesis import TOPOLOGIES, grudge_from_spec, grudge_to_json

cluster_app = typer.Typer(
    help="Local clusters of network namespaces: bring up, poke, partition, heal, remove.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_ClusterOption = Annotated[
    str | None,
    typer.Option("--cluster", "-c", help="The cluster's prefix (lb…), when several are up."),
]


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _describe_grudge(grudge: dict[str, list[str]]) -> str:
    return "; ".join(f"{node} drops {', '.join(peers)}" for node, peers in grudge.items())


@cluster_app.command()
def up(
    nodes: Annotated[
        int, typer.Option("--nodes", "-n", min=1, max=253, help="How many nodes.")
    ] = 5,
) -> None:
    """Start a cluster that lives until `labrys cluster down`; print node names and addresses."""
    began = time.monotonic()
    cluster = LocalCluster.up(nodes, persistent=True)
    elapsed = time.monotonic() - began
    _err(f"cluster {cluster.prefix} up in {elapsed:.2f} s on {cluster.record.subnet}")
    for node in cluster.nodes:
        print(f"{node.name} {node.address}", flush=True)


@cluster_app.command()
def status(cluster: _ClusterOption = None) -> None:
    """Show the clusters that are up, their nodes and the network faults in force."""
    shown = [r for r in records() if cluster is None or r.prefix == cluster]
    for record in shown:
        if record.owner is None:
            owner = "kept until `labrys cluster down`"
        elif record.owned_by_live_process:
            owner = f"owned by running process {record.owner.pid}"
        else:
            owner = f"its process {record.owner.pid} is gone: `labrys cluster down` removes it"
        print(f"cluster {record.prefix} on {record.subnet}, {owner}")
        for node in record.nodes:
            print(f"  {node.name} {node.address}")
        faults = LocalCluster(record).faults()
        if faults.partition:
            print(f"  partition: {_describe_grudge(faults.partition)}")
        if faults.loss:
            print(f"  loss {faults.loss_probability:.0%}: {_describe_grudge(faults.loss)}")
        if faults.delay:
            print(f"  delay: {_describe_grudge(faults.delay)}")
        if not (faults.partition or faults.loss or faults.delay):
            print("  network whole")
    recorded = {r.prefix for r in records()}
    for stray in leftovers(cluster):
        if stray.prefix not in recorded:
            print(
                f"leftovers of {stray.prefix}: {len(stray.namespaces)} namespaces, "
                f"{len(stray.links)} interfaces, {len(stray.rules)} rules, "
                f"{len(stray.pids)} processes, {len(stray.mounts)} mounts: "
                "`labrys cluster down` removes them"
            )
    if not shown:
        _err("no cluster is up" if cluster is None else f"no cluster {cluster} is up")


@cluster_app.command("exec")
def exec_(
    node: Annotated[str, typer.Argument(help="The node to run in, e.g. n1.")],
    command: Annotated[list[str], typer.Argument(help="The command, after --.")],
    cluster: _ClusterOption = None,
) -> None:
    """Run a command inside a node (after --); exit with its status (127: no such command,
    126: not executable, as in a shell)."""
    target = LocalCluster.attach(cluster).node(node)
    missing = _not_runnable(command[0])
    if missing is not None:
        _err(f"labrys: {command[0]}: {missing[1]}")
        raise typer.Exit(missing[0])
    code = subprocess.run([*target.exec_prefix, *command], check=False).returncode
    raise typer.Exit(code if code >= 0 else 128 - code)


def _not_runnable(program: str) -> tuple[int, str] | None:
    """The shell's status and words for a program that cannot run, or None if it can.

    Checked here because ``ip netns exec`` reports a missing program as its own failure,
    status 1, which a script cannot tell from the program's. A node shares this host's
    file system, so the host's PATH lookup is the node's.
    """
    if "/" not in program:
        return None if shutil.which(program) else (127, "command not found")
    if not os.path.exists(program):
        return 127, "No such file or directory"
    if os.path.isdir(program) or not os.access(program, os.X_OK):
        return 126, "Permission denied"
    return None


@cluster_app.command(help=(
    "Cut the network: replace any partition in force with SPEC, a topology or explicit "
    f"components such as 'n1|n2,n3'. Topologies: {', '.join(TOPOLOGIES)}."))
def partition(
    spec: Annotated[str, typer.Argument(
        help=f"A topology ({', '.join(TOPOLOGIES)}) or components such as n1|n2,n3.")],
    cluster: _ClusterOption = None,
    seed: Annotated[int | None, typer.Option(help="Seed for random topologies.")] = None,
) -> None:
    target = LocalCluster.attach(cluster)
    seed = secrets.randbits(32) if seed is None else seed
    names = [n.name for n in target.nodes]
    grudge = grudge_from_spec(spec, names, random.Random(seed))
    applied = target.partition(grudge)
    print(_describe_grudge(grudge_to_json(applied)) or "no link cut")
    _err(f"partition {spec} (seed {seed}) on {target.prefix}")


@cluster_app.command()
def heal(cluster: _ClusterOption = None) -> None:
    """Remove every partition, loss and delay from the cluster's network."""
    target = LocalCluster.attach(cluster)
    target.heal()
    _err(f"network of {target.prefix} healed")


@cluster_app.command()
def down(
    cluster: _ClusterOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also remove clusters whose owning process runs.")
    ] = False,
) -> None:
    """Remove clusters and everything crashed runs left behind; idempotent."""
    report = down_clusters(prefix=cluster, everything=everything)
    for prefix in report.removed:
        _err(f"removed {prefix}")
    for record in report.kept:
        pid = record.owner.pid if record.owner is not None else "?"
        _err(f"kept {record.prefix}: process {pid} owns it and is running (--all removes it)")
    if not report.removed and not report.kept:
        _err("nothing to remove")
