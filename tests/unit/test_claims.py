"""The claims registry: the shipped files, how a run's claims are found, how a run is
judged against guarantees, and one clear line for every malformed claims file."""

from __future__ import annotations

from pathlib import Path

import pytest

from labrys.claims import (
    CLAIMS_DIR,
    Status,
    anomaly_counts,
    default_registry,
    find_runs,
    load_claims_file,
    observe_run,
)
from labrys.errors import UsageError
from labrys.harness import TestSpec
from tests.unit.stored_runs import (
    CLEAN,
    WRITE_SKEW,
    anomaly_verdict,
    elle_verdict,
    store_run,
    valid_verdict,
)
from tests.unit.txn_notation import T

REGISTRY = default_registry()


def stance(target: str, guarantee: str, **options: str) -> tuple[bool, str] | None:
    s = REGISTRY.claims_for(target, options).guarantees.get(guarantee)
    return None if s is None else (s.holds, s.source.id)


def test_every_shipped_target_has_a_claims_file_that_reads():
    assert {"etcd", "redis", "postgres", "cassandra"} <= set(REGISTRY.targets)
    assert REGISTRY.guarantees.names[:2] == ("linearizable", "no-lost-writes")


def test_etcd_reads_are_linearizable_by_default_and_serializable_reads_are_not():
    assert stance("etcd", "linearizable") == (True, "etcd-api-guarantees")
    assert stance("etcd", "linearizable", read_mode="serializable") == (
        False, "etcd-api-guarantees")
    assert stance("etcd", "no-lost-writes", read_mode="serializable") == (
        True, "etcd-api-guarantees")



def test_etcd_claims_ordered_watches_and_disclaims_its_lock_without_fencing():
    assert stance("etcd", "watch-ordered") == (True, "etcd-api-watch")
    assert stance("etcd", "mutual-exclusion") == (False, "etcd-lock-notes")
    assert stance("etcd", "no-lost-updates-under-lock") == (False, "etcd-lock-notes")
    # Fencing with the lock key makes updates safe; the holds may still overlap.
    assert stance("etcd", "no-lost-updates-under-lock", lock_guard="lock-key") == (
        True, "etcd-lock-notes")
    assert stance("etcd", "mutual-exclusion", lock_guard="lock-key") == (
        False, "etcd-lock-notes")

def test_redis_disclaims_lost_writes_whatever_the_configuration_the_most_specific_source_wins():
    # The default appendfsync everysec matches by default: the persistence page says it.
    assert stance("redis", "no-lost-writes") == (False, "redis-persistence")
    assert stance("redis", "linearizable") == (False, "redis-sentinel")
    # At equal specificity, an option the run gave beats one matched by its default.
    assert stance("redis", "no-lost-writes", wait="2") == (False, "redis-wait")
    assert stance("redis", "no-lost-writes", min_replicas_to_write="1",
                  min_replicas_max_lag="2") == (False, "redis-replication")
    assert stance("redis", "linearizable", read_from="replica") == (False, "redis-replication")


def test_postgres_levels_are_the_documented_ones_and_an_option_left_out_matches_its_default():
    assert stance("postgres", "read-committed") == (True, "pg-isolation")  # the default level
    assert stance("postgres", "snapshot-isolation", isolation="repeatable-read") == (
        True, "pg-isolation")
    assert stance("postgres", "repeatable-read", isolation="repeatable-read") == (
        False, "pg-isolation")
    assert stance("postgres", "serializable", isolation="serializable") == (True, "pg-isolation")
    assert stance("postgres", "linearizable", read_from="replica", sync="remote_apply") == (
        False, "pg-sync-commit")


def test_hermitage_statements_become_prevented_and_allowed_anomalies():
    rc = REGISTRY.claims_for("postgres", {"isolation": "read-committed"}).anomalies
    assert rc["G1c"].holds and rc["G1c"].source.id == "hermitage" and rc["G1c"].implied_by is None
    assert not rc["G2-item"].holds and not rc["lost-update"].holds
    rr = REGISTRY.claims_for("postgres", {"isolation": "repeatable-read"}).anomalies
    assert rr["G-single"].holds and not rr["G2-item"].holds
    # Not stated by Hermitage, but implied by the claimed snapshot isolation.
    assert rr["GSIb"].holds and rr["GSIb"].implied_by == "snapshot-isolation"


def test_postgres_without_failover_claims_no_lost_writes_unless_commits_are_asynchronous():
    assert stance("postgres", "no-lost-writes") == (True, "pg-wal")
    assert stance("postgres", "no-lost-writes", sync="off") == (False, "pg-wal")


def test_patroni_claims_no_lost_writes_only_in_synchronous_mode():
    claims = REGISTRY.claims_for("postgres", {"ha": "patroni"})
    assert claims.system == "PostgreSQL + Patroni"
    assert stance("postgres", "no-lost-writes", ha="patroni") == (
        False, "patroni-replication-modes")
    assert stance("postgres", "no-lost-writes", ha="patroni", sync="on") == (
        True, "patroni-replication-modes")


