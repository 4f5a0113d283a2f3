"""Where the shared conformance corpus lives, and its table of expected verdicts.

The corpus (``../shared/conformance`` beside the repository) is never copied in; every
conformance module reads ``expected.tsv`` through `rows` and skips, saying why, when
the corpus is absent.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Collection
from pathlib import Path

import pytest

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
TABLE = CONFORMANCE / "expected.tsv"
ABSENT = f"conformance data not found at {CONFORMANCE}"


def rows() -> list[dict[str, str]]:
    """Every row of ``expected.tsv`` in file order; empty when the corpus is absent."""
    if not TABLE.exists():
        return []
    with TABLE.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def params_for(
    checkers: Collection[str], param: Callable[[dict[str, str]], pytest.ParameterSet]
) -> list[pytest.ParameterSet]:
    """`param` of each row whose checker is one of `checkers`, for ``parametrize``.

    When the corpus is absent, a single parameter that skips, so the report says why.
    """
    if not TABLE.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT))]
    return [param(r) for r in rows() if r["checker"] in checkers]


def require_corpus() -> None:
    """Skip the calling test when the corpus is absent."""
    if not TABLE.exists():
        pytest.skip(ABSENT)
