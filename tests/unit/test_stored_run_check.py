"""`labrys check` on what `labrys run` stores: the run's own verdict, by the run's checks.

The histories here are written by hand in the shape the register workload records
(values ``[key value]``, a new key every few ops, nemesis ops between them), with the
``test.json`` a run writes beside them; no cluster is needed to check them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrys._check import CheckRequest, check_file, looks_independent, with_guesses
from labrys.checkers import CHECKERS, CheckOptions, run_checker
from labrys.errors import HistoryError, UsageError
from labrys.history import History, parse_history, write_jepsen_edn
from labrys.workloads import get_workload
from tests.unit.event_lines import history
from tests.unit.test_cli import run as run_cli

# Two keys, each starting at nil. On key 0, process 1 reads nil after process 0's write
# of 3 returned: a stale read. Read as one register, every op of key 1 would contradict
# key 0's ([1, 2] is not [0, 3]); read per key, only the stale read does.
STALE = history(
    "0 invoke write [0, 3]", "0 ok write [0, 3]",
    "nemesis info start-partition null", "nemesis info start-partition {}",
    "1 invoke read [0, null]", "1 ok read [0, null]",
    "2 invoke write [1, 2]", "2 ok write [1, 2]",
    "3 invoke cas [1, [2, 4]]", "3 ok cas [1, [2, 4]]",
    "2 invoke read [1, null]", "2 ok read [1, 4]",
)
VALID = history(
    "0 invoke write [0, 3]", "1 invoke read [0, null]", "1 ok read [0, null]",
    "0 ok write [0, 3]", "2 invoke cas [0, [3, 1]]", "2 ok cas [0, [3, 1]]",
    "2 invoke write [1, 2]", "2 ok write [1, 2]", "3 invoke read [1, null]", "3 ok read [1, 2]",
)


def write_run(folder: Path, h: History, *, workload: str = "register",
              options: dict[str, str] | None = None) -> Path:
    """A run folder as `labrys run` leaves it: history.jsonl and test.json."""
    folder.mkdir(parents=True)
    (folder / "history.jsonl").write_text(
        "".join(json.dumps(op.to_json()) + "\n" for op in h))
    spec = {"target": "etcd", "workload": workload, "nemesis": ["partition"],
            "options": options or {"read_mode": "serializable"}, "seed": 1}
    (folder / "test.json").write_text(json.dumps({"spec": spec, "seed": 1}))
    return folder


def test_a_run_folder_and_its_history_are_checked_by_the_runs_own_workload(tmp_path):
    run = write_run(tmp_path / "run", STALE)
    by_workload = get_workload("register").make(
        {n: o.default for n, o in get_workload("register").options.items()}).check(STALE)
    for path in (run, run / "history.jsonl"):
        verdict = check_file(path, CheckRequest())
        assert verdict == by_workload
        assert verdict.checker == "register" and verdict.valid is False
        assert [c.checker for c in verdict.children] == ["linearizable", "stats"]


def test_the_runs_verdict_names_the_key_and_the_ops_by_their_index_in_the_file(tmp_path):
    verdict = check_file(write_run(tmp_path / "run", STALE), CheckRequest())
    linear = verdict.children[0]
    assert linear.details["invalid_keys"] == [0]
    assert linear.explanation == (
        "Not linearizable. Key 0: op 4 (process 1: read → nil) cannot be linearized: read "
        "returned nil, but the register held 3.")
    [anomaly] = linear.anomalies
    assert "ending with op 0 (process 0: write 3) in state 3, and op 4 had to come" in (
        anomaly.explanation)
    assert anomaly.ops == (0, 4)
    assert anomaly.data["linearization"][0]["op"] == 0
    assert [c["op"] for c in anomaly.data["candidates"]] == [4]


def test_a_valid_run_is_valid_again(tmp_path):
    assert check_file(write_run(tmp_path / "run", VALID), CheckRequest()).valid is True


def test_a_runs_workload_options_are_used_and_can_be_changed_for_one_check(tmp_path):
    bank = history("0 invoke init {\"accounts\": [0, 1], \"total\": 10}",
                   "0 ok init {\"accounts\": [0, 1], \"total\": 10}",
                   "1 invoke read null", "1 ok read {\"0\": 5, \"1\": 5}")
    run = write_run(tmp_path / "run", bank, workload="bank",
                    options={"accounts": "2", "total": "10"})
    assert check_file(run, CheckRequest()).valid is True
    # Told the bank holds 12, the same read is short of money.
    changed = check_file(run, CheckRequest(run_options=("total=12",)))
    assert changed.valid is False and changed.anomalies[0].kind == "wrong-total"
    with pytest.raises(UsageError, match="unknown --option 'read_mode'"):
        check_file(run, CheckRequest(run_options=("read_mode=linearizable",)))


def test_a_checkers_options_with_a_stored_run_are_refused_not_ignored(tmp_path):
    run = write_run(tmp_path / "run", STALE)
    with pytest.raises(UsageError, match="name a --checker"):
        check_file(run, CheckRequest(options=CheckOptions(timeout_s=5)))
    with pytest.raises(UsageError, match="needs a run folder"):
        check_file(run / "history.jsonl",
                   CheckRequest(checker="register", run_options=("values=3",)))


def test_a_named_checker_checks_a_run_folders_history(tmp_path):
    run = write_run(tmp_path / "run", STALE)
    verdict = check_file(run, CheckRequest(checker="linearizable"))
    assert verdict.checker == "linearizable" and verdict.valid is False
    assert verdict.details["model"] == "independent cas-register"
    # Sequential consistency is not local: the keys are searched together, and the
    # stale read may be ordered before the write.
    assert check_file(run, CheckRequest(checker="sequential")).valid is True


def test_a_folder_that_is_not_a_run_is_one_clear_error(tmp_path):
    with pytest.raises(UsageError, match=r"folder without a history\.jsonl"):
        check_file(tmp_path, CheckRequest())
    (tmp_path / "history.jsonl").write_text("")
    with pytest.raises(HistoryError, match=r"no test\.json beside the history"):
        check_file(tmp_path, CheckRequest())
    (tmp_path / "test.json").write_text('{"spec": {"workload": "nope"}}')
    with pytest.raises(UsageError, match="unknown workload 'nope'"):
        check_file(tmp_path, CheckRequest())
    (tmp_path / "test.json").write_text('{"spec": {"colour": "red"}}')
    with pytest.raises(HistoryError, match="cannot read the run's spec"):
        check_file(tmp_path, CheckRequest())


def test_independent_keys_are_recognised_without_a_test_json(tmp_path):
    assert looks_independent(STALE) and looks_independent(VALID)
    plain = history("0 invoke write 1", "0 ok write 1", "1 invoke cas [1, 2]", "1 ok cas [1, 2]")
    assert not looks_independent(plain)
    # cas [old new] alone is a plain cas-register's, not key old holding new.
    assert not looks_independent(history("0 invoke cas [1, 2]", "0 ok cas [1, 2]"))
    options = with_guesses(STALE, "linearizable", CheckOptions())
    assert (options.model, options.independent) == ("cas-register", True)
    # A kv history is keyed by its own model.
    kv = history('0 invoke put ["x", "a"]', '0 ok put ["x", "a"]')
    assert with_guesses(kv, "linearizable", CheckOptions()).independent is False
    forced = with_guesses(STALE, "linearizable", CheckOptions(), independent=False)
    assert forced.independent is False


def test_an_independent_history_alone_and_its_edn_check_as_the_run_did(tmp_path, capsys):
    run = write_run(tmp_path / "run", STALE)
    alone = tmp_path / "copy.jsonl"
    alone.write_text((run / "history.jsonl").read_text())
    edn = tmp_path / "copy.edn"
    write_jepsen_edn(STALE, edn)
    status, out, _ = run_cli(capsys, "check", "--json", str(run))
    assert status == 1
    from_run = json.loads(out)["children"][0]
    for path in (alone, edn):
        status, out, _ = run_cli(capsys, "check", "--json", str(path))
        assert status == 1
        checked = json.loads(out)
        assert checked["checker"] == "linearizable"
        assert checked["anomalies"] == from_run["anomalies"]
        assert checked["explanation"] == from_run["explanation"]


def test_the_register_checker_is_listed_and_can_be_named(capsys, tmp_path):
    assert "register" in CHECKERS
    status, out, _ = run_cli(capsys, "checkers")
    assert status == 0 and "\nregister " in out
    alone = tmp_path / "h.jsonl"
    alone.write_text("".join(json.dumps(op.to_json()) + "\n" for op in VALID))
    status, out, _ = run_cli(capsys, "check", "--checker", "register", str(alone))
    assert status == 0 and " ".join(out.split()).startswith(f"{alone}: register valid")


def test_the_register_checker_refuses_values_that_are_not_key_value_pairs():
    plain = parse_history('{"type":"invoke","process":0,"f":"write","value":1}\n'
                          '{"type":"ok","process":0,"f":"write","value":1}')
    with pytest.raises(UsageError, match=r"does not fit the independent cas-register model, "
                                         r"which expects \[key value\]"):
        run_checker("register", plain, CheckOptions())
