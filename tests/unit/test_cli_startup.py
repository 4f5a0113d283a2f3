"""Start-up: ``labrys --help`` and ``labrys check`` do not import what running needs.

Each command runs in a fresh interpreter, which then lists the modules it imported;
the orchestration, the targets and the databases' client libraries must not be among
them unless the command is ``run`` or ``cluster``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from labrys.cli import LAZY_COMMANDS

EXAMPLE = Path(__file__).parents[2] / "labrys" / "examples" / "register-valid.jsonl"

RUNNING_ONLY = ("labrys.harness", "labrys.targets", "labrys.workloads", "labrys.nemesis",
                "labrys.control", "redis", "psycopg", "httpx")

_PROBE = """
import json, sys
from labrys.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _modules_after(*argv: str) -> tuple[int, set[str], str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], capture_output=True,
                          text=True, timeout=60)
    last = json.loads(done.stdout.strip().splitlines()[-1])
    return last["code"], set(last["modules"]), done.stdout


def _loaded(modules: set[str], package: str) -> bool:
    return any(m == package or m.startswith(package + ".") for m in modules)


def test_help_lists_every_command_without_importing_what_running_needs():
    code, modules, out = _modules_after("--help")
    assert code == 0
    for command in ("run", "cluster", "check", "convert", "checkers"):
        assert f"│ {command} " in out
    assert [p for p in RUNNING_ONLY if _loaded(modules, p)] == []


def test_check_imports_only_what_checking_needs():
    code, modules, out = _modules_after("check", str(EXAMPLE))
    assert code == 0 and "valid" in out
    assert [p for p in RUNNING_ONLY if _loaded(modules, p)] == []


def test_run_loads_the_orchestration_when_asked_for():
    code, modules, out = _modules_after("run", "--help")
    assert code == 0 and "--runtime-option" in out
    assert _loaded(modules, "labrys.harness") and _loaded(modules, "labrys.targets")


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_a_lazy_commands_summary_is_the_first_line_of_its_help(name):
    lazy = LAZY_COMMANDS[name]
    real = lazy.load()
    assert real.name == name
    first = " ".join((real.help or "").split("\n\n")[0].split())
    assert lazy.short_help == first
