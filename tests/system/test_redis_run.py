"""Redis with Sentinel end to end, on every runtime: cutting the primary off loses
acknowledged writes.

About 30 s: set-up, 18 s of adds with the primary isolated from 8 s to 16 s
(Sentinel fails over about 4 s in, with down-after-milliseconds 2000), the heal, a
5 s wait and the final reads. Skipped without root or without Redis.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from rich.console import Console

from labrys.harness import TestSpec
from labrys.harness._runner import run_test
from tests.system._runtimes import CLUSTER_NAME, RuntimeCase

pytestmark = [
    pytest.mark.slow,
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("iptables") is None, reason="iptables is not installed"),
    pytest.mark.skipif(not (Path("/usr/bin/redis-server").exists()
                            and Path("/usr/bin/redis-sentinel").exists()),
                       reason="redis-server/redis-sentinel are not installed "
                              "(apt-get install redis-server redis-sentinel)"),
]


def test_isolating_the_primary_loses_acknowledged_adds(tmp_path: Path, runtime: RuntimeCase):
    spec = TestSpec(target="redis", workload="set", nemesis=("partition",),
                    topologies=("primaries",), nemesis_interval_s=8.0, time_limit_s=18.0,
                    concurrency=5, rate=200.0, seed=3, store=str(tmp_path),
                    runtime=runtime.name, runtime_options=runtime.options)
    outcome = run_test(spec, console=Console(file=io.StringIO()), command=["pytest"])

    assert outcome.error is None, outcome.error
    assert outcome.verdict.valid is False
    assert outcome.exit_code == 1
    lost = [a for a in outcome.verdict.anomalies if a.kind == "lost"]
    assert len(lost) == 1 and len(lost[0].ops) > 50, outcome.verdict.explanation
    assert "missing from the final read" in outcome.verdict.explanation
    for node in ("n1", "n2", "n3"):
        for log in ("redis.log", "sentinel.log"):
            assert (outcome.run.path / "nodes" / node / log).stat().st_size > 0
    # The failover happened: a sentinel's log records the promotion.
    sentinel_logs = "".join((outcome.run.path / "nodes" / n / "sentinel.log").read_text()
                            for n in ("n2", "n3"))
    assert "+switch-master" in sentinel_logs
    name = CLUSTER_NAME.search((outcome.run.path / "labrys.log").read_text())[1]
    assert runtime.left(name) == []
