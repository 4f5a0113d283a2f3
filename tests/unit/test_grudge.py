"""Partition topologies and spec parsing: whole grudges asserted, seeds pinned."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labrys.errors import UsageError
from labrys.nemesis import (
    TOPOLOGIES,
    bisect,
    bridge,
    complete_grudge,
    grudge_from_spec,
    grudge_to_json,
    majorities_ring,
    majority,
    minority_third,
    parse_components,
)

N3 = ["n1", "n2", "n3"]
N5 = ["n1", "n2", "n3", "n4", "n5"]


def names(n):
    return [f"n{i}" for i in range(1, n + 1)]


def sees(grudge, nodes):
    """Node → the nodes it hears from, itself included."""
    return {node: set(nodes) - set(grudge.get(node, ())) for node in nodes}


def components_of(grudge, nodes):
    """For a complete grudge: the components, as a set of frozensets."""
    return {frozenset(seen) for seen in sees(grudge, nodes).values()}


def test_explicit_spec_cuts_exactly_across():
    assert grudge_to_json(grudge_from_spec("n1|n2,n3", N3, random.Random(0))) == {
        "n1": ["n2", "n3"],
        "n2": ["n1"],
        "n3": ["n1"],
    }


def test_a_node_the_spec_does_not_mention_stays_connected_to_all():
    grudge = grudge_from_spec("n1|n2", N3, random.Random(0))
    assert grudge_to_json(grudge) == {"n1": ["n2"], "n2": ["n1"]}


def test_spec_parsing_tolerates_spaces_and_keeps_order():
    assert parse_components(" n3 | n1 , n2 ", N3) == [["n3"], ["n1", "n2"]]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("n1|n4", "unknown node 'n4'"),
        ("n1|n1,n2", "'n1' is in two components"),
        ("n1,n2", "unknown partition"),
        ("n1|", "empty node name"),
        ("n1,,n2|n3", "empty node name"),
        ("everything", "unknown partition 'everything'"),
    ],
)
def test_malformed_specs_are_refused_with_the_reason(spec, message):
    with pytest.raises(UsageError, match=message):
        grudge_from_spec(spec, N3, random.Random(0))


def test_a_single_component_is_not_a_partition():
    with pytest.raises(UsageError, match="one component"):
        parse_components("n1,n2,n3", N3)


def test_complete_grudge_and_bisect():
    assert bisect(N5) == [["n1", "n2"], ["n3", "n4", "n5"]]
    assert grudge_to_json(complete_grudge([["n1"], ["n2", "n3"], ["n4"]])) == {
        "n1": ["n2", "n3", "n4"],
        "n2": ["n1", "n4"],
        "n3": ["n1", "n4"],
        "n4": ["n1", "n2", "n3"],
    }


def test_halves_puts_the_smaller_half_first_in_node_order():
    assert grudge_to_json(grudge_from_spec("halves", N5, random.Random(0))) == {
        "n1": ["n3", "n4", "n5"],
        "n2": ["n3", "n4", "n5"],
        "n3": ["n1", "n2"],
        "n4": ["n1", "n2"],
        "n5": ["n1", "n2"],
    }


def test_bridge_keeps_the_middle_node_connected_to_both_halves():
    # Halves n1,n2 | n3,n4,n5; n3 bridges: it hates no one and no one hates it.
    assert grudge_to_json(bridge(N5)) == {
        "n1": ["n4", "n5"],
        "n2": ["n4", "n5"],
        "n4": ["n1", "n2"],
        "n5": ["n1", "n2"],
    }


@pytest.mark.parametrize("seed", range(20))
def test_random_halves_is_a_minority_and_a_majority(seed):
    grudge = grudge_from_spec("random-halves", N5, random.Random(seed))
    assert sorted(len(c) for c in components_of(grudge, N5)) == [2, 3]


@pytest.mark.parametrize("seed", range(20))
def test_one_isolates_exactly_one_node(seed):
    grudge = grudge_from_spec("one", N5, random.Random(seed))
    assert sorted(len(c) for c in components_of(grudge, N5)) == [1, 4]


@pytest.mark.parametrize(("n", "cut"), [(4, 1), (6, 1), (7, 2), (10, 3)])
def test_minority_third_cuts_off_fewer_than_a_third(n, cut):
    nodes = names(n)
    grudge = grudge_from_spec("minority-third", nodes, random.Random(n))
    assert sorted(len(c) for c in components_of(grudge, nodes)) == [cut, n - cut]
    assert minority_third(n) == cut


def test_bridge_of_random_order_still_has_one_node_seeing_everyone():
    grudge = grudge_from_spec("bridge", N5, random.Random(7))
    seen = sees(grudge, N5)
    assert [node for node in N5 if seen[node] == set(N5)] == [
        node for node in N5 if node not in grudge
    ]
    assert len([node for node in N5 if node not in grudge]) == 1


def test_primaries_are_each_isolated_from_everyone():
    grudge = grudge_from_spec("primaries", N5, random.Random(0), primaries=["n4", "n2"])
    assert components_of(grudge, N5) == {
        frozenset({"n2"}),
        frozenset({"n4"}),
        frozenset({"n1", "n3", "n5"}),
    }


def test_primaries_needs_a_target_that_knows_them_and_a_primary():
    with pytest.raises(UsageError, match="needs a target that knows its primaries"):
        grudge_from_spec("primaries", N5, random.Random(0))
    with pytest.raises(UsageError, match="no primary right now"):
        grudge_from_spec("primaries", N5, random.Random(0), primaries=[])


@pytest.mark.parametrize(
    ("topology", "fewest"),
    [("halves", 2), ("one", 2), ("majorities-ring", 3), ("bridge", 3), ("minority-third", 4)],
)
def test_a_topology_refuses_clusters_it_cannot_cut(topology, fewest):
    with pytest.raises(UsageError, match=f"at least {fewest} nodes"):
        grudge_from_spec(topology, names(fewest - 1), random.Random(0))
    assert grudge_to_json(grudge_from_spec(topology, names(fewest), random.Random(0), primaries=()))


def test_the_same_seed_gives_the_same_grudge_for_every_random_topology():
    for topology in set(TOPOLOGIES) - {"primaries"}:
        first = grudge_from_spec(topology, names(7), random.Random(42))
        again = grudge_from_spec(topology, names(7), random.Random(42))
        assert first == again, topology


def test_different_seeds_give_different_random_halves():
    found = {
        frozenset(components_of(grudge_from_spec("random-halves", N5, random.Random(s)), N5))
        for s in range(30)
    }
    assert len(found) > 1


@given(n=st.integers(min_value=3, max_value=11), seed=st.integers(min_value=0, max_value=2**32))
def test_majorities_ring_every_node_sees_a_majority(n, seed):
    nodes = names(n)
    grudge = majorities_ring(nodes, random.Random(seed))
    seen = sees(grudge, nodes)
    assert all(len(s) >= majority(n) for s in seen.values())
    assert any(len(s) < n for s in seen.values())


@given(n=st.integers(min_value=3, max_value=5), seed=st.integers(min_value=0, max_value=2**32))
def test_majorities_ring_small_no_two_nodes_see_the_same_majority(n, seed):
    nodes = names(n)
    seen = sees(majorities_ring(nodes, random.Random(seed)), nodes)
    assert len({frozenset(s) for s in seen.values()}) == n


def test_majorities_ring_on_five_nodes_is_a_symmetric_ring():
    nodes = N5
    grudge = majorities_ring(nodes, random.Random(3))
    seen = sees(grudge, nodes)
    for a in nodes:
        assert len(seen[a]) == 3
        for b in seen[a]:
            assert a in seen[b]


def test_an_explicit_grudge_mapping_is_taken_as_is_but_checked():
    grudge = grudge_from_spec({"n1": ["n2"]}, N3, random.Random(0))
    assert grudge == {"n1": frozenset({"n2"})}
    with pytest.raises(UsageError, match="unknown node"):
        grudge_from_spec({"n1": ["n9"]}, N3, random.Random(0))
