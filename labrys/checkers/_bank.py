"""Bank checker: transfers move money between accounts but never make or destroy it.

Problem. A bank workload transfers amounts between a fixed set of accounts
(``{f: transfer, value: {from: 3, to: 0, amount: 1}}``) and reads every balance at once
(``{f: read, value: {0: 100, 1: 0, …}}``). Under snapshot isolation or anything
stronger, every read sees a state some serial order of transfers produced, so every
read shows the same total, only the known accounts, and no negative balance (transfers
that would overdraw are refused). A read that breaks this saw a torn or phantom state.
This is Jepsen's ``jepsen.tests.bank`` checker, in the form elle-cli runs it.

Central abstraction: each successful read is judged on its own and gets at most one
error, the first that applies, in Jepsen's order:

1. ``unexpected-key``: it names an account outside the known set;
2. ``nil-balance``: some balance is missing (null);
3. ``wrong-total``: the balances do not sum to the expected total;
4. ``negative-value``: some balance is below zero, unless ``negative_balances``.

Errors are grouped by kind; each group reports its count and its first, worst and last
read (and for wrong totals the lowest and highest), ranked by Jepsen's badness: how
many keys are unexpected or nil, how far the total is off as a fraction of it, how
deep the balances go below zero.

Example:
    read {0: 100, 1: 0}; read {0: 60, 1: 45}   the second read's total is 105: wrong-total

Non-obvious choices:

- The expected total and the account set come from ``options.extra["total_amount"]``
  and ``options.extra["accounts"]`` when given (Jepsen's test map has them); otherwise
  they are inferred from the first successful read, as elle-cli does: its accounts
  and the sum of its balances. If that read has a null balance, no total can be
  inferred and the verdict is unknown.
- JSON object keys are strings; an account ``"7"`` is the account 7, so histories
  recorded as EDN and as JSON give the same verdict.
- Transfers are not checked: only reads can show what the database did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from labrys.checkers._registry import CheckOptions
from labrys.checkers._set import element_key, preview, preview_ops, render
from labrys.checkers._verdict import UNKNOWN, Anomaly, Verdict, nothing_to_judge
from labrys.errors import HistoryError
from labrys.history import History, OpType

_KINDS = ("unexpected-key", "nil-balance", "wrong-total", "negative-value")


@dataclass(frozen=True, slots=True, kw_only=True)
class _Error:
    """One read's error: which kind, the read, and what was wrong with it."""

    kind: str
    op: int  # the read's invocation index
    balances: Mapping[Any, Any]
    total: int | float | None = None  # for wrong-total
    keys: tuple[Any, ...] = ()  # the unexpected, nil or negative accounts

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, "op": self.op,
                               "value": {render(k) if not isinstance(k, str) else k: v
                                         for k, v in self.balances.items()}}
        if self.kind == "wrong-total":
            out["total"] = self.total
        elif self.kind == "unexpected-key":
            out["unexpected"] = list(self.keys)
        elif self.kind == "nil-balance":
            out["nils"] = list(self.keys)
        else:
            out["negative"] = [self.balances[k] for k in self.keys]
        return out


def _account(key: Any) -> Any:
    """A JSON key ``"7"`` names the same account as the EDN key ``7``."""
    if isinstance(key, str):
        try:
            return int(key)
        except ValueError:
            return key
    return key


def _balances(value: Any, op_index: int) -> dict[Any, Any]:
    if not isinstance(value, Mapping):
        raise HistoryError(
            f"a bank read returned {value!r}, but it should return a map from account "
            "to balance; is this the right checker for this history?",
            op_index=op_index,
        )
    return {_account(k): v for k, v in value.items()}


def _check_read(
    op: int, balances: Mapping[Any, Any], accounts: frozenset[Any], total: int | float,
    negative_balances: bool
) -> _Error | None:
    unexpected = tuple(k for k in balances if k not in accounts)
    if unexpected:
        return _Error(kind="unexpected-key", op=op, balances=balances, keys=unexpected)
    nils = tuple(k for k, v in balances.items() if v is None)
    if nils:
        return _Error(kind="nil-balance", op=op, balances=balances, keys=nils)
    read_total = sum(balances.values())
    if read_total != total:
        return _Error(kind="wrong-total", op=op, balances=balances, total=read_total)
    negative = tuple(k for k, v in balances.items() if v < 0)
    if negative and not negative_balances:
        return _Error(kind="negative-value", op=op, balances=balances, keys=negative)
    return None


def _badness(total: int | float) -> Callable[[_Error], float]:
    """Jepsen's ``err-badness``: bigger is more egregious."""

    def badness(e: _Error) -> float:
        if e.kind == "wrong-total":
            assert e.total is not None
            return abs((e.total - total) / total) if total > 0 else 0.0
        if e.kind == "negative-value":
            return -sum(e.balances[k] for k in e.keys)
        return float(len(e.keys))

    return badness


