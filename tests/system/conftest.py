"""Fixtures the system tests share: a real three-node local cluster checked clean after,
and every runtime (`runtime`), for the tests that run a database on each."""

from __future__ import annotations

import pytest

from labrys.control import LocalCluster
from tests.system._netns import assert_nothing_left
from tests.system._runtimes import (
    RUNTIME_PARAMS,
    RuntimeCase,
    docker_left,
    local_left,
    ssh_left,
)
from tests.system._sshd import sshd_machines


@pytest.fixture
def cluster():
    """Three nodes in their own namespaces; torn down, then nothing of them may be left."""
    made = LocalCluster.up(3)
    yield made
    made.teardown()
    assert_nothing_left(made.prefix)


@pytest.fixture(scope="module", params=RUNTIME_PARAMS)
def runtime(request, tmp_path_factory):
    """Each runtime in turn, once per module: local namespaces; docker containers; three
    real sshds in namespace nodes for the ssh runtime (torn down after the module)."""
    if request.param == "local":
        yield RuntimeCase("local", left=local_left)
    elif request.param == "docker":
        yield RuntimeCase("docker", left=docker_left)
    else:
        machines, nodes_file = sshd_machines(3, tmp_path_factory.mktemp("sshd"))
        try:
            yield RuntimeCase("ssh", {"nodes_file": str(nodes_file)},
                              left=lambda name: ssh_left(name, machines))
        finally:
            machines.teardown()
