"""The register workload: reads, writes and compare-and-sets over independent keys.

The oldest Jepsen test, and still the sharpest for a consensus store: clients read,
write and compare-and-set small integers, and the history must be linearizable. A
stale read (served by a member cut off from the leader), a lost acknowledged write or
a cas that saw a value it should not have all make it invalid.

Independent keys (Jepsen's ``jepsen.independent``). Checking linearizability is
NP-complete in general and the search grows with the number of concurrent and
indeterminate ops, so one long-lived register would become uncheckable after a few
thousand ops under faults. Instead each key gets ``ops_per_key`` ops and then the
workload moves to a fresh key; values are ``[key, v]``. Keys never interact, so the
history is linearizable iff each key's sub-history is (locality, Herlihy and Wing
1990), and each key is a small search.

Ops (value on invocation → value on ok):

- ``read``  ``[k, None]`` → ``[k, v]`` (v None when the key was never written)
- ``write`` ``[k, v]``    → ``[k, v]``
- ``cas``   ``[k, [old, new]]`` → ``[k, [old, new]]``; a cas whose comparison failed is
  ``fail`` (it certainly did not write). ``--option cas=false`` leaves cas out, for
  stores that have no compare-and-set (Cassandra without lightweight transactions).

Checks: ``linearizable`` per key against the ``cas-register`` model (initial value
None: etcd's missing key), and ``stats`` (ok/fail/info counts per function).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers import CheckOptions, Verdict, check_safe, compose, run_checker
from labrys.checkers._verdict import Anomaly
from labrys.generator import Generator, Invocation, from_fn, independent_keys, mix
from labrys.history import History, Op
from labrys.options import Option, boolean, positive_float, positive_int
from labrys.workloads._workload import WorkloadEntry

OPTIONS: dict[str, Option] = {
    o.name: o
    for o in [
        Option(name="ops_per_key", default=100, parse=positive_int,
               expected="a whole number of ops > 0",
               help="ops each key receives before the workload moves to a fresh key"),
        Option(name="values", default=5, parse=positive_int,
               expected="a whole number > 0",
               help="values are drawn from 0…values-1 (few values, many collisions)"),
        Option(name="check_timeout_s", default=60.0, parse=positive_float,
               expected="a number of seconds > 0",
               help="the linearizability search's budget per key; past it, unknown"),
        Option(name="cas", default=True, parse=boolean, expected="true or false",
               help="false: reads and writes only, for stores with no compare-and-set"),
    ]
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterWorkload:
    """Read/write/cas over independent keys (see the module docstring)."""

    ops_per_key: int
    values: int
    check_timeout_s: float
    cas: bool = True

    @property
    def client_kind(self) -> str:
        return "register"

    def generator(self) -> Generator:
        n = self.values

        def read(rng: random.Random) -> Invocation:
            return Invocation(f="read")

        def write(rng: random.Random) -> Invocation:
            return Invocation(f="write", value=rng.randrange(n))

        def cas(rng: random.Random) -> Invocation:
            return Invocation(f="cas", value=[rng.randrange(n), rng.randrange(n)])

        ops = [from_fn(read), from_fn(write)] + ([from_fn(cas)] if self.cas else [])
        return independent_keys(self.ops_per_key, mix(ops))

    def check(self, history: History) -> Verdict:
        per_key = [self._check_key(key, ops) for key, ops in split_by_key(history).items()]
        linear = compose(per_key, checker="linearizable")
        invalid = [v.details.get("key") for v in per_key if v.valid is False]
        unknown = [v.details.get("key") for v in per_key if v.valid == "unknown"]
        linear = Verdict(checker="linearizable", valid=linear.valid,
                         explanation=_summarise(per_key, invalid, unknown),
                         anomalies=linear.anomalies,
                         details={"keys": len(per_key), "invalid_keys": invalid,
                                  "unknown_keys": unknown})
        stats = _safely("stats", history, CheckOptions())
        return compose([linear, stats], checker="register")

    def _check_key(self, key: Any, ops: list[Op]) -> Verdict:
        sub = History([_renumber(op, i) for i, op in enumerate(ops)])
        verdict = _safely("linearizable", sub,
                          CheckOptions(model="cas-register", init=None,
                                       timeout_s=self.check_timeout_s))
        to_original = [op.index for op in ops]
        anomalies = tuple(_map_anomaly(a, key, to_original) for a in verdict.anomalies)
        explanation = _map_text(verdict.explanation, to_original)
        return Verdict(checker=f"linearizable key {key}", valid=verdict.valid,
                       explanation=explanation, anomalies=anomalies,
                       details={**verdict.details, "key": key})


def _summarise(per_key: list[Verdict], invalid: list[Any], unknown: list[Any]) -> str:
    """One paragraph: how many keys failed, and the first failure in full."""
    if not invalid and not unknown:
        return f"All {len(per_key)} keys are linearizable (cas-register, checked per key)."
    parts = []
    if invalid:
        parts.append(f"{len(invalid)} of {len(per_key)} keys are not linearizable "
                     f"(keys {', '.join(map(str, invalid))}).")
    if unknown:
        parts.append(f"{len(unknown)} of {len(per_key)} keys could not be decided "
                     f"(keys {', '.join(map(str, unknown))}).")
    first = next(v for v in per_key if v.valid is not True)
    parts.append(f"Key {first.details.get('key')}: {first.explanation}")
    return " ".join(parts)


def _safely(name: str, history: History, options: CheckOptions) -> Verdict:
    """`run_checker`, with a checker that cannot even be loaded turned into unknown too,
    so one broken checker never costs the run its other verdicts (Jepsen's check-safe)."""
    return check_safe(name, lambda: run_checker(name, history, options))


def split_by_key(history: History) -> dict[Any, list[Op]]:
    """Each key's client ops, values unwrapped from ``[key, v]`` to ``v``, in history order.

    Ops keep their original index, so verdicts can name them as the whole history does.
    Nemesis ops and ops whose value is not ``[key, v]`` belong to no key.
    """
    keys: dict[Any, list[Op]] = {}
    key_of_process: dict[Any, Any] = {}
    for op in history:
        if not op.is_client:
            continue
        if op.is_invoke:
            if not (isinstance(op.value, list) and len(op.value) == 2):
                continue
            key = op.value[0]
            key_of_process[op.process] = key
        else:
            key = key_of_process.pop(op.process, None)
            if key is None:
                continue
        value = op.value[1] if isinstance(op.value, list) and len(op.value) == 2 else None
        keys.setdefault(_hashable(key), []).append(_with_value(op, value))
    return keys


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _with_value(op: Op, value: Any) -> Op:
    return Op(index=op.index, time=op.time, type=op.type, process=op.process, f=op.f,
              value=value, node=op.node, error=op.error)


def _renumber(op: Op, index: int) -> Op:
    return Op(index=index, time=op.time, type=op.type, process=op.process, f=op.f,
              value=op.value, node=op.node, error=op.error)


_OP_REF = re.compile(r"\b(ops?) (\d+)", re.IGNORECASE)


def _map_text(text: str, to_original: list[int]) -> str:
    """Rewrite "op N" in a per-key explanation to the op's index in the whole history."""
    def sub(m: re.Match[str]) -> str:
        i = int(m.group(2))
        return f"{m.group(1)} {to_original[i]}" if i < len(to_original) else m.group(0)
    return _OP_REF.sub(sub, text)


def _map_anomaly(anomaly: Anomaly, key: Any, to_original: list[int]) -> Anomaly:
    """The anomaly of one key's sub-history, its ops renumbered as the whole history's:
    in ``ops``, in the explanation, and in the steps of a search's longest order."""
    def mapped(steps: Any) -> list[dict[str, Any]]:
        return [{**step, "op": to_original[step["op"]]} if step["op"] < len(to_original)
                else dict(step) for step in steps]

    data = {**anomaly.data, "key": key}
    for field in ("linearization", "candidates"):
        if field in data:
            data[field] = mapped(data[field])
    return Anomaly(kind=anomaly.kind,
                   ops=tuple(to_original[i] for i in anomaly.ops if i < len(to_original)),
                   explanation=f"key {key}: {_map_text(anomaly.explanation, to_original)}",
                   data=data)


def _make(options: Mapping[str, Any]) -> RegisterWorkload:
    return RegisterWorkload(ops_per_key=options["ops_per_key"], values=options["values"],
                            check_timeout_s=options["check_timeout_s"], cas=options["cas"])


ENTRY = WorkloadEntry(name="register", summary="read/write/cas on independent keys, "
                      "checked per key for linearizability", options=OPTIONS, make=_make)
