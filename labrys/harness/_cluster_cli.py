"""`labrys cluster …`: clusters by hand, on any runtime, for exploring and for scripts.

    labrys cluster up --nodes 3          # prints "n1 10.63.160.2" per node
    labrys cluster up --runtime docker --target etcd     # containers with etcd installed
    labrys cluster up --runtime ssh --runtime-option nodes_file=nodes.toml
    labrys cluster exec n1 -- ss -ltn     # runs on n1; its exit status is ours
    labrys cluster partition 'n1|n2,n3'   # or a topology: halves, one, bridge…
    labrys cluster status                 # clusters of every runtime, nodes, faults
    labrys cluster heal
    labrys cluster down                   # idempotent; also sweeps crashed runs

A cluster made here has no owning process and lives until `down`. When several
clusters are up, `--cluster NAME` chooses one; names tell the runtime apart (``lb…``
local, ``ld…`` docker, ``ls…`` ssh), and every command finds the cluster on whichever
runtime has it. Node lines go to stdout and everything else to stderr, so
``labrys cluster up | while read name addr; …`` works.

Mounted by `labrys.cli` as the ``cluster`` command. It belongs to the run orchestration
rather than to `labrys.control` because it reads partition specs (`labrys.nemesis`)
and targets' packages (`labrys.targets`), which sit above the nodes.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import sys
import time
from typing import Annotated

import typer

from labrys.control import (
    RUNTIMES,
    Cluster,
    ClusterSummary,
    FirewalledCluster,
    LocalCluster,
    get_runtime,
    leftovers,
)
from labrys.errors import UsageError
from labrys.harness._spec import parse_option
from labrys.nemesis import TOPOLOGIES, grudge_from_spec, grudge_to_json
from labrys.options import check_known, parse_options
from labrys.targets import get_target

cluster_app = typer.Typer(
    help="Clusters on any runtime (namespaces, containers, machines over SSH): bring up, "
         "poke, partition, heal, remove.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_ClusterOption = Annotated[
    str | None,
    typer.Option("--cluster", "-c", help="The cluster's name (lb…, ld…, ls…), when several "
                 "are up."),
]


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _describe_grudge(grudge: dict[str, list[str]]) -> str:
    return "; ".join(f"{node} drops {', '.join(peers)}" for node, peers in grudge.items())


def _summaries(name: str | None = None) -> list[ClusterSummary]:
    return [c for runtime in RUNTIMES.values() for c in runtime.clusters()
            if name is None or c.name == name]


def _attach(name: str | None) -> Cluster:
    """The cluster called ``name``, or the only one that is up, on whichever runtime.

    Raises:
        UsageError: none is up, there is no such cluster, or several and no name.
    """
    found = _summaries(name)
    if not found:
        which = f"cluster {name}" if name else "cluster"
        raise UsageError(f"no {which} is up: start one with `labrys cluster up`")
    if len(found) > 1:
        raise UsageError(f"{len(found)} clusters are up ({', '.join(c.name for c in found)}): "
                         "choose one with --cluster NAME")
    return get_runtime(found[0].runtime).attach(found[0].name)


def _owner(summary: ClusterSummary) -> str:
    if summary.owner is None:
        return "kept until `labrys cluster down`"
    if summary.owner.alive():
        return f"owned by running process {summary.owner.pid}"
    return f"its process {summary.owner.pid} is gone: `labrys cluster down` removes it"


@cluster_app.command()
def up(
    nodes: Annotated[
        int, typer.Option("--nodes", "-n", min=1, max=253, help="How many nodes.")
    ] = 5,
    runtime: Annotated[str, typer.Option(
        help="Where nodes live: " + ", ".join(RUNTIMES) + ".")] = "local",
    runtime_option: Annotated[list[str] | None, typer.Option(
        "--runtime-option", help="A runtime option key=value; repeatable.",
        show_default=False)] = None,
    target: Annotated[str | None, typer.Option(
        help="Give the nodes this target's packages (the docker image, apt over ssh).",
        show_default=False)] = None,
) -> None:
    """Start a cluster that lives until `labrys cluster down`; print node names and addresses."""
    chosen = get_runtime(runtime)
    given = dict(parse_option(o, flag="--runtime-option", example="base_dir=/srv/labrys")
                 for o in runtime_option or [])
    check_known(given, (f"runtime {runtime}", chosen.options), flag="--runtime-option")
    packages = get_target(target).packages if target is not None else ()
    began = time.monotonic()
    cluster = chosen.up(nodes, parse_options(chosen.options, given, flag="--runtime-option"),
                        packages=packages, persistent=True)
    _err(f"cluster {cluster.name} up in {time.monotonic() - began:.2f} s ({runtime})")
    for node in cluster.nodes:
        print(f"{node.name} {node.address}", flush=True)


@cluster_app.command()
def status(cluster: _ClusterOption = None) -> None:
    """Show the clusters that are up, their nodes and the network faults in force."""
    shown = _summaries(cluster)
    for summary in shown:
        print(f"{summary.runtime} cluster {summary.name}, {_owner(summary)}")
        attached = get_runtime(summary.runtime).attach(summary.name)
        for node in attached.nodes:
            print(f"  {node.name} {node.address}")
        if not isinstance(attached, FirewalledCluster):
            continue
        faults = attached.faults()
        if faults.partition:
            print(f"  partition: {_describe_grudge(faults.partition)}")
        if faults.loss:
            print(f"  loss {faults.loss_probability:.0%}: {_describe_grudge(faults.loss)}")
        if faults.delay:
            print(f"  delay: {_describe_grudge(faults.delay)}")
        if not (faults.partition or faults.loss or faults.delay):
            print("  network whole")
    recorded = {c.name for c in shown}
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
    node: Annotated[str, typer.Argument(help="The node to run on, e.g. n1.")],
    command: Annotated[list[str], typer.Argument(help="The command, after --.")],
    cluster: _ClusterOption = None,
) -> None:
    """Run a command on a node (after --), print its output; exit with its status (127: no
    such command, 126: not executable, as in a shell)."""
    attached = _attach(cluster)
    missing = _not_runnable(command[0]) if isinstance(attached, LocalCluster) else None
    if missing is not None:
        _err(f"labrys: {command[0]}: {missing[1]}")
        raise typer.Exit(missing[0])
    result = attached.node(node).run(command, timeout_s=24 * 3600)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    code = result.exit_code
    raise typer.Exit(code if code >= 0 else 128 - code)


def _not_runnable(program: str) -> tuple[int, str] | None:
    """The shell's status and words for a program that cannot run, or None if it can.

    Checked for local nodes because ``ip netns exec`` reports a missing program as its own
    failure, status 1, which a script cannot tell from the program's. A local node shares
    this host's file system, so the host's PATH lookup is the node's. (Containers and the
    ssh runtime's agent report 126/127 themselves.)
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
    target = _attach(cluster)
    seed = secrets.randbits(32) if seed is None else seed
    names = [n.name for n in target.nodes]
    grudge = grudge_from_spec(spec, names, random.Random(seed))
    applied = target.partition(grudge)
    print(_describe_grudge(grudge_to_json(applied)) or "no link cut")
    _err(f"partition {spec} (seed {seed}) on {target.name}")


@cluster_app.command()
def heal(cluster: _ClusterOption = None) -> None:
    """Remove every partition, loss and delay from the cluster's network."""
    target = _attach(cluster)
    target.heal()
    _err(f"network of {target.name} healed")


@cluster_app.command()
def down(
    cluster: _ClusterOption = None,
    everything: Annotated[
        bool, typer.Option("--all", help="Also remove clusters whose owning process runs.")
    ] = False,
) -> None:
    """Remove clusters of every runtime and everything crashed runs left; idempotent."""
    anything = False
    for runtime in RUNTIMES.values():
        removed, kept = runtime.down(name=cluster, everything=everything)
        for name in removed:
            _err(f"removed {name} ({runtime.name})")
        for name in kept:
            _err(f"kept {name} ({runtime.name}): the process that owns it is running "
                 "(--all removes it)")
        anything = anything or bool(removed or kept)
    if not anything:
        _err("nothing to remove")
