"""`labrys run`'s refusals: every bad input is refused in one line before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrys.errors import UsageError
from labrys.harness._cli import run


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"option": ["raed_mode=serializable"]},
     "unknown --option 'raed_mode'; known options are (target etcd: client_timeout_s, "
     "etcd_binary, lease_ttl_s, lock_guard, read_mode, watch_s; workload register: "
     "cas, check_timeout_s, ops_per_key, values)"),
    ({"option": ["read_mode=stale"]},
     "--option read_mode='stale' is not valid; expected linearizable or serializable"),
    ({"nemesis": "partition,flood"}, "unknown fault 'flood' in --nemesis"),
    ({"fault_targets": "one,most"}, "unknown fault target 'most' in --fault-targets"),
    ({"nemesis": "kill,member", "fault_targets": "majority,all"},
     "the member fault can aim at one, minority, primaries, none of the fault targets "
     "asked for (majority, all)"),
    ({"target": "scylla"}, "unknown target 'scylla'"),
    ({"workload": "bank-account"}, "unknown workload 'bank-account'"),
    ({"concurrency": 0}, "concurrency=0 is not valid"),
    ({"runtime": "cloud"}, "runtime='cloud' is not valid; expected one of: local"),
    ({"runtime_option": ["colour=red"]},
     "unknown --runtime-option 'colour'; known options are (runtime local: base_dir)"),
    ({"runtime_option": ["base_dir"]}, "--runtime-option 'base_dir' is not valid; expected "
     "key=value"),
    ({"target": "redis", "workload": "set", "check_online": True},
     "workload set has no online check with these options (its verdict cannot be reached "
     "before the run ends); drop --check-online"),
    ({"target": "redis", "workload": "counter", "stop_on_anomaly": True},
     "drop --stop-on-anomaly"),
    ({"check_online": False, "stop_on_anomaly": True},
     "--stop-on-anomaly stops at what the online check finds; drop --no-check-online"),
])
def test_bad_input_is_refused_before_any_run_folder_exists(tmp_path: Path, kwargs, message):
    store = tmp_path / "results"
    with pytest.raises(UsageError) as e:
        run(store=store, **kwargs)
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    assert not store.exists()


def test_a_spec_file_and_replay_together_are_refused(tmp_path: Path):
    spec = tmp_path / "spec.toml"
    spec.write_text("")
    with pytest.raises(UsageError, match="either a spec file or --replay"):
        run(spec_file=spec, replay=tmp_path / "test.json")


def test_replay_takes_a_test_json(tmp_path: Path):
    with pytest.raises(UsageError, match=r"--replay takes a run.s test\.json"):
        run(replay=tmp_path / "spec.toml")
