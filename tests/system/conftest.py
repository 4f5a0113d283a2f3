"""The fixture the system tests share: a real three-node cluster, checked clean after."""

from __future__ import annotations

import pytest

from labrys.control import LocalCluster
from tests.system._netns import assert_nothing_left


@pytest.fixture
def cluster():
    """Three nodes in their own namespaces; torn down, then nothing of them may be left."""
    made = LocalCluster.up(3)
    yield made
    made.teardown()
    assert_nothing_left(made.prefix)
