"""The member fault: removals never below a majority of the original size, heals add back."""

from __future__ import annotations

import itertools
import random

import pytest

from labrys.errors import UsageError
from labrys.nemesis import FAULTS, MemberNemesis, Membership, NemesisOptions, package
from tests.unit._nemesis_fakes import FakeCluster, LeaderMembershipTarget, ProcessTarget


def nemesis(n=5, leaders=("n2",), **kwargs):
    target = LeaderMembershipTarget(list(leaders))
    return MemberNemesis(FakeCluster(n), target=target, rng=random.Random(3), **kwargs), target


def test_remove_then_add_back_exactly_the_removed_members():
    member, target = nemesis()
    removed = member.invoke("remove-member", "minority")["removed"]
    assert len(removed) == 2
    assert member.members == [n for n in ["n1", "n2", "n3", "n4", "n5"] if n not in removed]
    assert member.invoke("add-member", None) == {"added": removed}
    assert target.calls == [("remove", n) for n in removed] + [("add", n) for n in removed]
    assert member.heal() == {"added": []}


def test_a_removal_that_would_leave_less_than_a_majority_of_the_original_size_is_refused():
    member, target = nemesis(n=5)
    member.invoke("remove-member", ["n1", "n2"])  # 3 of 5 left: a majority
    with pytest.raises(UsageError, match="would leave 2 of 5 members, fewer than a majority "
                                         r"\(3\); nothing was removed"):
        member.invoke("remove-member", "one")
    assert target.calls == [("remove", "n1"), ("remove", "n2")]
    assert member.heal() == {"added": ["n1", "n2"]}


def test_removing_the_leader_asks_the_target_who_leads():
    member, _ = nemesis(leaders=("n4",))
    assert member.invoke("remove-member", "primaries") == {"removed": ["n4"]}
    assert member.invoke("add-member", ["n4", "n5"]) == {"added": ["n4"]}  # n5 was never out


def test_it_draws_only_from_specs_that_never_remove_a_majority():
    member, _ = nemesis()
    assert member.node_specs == ("one", "minority", "primaries")
    with pytest.raises(UsageError, match="majority"):
        nemesis(node_specs=("majority",))


def test_fault_targets_narrow_each_fault_to_the_specs_it_can_take():
    cluster = FakeCluster(5)
    pkg = package(cluster, NemesisOptions(faults=("kill", "member"),
                                          node_specs=("majority", "one")),
                  rng=random.Random(0), target=LeaderMembershipTarget(["n1"]))
    values = {(op.f, op.value) for op in itertools.islice(pkg.schedule(), 200)
              if op.value is not None}
    assert values == {("kill", "majority"), ("kill", "one"), ("remove-member", "one")}
    with pytest.raises(UsageError, match="the member fault can aim at one, minority, "
                                         r"primaries, none of the fault targets asked for \(all\)"):
        package(cluster, NemesisOptions(faults=("member",), node_specs=("all",)),
                rng=random.Random(0), target=LeaderMembershipTarget(["n1"]))


def test_a_target_that_cannot_change_membership_is_refused():
    assert not isinstance(ProcessTarget(), Membership)
    with pytest.raises(UsageError, match="does not implement Membership"):
        FAULTS["member"].require(ProcessTarget())
