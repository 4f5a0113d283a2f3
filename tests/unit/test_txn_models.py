"""The consistency-model lattice: what implies what, and what each anomaly rules out.

Expected boundaries come from Elle's and elle-cli's own tests (cited per case), with
Elle's ``strong-serializable`` spelled ``strict-serializable`` here.
"""

from __future__ import annotations

import itertools

import pytest

from labrys.checkers._txn_cycles import CYCLE_KINDS
from labrys.checkers._txn_models import (
    ANOMALIES,
    ANOMALY_IMPLIES,
    CYCLE_EXISTS,
    MODEL_ALIASES,
    MODEL_IMPLIES,
    MODELS,
    PROSCRIBES,
    boundary,
    canonical_model,
    check_anomaly_names,
    implied_anomalies,
    implied_models,
    impossible_models,
    prohibited_anomalies,
    stronger_models,
)
from labrys.errors import UsageError


def test_the_isolation_hierarchy_is_a_chain_from_strict_serializable_down():
    chain = ["strict-serializable", "serializable", "repeatable-read", "cursor-stability",
             "read-committed", "read-uncommitted"]
    for stronger, weaker in itertools.pairwise(chain):
        assert weaker in implied_models([stronger])
        assert stronger not in implied_models([weaker])


def test_snapshot_isolation_and_repeatable_read_are_incomparable():
    assert "repeatable-read" not in implied_models(["snapshot-isolation"])
    assert "snapshot-isolation" not in implied_models(["repeatable-read"])
    assert {"snapshot-isolation", "repeatable-read"} <= implied_models(["serializable"])


def test_strong_variants_sit_above_their_session_variants():
    assert "strong-session-snapshot-isolation" in implied_models(["strong-snapshot-isolation"])
    assert "snapshot-isolation" in implied_models(["strong-session-snapshot-isolation"])
    assert "strong-session-serializable" in stronger_models(["serializable"])
    assert "strict-serializable" in stronger_models(["strong-snapshot-isolation"])


def test_the_model_graph_is_acyclic():
    for model in MODELS:
        below = implied_models(b for a, b, _ in MODEL_IMPLIES if a == model)
        assert model not in below


def test_every_edge_cites_a_source_and_every_name_is_known():
    assert all(source for _, _, source in MODEL_IMPLIES)
    assert set(PROSCRIBES) <= set(MODELS)
    assert set(MODEL_ALIASES.values()) <= set(MODELS)
    assert {a for anomalies in PROSCRIBES.values() for a in anomalies} <= set(ANOMALIES)
    assert {s.model for s in CYCLE_EXISTS} <= set(MODELS)
    assert {s.kind for s in CYCLE_EXISTS} <= set(ANOMALIES)
    assert set(CYCLE_KINDS) <= set(ANOMALIES)


@pytest.mark.parametrize(("anomalies", "not_", "also_not"), [
    # elle-cli test/test-data/paper-example-result.json
    ({"G-single-item"}, ["consistent-view", "repeatable-read"],
     ["forward-consistent-view", "serializable", "snapshot-isolation", "strict-serializable",
      "strong-session-serializable", "strong-session-snapshot-isolation",
      "strong-snapshot-isolation", "update-serializable"]),
    # elle-cli test/test-data/list-append-gh-30-result.json
    ({"G2-item"}, ["repeatable-read"],
     ["serializable", "strict-serializable", "strong-session-serializable"]),
])
def test_boundaries_match_elle_cli_results(anomalies, not_, also_not):
    b = boundary(anomalies)
    assert list(b.not_) == not_
    assert list(b.also_not) == also_not


@pytest.mark.parametrize(("anomalies", "not_"), [
    # Elle's list_append_test.clj, checker-test and friends.
    ({"G0"}, ["read-uncommitted"]),
    ({"G1a"}, ["read-committed"]),
    ({"G1b"}, ["read-committed"]),
    ({"G1c"}, ["read-committed"]),
    ({"future-read"}, ["read-committed"]),
    ({"dirty-update"}, ["read-committed"]),
    ({"duplicate-elements"}, ["read-uncommitted"]),
    ({"garbage-read"}, ["read-uncommitted"]),
    ({"lost-update"}, ["cursor-stability", "update-atomic"]),
    ({"G-nonadjacent-item"}, ["repeatable-read", "snapshot-isolation"]),
    ({"G-single-item-realtime"}, ["strong-snapshot-isolation"]),
    ({"G-single-item-process"}, ["strong-session-snapshot-isolation"]),
    ({"G-nonadjacent-item-process"}, ["strong-session-snapshot-isolation"]),
    ({"G1c-process"}, ["strong-session-read-committed"]),
    ({"G2-item-realtime"}, ["strict-serializable"]),
    ({"internal"}, ["read-atomic"]),
    # A weaker anomaly hides a stronger one's boundary.
    ({"G0", "G2-item"}, ["read-uncommitted"]),
])
def test_weakest_models_ruled_out(anomalies, not_):
    assert list(boundary(anomalies).not_) == not_


def test_no_anomaly_rules_nothing_out():
    assert boundary(set()).not_ == () and boundary(set()).also_not == ()


def test_serializable_forbids_data_cycles_but_not_realtime_ones():
    forbidden = prohibited_anomalies(["serializable"])
    assert {"G0", "G1a", "G1b", "G1c", "G-single-item", "G-nonadjacent-item", "G2-item",
            "internal", "lost-update", "incompatible-order"} <= forbidden
    assert not {"G0-realtime", "G-single-item-realtime", "G2-item-process"} & forbidden


def test_strict_serializable_also_forbids_realtime_cycles():
    forbidden = prohibited_anomalies(["strict-serializable"])
    assert {"G0-realtime", "G1c-realtime", "G-single-item-realtime", "G2-item-realtime",
            "G2-item-process"} <= forbidden


def test_read_uncommitted_forbids_only_write_cycles_among_cycles():
    forbidden = prohibited_anomalies(["read-uncommitted"]) & CYCLE_KINDS
    assert forbidden == {"G0"}


def test_snapshot_isolation_forbids_nonadjacent_but_not_g2_item():
    forbidden = prohibited_anomalies(["snapshot-isolation"])
    assert {"G-single-item", "G-nonadjacent-item"} <= forbidden
    assert "G2-item" not in forbidden


def test_anomaly_implications_follow_adya():
    assert {"G1c", "G1", "G0-process", "G0-realtime"} <= implied_anomalies(["G0"])
    assert "G2" in implied_anomalies(["G-single-item"])
    assert "G-single-item" not in implied_anomalies(["G2-item"])
    assert set(ANOMALY_IMPLIES) <= set(ANOMALIES)


def test_impossible_models_include_everything_stronger():
    assert impossible_models(["G1c"]) >= {"read-committed", "serializable",
                                          "strict-serializable", "snapshot-isolation"}
    assert "read-uncommitted" not in impossible_models(["G1c"])


def test_aliases_and_unknown_names():
    assert canonical_model("PL-2") == "read-committed"
    assert canonical_model("strong-serializable") == "strict-serializable"
    assert canonical_model("serializable") == "serializable"
    with pytest.raises(UsageError, match=r"unknown consistency model 'linearizable'"):
        canonical_model("linearizable")
    assert check_anomaly_names(["G0", "lost-update"]) == ("G0", "lost-update")
    with pytest.raises(UsageError, match="unknown anomaly 'G3'"):
        check_anomaly_names(["G3"])
