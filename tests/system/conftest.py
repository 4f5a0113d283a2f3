"""Fixtures the system tests share: a real three-node local cluster checked clean after,
and every runtime (`runtime`), for the tests that run a database on each."""

from __future__ import annotations

import pytest

from labrys.control import LocalCluster
from tests.system._netns import assert_nothing_left
from tests.system._runtimes import (
    RUNTIME_PARAMS,
    ImageBuild,
    RuntimeCase,
    docker_left,
    local_left,
    ssh_left,
)
from tests.system._sshd import sshd_machines

IMAGES = pytest.StashKey[ImageBuild]()
"""The docker images' background build, if this session runs docker tests."""


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the docker images once the session is known to run a docker test
    that will not skip (see `ImageBuild`)."""
    def runs_on_docker(item: pytest.Item) -> bool:
        callspec = getattr(item, "callspec", None)
        return (callspec is not None and callspec.params.get("runtime") == "docker"
                and not any(mark.args[0] if mark.args else mark.kwargs.get("condition")
                            for mark in item.iter_markers("skipif")))

    wanted = (not session.config.option.collectonly
              and any(runs_on_docker(item) for item in session.items))
    if wanted and IMAGES not in session.config.stash:
        session.config.stash[IMAGES] = ImageBuild()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if IMAGES in session.config.stash:
        session.config.stash[IMAGES].close()


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
        if IMAGES in request.config.stash:
            request.config.stash[IMAGES].wait()
        yield RuntimeCase("docker", left=docker_left)
    else:
        machines, nodes_file = sshd_machines(3, tmp_path_factory.mktemp("sshd"))
        try:
            yield RuntimeCase("ssh", {"nodes_file": str(nodes_file)},
                              left=lambda name: ssh_left(name, machines))
        finally:
            machines.teardown()