def test_cassandra_claims_linearizability_only_for_lightweight_transactions():
    assert stance("cassandra", "linearizable") == (True, "cassandra-guarantees")  # lwt=true
    assert stance("cassandra", "linearizable", lwt="false") == (False, "cassandra-dynamo")
    # Durability is claimed for writes a quorum acknowledged (the default), not for ONE.
    assert stance("cassandra", "no-lost-writes", lwt="false") == (True, "cassandra-guarantees")
    assert stance("cassandra", "no-lost-writes", write_consistency="ONE", lwt="false") is None
    # A logged batch is atomic, not isolated: no level above read committed is claimed.
    assert stance("cassandra", "serializable", isolation="read-committed") == (
        False, "cassandra-cql-dml")
    assert stance("cassandra", "read-committed", isolation="read-committed") is None


def test_a_target_without_a_claims_file_claims_nothing():
    claims = REGISTRY.claims_for("nosuch", {})
    assert claims.system == "nosuch" and not claims.guarantees and not claims.anomalies


# -- judging one run ---------------------------------------------------------------------


def observe(tmp_path: Path, spec: TestSpec, verdict, **kw):
    return observe_run(store_run(tmp_path, spec, verdict, **kw))


def test_a_lost_acknowledged_add_violates_no_lost_writes_and_so_linearizability(tmp_path):
    o = observe(tmp_path, TestSpec(target="redis", workload="set"),
                anomaly_verdict("set", "lost", details={"lost-count": 3,
                                                         "acknowledged-count": 10}))
    statuses = REGISTRY.guarantees.judge(o)
    assert statuses["no-lost-writes"] is Status.VIOLATED
    assert statuses["linearizable"] is Status.VIOLATED  # linearizable implies no lost writes
    assert statuses["serializable"] is Status.UNTESTED
    assert o.notes == (("lost/acknowledged adds", "3/10"),)


def test_a_valid_register_run_holds_linearizability_and_an_unknown_one_decides_nothing(tmp_path):
    spec = TestSpec(workload="register", nemesis=())
    held = REGISTRY.guarantees.judge(observe(tmp_path, spec, valid_verdict("linearizable")))
    assert held["linearizable"] is Status.HELD
    assert held["no-lost-writes"] is Status.UNTESTED  # a register run cannot tell alone
    unknown = anomaly_verdict("linearizable", None, valid="unknown")
    assert REGISTRY.guarantees.judge(observe(tmp_path, spec, unknown))["linearizable"] \
        is Status.UNDECIDED
    failed = REGISTRY.guarantees.judge(observe(tmp_path, spec, valid_verdict("linearizable"),
                                               error="etcd did not start"))
    assert failed["linearizable"] is Status.UNDECIDED


def test_write_skew_breaks_every_model_that_forbids_it_whatever_the_run_claimed(tmp_path):
    spec = TestSpec(target="postgres", workload="list-append",
                    options={"isolation": "read-committed"})
    o = observe(tmp_path, spec, elle_verdict(*WRITE_SKEW, claim="read-committed"))
    assert o.valid is True and o.kinds == {"G2-item": 1}  # allowed by the run's own claim
    statuses = REGISTRY.guarantees.judge(o)
    assert statuses["repeatable-read"] is Status.VIOLATED
    assert statuses["serializable"] is Status.VIOLATED
    assert statuses["strict-serializable"] is Status.VIOLATED  # stronger than serializable
    assert statuses["snapshot-isolation"] is Status.HELD       # SI allows write skew
    assert statuses["read-committed"] is Status.HELD


def test_strict_serializability_is_decided_only_when_elle_searched_real_time(tmp_path):
    spec = TestSpec(target="postgres", workload="list-append")
    clean = observe(tmp_path, spec, elle_verdict(*CLEAN, claim="serializable"))
    assert REGISTRY.guarantees.judge(clean)["strict-serializable"] is Status.UNTESTED
    strict = observe(tmp_path, spec, elle_verdict(*CLEAN, claim="strict-serializable"))
    assert REGISTRY.guarantees.judge(strict)["strict-serializable"] is Status.HELD



def test_overlapping_holders_violate_mutual_exclusion_and_a_gap_ordered_watches(tmp_path):
    lock = REGISTRY.guarantees.judge(observe(
        tmp_path, TestSpec(target="etcd", workload="lock", nemesis=("pause",)),
        anomaly_verdict("lock", "overlapping-holders")))
    assert lock["mutual-exclusion"] is Status.VIOLATED
    assert lock["no-lost-updates-under-lock"] is Status.HELD  # no lost update was found
    assert lock["linearizable"] is Status.UNTESTED
    # The lock's lost update is not Elle's lost update: no transactional model is judged.
    lost = REGISTRY.guarantees.judge(observe(
        tmp_path, TestSpec(target="etcd", workload="lock", nemesis=("kill",)),
        anomaly_verdict("lock", "lost-update")))
    assert lost["no-lost-updates-under-lock"] is Status.VIOLATED
    assert lost["strict-serializable"] is lost["repeatable-read"] is Status.UNTESTED
    watch = REGISTRY.guarantees.judge(observe(
        tmp_path, TestSpec(target="etcd", workload="watch"), anomaly_verdict("watch", "gap")))
    assert watch["watch-ordered"] is Status.VIOLATED
    assert watch["mutual-exclusion"] is Status.UNTESTED

