"""`labrys run` killed with SIGKILL leaves nothing behind, without anyone running `down`.

A killed run runs no clean-up of its own; its guardian (`labrys.control.Guardian`)
must notice and remove the cluster. The run is killed at four moments: while etcd is
being set up, during the workload, while the teardown heals the faults, and while it
stops the database; and once more during the workload of a run whose data is on lazy
disks (``lose-unsynced``), which leaves FUSE mounts to detach as well. Each time, within
a few seconds, no namespace, veth, bridge, iptables rule, mount or process of the run's
cluster may be left, and the guardian must have gone too. Skipped without root or etcd;
about 50 s in all.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labrys.control import leftovers
from tests.system._netns import ETCD, needs_etcd, needs_lazyfs, needs_root

pytestmark = [pytest.mark.slow, *needs_root, needs_etcd]


def _log(store: Path) -> str:
    logs = list(store.glob("*/*/labrys.log"))
    return logs[0].read_text() if logs else ""


def _history_bytes(store: Path) -> int:
    histories = list(store.glob("*/*/history.jsonl"))
    return histories[0].stat().st_size if histories else 0


MOMENTS = {
    # etcd is being started on the nodes (about a second of set-up follows this line)
    "set-up": lambda store: "nodes up: cluster" in _log(store),
    "workload": lambda store: _history_bytes(store) > 20_000,
    "heal": lambda store: "teardown: heal the" in _log(store),
    "teardown": lambda store: "teardown: stop etcd" in _log(store),
}


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _cluster_processes(prefix: str) -> list[str]:
    """Live processes whose command line names the cluster (its etcd data directories)."""
    found = subprocess.run(["pgrep", "-a", "-f", f"/{prefix}/"], capture_output=True,
                           text=True).stdout.splitlines()
    return [line for line in found if _alive(int(line.split()[0]))]


@pytest.mark.parametrize(("moment", "nemesis"), [
    *((moment, "partition,kill") for moment in sorted(MOMENTS)),
    pytest.param("workload", "lose-unsynced", marks=needs_lazyfs),
])
def test_a_run_killed_with_sigkill_leaves_nothing(tmp_path: Path, moment: str, nemesis: str):
    store = tmp_path / "results"
    command = [sys.executable, "-m", "labrys.cli", "run", "--time-limit", "6",
               "--nemesis", nemesis, "--nemesis-interval", "1", "--concurrency", "3",
               "--seed", "3", "--store", str(store), "--option", f"etcd_binary={ETCD}"]
    with open(tmp_path / "output", "wb") as output:
        run = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not MOMENTS[moment](store):
            assert run.poll() is None, (tmp_path / "output").read_text()
            assert time.monotonic() < deadline, f"never reached {moment}"
            time.sleep(0.01)
        if nemesis == "lose-unsynced":
            prefix = re.search(r"nodes up: cluster (lb[0-9a-f]{4})", _log(store))[1]
            mounts = Path("/proc/self/mountinfo").read_text().splitlines()
            assert any(f"/{prefix}/" in m and " - fuse labrys-lazyfs " in m for m in mounts)
        run.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert run.wait(timeout=10) == -signal.SIGKILL
    finally:
        if run.poll() is None:
            run.kill()
    prefix = re.search(r"nodes up: cluster (lb[0-9a-f]{4})", _log(store))[1]
    # The guardian may still be starting (it says so once it watches): wait for it.
    while not (started := re.search(r"guardian (\d+) watching run", _log(store))):
        assert time.monotonic() - killed_at < 15, "the guardian never started"
        time.sleep(0.05)
    guardian = int(started[1])

    while leftovers(prefix) or _cluster_processes(prefix) or _alive(guardian):
        assert time.monotonic() - killed_at < 15, (
            f"left after 15 s: {leftovers(prefix)}, {_cluster_processes(prefix)}, "
            f"guardian alive: {_alive(guardian)}")
        time.sleep(0.1)
    print(f"killed at {moment}: everything gone {time.monotonic() - killed_at:.1f} s later")
    assert "guardian: removed the local cluster" in _log(store)
    assert not Path(f"/run/netns/{prefix}-n1").exists()
    assert not Path(f"/sys/class/net/{prefix}-br").exists()
