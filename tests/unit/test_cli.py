"""The command line's contract: exit statuses and one-line errors."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labrys.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "labrys" / "examples"


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main(list(args))
    out, err = capsys.readouterr()
    return e.value.code, out, err


def test_unknown_option_is_one_line_and_exit_255(capsys):
    status, _, err = run(capsys, "check", "--bogus", "x")
    assert status == 255
    assert err == "labrys: No such option '--bogus'. (see `labrys check --help`)\n"


def test_missing_file_is_one_line_and_exit_255(capsys, tmp_path):
    status, _, err = run(capsys, "check", str(tmp_path / "nope.jsonl"))
    assert status == 255
    assert err == f"labrys: no such history file: {tmp_path / 'nope.jsonl'}\n"


def test_malformed_history_is_an_error_not_a_verdict(capsys, tmp_path):
    path = tmp_path / "h.jsonl"
    path.write_text('{"type":"ok","process":0,"f":"read","value":1}\n')
    status, out, err = run(capsys, "check", "--model", "register", str(path))
    assert status == 255 and out == ""
    assert "completes nothing" in err and "line 1" in err


def test_unknown_checker_lists_the_known_ones(capsys):
    status, _, err = run(capsys, "check", "-c", "snapshot", str(EXAMPLES / "register-valid.jsonl"))
    assert status == 255
    assert "unknown checker 'snapshot'" in err and "linearizable" in err


def test_bad_init_says_it_wants_json(capsys):
    status, _, err = run(capsys, "check", "--init", "{x:", str(EXAMPLES / "register-valid.jsonl"))
    assert status == 255 and "--init must be a JSON literal" in err


def test_convert_to_edn_and_back(capsys, tmp_path):
    edn = tmp_path / "h.edn"
    status, _, err = run(capsys, "convert", str(EXAMPLES / "register-valid.jsonl"), str(edn))
    assert status == 0 and "wrote 20 ops" in err
    assert edn.read_text().startswith("{:index 0, :time 0, :type :invoke, :process 0, :f :write")


def test_console_script_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "labrys.cli", "--help"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "check" in done.stdout


def test_minimize_names_a_one_minimal_invalid_set_of_the_stale_read(capsys):
    status, out, _ = run(capsys, "check", "--minimize", "--json", "--engine", "python",
                         str(EXAMPLES / "register-stale-read.jsonl"))
    verdict = json.loads(out)
    assert status == 1
    # read → 1, then write 2 completes, then a read that began later still returns 1.
    assert verdict["details"]["minimal"] == {"ops": [4, 6, 10], "one_minimal": True,
                                             "checks": verdict["details"]["minimal"]["checks"]}
    assert verdict["anomalies"][0]["kind"] == "minimal-counterexample"


def test_unknown_engine_is_refused(capsys):
    status, _, err = run(capsys, "check", "--engine", "gpu",
                         str(EXAMPLES / "register-valid.jsonl"))
    assert status == 255 and "unknown engine 'gpu'" in err


def ten_thousand_ops(path: Path) -> Path:
    """A linearizable register history of 10,000 ops (5,000 operations), five at a time.

    Long enough that stating it for z3 alone (every pair of operations may be ordered by
    real time) takes far more than two seconds.
    """
    lines = []
    for r in range(1000):
        for p in range(5):
            f, value = ("write", r * 5 + p) if p % 2 == 0 else ("read", None)
            lines.append({"process": p, "type": "invoke", "f": f, "value": value})
        for p in range(5):
            f, value = ("write", r * 5 + p) if p % 2 == 0 else ("read", r * 5 - 1 or None)
            lines.append({"process": p, "type": "ok", "f": f, "value": value})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_the_smt_engine_keeps_a_two_second_budget_on_ten_thousand_ops(capsys, tmp_path):
    history = ten_thousand_ops(tmp_path / "long.jsonl")
    started = time.monotonic()
    status, out, _ = run(capsys, "check", "--json", "--engine", "smt", "--timeout", "2",
                         "--model", "cas-register", str(history))
    elapsed = time.monotonic() - started
    verdict = json.loads(out)
    assert status == 2 and verdict["valid"] == "unknown"
    assert verdict["details"]["stopped"] == "time"
    assert "reached its time limit of 2 s" in verdict["explanation"]
    # The budget is what is under test, so its end is checked, with a generous margin
    # for a loaded machine: before the fix this ran for over ten minutes.
    assert elapsed < 5, elapsed


def test_the_smt_engine_keeps_the_memory_budget_and_says_so(capsys, tmp_path):
    history = ten_thousand_ops(tmp_path / "long.jsonl")
    status, out, _ = run(capsys, "check", "--json", "--engine", "smt", "--memory-limit", "8",
                         "--model", "cas-register", str(history))
    verdict = json.loads(out)
    assert status == 2 and verdict["details"]["stopped"] == "memory"
    assert "reached its memory limit of 8 MB" in verdict["explanation"]
    # The cap is lifted afterwards: z3 still answers a small question in this process.
    status, _, _ = run(capsys, "check", "--engine", "smt", "--model", "cas-register",
                       str(EXAMPLES / "register-valid.jsonl"))
    assert status == 0


def test_a_memory_budget_given_before_z3_has_started_is_kept_not_a_crash():
    """z3 creates its context on first use; under the cap that allocation failed and
    took the process down with a segmentation fault."""
    done = subprocess.run([sys.executable, "-m", "labrys.cli", "check", "--engine", "smt",
                           "--memory-limit", "1", "--model", "cas-register",
                           str(EXAMPLES / "register-stale-read.jsonl")],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert "memory limit of 1 MB" in " ".join(done.stdout.split())


def test_session_guarantees_across_the_database_or_per_key(capsys, tmp_path):
    # Process 1 reads y = 2 then x = nil, after process 0 wrote x = 1 then y = 2.
    path = tmp_path / "h.edn"
    path.write_text("\n".join(
        f"{{:process {p}, :type :{t}, :f :{f}, :value [:{k} {v}]}}"
        for p, f, k, v in [(0, "write", "x", 1), (0, "write", "y", 2),
                           (1, "read", "y", 2), (1, "read", "x", "nil")]
        for t in ("invoke", "ok")))
    status, out, _ = run(capsys, "check", "--checker", "session", "--json", str(path))
    verdict = json.loads(out)
    assert status == 1 and verdict["details"]["reading"] == "whole-database"
    assert verdict["anomalies"][0]["ops"] == [0, 2, 4, 6]
    status, out, _ = run(capsys, "check", "--checker", "session", "--per-key", "--json",
                         str(path))
    assert status == 2 and json.loads(out)["details"]["reading"] == "per-key"
