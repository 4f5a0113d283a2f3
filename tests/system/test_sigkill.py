"""`labrys run` killed with SIGKILL leaves nothing behind, without anyone running `down`,
on every runtime.

A killed run runs no clean-up of its own; its guardian (`labrys.control.Guardian`)
must notice and remove the cluster. On the local runtime the run is killed at
four moments: while etcd is being set up, during the workload, while the teardown heals
the faults, and while it stops the database; and once more during the workload of a run
whose data is on lazy disks (``lose-unsynced``), which leaves FUSE mounts to detach as
well. On docker and ssh, at two (`REMOTE_MOMENTS`). Each time, within a few seconds,
nothing of the run's cluster may be left (local: namespace, veth, bridge, iptables rule,
mount or process; docker: container, network or rule; ssh: on each machine a process,
iptables chain or rule, hosts line or folder, and the cluster's record), and the
guardian must have gone too. Skipped without root or etcd; about 50 s on the local
runtime, 20 s on each other.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.system._netns import ETCD, needs_etcd, needs_lazyfs, needs_root
from tests.system._runtimes import CLUSTER_NAME, RUNTIME_PARAMS, RuntimeCase, alive

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

REMOTE_MOMENTS = ("set-up", "workload")
"""The moments tried on the docker and ssh runtimes. Their guardians remove a cluster the
same way whatever the run was doing (containers by label; marked processes, chains,
hosts lines and folder on each machine), so two moments cover them: just after the nodes
came up, and with faults active. All four run on the local runtime, whose removal
depends on what the run's own commands had built."""

RUNTIME_MARKS = {param.values[0]: param.marks for param in RUNTIME_PARAMS}


def _case(runtime: str, moment: str, nemesis: str = "partition,kill", marks=()):
    return pytest.param(runtime, moment, nemesis, marks=[*RUNTIME_MARKS[runtime], *marks],
                        id=f"{runtime}-{moment}-{nemesis}")


@pytest.mark.parametrize(("runtime", "moment", "nemesis"), [
    *(_case("local", moment) for moment in sorted(MOMENTS)),
    _case("local", "workload", "lose-unsynced", marks=needs_lazyfs),
    *(_case(remote, moment) for remote in ("docker", "ssh") for moment in REMOTE_MOMENTS),
], indirect=["runtime"])
def test_a_run_killed_with_sigkill_leaves_nothing(tmp_path: Path, moment: str, nemesis: str,
                                                  runtime: RuntimeCase):
    store = tmp_path / "results"
    command = [sys.executable, "-m", "labrys.cli", "run", "--time-limit", "6",
               "--nemesis", nemesis, "--nemesis-interval", "1", "--concurrency", "3",
               "--seed", "3", "--store", str(store), "--option", f"etcd_binary={ETCD}",
               *runtime.flags]
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
        if runtime.name != "local":  # the check finds the live cluster (too slow for local's
            # short heal and teardown moments, and local_left is tested elsewhere)
            assert runtime.left(CLUSTER_NAME.search(_log(store))[1])
        run.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        assert run.wait(timeout=10) == -signal.SIGKILL
    finally:
        if run.poll() is None:
            run.kill()
    name = CLUSTER_NAME.search(_log(store))[1]
    # The guardian may still be starting (it says so once it watches): wait for it.
    while not (started := re.search(r"guardian (\d+) watching run", _log(store))):
        assert time.monotonic() - killed_at < 15, "the guardian never started"
        time.sleep(0.05)
    guardian = int(started[1])

    while runtime.left(name) or alive(guardian):
        assert time.monotonic() - killed_at < 15, (
            f"left after 15 s: {runtime.left(name)}, guardian alive: {alive(guardian)}")
        time.sleep(0.1)
    print(f"{runtime.name}, killed at {moment}: everything gone "
          f"{time.monotonic() - killed_at:.1f} s later")
    assert f"guardian: removed the {runtime.name} cluster" in _log(store)
