"""Every runtime, for the system tests that start clusters: how to ask for it, and how to
tell that a cluster of it left nothing behind.

`RUNTIME_PARAMS` parametrises a module-scoped fixture (`runtime`, in ``conftest.py``), so
the expensive cross-runtime rows share what they can: the docker runtime's images are
built once per machine (the first test pays), the ssh runtime's sshd machines once per
module. Each case skips with its reason where it cannot run.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
import requests
from rich.console import Console

from labrys.control import LocalCluster, leftovers
from labrys.control._docker import CLUSTER_LABEL
from labrys.control._dockerd import connect, daemon, release
from labrys.control._images import node_image
from labrys.control._ssh import STATE_DIR
from labrys.targets import TARGETS

CLUSTER_NAME = re.compile(r"nodes up: cluster (l[bds][0-9a-f]{4})")
"""How a run's log names its cluster (``lb…`` local, ``ld…`` docker, ``ls…`` ssh)."""


@dataclass(frozen=True, slots=True)
class RuntimeCase:
    """A runtime as the tests use it.

    Attributes:
        name: the runtime's name.
        options: its ``--runtime-option`` values, as text.
        left: what a cluster of that name left behind (empty when nothing).
    """

    name: str
    options: dict[str, str] = field(default_factory=dict)
    left: Callable[[str], list[str]] = lambda name: []

    @property
    def flags(self) -> list[str]:
        """The ``labrys run`` flags that choose it."""
        flags = ["--runtime", self.name]
        for key, value in self.options.items():
            flags += ["--runtime-option", f"{key}={value}"]
        return flags


def _processes_naming(text: str) -> list[str]:
    found = subprocess.run(["pgrep", "-a", "-f", text], capture_output=True,
                           text=True).stdout.splitlines()
    return [line for line in found if alive(int(line.split()[0]))]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def local_left(prefix: str) -> list[str]:
    """Namespaces, links, rules, paths and processes of a local cluster."""
    return [repr(lo) for lo in leftovers(prefix)] + _processes_naming(f"/{prefix}/")


def docker_left(name: str) -> list[str]:
    """Containers and networks labelled with the cluster, and its FORWARD rule."""
    client = connect()
    found = []
    label = {"label": f"{CLUSTER_LABEL}={name}"}
    try:
        if client is not None:
            found += [f"container {c.name}"
                      for c in client.containers.list(all=True, filters=label)]
            found += [f"network {n.name}" for n in client.networks.list(filters=label)]
    except (docker.errors.DockerException, requests.RequestException):
        pass  # the daemon stopped meanwhile (labrys stops the one it started), and its
        # containers with it
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return found + [line for line in rules.splitlines() if f"labrys {name}" in line]


def ssh_left(name: str, machines: LocalCluster) -> list[str]:
    """What a cluster left on its machines, which are ``machines``' namespace nodes:
    processes carrying the cluster's mark (the nodes share this machine's process
    table), labrys's iptables chains and rules in each machine's namespace, its lines in
    their hosts files, its folder, and its record on the control side."""
    marker = f"LABRYS_CLUSTER={name}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and alive(int(entry)):
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in environ:
                found.append(f"process {entry}")
    for machine in machines.nodes:
        rules = machine.run(["iptables-save"]).check().stdout
        found += [f"{machine.name}: {line}" for line in rules.splitlines() if "labrys-" in line]
        if f"# labrys {name} begin" in machine.run(["cat", "/etc/hosts"]).check().stdout:
            found.append(f"{machine.name}: hosts lines of {name}")
    folder = Path(machines.record.directory) / "ssh" / name
    if folder.exists():
        found.append(f"folder {folder}")
    if (STATE_DIR / f"{name}.json").exists():
        found.append(f"record {STATE_DIR / name}.json")
    return found


needs_docker = pytest.mark.skipif(
    shutil.which("dockerd") is None or shutil.which("debootstrap") is None,
    reason="docker.io and debootstrap are not installed (make setup)")
needs_sshd = pytest.mark.skipif(
    not Path("/usr/sbin/sshd").exists() or shutil.which("ssh-keygen") is None,
    reason="openssh-server is not installed (make setup)")

RUNTIME_PARAMS = [
    pytest.param("local", id="local"),
    pytest.param("docker", id="docker", marks=needs_docker),
    pytest.param("ssh", id="ssh", marks=needs_sshd),
]


DOCKER_TEST_TARGETS = ("etcd", "postgres", "redis")
"""The targets the system tests run on the docker runtime, whose images they need."""


class ImageBuild:
    """The docker runtime's images for `DOCKER_TEST_TARGETS`, built in the background.

    The first docker test on a machine would otherwise wait minutes for them (debootstrap,
    then apt in each image), mostly on the network and the disk; started as soon as the
    session knows it will run docker tests, the builds overlap the unit tests, which use
    one core. `wait` hands a build's failure to the test that needs the images.
    """

    def __init__(self) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._build, name="labrys-images",
                                        daemon=True)
        self._thread.start()

    def _build(self) -> None:
        try:
            client = daemon()
            quiet = Console(file=io.StringIO())
            for target in DOCKER_TEST_TARGETS:
                node_image(client, TARGETS[target].packages, console=quiet)
        except BaseException as e:  # re-raised in the test that waits
            self._error = e

    def wait(self) -> None:
        """Block until the builds are done; raise what made one fail."""
        self._thread.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Wait for the builds, then stop the daemon labrys started if no cluster uses it."""
        self._thread.join()
        release()
