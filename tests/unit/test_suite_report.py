"""Judging runs against expectations, the suite's exit status, its JUnit XML (validated
against the JUnit schema CI systems use), summaries and trends, on stored runs made
by the real store code: no cluster."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from labrys.claims import default_registry, observe_run
from labrys.errors import UsageError
from labrys.harness import RunDir, TestSpec
from labrys.harness._runner import RunOutcome
from labrys.suite import (
    Expect,
    Expectation,
    Outcome,
    Result,
    Suite,
    SuiteRun,
    SuiteTest,
    judge,
    load_suite_file,
    load_trend,
    run_suite,
    summary_data,
    write_junit,
    write_summary,
)
from tests.unit.stored_runs import (
    WRITE_SKEW,
    anomaly_verdict,
    elle_verdict,
    store_run,
    valid_verdict,
)

REGISTRY = default_registry()
JUNIT_XSD = Path(sys.prefix) / "share" / "labrys" / "junit-10.xsd"
START = dt.datetime(2025, 1, 2, 3, 0, 0)


def expect(kind: str, *anomalies: str) -> Expectation:
    return Expectation(expect=Expect(kind), anomalies=anomalies)


def observed(tmp_path, spec, verdict, **kw):
    return observe_run(store_run(tmp_path, spec, verdict, **kw))


REDIS_SET = TestSpec(name="redis-set", target="redis", workload="set")
REGISTER = TestSpec(name="etcd-register", workload="register")


# -- judging ----------------------------------------------------------------------------


def test_a_known_bug_expectation_is_met_by_the_anomaly_and_not_met_without_it(tmp_path):
    lost = observed(tmp_path, REDIS_SET, anomaly_verdict("set", "lost"))
    assert judge(expect("invalid", "lost"), lost, REGISTRY)[0] is Outcome.MET
    outcome, reason = judge(expect("invalid", "duplicated"), lost, REGISTRY)
    assert outcome is Outcome.NOT_MET and "expected duplicated" in reason and "lost" in reason
    clean = observed(tmp_path, REDIS_SET, valid_verdict("set"))
    outcome, reason = judge(expect("invalid", "lost"), clean, REGISTRY)
    assert outcome is Outcome.NOT_MET and "no longer reproduces" in reason


def test_an_expected_anomaly_is_found_through_what_a_found_kind_implies(tmp_path):
    spec = TestSpec(name="pg", target="postgres", workload="list-append")
    skew = observed(tmp_path, spec, elle_verdict(*WRITE_SKEW, claim="serializable"))
    assert skew.kinds == {"G2-item": 1}
    assert judge(expect("invalid", "G2"), skew, REGISTRY)[0] is Outcome.MET


def test_valid_expectations_and_unknown_verdicts(tmp_path):
    ok = observed(tmp_path, REGISTER, valid_verdict("linearizable"))
    assert judge(expect("valid"), ok, REGISTRY)[0] is Outcome.MET
    bad = observed(tmp_path, REGISTER, anomaly_verdict("linearizable", "nonlinearizable"))
    outcome, reason = judge(expect("valid"), bad, REGISTRY)
    assert outcome is Outcome.NOT_MET and "nonlinearizable found" in reason
    unknown = observed(tmp_path, REGISTER, anomaly_verdict("linearizable", None, valid="unknown"))
    assert judge(expect("valid"), unknown, REGISTRY)[0] is Outcome.UNKNOWN
    assert judge(expect("any"), bad, REGISTRY)[0] is Outcome.MET


def test_a_run_that_failed_fails_whatever_it_expected(tmp_path):
    failed = observed(tmp_path, REGISTER, valid_verdict("linearizable"),
                      error="etcd did not start on n2")
    for kind in ("valid", "any", "claims"):
        outcome, reason = judge(expect(kind), failed, REGISTRY)
        assert outcome is Outcome.FAILED and "etcd did not start" in reason


def test_claims_expectations_judge_what_the_configuration_promises_not_the_runs_own_claim(
        tmp_path):
    # PostgreSQL's repeatable read claims snapshot isolation, which allows write skew:
    # the run's own verdict (checked against Adya's PL-2.99) is invalid, the claim holds.
    rr = TestSpec(name="pg-rr", target="postgres", workload="list-append",
                  options={"isolation": "repeatable-read"})
    skew = observed(tmp_path, rr, elle_verdict(*WRITE_SKEW, claim="repeatable-read"))
    assert skew.valid is False
    outcome, reason = judge(expect("claims"), skew, REGISTRY)
    assert outcome is Outcome.MET and "snapshot-isolation" in reason
    # Serializable claims to prevent it.
    ser = dataclasses.replace(rr, options={"isolation": "serializable"})
    broken = observed(tmp_path, ser, elle_verdict(*WRITE_SKEW, claim="serializable"))
    outcome, reason = judge(expect("claims"), broken, REGISTRY)
    assert outcome is Outcome.NOT_MET
    assert "serializable (claimed by PostgreSQL 15 documentation" in reason
    assert "G2-item is prevented according to Hermitage" in reason


def test_a_claims_expectation_is_unknown_when_the_search_did_not_finish(tmp_path):
    spec = TestSpec(name="pg", target="postgres", workload="list-append",
                    options={"isolation": "serializable"})
    verdict = anomaly_verdict("list-append", "cycle-search-timeout", valid="unknown")
    outcome, _ = judge(expect("claims"), observed(tmp_path, spec, verdict), REGISTRY)
    assert outcome is Outcome.UNKNOWN


# -- a suite run -------------------------------------------------------------------------


def suite_run(tmp_path: Path, outcomes: list[Outcome], *, planned: int | None = None,
              started: dt.datetime = START) -> SuiteRun:
    folder = tmp_path / "suites" / "s" / started.strftime("%Y%m%dT%H%M%S")
    tests = [SuiteTest(name=f"t{i}", spec=REDIS_SET, seeds=(1,),
                       expectation=expect("invalid", "lost")) for i in range(len(outcomes))]
    suite = Suite(name="s", path=Path("suites/s.toml"), description="", tests=tuple(tests))
    plan = [(t, 1) for t in tests] + [(tests[0], 2)] * ((planned or len(tests)) - len(tests))
    run = SuiteRun(suite=suite, folder=folder, started=started, plan=plan,
                   settings={"runs": None, "time_scale": 1.0})
    for test, outcome in zip(tests, outcomes, strict=True):
        verdict = anomaly_verdict("set", "lost", details={"lost-count": 3,
                                                           "acknowledged-count": 9})
        if outcome is Outcome.NOT_MET:
            verdict = valid_verdict("set")
        obs = observe_run(store_run(folder, dataclasses.replace(test.spec, name=test.name),
                                    verdict, now=started))
        run.results.append(Result(test=test, seed=1, outcome=outcome, duration_s=12.5,
                                  reason=f"{outcome} because <&> \x01", observation=obs))
    run.ended = started + dt.timedelta(minutes=3)
    return run


@pytest.mark.parametrize("outcomes, status", [
    ([Outcome.MET, Outcome.MET], 0),
    ([Outcome.MET, Outcome.UNKNOWN], 2),
    ([Outcome.UNKNOWN, Outcome.NOT_MET], 1),
    ([Outcome.NOT_MET, Outcome.FAILED], 255),
])
def test_the_exit_status_is_the_worst_outcome(tmp_path, outcomes, status):
    assert suite_run(tmp_path, outcomes).exit_status == status


def test_an_interrupted_suite_exits_255(tmp_path):
    run = suite_run(tmp_path, [Outcome.MET], planned=2)
    run.interrupted = True
    assert run.exit_status == 255


@pytest.mark.skipif(not JUNIT_XSD.exists(),
                    reason=f"no JUnit schema at {JUNIT_XSD}; `make setup` fetches it "
                           "(scripts/fetch-junit-xsd.sh)")
def test_the_junit_file_validates_against_the_junit_schema_ci_systems_use(tmp_path):
    import xmlschema

    run = suite_run(tmp_path, [Outcome.MET, Outcome.NOT_MET, Outcome.UNKNOWN, Outcome.FAILED],
                    planned=5)
    path = tmp_path / "out.xml"
    write_junit(run, path)
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    schema.validate(str(path))  # raises on any violation
    data = schema.to_dict(str(path))
    suite = data["testsuite"][0]
    assert (suite["@tests"], suite["@failures"], suite["@errors"], suite["@skipped"]) == (
        "5", "1", "2", "1")
    cases = suite["testcase"]
    assert [c["@name"] for c in cases] == ["t0 [seed 1]", "t1 [seed 1]", "t2 [seed 1]",
                                           "t3 [seed 1]", "t0 [seed 2]"]
    assert "failure" not in cases[0] and "error" not in cases[0]
    failure = cases[1]["failure"][0]
    assert failure["@message"].startswith("not met because <&>")
    assert "Report: " in failure["@message"] and "results.json" in failure["@message"]
    assert [e["@type"] for c in cases[2:4] for e in c["error"]] == ["unknown", "run-failed"]
    assert "skipped" in cases[4]
    assert "replay: labrys run --replay" in cases[0]["system-out"][0]


def test_summary_json_and_markdown_link_each_run(tmp_path):
    run = suite_run(tmp_path, [Outcome.MET, Outcome.NOT_MET])
    write_summary(run)
    data = json.loads((run.folder / "summary.json").read_text())
    assert data == summary_data(run) | {"duration_s": 180.0}
    first = data["results"][0]
    assert first["test"] == "t0" and first["outcome"] == "met" and first["anomalies"] == {"lost": 1}
    assert first["notes"] == {"lost/acknowledged adds": "3/9"}
    assert (run.folder / first["run"] / "test.json").exists()
    md = (run.folder / "summary.md").read_text()
    assert f"[run]({first['run']}/)" in md
    assert "## Not met" in md and "**t1 [seed 1]**" in md
    assert data["exit_status"] == 1


# -- trends ------------------------------------------------------------------------------


def test_a_trend_flags_the_night_a_verdict_changed(tmp_path):
    for night, outcomes in enumerate(([Outcome.MET, Outcome.MET], [Outcome.MET, Outcome.NOT_MET],
                                      [Outcome.MET, Outcome.NOT_MET])):
        write_summary(suite_run(tmp_path, outcomes, started=START + dt.timedelta(days=night)))
    trend = load_trend(tmp_path, "s")
    assert trend.runs == ("20250102T030000", "20250103T030000", "20250104T030000")
    assert [str(trend.rows[("t1", 1)][r]) for r in trend.runs] == [
        "invalid ✓", "valid ✗", "valid ✗"]
    assert len(trend.changes) == 1
    change = trend.changes[0]
    assert (change.test, change.before, change.after) == ("t1", "20250102T030000",
                                                          "20250103T030000")
    assert (change.was.verdict, change.now.verdict) == ("invalid", "valid")


def test_a_trend_of_a_suite_never_run_says_so(tmp_path):
    with pytest.raises(UsageError, match="no stored runs of suite 'nope'"):
        load_trend(tmp_path, "nope")


# -- the run loop, with a stand-in for run_test that stores runs as the runner does -------


class StoredRuns:
    """Stands in for `run_test`: stores each spec's run with a chosen verdict (no
    cluster) and returns what the runner returns; ``interrupt_at`` plays a Ctrl-C."""

    def __init__(self, verdicts, *, interrupt_at: int | None = None):
        self.verdicts, self.interrupt_at, self.specs = verdicts, interrupt_at, []

    def __call__(self, spec, *, console, command):
        self.specs.append(spec)
        verdict = self.verdicts[spec.name]
        path = store_run(Path(spec.store), spec, verdict)
        interrupted = 1 if len(self.specs) == self.interrupt_at else 0
        return RunOutcome(run=RunDir(path), verdict=verdict, exit_code=0, error=None,
                          interrupted=interrupted)


LOOP_SUITE = """\
[[test]]
name = "a"
target = "redis"
workload = "set"
seeds = [5]
expect = "invalid"
anomalies = ["lost"]

