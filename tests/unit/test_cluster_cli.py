"""`labrys cluster`: what a shell user expects of exec, and what --help says."""

from __future__ import annotations

from typer.testing import CliRunner

from labrys.harness._cluster_cli import _not_runnable, cluster_app
from labrys.nemesis import TOPOLOGIES


def test_exec_answers_a_program_that_cannot_run_as_a_shell_does(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("")
    assert _not_runnable("sh") is None and _not_runnable("/bin/sh") is None
    assert _not_runnable("no-such-command-anywhere") == (127, "command not found")
    assert _not_runnable(str(tmp_path / "missing")) == (127, "No such file or directory")
    assert _not_runnable(str(plain)) == (126, "Permission denied")
    assert _not_runnable(str(tmp_path)) == (126, "Permission denied")


def test_partition_help_lists_every_topology():
    shown = CliRunner().invoke(cluster_app, ["partition", "--help"], terminal_width=200).output
    assert all(name in shown for name in TOPOLOGIES)