def test_bank_anomalies_violate_serializability(tmp_path):
    o = observe(tmp_path, TestSpec(target="postgres", workload="bank"),
                anomaly_verdict("bank", "negative-value"))
    statuses = REGISTRY.guarantees.judge(o)
    assert statuses["serializable"] is Status.VIOLATED
    assert statuses["snapshot-isolation"] is Status.UNTESTED


# -- reading stored runs -------------------------------------------------------------------


def test_anomalies_of_a_composed_verdict_are_counted_once_and_elle_tallies_win():
    composed = anomaly_verdict("set", "lost").to_json()
    assert anomaly_counts(composed) == {"lost": 1}
    elle = elle_verdict(T("ax1ry1"), T("ay1rx1"), claim="serializable").to_json()
    counts = anomaly_counts(elle)
    assert counts["G1c"] == 1 and counts == elle["details"]["anomaly-counts"]


def test_find_runs_finds_each_run_once_and_not_through_latest(tmp_path):
    a = store_run(tmp_path, TestSpec(), valid_verdict("linearizable"))
    b = store_run(tmp_path / "suites" / "x", TestSpec(), valid_verdict("linearizable"))
    assert (tmp_path / "latest").is_symlink()
    assert list(find_runs(tmp_path)) == sorted([a, b])


def test_a_folder_without_a_run_is_refused_in_one_line(tmp_path):
    with pytest.raises(UsageError, match=r"test\.json"):
        observe_run(tmp_path)


# -- malformed claims files ------------------------------------------------------------------

GOOD = """\
target = "redis"
[sources.doc]
title = "A page"
url = "https://example.org"
[[configurations]]
options = { read_from = "replica" }
[[configurations.claims]]
source = "doc"
disclaimed = ["linearizable"]
says = "Replicas lag."
"""


def write(tmp_path: Path, text: str, name: str = "redis.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_well_formed_file_reads(tmp_path):
    claims = load_claims_file(write(tmp_path, GOOD))
    assert claims.target == "redis" and claims.configurations[0].options == {
        "read_from": "replica"}


@pytest.mark.parametrize("change, message", [
    (("linearizable", "linearisable"), "unknown guarantee 'linearisable'"),
    (("read_from", "read_form"), "'read_form' is not an option of target redis"),
    (('"replica"', '"secondary"'), "read_from = 'secondary' is not valid; expected primary or"),
    (('source = "doc"', 'source = "docs"'), "unknown source 'docs'"),
    (('target = "redis"', 'target = "mysql"'), "unknown target 'mysql'"),
    (('disclaimed = ["linearizable"]', 'disclaimed = []'), "says nothing"),
    (('says = "Replicas lag."', ''), "'says' is missing"),
    (('title = "A page"', 'title = "A page"\nauthor = "x"'), "unknown key 'author'"),
    (('disclaimed = ["linearizable"]', 'prevents = ["G9"]'), "unknown anomaly kind 'G9'"),
    (('disclaimed = ["linearizable"]', 'claimed = ["serializable"]\nallows = ["G2-item"]'),
     "allows 'G2-item', but 'serializable'"),
    (('disclaimed = ["linearizable"]', 'claimed = ["linearizable"]\n'
      'disclaimed = ["linearizable"]'), "both claimed and disclaimed"),
])
def test_a_malformed_claims_file_is_refused_in_one_line(tmp_path, change, message):
    old, new = change
    path = write(tmp_path, GOOD.replace(old, new))
    with pytest.raises(UsageError, match=message) as e:
        load_claims_file(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_claims_file_must_be_named_after_its_target(tmp_path):
    with pytest.raises(UsageError, match=r"belong in redis\.toml"):
        load_claims_file(write(tmp_path, GOOD, name="sentinel.toml"))


def test_two_configurations_that_can_match_one_run_may_not_contradict_each_other(tmp_path):
    contradiction = GOOD + """
[[configurations]]
options = { wait = 1 }
[[configurations.claims]]
source = "doc"
claimed = ["linearizable"]
says = "WAIT 1 is enough."
"""
    with pytest.raises(UsageError, match="disagree about 'linearizable'"):
        load_claims_file(write(tmp_path, contradiction))
    # More specific is fine: it overrides.
    load_claims_file(write(tmp_path, contradiction.replace(
        "options = { wait = 1 }", 'options = { wait = 1, read_from = "replica" }')))


def test_the_same_options_twice_are_refused(tmp_path):
    with pytest.raises(UsageError, match="the same options as"):
        load_claims_file(write(tmp_path, GOOD + GOOD[GOOD.index("[[configurations]]"):]))


def test_claims_files_ship_inside_the_package():
    assert (CLAIMS_DIR / "guarantees.toml").is_file() and (CLAIMS_DIR / "etcd.toml").is_file()