[[test]]
name = "b"
target = "etcd"
time_limit = 10
expect = "valid"
"""


def run_loop(tmp_path, monkeypatch, stand_in, **kw):
    monkeypatch.setattr("labrys.suite._run.run_test", stand_in)
    path = tmp_path / "loop.toml"
    path.write_text(LOOP_SUITE)
    seen = []
    console = Console(file=io.StringIO())
    done = run_suite(load_suite_file(path, REGISTRY), store=tmp_path / "store",
                     registry=REGISTRY, console=console, run_console=console,
                     command=["labrys"], on_result=lambda r: seen.append(len(r.results)), **kw)
    return done, seen


def test_every_test_runs_with_every_seed_inside_the_suite_runs_folder(tmp_path, monkeypatch):
    stand_in = StoredRuns({"a": anomaly_verdict("set", "lost"),
                           "b": valid_verdict("linearizable")})
    done, seen = run_loop(tmp_path, monkeypatch, stand_in, runs=2, time_scale=0.5)
    assert [(s.name, s.seed) for s in stand_in.specs] == [("a", 5), ("a", 6), ("b", 1),
                                                          ("b", 2)]
    assert stand_in.specs[2].time_limit_s == 5.0  # scaled
    assert done.folder.parent == tmp_path / "store" / "suites" / "loop"
    assert all(Path(s.store) == done.folder for s in stand_in.specs)
    assert [r.outcome for r in done.results] == [Outcome.MET] * 4
    assert seen == [1, 2, 3, 4, 4] and done.exit_status == 0


def test_a_ctrl_c_in_a_run_stops_the_suite_after_it(tmp_path, monkeypatch):
    stand_in = StoredRuns({"a": anomaly_verdict("set", "lost"),
                           "b": valid_verdict("linearizable")}, interrupt_at=1)
    done, _ = run_loop(tmp_path, monkeypatch, stand_in)
    assert len(stand_in.specs) == 1 and done.interrupted and done.exit_status == 255
    assert len(done.plan) == 2 and len(done.results) == 1
