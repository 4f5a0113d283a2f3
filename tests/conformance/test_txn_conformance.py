"""Elle's and elle-cli's transactional histories, and the verdicts their tests assert.

Rows of ``../shared/conformance/expected.tsv`` whose checker is ``list-append``,
``rw-register`` (elle-cli's test.sh, with its command-line options) or ``elle
list-append`` (Elle's own tests, with an options map). Options are mapped the way
elle-cli maps them onto Elle's:

- ``--consistency-models a,b`` → ``consistency_models`` (default strict-serializable);
- ``--anomalies a,b`` → ``extra["anomalies"]`` (elle-cli's default is ``G0``);
- ``--cycle-search-timeout ms`` → ``timeout_s``;
- ``--plot-format``, ``--plot-timeout``, ``--max-plot-bytes``, ``--directory`` only
  shape the plots elle-cli writes, and are accepted and ignored.

Beyond the verdict, the rows whose source says which anomalies and boundary Elle
reports are checked for those too.
"""

from __future__ import annotations

import re

import pytest

from labrys.checkers import CheckOptions, get_checker
from labrys.history import read_history
from tests.conformance.corpus import CONFORMANCE, params_for, require_corpus, rows

CHECKERS = {"list-append": "list-append", "rw-register": "rw-register",
            "elle list-append": "list-append"}
PLOT_FLAGS = {"--plot-format", "--plot-timeout", "--max-plot-bytes", "--directory"}

# What Elle reports beyond the verdict, from the sources the rows cite.
EXPECTED_DETAILS = {
    # README and elle-cli's paper-example-result.json.
    "elle/paper-example.edn": (["G-single-item"], ["consistent-view", "repeatable-read"]),
    "elle-cli/elle/paper-example.edn": (["G-single-item"],
                                        ["consistent-view", "repeatable-read"]),
    "elle-cli/elle/paper-example.json": (["G-single-item"],
                                         ["consistent-view", "repeatable-read"]),
    # list_append_test.clj, intermediate-sequential-extension-test.
    "elle/si-without-g-single.edn": (["G2-item"], ["repeatable-read"]),
    # elle-cli's list-append-gh-30-result.json.
    "elle-cli/elle/list-append-gh-30.edn": (["G2-item"], ["repeatable-read"]),
    # list_append_test.clj, huge-scc-test: only the boundary is stable, the anomalies
    # found depend on how much of the search fits in its budget.
    "elle/huge-scc.edn": (None, ["strong-snapshot-isolation"]),
}


def elle_cli_options(text: str) -> CheckOptions:
    """CheckOptions for an elle-cli command line (``-`` for none)."""
    words = [] if text.strip() == "-" else text.split()
    models = ["strict-serializable"]
    anomalies = ["G0"]
    timeout_s = 1.0
    while words:
        flag, value = words.pop(0), words.pop(0)
        if flag == "--consistency-models":
            models = value.split(",")
        elif flag == "--anomalies":
            anomalies = value.split(",")
        elif flag == "--cycle-search-timeout":
            timeout_s = int(value) / 1000
        elif flag not in PLOT_FLAGS:
            raise ValueError(f"expected.tsv has an elle-cli option this test does not know: "
                             f"{flag}")
    return CheckOptions(consistency_models=tuple(models), timeout_s=timeout_s,
                        extra={"anomalies": anomalies})


def elle_options(text: str) -> CheckOptions:
    """CheckOptions for an Elle options map such as ``{:consistency-models [:serializable]}``
    (Elle's defaults otherwise: strict-serializable, a 1 s budget)."""
    found = re.search(r":consistency-models\s*\[([^\]]*)\]", text)
    if found is None:
        return CheckOptions()
    return CheckOptions(consistency_models=tuple(
        m.lstrip(":") for m in found.group(1).split()))


def _rows() -> list[pytest.ParameterSet]:
    return params_for(CHECKERS, lambda r: pytest.param(
        r, id=f"{r['path']} {r['model_or_options']}",
        marks=[pytest.mark.slow] if "huge" in r["path"] else []))


@pytest.mark.parametrize("row", _rows())
def test_elle_verdict(row: dict[str, str]) -> None:
    options = (elle_options(row["model_or_options"]) if row["checker"] == "elle list-append"
               else elle_cli_options(row["model_or_options"]))
    history = read_history(CONFORMANCE / row["path"])
    verdict = get_checker(CHECKERS[row["checker"]]).load()(history, options)
    assert verdict.valid is (row["expected_valid"] == "true"), verdict.explanation
    if row["path"] in EXPECTED_DETAILS:
        kinds, not_ = EXPECTED_DETAILS[row["path"]]
        if kinds is not None:
            assert verdict.details["anomaly-types"] == kinds, verdict.explanation
        assert verdict.details["not"] == not_


def test_every_transactional_row_is_covered() -> None:
    require_corpus()
    checkers = {r["checker"] for r in rows()}
    assert {"list-append", "rw-register", "elle list-append"} <= checkers


def test_elle_cli_options_map_onto_check_options() -> None:
    o = elle_cli_options("--consistency-models serializable,snapshot-isolation "
                         "--cycle-search-timeout 250 --plot-format svg")
    assert o.consistency_models == ("serializable", "snapshot-isolation")
    assert o.timeout_s == 0.25
    assert o.extra == {"anomalies": ["G0"]}
    assert elle_options("{:consistency-models [:snapshot-isolation :repeatable-read]}") \
        .consistency_models == ("snapshot-isolation", "repeatable-read")
