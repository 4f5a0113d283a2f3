"""Elle's transactional checkers: list-append and rw-register.

Problem. A database claims an isolation level; clients ran transactions against it and
recorded what they wrote and read. Did any level hold, and which are ruled out? This is
Elle (Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
Observations", VLDB 2020) in Python:

1. `_txn_history`: transactions out of the history, checked (unique writes…).
2. `_txn_graph`: dependencies inferred from what was read (ww, wr, rw), plus process
   and realtime order when a claimed model needs them.
3. `_txn_anomalies`: anomalies visible without a cycle (G1a, internal, lost update…).
4. `_txn_cycles`: cycles per strongly connected component, shortest of each kind,
   within a time budget.
5. `_txn_models`: which models those anomalies rule out (a lattice, with sources).
6. `_txn_explain`: every finding in English.

Options (`CheckOptions`):

- ``consistency_models``: what the system claims (default strict-serializable, as in
  Elle). The verdict is false if any anomaly a claimed model forbids is present.
  Names: see `_txn_models.MODELS`; Adya's ``PL-2`` etc. are accepted too.
- ``timeout_s``: the cycle-search budget per component, default 1 s (Elle's
  ``--cycle-search-timeout 1000``). A component whose search runs out yields
  ``unknown`` unless something else already proves the verdict false.
- ``extra["anomalies"]``: specific anomalies to forbid as well (Elle's ``:anomalies``),
  a list or a comma-separated string.
- ``extra["wfr_keys"]`` (rw-register): also infer version orders from writes following
  reads inside a transaction (Elle's ``:wfr-keys?``).

Example:
    >>> from labrys.history import parse_history
    >>> lines = [
    ...     '{"type":"invoke","process":0,"f":"txn","value":[["append","x",1],["r","y",null]]}',
    ...     '{"type":"invoke","process":1,"f":"txn","value":[["append","y",1],["r","x",null]]}',
    ...     '{"type":"ok","process":0,"f":"txn","value":[["append","x",1],["r","y",[]]]}',
    ...     '{"type":"ok","process":1,"f":"txn","value":[["append","y",1],["r","x",[]]]}']
    >>> v = check_list_append(parse_history("\\n".join(lines)), CheckOptions())
    >>> v.valid, [a.kind for a in v.anomalies], v.details["not"]
    (False, ['G2-item'], ['repeatable-read'])

The verdict's ``details``: ``anomaly-types`` (reported kinds), ``not`` and
``also-not`` (the weakest models the history rules out, and the rest it rules out,
whatever was claimed, as Elle reports them), ``allowed-anomalies`` (kinds found that
the claims permit), and counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from labrys.checkers._registry import CheckOptions
from labrys.checkers._txn_anomalies import Finding, append_anomalies, register_anomalies
from labrys.checkers._txn_cycles import (
    CYCLE_KINDS,
    CYCLE_SPECS,
    CycleExists,
    CycleFinding,
    Search,
    cyclic_components,
    search_component,
)
from labrys.checkers._txn_explain import Renderer, empty_graph_anomaly
from labrys.checkers._txn_graph import (
    PROCESS,
    REALTIME,
    OrderExplainer,
    append_edges,
    append_version_orders,
    index_append_reads,
    new_graph,
    process_edges,
    realtime_edges,
    register_edges,
)
from labrys.checkers._txn_history import LIST_APPEND, RW_REGISTER, parse_txns
from labrys.checkers._txn_models import (
    UNKNOWN_KINDS,
    anomalies_implying,
    boundary,
    canonical_model,
    check_anomaly_names,
    impossible_models,
    prohibited_anomalies,
)
from labrys.checkers._verdict import UNKNOWN, Anomaly, Validity, Verdict, nothing_to_judge
from labrys.errors import UsageError
from labrys.history import History

_LIST_LIMIT = 8
"""Past this many models ruled out, the explanation counts them (details list them)."""

DEFAULT_BUDGET_S = 1.0
"""Elle's ``cycle-search-timeout``: 1000 ms per strongly connected component."""


def check_list_append(history: History, options: CheckOptions) -> Verdict:
    """Check a list-append history (``["append", k, v]``, ``["r", k, [v…]]``).

    Raises:
        HistoryError: the history breaks a rule of `_txn_history` (e.g. a value
            appended twice to one key).
        UsageError: an unknown consistency model or anomaly, or a bad budget.
    """
    return _check(LIST_APPEND, history, options)


def check_rw_register(history: History, options: CheckOptions) -> Verdict:
    """Check an rw-register history (``["w", k, v]``, ``["r", k, v]``).

    Raises:
        HistoryError: the history breaks a rule of `_txn_history`.
        UsageError: an unknown consistency model or anomaly, or a bad budget.
    """
    return _check(RW_REGISTER, history, options)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Settings:
    claimed: tuple[str, ...]
    prohibited: frozenset[str]
    order: int        # PROCESS, REALTIME or 0: which order edges the claims need
    budget_s: float
    wfr_keys: bool


def _settings(options: CheckOptions) -> _Settings:
    claimed = tuple(canonical_model(m) for m in options.consistency_models)
    extra = options.extra.get("anomalies", ())
    if isinstance(extra, str):
        extra = [a for a in extra.split(",") if a]
    prohibited = prohibited_anomalies(claimed) | anomalies_implying(check_anomaly_names(extra))
    budget = DEFAULT_BUDGET_S if options.timeout_s is None else options.timeout_s
    if not budget > 0:
        raise UsageError(f"timeout_s must be a positive number of seconds, got {budget!r}")
    if any(k.endswith("-realtime") for k in prohibited & CYCLE_KINDS):
        order = REALTIME    # realtime order contains process order: one process, one op
    elif any(k.endswith("-process") for k in prohibited & CYCLE_KINDS):
        order = PROCESS
    else:
        order = 0
    return _Settings(claimed=claimed, prohibited=frozenset(prohibited), order=order,
                     budget_s=float(budget), wfr_keys=bool(options.extra.get("wfr_keys")))


