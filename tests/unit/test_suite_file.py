"""The suite reader: specs as ``labrys run`` reads them, matrices, seeds, expectations,
and one clear line for every mistake, found before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrys.errors import UsageError
from labrys.suite import Expect, load_suite_file
from labrys.suite._file import scaled

REPO = Path(__file__).resolve().parents[2]

SUITE = """\
name = "t"
[defaults]
concurrency = 4
seeds = [7]

[[test]]
name = "etcd-register"
target = "etcd"
time_limit = 20
expect = "valid"

[[test]]
name = "redis-set"
target = "redis"
workload = "set"
nemesis = ["partition"]
topologies = ["primaries"]
seeds = [1, 2]
expect = "invalid"
anomalies = ["lost"]
why = "a known bug"

[[test]]
name = "pg"
target = "postgres"
expect = "claims"
[test.matrix]
workload = ["list-append", "rw-register"]
[test.matrix.options]
isolation = ["read-committed", "serializable"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(text)
    return path


def test_tests_are_specs_with_defaults_seeds_and_expectations(tmp_path):
    suite = load_suite_file(write(tmp_path, SUITE))
    assert suite.name == "t"
    etcd, redis = suite.tests[0], suite.tests[1]
    assert etcd.spec.target == "etcd" and etcd.spec.concurrency == 4
    assert etcd.spec.time_limit_s == 20.0 and etcd.seeds == (7,)
    assert etcd.spec.name == "etcd-register" and etcd.expectation.expect is Expect.VALID
    assert redis.spec.nemesis == ("partition",) and redis.spec.topologies == ("primaries",)
    assert redis.seeds == (1, 2)
    assert redis.expectation.anomalies == ("lost",) and redis.expectation.why == "a known bug"
    assert redis.expectation.describe() == "invalid (lost)"


def test_a_matrix_expands_into_one_named_test_per_combination(tmp_path):
    suite = load_suite_file(write(tmp_path, SUITE))
    pg = [t for t in suite.tests if t.name.startswith("pg-")]
    assert [t.name for t in pg] == [
        "pg-list-append-read-committed", "pg-list-append-serializable",
        "pg-rw-register-read-committed", "pg-rw-register-serializable"]
    last = pg[-1].spec
    assert last.workload == "rw-register" and last.options == {"isolation": "serializable"}
    assert last.name == "pg-rw-register-serializable"


def test_runs_extends_or_cuts_the_listed_seeds(tmp_path):
    redis = load_suite_file(write(tmp_path, SUITE)).tests[1]
    assert redis.seeds_for(None) == (1, 2)
    assert redis.seeds_for(1) == (1,)
    assert redis.seeds_for(4) == (1, 2, 3, 4)


def test_only_takes_globs_or_substrings(tmp_path):
    suite = load_suite_file(write(tmp_path, SUITE))
    assert [t.name for t in suite.select("redis")] == ["redis-set"]
    assert len(suite.select("pg-*-serializable,etcd*")) == 3
    with pytest.raises(UsageError, match="matches no test"):
        suite.select("cassandra")


def test_time_scale_stretches_the_time_limit_and_the_fault_interval(tmp_path):
    redis = load_suite_file(write(tmp_path, SUITE)).tests[1].spec
    longer = scaled(redis, 2.5)
    assert longer.time_limit_s == redis.time_limit_s * 2.5
    assert longer.nemesis_interval_s == redis.nemesis_interval_s * 2.5


@pytest.mark.parametrize("old, new, message", [
    ('expect = "valid"', 'expect = "vald"', "expect = 'vald' is not valid; expected one of"),
    ('expect = "valid"', 'expect = "valid"\nanomalies = ["lost"]', "only a test that expects"),
    ('expect = "valid"', "", "'expect' is missing"),
    ('time_limit = 20', 'time_limit = "long"', "time_limit='long' is not valid"),
    ('time_limit = 20', 'time_limt = 20', "unknown key 'time_limt'"),
    ('time_limit = 20', 'store = "x"', "a suite sets 'store' itself"),
    ('time_limit = 20', 'seed = 3', "a suite sets 'seed' itself"),
    ('target = "etcd"', 'target = "mysql"', "test etcd-register: unknown target 'mysql'"),
    ('isolation = ["read-committed", "serializable"]', 'isolaton = ["x"]',
     "unknown --option 'isolaton'"),
    ('isolation = ["read-committed", "serializable"]', 'isolation = []',
     "a matrix axis is a non-empty list"),
    ('seeds = [1, 2]', 'seeds = [-1]', "seeds = \\[-1\\] is not valid"),
    ('workload = "set"', 'workload = "set"\nstop_on_anomaly = true',
     "test redis-set: workload set has no online check"),
    ('name = "redis-set"', 'name = "etcd-register"', "two tests are named 'etcd-register'"),
    ('name = "redis-set"', 'name = "redis set"', "expected letters, digits"),
    ('[[test]]\nname = "etcd-register"', '[[tests]]\nname = "etcd-register"',
     "unknown key 'tests'"),
])
def test_a_mistake_anywhere_is_one_line_naming_the_file_before_anything_runs(
        tmp_path, old, new, message):
    assert old in SUITE
    path = write(tmp_path, SUITE.replace(old, new, 1))
    with pytest.raises(UsageError, match=message) as e:
        load_suite_file(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_test_that_expects_claims_must_have_a_claim_its_workload_can_test(tmp_path):
    text = SUITE.replace('workload = ["list-append", "rw-register"]', 'workload = ["register"]')
    with pytest.raises(UsageError, match="no claim that workload register can test"):
        load_suite_file(write(tmp_path, text))


@pytest.mark.parametrize("text, message", [
    ("name = [", "not valid TOML"),
    ('name = "x"\n', "no tests"),
    ("test = 3", "expected an array of tables"),
    ("[defaults]\nseeds = 1\n[[test]]\nname='a'\nexpect='valid'", "seeds = 1 is not valid"),
])
def test_a_file_that_is_not_a_suite_is_refused_in_one_line(tmp_path, text, message):
    with pytest.raises(UsageError, match=message):
        load_suite_file(write(tmp_path, text))


def test_a_missing_file_is_refused_in_one_line(tmp_path):
    with pytest.raises(UsageError, match="cannot read the suite"):
        load_suite_file(tmp_path / "nope.toml")


@pytest.mark.parametrize("name", ["smoke", "nightly"])
def test_the_shipped_suites_read(name):
    suite = load_suite_file(REPO / "suites" / f"{name}.toml")
    assert suite.name == name and suite.tests


def test_smoke_covers_every_target_and_keeps_the_redis_lost_writes_regression():
    smoke = load_suite_file(REPO / "suites" / "smoke.toml")
    assert {t.spec.target for t in smoke.tests} >= {"etcd", "redis", "postgres"}
    assert all(t.spec.nemesis for t in smoke.tests)  # every test under faults
    redis = [t for t in smoke.tests if t.spec.target == "redis"]
    assert any(t.expectation.expect is Expect.INVALID and "lost" in t.expectation.anomalies
               for t in redis)
