"""The docker and ssh runtimes' pure parts: nodes files, mirrors, image recipes, exit codes.

Their clusters are tested for real in tests/system (containers, sshds in namespaces);
these are the parts whose mistakes would only show there as confusing failures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labrys.control import RUNTIMES
from labrys.control._docker import _status, owner_of
from labrys.control._firewall import NODE_PACKAGES
from labrys.control._images import mirror_from_apt, recipe
from labrys.control._ssh import Machine, read_nodes_file
from labrys.errors import ControlError, UsageError
from labrys.targets import TARGETS, node_packages


def test_every_runtime_is_registered_with_its_options():
    assert set(RUNTIMES) == {"local", "docker", "ssh"}
    assert set(RUNTIMES["docker"].options) == {"mirror"}
    assert set(RUNTIMES["ssh"].options) == {"nodes_file"}


def test_a_nodes_file_applies_defaults_names_nodes_and_expands_the_key(tmp_path: Path):
    path = tmp_path / "nodes.toml"
    path.write_text('[defaults]\nuser = "admin"\nkey_file = "~/k"\n\n'
                    '[[nodes]]\nhost = "10.0.0.1"\n[[nodes]]\nhost = "10.0.0.2"\nport = 2222\n'
                    'name = "db2"\n')
    one, two = read_nodes_file(path)
    assert one == Machine(name="n1", host="10.0.0.1", user="admin",
                          key_file=str(Path("~/k").expanduser()))
    assert (two.name, two.port, two.user) == ("db2", 2222, "admin")
    assert one.sudo == ["sudo", "-n"]
    assert Machine(name="n1", host="h").sudo == []


@pytest.mark.parametrize(("text", "message"), [
    ("", "lists no [[nodes]]"),
    ('[[nodes]]\nport = 22\n', "node 1 has no host"),
    ('[[nodes]]\nhost = "a"\nhots = "b"\n', "unknown key 'hots'"),
    ('[[nodes]]\nhost = "a"\nname = "x"\n[[nodes]]\nhost = "b"\nname = "x"\n', "names repeat"),
    ("[[nodes]\n", "not valid TOML"),
])
def test_a_bad_nodes_file_is_refused_in_one_line(tmp_path: Path, text: str, message: str):
    path = tmp_path / "nodes.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        read_nodes_file(path)


def test_the_ssh_runtime_without_a_nodes_file_says_how_to_give_one():
    with pytest.raises(UsageError, match=r"nodes_file=nodes\.toml"):
        RUNTIMES["ssh"].up(3, {"nodes_file": None})


def test_the_mirror_is_read_from_deb822_and_one_line_sources(tmp_path: Path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n")
    assert mirror_from_apt(tmp_path) == "http://mirror.example/debian"
    (tmp_path / "sources.list").write_text(
        "# deb http://old/debian bookworm main\n"
        "deb [arch=amd64] http://list.example/debian bookworm main\n")
    assert mirror_from_apt(tmp_path) == "http://list.example/debian"


def test_no_bookworm_source_is_refused_with_the_option_that_fixes_it(tmp_path: Path):
    (tmp_path / "sources.list").write_text("deb http://x/debian trixie main\n")
    with pytest.raises(ControlError, match="mirror=URL"):
        mirror_from_apt(tmp_path)


def test_an_image_recipe_installs_node_tools_then_the_targets_packages_in_order():
    text = recipe(["redis-sentinel", "redis-server", "iptables"])
    lines = text.splitlines()
    assert lines[0] == "FROM labrys/debian:bookworm"
    assert all(p in lines[1] for p in NODE_PACKAGES)
    # The node tools step is the same text for every target, so its layer is shared.
    assert lines[1] == recipe([]).splitlines()[1]
    assert lines[-1].count("redis-sentinel redis-server") == 1
    assert "iptables" not in lines[-1]
    assert recipe(["b", "a"]) == recipe(["a", "b"])


def test_every_target_declares_the_packages_its_nodes_need():
    assert all(entry.packages for entry in TARGETS.values())
    assert "etcd-server" in TARGETS["etcd"].packages
    assert node_packages() == sorted(set(node_packages()))


def test_exec_exit_codes_become_returncodes_with_signals_negative():
    assert _status(0) == 0
    assert _status(1) == 1
    assert _status(137) == -9
    assert _status(143) == -15
    assert _status(None) == -1


def test_owner_labels_name_a_process_or_none():
    assert owner_of("none") is None
    owner = owner_of("12:345")
    assert (owner.pid, owner.start_ticks) == (12, 345)
