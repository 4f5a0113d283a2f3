"""The guardian: released, it exits and touches nothing; if its run dies, it removes.

The removal itself is runtime code (the local runtime's is tested for real, as root, in
tests/system/test_sigkill.py); here the guardian's own part: what it is told, how it
sees its run die, and what it does then, with a runtime no other process knows.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from labrys.control import Guardian
from labrys.control._guardian import Watch
from labrys.errors import ControlError


def test_messages_are_read_whole_even_when_they_arrive_in_pieces():
    watch = Watch()
    watch.feed(b'{"guard": "local", "handle": {"prefix": "lb')
    assert watch.guarded == []
    watch.feed(b'0a1b"}}\n{"guard": "local", "handle": {"prefix": "lb0a1c"}}\n{"rel')
    assert watch.guarded == [("local", {"prefix": "lb0a1b"}), ("local", {"prefix": "lb0a1c"})]
    assert not watch.released
    watch.feed(b'ease": true}\n')
    assert watch.released


def test_a_released_guardian_exits_and_removes_nothing(tmp_path):
    log = tmp_path / "labrys.log"
    guardian = Guardian.start(log_path=log)
    guardian.guard("nowhere", {"x": 1})
    guardian.release()
    assert guardian._process.returncode == 0
    text = log.read_text()
    assert f"guardian {guardian.pid} watching run" in text
    assert "remov" not in text
    with pytest.raises(ControlError, match="already released"):
        guardian.guard("nowhere", {"x": 2})


def test_when_its_run_is_killed_the_guardian_removes_what_it_guards(tmp_path):
    log = tmp_path / "labrys.log"
    run = ("import os, signal; from pathlib import Path; from labrys.control import Guardian; "
           f"g = Guardian.start(log_path=Path({str(log)!r})); "
           "g.guard('nowhere', {'x': 1}); os.kill(os.getpid(), signal.SIGKILL)")
    done = subprocess.run([sys.executable, "-c", run], timeout=30, check=False)
    assert done.returncode == -9
    deadline = time.monotonic() + 15
    while "could not remove" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    text = log.read_text()
    assert "the run ended without removing its clusters" in text
    # The removal was attempted through the runtime registry, which knows no 'nowhere'.
    assert ("could not remove the nowhere cluster {\"x\": 1}: unknown runtime 'nowhere'"
            in text)
