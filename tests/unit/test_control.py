"""The parts of labrys.control that need no root: names, records, rules, process handles."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labrys.control import CommandResult
from labrys.control._netfilter import (
    DELAY,
    LOSS,
    PARTITION,
    base_layout,
    drop_from,
    lose_from,
    parse_chain,
    queue_from,
    replace_chains,
)
from labrys.control._registry import PREFIX_PATTERN, ClusterRecord, Owner, plan, subnet_of
from labrys.control._spawn import spawn
from labrys.errors import ControlError

# -- names and records --------------------------------------------------------------------


def test_the_prefix_chooses_the_subnet_so_clusters_never_share_one():
    assert str(subnet_of("lb3fa0")) == "10.63.160.0/24"
    assert str(subnet_of("lb0000")) == "10.0.0.0/24"
    assert str(subnet_of("lbffff")) == "10.255.255.0/24"


def test_a_plan_names_everything_after_the_prefix_within_linux_limits(tmp_path):
    record = plan(
        prefix="lbab12", node_names=[f"n{i}" for i in range(1, 254)], base_dir=tmp_path, owner=None
    )
    assert record.bridge == "lbab12-br"
    assert record.bridge_address == "10.171.18.1"
    assert record.nodes[0].namespace == "lbab12-n1"
    assert record.nodes[0].address == "10.171.18.2"
    assert record.nodes[-1].address == "10.171.18.254"
    assert max(len(n.veth) for n in record.nodes) <= 15
    assert all(PREFIX_PATTERN.match(n.veth)[1] == "lbab12" for n in record.nodes)
    assert record.node_directory("n7") == tmp_path / "lbab12" / "n7"
    with pytest.raises(ControlError, match="at most 253 nodes"):
        plan(
            prefix="lbab12", node_names=[f"n{i}" for i in range(254)], base_dir=tmp_path, owner=None
        )


def test_records_round_trip_through_json(tmp_path):
    record = plan(
        prefix="lbab12", node_names=["n1", "n2"], base_dir=tmp_path, owner=Owner.current()
    )
    assert ClusterRecord.from_json(json.loads(json.dumps(record.to_json()))) == record


def test_prefix_pattern_matches_labrys_names_only():
    assert PREFIX_PATTERN.match("lb3fa0-n1")[1] == "lb3fa0"
    assert PREFIX_PATTERN.match("lb3fa0")[1] == "lb3fa0"
    for other in ("lb3fa0x", "docker0", "lbXYZW-n1", "eth0", "lb3fa-n1"):
        assert PREFIX_PATTERN.match(other) is None, other


def test_an_owner_is_its_process_not_just_its_pid():
    me = Owner.current()
    assert me.alive()
    assert not Owner(pid=me.pid, start_ticks=me.start_ticks + 1).alive()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    assert not Owner(pid=child.pid, start_ticks=0).alive()


# -- iptables text ------------------------------------------------------------------------


def test_base_layout_jumps_to_the_fault_chains_in_order():
    assert base_layout() == (
        "*filter\n"
        ":labrys-partition - [0:0]\n:labrys-loss - [0:0]\n:labrys-delay - [0:0]\n"
        "-A INPUT -j labrys-partition\n-A INPUT -j labrys-loss\n-A INPUT -j labrys-delay\n"
        "COMMIT\n"
    )


def test_replacing_a_chain_declares_it_so_restore_flushes_it():
    text = replace_chains({PARTITION: [drop_from("10.0.0.2")], LOSS: []})
    assert text == (
        "*filter\n:labrys-partition - [0:0]\n-A labrys-partition -s 10.0.0.2/32 -j DROP\n"
        ":labrys-loss - [0:0]\nCOMMIT\n"
    )


def test_rules_read_back_as_written_by_iptables():
    listing = "\n".join(
        [
            "-P INPUT ACCEPT",
            "-N labrys-delay",
            "-A INPUT -j labrys-partition",
            "-A labrys-partition -s 10.0.0.3/32 -j DROP",
            "-A labrys-partition -s 10.0.0.4/32 -j DROP",
            # iptables prints the probability with more digits than it was given.
            "-A labrys-loss -s 10.0.0.2/32 -m statistic --mode random"
            " --probability 0.30000000009 -j DROP",
            "-A labrys-delay -s 10.0.0.2/32 -j NFQUEUE --queue-num 0 --queue-bypass",
        ]
    )
    assert parse_chain(listing, PARTITION).sources == ("10.0.0.3", "10.0.0.4")
    loss = parse_chain(listing, LOSS)
    assert loss.sources == ("10.0.0.2",) and loss.probability == pytest.approx(0.3)
    assert parse_chain(listing, DELAY).sources == ("10.0.0.2",)
    assert lose_from("10.0.0.2", 0.3).endswith("--probability 0.300000 -j DROP")
    assert queue_from("10.0.0.2") == "-s 10.0.0.2/32 -j NFQUEUE --queue-num 0 --queue-bypass"


# -- command results and process handles ---------------------------------------------------


def test_a_failed_command_says_where_what_and_why():
    result = CommandResult(
        node="n2", argv=("ip", "link"), exit_code=2, stdout="", stderr="boom\nmore\n"
    )
    with pytest.raises(ControlError, match=r"^n2: `ip link` exited 2: boom$"):
        result.check()
    ok = CommandResult(node="n2", argv=("true",), exit_code=0, stdout="", stderr="")
    assert ok.check() is ok


def _state(pid):
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2]


def test_a_spawned_process_is_signalled_as_a_group_and_reaped(tmp_path):
    # The shell forks a sleep child: pausing must stop both, killing must kill both.
    child_file = tmp_path / "child"
    script = f"sleep 30 & echo $! > {child_file}; wait"
    process = spawn(node="host", argv=("sh", "-c", script), prefix=(), log_path=tmp_path / "log",
                    env=dict(os.environ))  # fmt: skip
    deadline = time.monotonic() + 5
    while not (child_file.exists() and child_file.read_text().strip()):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child = int(child_file.read_text())
    assert process.alive
    assert process.signal(signal.SIGSTOP)
    deadline = time.monotonic() + 5
    while {_state(process.pid), _state(child)} != {"T"}:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert process.stop(grace_s=5) == -signal.SIGTERM
    assert not process.alive
    assert process.returncode == -signal.SIGTERM
    # Gone, so signalling is a no-op that says so, and never reaches a recycled PID.
    assert process.signal(signal.SIGKILL) is False
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{child}") and _state(child) != "Z":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_wait_times_out_on_a_running_process(tmp_path):
    process = spawn(node="host", argv=("sleep", "30"), prefix=(), log_path=tmp_path / "log",
                    env=dict(os.environ))  # fmt: skip
    assert process.wait(timeout_s=0.05) is None
    assert process.kill() == -signal.SIGKILL

