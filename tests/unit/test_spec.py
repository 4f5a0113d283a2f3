"""The test spec: defaults, TOML, replayed test.json, flags winning, one-line refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrys.errors import UsageError
from labrys.harness import TestSpec, build_spec, load_spec_file
from labrys.harness._spec import parse_nemesis, parse_option
from labrys.options import Option, check_known, choice, parse_options


def test_the_default_spec_is_the_default_run_of_the_issue():
    spec = TestSpec()
    assert (spec.target, spec.nodes, spec.runtime, spec.workload, spec.nemesis,
            spec.nemesis_interval_s, spec.time_limit_s, spec.concurrency) == (
        "etcd", 3, "local", "register", ("partition", "kill"), 10.0, 60.0, 10)
    assert spec.test_name == "etcd-register-partition+kill"


def test_runs_configured_differently_get_different_folder_names():
    plain = TestSpec(nemesis=("partition",))
    serializable = TestSpec(nemesis=("partition",), options={"read_mode": "serializable"})
    assert serializable.test_name == "etcd-register-partition-read_mode=serializable"
    assert plain.test_name != serializable.test_name
    # A path keeps its file name; nothing that would be a folder separator survives.
    named = TestSpec(nemesis=(), options={"etcd_binary": "/opt/etcd v3/etcd", "b": "x y"})
    assert named.test_name == "etcd-register-none-b=x_y-etcd_binary=etcd"


def test_toml_then_flags_flags_win_and_options_merge_per_key(tmp_path: Path):
    path = tmp_path / "spec.toml"
    path.write_text('nemesis = ["partition"]\ntime-limit = 30\nconcurrency = 4\n'
                    '[options]\nread_mode = "serializable"\nops_per_key = 50\n')
    spec = build_spec(load_spec_file(path), {"concurrency": 7, "time_limit_s": None,
                                             "options": {"ops_per_key": "20"}})
    assert spec.nemesis == ("partition",)
    assert spec.time_limit_s == 30.0
    assert spec.concurrency == 7
    assert dict(spec.options) == {"read_mode": "serializable", "ops_per_key": "20"}


def test_runtime_options_come_from_a_table_and_flags_and_merge_per_key(tmp_path: Path):
    path = tmp_path / "spec.toml"
    path.write_text('runtime = "local"\n[runtime_options]\nbase_dir = "/srv/a"\nx = 1\n')
    spec = build_spec(load_spec_file(path), {"runtime_options": {"x": "2"}})
    assert spec.runtime == "local"
    assert dict(spec.runtime_options) == {"base_dir": "/srv/a", "x": "2"}
    assert spec.to_json()["runtime_options"] == {"base_dir": "/srv/a", "x": "2"}
    with pytest.raises(UsageError) as e:
        parse_option("nokey", flag="--runtime-option", example="base_dir=DIR")
    assert str(e.value) == ("--runtime-option 'nokey' is not valid; expected key=value, "
                            "e.g. --runtime-option base_dir=DIR")


@pytest.mark.parametrize("online", [{}, {"check_online": False},
                                    {"check_online": True, "stop_on_anomaly": True}])
def test_a_replayed_test_json_gives_back_the_same_spec(tmp_path: Path, online):
    spec = TestSpec(nemesis=("kill",), seed=42, options={"read_mode": "serializable"},
                    runtime_options={"base_dir": "/srv/labrys"}, **online)
    path = tmp_path / "test.json"
    path.write_text(json.dumps({"spec": spec.to_json(), "seed": 42}))
    assert build_spec(load_spec_file(path)) == spec


@pytest.mark.parametrize(("text", "message"), [
    ("colour = 'red'\n", "unknown key 'colour'; known keys: name, target, nodes"),
    ("nodes = 'three'\n", "nodes='three' is not valid; expected a whole number"),
    ("nodes = 0\n", "nodes=0 is not valid; expected a count from 1 to 64"),
    ("time_limit = -1\n", "time_limit=-1.0 is not valid; expected a positive number"),
    ("rate = true\n", "rate=True is not valid; expected a finite number"),
    ("runtime = 'cloud'\n", "runtime='cloud' is not valid; expected one of: local"),
    ("nemesis = 'kill,kill'\n", "names a fault twice"),
    ("leave_running = 'yes'\n", "expected true or false"),
    ("check_online = 1\n", "check_online=1 is not valid; expected true or false"),
    ("stop_on_anomaly = 'no'\n", "expected true or false"),
    ("nodes = [\n", "not valid TOML"),
])
def test_bad_files_are_refused_in_one_line_naming_the_key(tmp_path: Path, text, message):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as e:
        build_spec(load_spec_file(path))
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_a_missing_spec_file_says_so(tmp_path: Path):
    with pytest.raises(UsageError, match="cannot read the spec"):
        load_spec_file(tmp_path / "absent.toml")


def test_nemesis_lists_and_none():
    assert parse_nemesis("partition, kill") == ("partition", "kill")
    assert parse_nemesis("none") == ()
    assert parse_nemesis(["pause"]) == ("pause",)
    with pytest.raises(UsageError):
        parse_nemesis(3)


def test_option_flags_need_key_equals_value():
    assert parse_option("read_mode=serializable") == ("read_mode", "serializable")
    with pytest.raises(UsageError, match="expected key=value"):
        parse_option("read_mode")


TABLE = {"read_mode": Option(name="read_mode", default="linearizable",
                             parse=choice("linearizable", "serializable"),
                             expected="linearizable or serializable", help="")}


def test_options_parse_with_defaults_and_refuse_bad_values():
    assert parse_options(TABLE, {}) == {"read_mode": "linearizable"}
    assert parse_options(TABLE, {"read_mode": "serializable"}) == {"read_mode": "serializable"}
    with pytest.raises(UsageError, match="read_mode='stale' is not valid; expected "
                                         "linearizable or serializable"):
        parse_options(TABLE, {"read_mode": "stale"})


def test_unknown_options_are_refused_listing_the_known_ones_by_owner():
    with pytest.raises(UsageError) as e:
        check_known({"raed_mode": "x"}, ("target etcd", TABLE), ("workload register", {}))
    assert str(e.value) == ("unknown --option 'raed_mode'; known options are "
                            "(target etcd: read_mode; workload register: none)")


def test_a_huge_bad_value_is_shown_cut_short(tmp_path: Path):
    path = tmp_path / "spec.toml"
    path.write_text(f'time_limit = "{"x" * 20_000}"\n')
    with pytest.raises(UsageError) as e:
        build_spec(load_spec_file(path))
    assert "time_limit='xxxx" in str(e.value) and len(str(e.value)) < 400


@pytest.mark.parametrize(("name", "content", "message"), [
    ("spec.toml", b"nodes = 3\n\xff\n", r"not a text file \(not UTF-8\)"),
    ("spec.toml", b"nodes = " + b"9" * 5_000, "a number has more than 4300 digits"),
    ("test.json", b'{"spec": {"seed": ' + b"9" * 5_000 + b"}}", "more than 4300 digits"),
    ("spec.toml", b"a = " + b"[" * 5_000 + b"]" * 5_000, "its TOML nests too deeply"),
    ("test.json", b'{"spec": ' + b"[" * 5_000 + b"]" * 5_000 + b"}", "its JSON nests too"),
    ("spec.toml", b"# " + b"x" * (1 << 20) + b"\n", "larger than 1 MiB"),
])
def test_files_no_parser_can_read_are_refused_in_one_line(tmp_path: Path, name, content,
                                                          message):
    # Found by fuzzing: UnicodeDecodeError, ValueError (Python's 4300-digit limit on
    # integers) and RecursionError escaped load_spec_file as tracebacks.
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_spec_file(path)


@pytest.mark.parametrize("text", ["time_limit = inf\n", "nemesis_interval = inf\n",
                                  "rate = inf\n", "rate = nan\n"])
def test_a_time_or_rate_that_is_no_finite_number_is_refused(tmp_path: Path, text):
    # TOML has inf and nan; an infinite time limit would run forever.
    path = tmp_path / "spec.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match="expected a finite number"):
        load_spec_file(path)