def _read_total(e: _Error) -> float:
    assert e.total is not None  # only wrong-total errors are ranked by their total
    return e.total


def _sentence(e: _Error, total: int | float) -> str:
    what = {
        "unexpected-key": lambda: "names account(s) "
        + preview([render(k) for k in sorted(e.keys, key=element_key)]) + " that do not exist",
        "nil-balance": lambda: "has no balance for account(s) "
        + preview([render(k) for k in sorted(e.keys, key=element_key)]),
        "wrong-total": lambda: f"sums to {e.total} instead of {total}",
        "negative-value": lambda: "shows negative balance(s) "
        + preview([f"{render(k)}: {e.balances[k]}" for k in sorted(e.keys, key=element_key)]),
    }[e.kind]()
    return f"the read invoked at op {e.op} {what}"


def check_bank(history: History, options: CheckOptions) -> Verdict:
    """Jepsen's bank checker: a constant total, known accounts, no overdrafts.

    Args:
        history: client ops ``transfer`` and ``read`` (value: a map account → balance).
        options: ``negative_balances`` allows balances below zero;
            ``extra["total_amount"]`` and ``extra["accounts"]`` give the expected total
            and accounts (else inferred from the first successful read).

    Returns:
        False if any read has an error (see the module notes), unknown if the total
        cannot be inferred or nothing was read (nothing to judge), True otherwise. ``details``:
        Jepsen's ``read-count``, ``error-count``, ``first-error`` and ``errors`` by
        kind with ``count``, ``first``, ``worst``, ``last`` (and ``lowest``/``highest``
        totals), plus the ``total`` and ``accounts`` used.

    Raises:
        HistoryError: a successful read's value is not a map.
    """
    reads = sorted(
        (o for o in history.operations() if o.f == "read" and o.type is OpType.OK),
        key=lambda o: o.return_index,  # Jepsen folds over completions in history order
    )
    values = [(o.index, _balances(o.value, o.index)) for o in reads]
    if not values:
        return nothing_to_judge("bank", "successful read of the balances")
    given_accounts = options.extra.get("accounts")
    given_total = options.extra.get("total_amount")
    first = values[0][1]
    accounts = frozenset(_account(a) for a in given_accounts) if given_accounts is not None \
        else frozenset(first)
    if given_total is None and any(v is None for v in first.values()):
        return Verdict(
            checker="bank", valid=UNKNOWN,
            explanation=f"The first read (op {values[0][0]}) has a null balance, so the "
            "expected total cannot be inferred from it; pass the total amount explicitly.",
            details={"read-count": len(values)},
        )
    total = given_total if given_total is not None else sum(first.values())
    all_errors: list[_Error] = []  # in completion order, as Jepsen's first/last are
    errors_by_kind: dict[str, list[_Error]] = {}
    for op, balances in values:
        error = _check_read(op, balances, accounts, total, options.negative_balances)
        if error is not None:
            all_errors.append(error)
            errors_by_kind.setdefault(error.kind, []).append(error)

    badness = _badness(total)
    anomalies: list[Anomaly] = []
    summaries: dict[str, Any] = {}
    for kind in _KINDS:
        errs = errors_by_kind.get(kind)
        if not errs:
            continue
        worst = max(errs, key=badness)
        summary: dict[str, Any] = {"count": len(errs), "first": errs[0].to_json(),
                                   "worst": worst.to_json(), "last": errs[-1].to_json()}
        if kind == "wrong-total":
            summary["lowest"] = min(errs, key=_read_total).to_json()
            summary["highest"] = max(errs, key=_read_total).to_json()
        summaries[kind] = summary
        example = ("the first to complete: " if len(errs) > 1 else "") + _sentence(errs[0], total)
        if worst is not errs[0]:
            example += f"; the worst, {_sentence(worst, total)}"
        anomalies.append(Anomaly(
            kind=kind,
            ops=tuple(sorted(e.op for e in errs)),
            explanation=f"{len(errs)} read(s) ({preview_ops(sorted(e.op for e in errs))}) "
            f"show a {kind.replace('-', ' ')}: {example}.",
            data={"reads": [e.to_json() for e in errs]},
        ))
    first_error = all_errors[0] if all_errors else None
    if anomalies:
        explanation = " ".join(a.explanation for a in anomalies)
    else:
        explanation = (f"All {len(values)} read(s) show the total of {total} over the known "
                       "accounts" + ("." if options.negative_balances
                                     else ", with no negative balance."))
    details: dict[str, Any] = {
        "read-count": len(values),
        "error-count": len(all_errors),
        "total": total,
        "accounts": sorted(accounts, key=element_key),
        "negative-balances": options.negative_balances,
        "errors": summaries,
    }
    if first_error is not None:
        details["first-error"] = first_error.to_json()
    return Verdict(checker="bank", valid=not all_errors, explanation=explanation,
                   anomalies=tuple(anomalies), details=details)
