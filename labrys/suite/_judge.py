"""Whether one run met its test's expectation, and why not.

The answer is one of four `Outcome`\\ s, which decide the suite's exit status and the
JUnit element of the run:

- ``met``: the expectation holds;
- ``not met``: it does not (a regression, a bug found, a known bug gone): a JUnit
  failure;
- ``unknown``: the verdict could not decide it (a search out of budget): a JUnit
  error of type ``unknown``;
- ``run failed``: the run itself did not complete (a database that would not start):
  a JUnit error of type ``run-failed``.

An expected anomaly counts when a kind found implies it (Elle's implication graph: a
G-single-item cycle is a G-single cycle), so an expectation can name the general kind.
"""

from __future__ import annotations

import enum

from labrys.checkers import UNKNOWN, implied_anomalies
from labrys.claims import Observation, Registry, Status
from labrys.suite._file import Expect, Expectation


class Outcome(enum.StrEnum):
    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "unknown"
    FAILED = "run failed"


def judge(expectation: Expectation, observation: Observation,
          registry: Registry) -> tuple[Outcome, str]:
    """The outcome of one run against its expectation, and one sentence saying why."""
    if observation.error is not None:
        return Outcome.FAILED, f"the run failed: {observation.error}"
    if expectation.expect is Expect.CLAIMS:
        return _judge_claims(observation, registry)
    valid = observation.valid
    verdict = {True: "valid", False: "invalid", UNKNOWN: "unknown"}[valid]
    if expectation.expect is Expect.ANY:
        return Outcome.MET, f"{verdict}, recorded for the comparison"
    found = implied_anomalies(observation.kinds)
    if valid == UNKNOWN:
        return Outcome.UNKNOWN, f"expected {expectation.describe()}; the verdict is unknown: " \
            f"{observation.explanation}"
    if expectation.expect is Expect.VALID:
        if valid is True:
            return Outcome.MET, "valid, as expected"
        return Outcome.NOT_MET, f"expected valid; the verdict is {verdict}: " \
            f"{observation.explanation}"
    missing = [k for k in expectation.anomalies if k not in found]
    if valid is True:
        return Outcome.NOT_MET, f"expected {expectation.describe()}; the run found nothing " \
            "wrong (a known bug no longer reproduces, or the run was too short to show it)"
    if missing:
        shown = ", ".join(sorted(observation.kinds)) or "none"
        return Outcome.NOT_MET, f"expected {', '.join(missing)} among the anomalies; found " \
            f"{shown}: {observation.explanation}"
    return Outcome.MET, f"invalid with {', '.join(expectation.anomalies) or 'an anomaly'}, " \
        "as expected"


def _judge_claims(observation: Observation, registry: Registry) -> tuple[Outcome, str]:
    spec = observation.spec
    claims = registry.claims_for(spec.target, spec.options)
    statuses = registry.guarantees.judge(observation)
    broken = [g for g in sorted(claims.claimed()) if statuses[g] is Status.VIOLATED]
    found = implied_anomalies(observation.kinds)
    prevented = claims.prevented()
    seen = sorted(k for k in found if k in prevented and prevented[k].implied_by is None)
    if broken or seen:
        what = [f"{g} (claimed by {claims.guarantees[g].source.title})" for g in broken] + [
            f"{k} is prevented according to {prevented[k].source.title}" for k in seen]
        return Outcome.NOT_MET, f"claims broken: {'; '.join(what)}. Found: " \
            f"{observation.witness or observation.explanation}"
    undecided = [g for g in sorted(claims.claimed()) if statuses[g] is Status.UNDECIDED]
    if undecided or observation.valid == UNKNOWN:
        return Outcome.UNKNOWN, f"could not decide {', '.join(undecided) or 'the claims'}: " \
            f"{observation.explanation}"
    held = [g for g in sorted(claims.claimed()) if statuses[g] is Status.HELD]
    return Outcome.MET, f"the claims held: {', '.join(held) or 'nothing prevented was found'}"