def _check(workload: str, history: History, options: CheckOptions) -> Verdict:
    settings = _settings(options)
    th = parse_txns(history, workload=workload)
    if not th.txns:
        return nothing_to_judge(workload, "transaction (an op whose value is a list of "
                                "micro-ops) that may have taken effect")
    graph = new_graph(len(th.txns))
    if workload == LIST_APPEND:
        reads = index_append_reads(th)
        versions = append_version_orders(reads)
        findings = append_anomalies(th, reads, versions)
        data = append_edges(th, reads, versions, graph)
    else:
        register = register_edges(th, graph, wfr_keys=settings.wfr_keys)
        findings = register_anomalies(th, register.versions)
        data = register
    if settings.order == REALTIME:
        realtime_edges(th, graph)
    elif settings.order == PROCESS:
        process_edges(th.txns, graph)
    explainer = OrderExplainer(txns=th.txns, data=data)
    search = Search(specs=tuple(s for s in CYCLE_SPECS if not s.required & ~settings.order),
                    budget_s=settings.budget_s)
    components = cyclic_components(graph)
    cycles = [f for c in components for f in search_component(graph, c, explainer, search)]
    found: list[Finding | CycleFinding] = [*findings, *_without_redundant(cycles, findings)]
    reportable = settings.prohibited | UNKNOWN_KINDS
    renderer = Renderer(workload=workload, txns=th.txns)
    reported = [renderer.render(f) for f in found if f.kind in reportable]
    kinds = Counter(f.kind for f in found)
    if graph.edge_count() == 0:
        reported.append(empty_graph_anomaly())
        kinds[reported[-1].kind] += 1
    return _verdict(workload, settings, reported, kinds, len(th.txns), len(components))


def _without_redundant(cycles: Sequence[CycleFinding],
                       others: Sequence[Finding]) -> list[CycleFinding]:
    """Drop cycle-exists proofs of models that specific anomalies already rule out
    (Elle's ``remove-redundant-cycle-exists``): a named cycle explains more."""
    specific = {f.kind for f in others} | {
        c.kind for c in cycles if not isinstance(c, CycleExists)}
    ruled_out = impossible_models(specific)
    return [c for c in cycles if not (isinstance(c, CycleExists) and c.model in ruled_out)]


_SEARCH_ORDER = {s.kind: i for i, s in enumerate(CYCLE_SPECS)}


def _telling(a: Anomaly) -> tuple[int, int, str]:
    """Most telling first: specific cycles (weakest kind first), then other anomalies,
    then mere proofs that a cycle exists, then what left the verdict unknown."""
    if a.kind in UNKNOWN_KINDS:
        return (3, 0, a.kind)
    if a.kind.endswith("-cycle-exists"):
        return (2, 0, a.kind)
    if a.kind in _SEARCH_ORDER:
        return (0, _SEARCH_ORDER[a.kind], a.kind)
    return (1, 0, a.kind)


def _verdict(checker: str, settings: _Settings, reported: list[Anomaly],
             counts: Counter[str], txn_count: int, component_count: int) -> Verdict:
    """The verdict: false if a claimed model forbids something found, unknown if the
    check could not finish (and nothing forbidden was found), true otherwise."""
    reported = sorted(reported, key=_telling)
    kinds = set(counts)
    allowed = sorted(kinds - settings.prohibited - UNKNOWN_KINDS)
    bad = kinds & settings.prohibited
    valid: Validity = False if bad else (UNKNOWN if reported else True)
    bounds = boundary(kinds - UNKNOWN_KINDS)
    details = {
        "consistency-models": list(settings.claimed),
        "anomaly-types": sorted({a.kind for a in reported}),
        "not": list(bounds.not_),
        "also-not": list(bounds.also_not),
        "allowed-anomalies": allowed,
        "anomaly-counts": dict(sorted(counts.items())),
        "transactions": txn_count,
        "cyclic-components": component_count,
        "cycle-search-budget-s": settings.budget_s,
    }
    claims = ", ".join(settings.claimed) or "no consistency model"
    if valid is True:
        text = f"no anomaly that {claims} forbids"
    elif valid is False:
        parts = ", ".join(f"{k} ({counts[k]})" for k in sorted(bad))
        text = f"{claims}: violated by {parts}"
        unfinished = sorted(kinds & UNKNOWN_KINDS)
        if unfinished:
            text += f" (and not everything could be examined: {', '.join(unfinished)})"
    else:
        text = (f"could not decide {claims}: "
                + ", ".join(sorted({a.kind for a in reported})))
    if bounds.not_:
        text += f"; the history is not {' or '.join(bounds.not_)}"
        if len(bounds.also_not) > _LIST_LIMIT:
            text += f" (nor any of the {len(bounds.also_not)} models stronger than that)"
        elif bounds.also_not:
            text += f" (nor anything stronger: {', '.join(bounds.also_not)})"
    if allowed:
        text += f"; also found, but allowed by the claims: {', '.join(allowed)}"
    return Verdict(checker=checker, valid=valid, explanation=text + ".",
                   anomalies=tuple(reported), details=details)
